"""Cloud API envelopes as Meta sends them, each with one thing changed: the real fixtures
(tests/fixtures/channels/cloud_*) through the adapter's public ``parse``.

Each test pins a rule of webhooks/channels/whatsapp_inbound.py that a shopper would notice:
whose message it is, what they tapped or ordered (and at what client price), where they
are, which status or marketing choice it carries, and what is skipped rather than
answered with a 500 (Meta retries a non-200 for seven days)."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from bot.types import InboundMessage, MarketingPreference, MessageKind, StatusKind
from config import wire
from config.settings import Settings
from webhooks.channels.base import BadPayload, Delivery
from webhooks.channels.whatsapp_cloud import WhatsAppCloudAdapter

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "channels"
SETTINGS = Settings().with_env(WHATSAPP_APP_SECRET="s")


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


TEXT = _load("cloud_msg_text__meta_docs.json")
STATUS = _load("cloud_status_failed__pywa.json")


def _parse(envelope: Any) -> Delivery:
    body = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
    return WhatsAppCloudAdapter(SETTINGS).parse(body, {})


def _value(envelope: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = envelope["entry"][0]["changes"][0]["value"]
    return value


def _with_message(**fields: Any) -> dict[str, Any]:
    """The Meta docs' text envelope with its one message's fields replaced (None drops)."""
    envelope = copy.deepcopy(TEXT)
    msg = _value(envelope)["messages"][0]
    for key, value in fields.items():
        if value is None:
            msg.pop(key, None)
        else:
            msg[key] = value
    return envelope


def _one(**fields: Any) -> InboundMessage:
    (msg,) = _parse(_with_message(**fields)).messages
    return msg


# ---- the envelope ------------------------------------------------------------------------
def test_only_message_and_preference_changes_are_read() -> None:
    envelope = copy.deepcopy(TEXT)
    envelope["entry"][0]["changes"][0]["field"] = "account_update"
    assert _parse(envelope) == Delivery()
    del envelope["entry"][0]["changes"][0]["field"]  # no field: a messages change
    assert len(_parse(envelope).messages) == 1


def test_a_value_level_payload_is_read_too() -> None:
    """The On-Premises / 360dialog shape: the value without entry/changes."""
    for key in ("messages", "statuses", "contacts", "user_preferences"):
        value = {key: _value(copy.deepcopy(TEXT)).get(key, [])}
        delivery = _parse(value)
        assert len(delivery.messages) == (1 if key == "messages" else 0), key
    with pytest.raises(BadPayload):
        _parse({"object": "whatsapp_business_account"})


def test_every_entry_and_change_is_read() -> None:
    envelope = copy.deepcopy(TEXT)
    second = copy.deepcopy(envelope["entry"][0])
    second["changes"][0]["value"]["messages"][0]["id"] = "wamid.second"
    envelope["entry"] = ["junk", envelope["entry"][0], {"changes": 7}, second]
    assert [m.message_id for m in _parse(envelope).messages] == [
        TEXT["entry"][0]["changes"][0]["value"]["messages"][0]["id"], "wamid.second"]


def test_metadata_gives_the_business_number_and_its_id() -> None:
    adapter = WhatsAppCloudAdapter(SETTINGS)
    prefs = (FIXTURES / "cloud_batch_multi_change_with_user_preferences__pius.json")
    (msg,) = adapter.parse(prefs.read_bytes(), {}).messages
    assert (msg.business, msg.reply_from) == ("+15551234567", "987654321")
    assert adapter.phone_number_id_for("+15551234567") == "987654321"
    envelope = copy.deepcopy(TEXT)
    _value(envelope)["metadata"] = {"display_phone_number": "15550783881"}
    adapter = WhatsAppCloudAdapter(SETTINGS)
    (msg,) = adapter.parse(json.dumps(envelope).encode(), {}).messages
    assert (msg.business, msg.reply_from) == ("+15550783881", "")
    assert adapter.phone_number_id_for("+15550783881") is None
    _value(envelope)["metadata"] = "nope"
    (msg,) = _parse(envelope).messages
    assert (msg.business, msg.reply_from) == ("", "")


# ---- who sent it ---------------------------------------------------------------------------
def test_the_sender_is_from_with_its_contact_profile() -> None:
    msg = _one(**{"from": "+16505551234"})
    assert (msg.customer, msg.phone, msg.profile_name) == ("16505551234", "+16505551234",
                                                           "Sheena Nelson")
    assert msg.timestamp == 1749416383 and msg.channel == "whatsapp"


def test_the_contact_is_matched_by_wa_id_among_several() -> None:
    envelope = _with_message()
    _value(envelope)["contacts"] = [{"profile": {"name": "Other"}, "wa_id": "111"},
                                    {"profile": {"name": "Sheena"}, "wa_id": "16505551234"}]
    (msg,) = _parse(envelope).messages
    assert msg.profile_name == "Sheena"
    _value(envelope)["contacts"] = [{"profile": {"name": "A"}, "wa_id": "111"},
                                    {"profile": {"name": "B"}, "wa_id": "222"}]
    (msg,) = _parse(envelope).messages
    assert msg.profile_name is None  # neither is the sender, and there is not just one


def test_a_message_without_from_takes_the_only_contact() -> None:
    envelope = _with_message(**{"from": None})
    (msg,) = _parse(envelope).messages
    assert (msg.customer, msg.phone) == ("16505551234", "+16505551234")
    _value(envelope)["contacts"] = [{"wa_id": "+919811111111", "profile": "x"}]
    (msg,) = _parse(envelope).messages
    assert (msg.customer, msg.profile_name) == ("919811111111", None)


def test_a_bsuid_sender_with_a_phone_in_its_contact() -> None:
    envelope = _with_message(**{"from": "IN.1234"})
    _value(envelope)["contacts"] = [{"user_id": "IN.1234", "wa_id": "919811111111",
                                     "profile": {"name": "Asha"}}]
    (msg,) = _parse(envelope).messages
    assert (msg.customer, msg.phone, msg.profile_name) == ("IN.1234", "+919811111111", "Asha")


def test_from_user_id_when_there_is_no_from() -> None:
    envelope = _with_message(**{"from": None, "from_user_id": "US.77"})
    _value(envelope)["contacts"] = []
    (msg,) = _parse(envelope).messages
    assert (msg.customer, msg.phone) == ("US.77", None)


@pytest.mark.parametrize("sender", ["+", " ", "x" * 65, ["1"]])
def test_a_sender_that_is_no_id_is_skipped(sender: Any) -> None:
    envelope = _with_message(**{"from": sender})
    _value(envelope)["contacts"] = []
    assert _parse(envelope).messages == ()


def test_ids_are_bounded_and_a_missing_one_is_stable() -> None:
    assert _one(id="w" * 128).message_id == "w" * 128
    long = _one(id="w" * 129).message_id
    assert long.startswith("noid.") and len(long) == 37
    assert _one(id="w" * 129).message_id == long  # a redelivery gets the same id
    assert _one(id="w" * 129, timestamp="1").message_id != long
    assert _one(from_user_id="x" * 64, **{"from": None}).customer == "x" * 64
    assert _one(from_user_id="x" * 65, **{"from": None}).customer == "16505551234"


def test_timestamps_in_seconds_only() -> None:
    assert _one(timestamp="100000000000").timestamp == 10**11
    assert _one(timestamp="100000000001").timestamp is None  # milliseconds
    assert _one(timestamp="-5").timestamp is None
    assert _one(timestamp=0).timestamp == 0


def test_the_reply_context() -> None:
    assert _one(context={"id": "wamid.prev", "from": "1"}).reply_to == "wamid.prev"
    assert _one(context="wamid.prev").reply_to is None
    assert _one(context={"id": "p" * 129}).reply_to is None


# ---- what it is ----------------------------------------------------------------------------
def test_text_is_cut_at_metas_limit() -> None:
    msg = _one(text={"body": "t" * 5000})
    assert msg.text == "t" * 4096 and msg.raw_kind == "text"
    assert _one(text={"body": None}).text == ""
    assert _one(text="hello").text == ""


def test_the_type_is_read_from_the_content_when_missing() -> None:
    msg = _one(type=None, text=None, location={"latitude": 1.5, "longitude": 2.5})
    assert (msg.kind, msg.raw_kind) == (MessageKind.LOCATION, "location")
    msg = _one(type=None)
    assert (msg.kind, msg.raw_kind) == (MessageKind.TEXT, "text")
    msg = _one(type=None, text=None)
    assert (msg.kind, msg.raw_kind) == (MessageKind.UNKNOWN, "")
    assert _one(type="t" * 100).raw_kind == "t" * 64


@pytest.mark.parametrize("sub", ["button_reply", "list_reply"])
def test_a_tap_carries_its_id_and_title(sub: str) -> None:
    msg = _one(type="interactive", interactive={
        "type": sub, sub: {"id": "ADD:CHAI", "title": "Add chai", "description": "d"}})
    assert (msg.kind, msg.button_payload, msg.button_title, msg.text, msg.raw_kind) == (
        MessageKind.BUTTON, "ADD:CHAI", "Add chai", "Add chai", f"interactive.{sub}")
    bare = _one(type="interactive", interactive={"type": sub, sub: "x"})
    assert (bare.kind, bare.button_payload, bare.text) == (MessageKind.BUTTON, None, "")


def test_other_interactive_types_are_unknown_and_named() -> None:
    msg = _one(type="interactive", interactive={"type": "call_permission_reply"})
    assert (msg.kind, msg.raw_kind) == (MessageKind.UNKNOWN, "interactive.call_permission_reply")
    msg = _one(type="interactive", interactive={"type": 5})
    assert (msg.kind, msg.raw_kind) == (MessageKind.UNKNOWN, "interactive.5")
    msg = _one(type="interactive", interactive={"type": ["x"]})
    assert (msg.kind, msg.raw_kind) == (MessageKind.UNKNOWN, "interactive.")


def test_a_flow_completion_keeps_its_body() -> None:
    msg = _one(type="interactive", interactive={"type": "nfm_reply", "nfm_reply": {
        "name": "flow", "body": "Sent", "response_json": '{"flow_token": "T"}'}})
    assert (msg.kind, msg.button_payload, msg.text, msg.raw_kind) == (
        MessageKind.BUTTON, '{"flow_token": "T"}', "Sent", "interactive.nfm_reply")
    assert msg.button_title is None


ADDRESS = {"name": "Asha", "phone_number": "919811111111", "in_pin_code": "560001",
           "house_number": "12", "floor_number": "2", "tower_number": "B",
           "building_name": "Palm Court", "address": "MG Road", "landmark_area": "Metro",
           "city": "Bengaluru", "state": "Karnataka"}


def _address(values: Any, raw: str | None = None) -> InboundMessage:
    response = raw if raw is not None else json.dumps({"values": values})
    return _one(type="interactive", interactive={"type": "nfm_reply", "nfm_reply": {
        "name": "address_message", "body": "", "response_json": response}})


def test_the_india_address_form_in_meta_order() -> None:
    msg = _address(ADDRESS)
    assert (msg.kind, msg.raw_kind) == (MessageKind.ADDRESS, "interactive.nfm_reply.address")
    assert msg.address_form == tuple(ADDRESS.items())
    assert msg.text == ("12, 2, B, Palm Court, MG Road, Metro, Bengaluru, Karnataka, "
                        "560001")
    short = _address({"city": "Pune", "in_pin_code": "411001", "extra": "x",
                      "address": "x" * 300})
    assert short.address_form == (("in_pin_code", "411001"), ("address", "x" * 200),
                                  ("city", "Pune"))
    assert short.text == "x" * 200 + ", Pune, 411001"
    assert len(_address(dict.fromkeys(ADDRESS, "y" * 200)).text) == 300


@pytest.mark.parametrize("raw", ["not json", '{"values": [1]}', "[]", '{"values": {}}',
                                 '{"values": {"city": ""}}', ""])
def test_an_address_form_without_values_is_unknown(raw: str) -> None:
    msg = _address(None, raw)
    assert (msg.kind, msg.raw_kind, msg.address_form) == (
        MessageKind.UNKNOWN, "interactive.nfm_reply.address", ())


def test_a_template_quick_reply() -> None:
    msg = _one(type="button", button={"payload": "YES", "text": "Yes please"})
    assert (msg.kind, msg.button_payload, msg.button_title, msg.text) == (
        MessageKind.BUTTON, "YES", "Yes please", "Yes please")
    msg = _one(type="button", button={})
    assert (msg.button_payload, msg.button_title, msg.text) == (None, None, "")


def test_an_order_with_client_prices() -> None:
    items = [{"product_retailer_id": "CHAI", "quantity": 2, "item_price": Decimal("12.35"),
              "currency": "inr"},
             {"product_retailer_id": "KAHWA", "quantity": "1", "item_price": 40,
              "currency": "INR"},
             {"product_retailer_id": "NOPRICE", "quantity": 1},
             {"product_retailer_id": "BOOL", "quantity": 1, "item_price": True,
              "currency": "INR"},
             {"product_retailer_id": "LIST", "quantity": 1, "item_price": [1],
              "currency": "INR"},
             {"product_retailer_id": "NEG", "quantity": 1, "item_price": -1,
              "currency": "INR"},
             {"product_retailer_id": "HUGE", "quantity": 1, "item_price": "1" + "0" * 40,
              "currency": "INR"},
             {"product_retailer_id": "TEXT", "quantity": 1, "item_price": "abc",
              "currency": "INR"},
             {"product_retailer_id": "ODD", "quantity": 1, "item_price": 5,
              "currency": "XXXXXXXXX"}]
    order = {"catalog_id": "1", "text": "for the party", "product_items": items}
    body = json.dumps(_with_message(type="order", text=None, order=order),
                      default=str).replace('"12.35"', "12.35").encode()
    (msg,) = _parse(body).messages
    assert msg.kind is MessageKind.ORDER and msg.text == "for the party"
    assert [(i.sku, i.quantity, i.item_price_minor, i.currency) for i in msg.order_items] == [
        ("CHAI", 2, 1235, "INR"), ("KAHWA", 1, 4000, "INR"), ("NOPRICE", 1, None, None),
        ("BOOL", 1, None, "INR"), ("LIST", 1, None, "INR"), ("NEG", 1, None, "INR"),
        ("HUGE", 1, None, "INR"), ("TEXT", 1, None, "INR"), ("ODD", 1, None, "XXXXXXXX")]


def test_order_lines_without_a_sku_or_a_positive_quantity_are_dropped() -> None:
    items = [{"product_retailer_id": "A", "quantity": 0},
             {"product_retailer_id": "B", "quantity": -1},
             {"product_retailer_id": "C", "quantity": 2**31},
             {"product_retailer_id": "D", "quantity": 2**31 - 1},
             {"quantity": 1}, {"product_retailer_id": "", "quantity": 1},
             {"product_retailer_id": "s" * 129, "quantity": 1}, "junk"]
    msg = _one(type="order", text=None, order={"product_items": items})
    assert [(i.sku, i.quantity) for i in msg.order_items] == [("D", 2**31 - 1)]
    empty = _one(type="order", text=None, order={"product_items": items[:3]})
    assert (empty.kind, empty.order_items) == (MessageKind.UNKNOWN, ())


def test_locations_in_range_with_name_and_address() -> None:
    msg = _one(type="location", text=None, location={
        "latitude": "-90", "longitude": 180, "name": "Home", "address": "a" * 2000})
    assert msg.location is not None
    assert (msg.location.latitude, msg.location.longitude, msg.location.name) == (
        -90.0, 180.0, "Home")
    assert msg.location.address == "a" * 1024
    edge = _one(type="location", text=None, location={"latitude": 90, "longitude": -180})
    assert edge.location is not None and edge.location.name is None
    for lat, lon in [(90.01, 0), (-90.01, 0), (0, 180.01), (0, -180.01), ("nan", 0),
                     (0, "inf"), (None, 0)]:
        msg = _one(type="location", text=None, location={"latitude": lat, "longitude": lon})
        assert (msg.kind, msg.location) == (MessageKind.UNKNOWN, None), (lat, lon)
    assert _one(type="location", text=None, location={"latitude": 1}).location is None


def test_a_reaction_points_at_its_message() -> None:
    msg = _one(type="reaction", text=None, reaction={"message_id": "wamid.m", "emoji": "👍"},
               context={"id": "wamid.other"})
    assert (msg.kind, msg.text, msg.reply_to) == (MessageKind.REACTION, "👍", "wamid.m")
    removed = _one(type="reaction", text=None, reaction={"message_id": "wamid.m"})
    assert removed.text == ""


@pytest.mark.parametrize("kind", ["image", "document", "audio", "video", "sticker"])
def test_media_of_every_kind(kind: str) -> None:
    msg = _one(type=kind, text=None, **{kind: {"id": "m1", "mime_type": "x/y",
                                                "caption": "look"}})
    assert msg.kind is MessageKind.MEDIA and msg.text == "look"
    assert [(m.media_type, m.url_or_id, m.mime_type, m.caption) for m in msg.media] == [
        (kind, "m1", "x/y", "look")]


def test_a_voice_note_is_audio_and_links_stand_in_for_ids() -> None:
    (voice,) = _one(type="voice", text=None, voice={"url": "https://m/v.ogg"}).media
    assert (voice.media_type, voice.url_or_id, voice.caption) == ("audio", "https://m/v.ogg",
                                                                  None)
    (linked,) = _one(type="image", text=None, image={"link": "https://m/i.jpg"}).media
    assert linked.url_or_id == "https://m/i.jpg"
    nothing = _one(type="image", text=None, image={"caption": "c"})
    assert (nothing.kind, nothing.media, nothing.text) == (MessageKind.MEDIA, (), "c")


# ---- statuses --------------------------------------------------------------------------------
def _status(**fields: Any) -> Delivery:
    envelope = copy.deepcopy(STATUS)
    raw = _value(envelope)["statuses"][0]
    for key, value in fields.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return _parse(envelope)


def test_a_failed_status_with_its_first_error() -> None:
    (update,) = _status(errors=[{"code": 131047, "title": "Re-engagement message"},
                                {"code": 1}]).statuses
    assert (update.status, update.error_code, update.error_title) == (
        StatusKind.FAILED, "131047", "Re-engagement message")
    (update,) = _status(errors=[{"code": 1, "message": "m"}]).statuses
    assert update.error_title == "m"
    for errors in ([], "x", ["x"]):
        (update,) = _status(errors=errors).statuses
        assert (update.error_code, update.error_title) == (None, None)


def test_status_names_and_aliases() -> None:
    (update,) = _status(status="played", errors=None).statuses
    assert update.status is StatusKind.READ
    (update,) = _status(status="exploded").statuses  # a new name: kept, never a 500
    assert update.status is StatusKind.UNKNOWN
    assert _status(id="i" * 129).statuses == ()
    (update,) = _status(recipient_id=None, timestamp="1700000000").statuses
    assert (update.recipient, update.timestamp) == ("", 1700000000)


def test_the_same_status_twice_is_kept_once_and_others_kept() -> None:
    envelope = copy.deepcopy(STATUS)
    raw = _value(envelope)["statuses"][0]
    _value(envelope)["statuses"] = [raw, raw, {**raw, "status": "sent", "errors": []},
                                    "junk", {**raw, "id": "wamid.other"}]
    assert [(s.message_id, s.status) for s in _parse(envelope).statuses] == [
        (raw["id"], StatusKind.FAILED), (raw["id"], StatusKind.SENT),
        ("wamid.other", StatusKind.FAILED)]


def test_a_bad_message_costs_only_itself() -> None:
    envelope = copy.deepcopy(TEXT)
    good = _value(envelope)["messages"][0]
    bad = {**good, "id": "wamid.bad", "type": "location", "location": {"latitude": {}}}
    weird = {**good, "id": "wamid.weird", "timestamp": {"a": 1}}
    _value(envelope)["messages"] = [bad, 3, good, weird, dict(good)]
    delivery = _parse(envelope)
    assert [m.message_id for m in delivery.messages] == ["wamid.bad", good["id"],
                                                         "wamid.weird"]


# ---- marketing preferences -----------------------------------------------------------------
PREFS = _load("cloud_batch_multi_change_with_user_preferences__pius.json")


def _prefs(*entries: Any) -> tuple[Any, ...]:
    envelope = copy.deepcopy(PREFS)
    envelope["entry"][0]["changes"][1]["value"]["user_preferences"] = list(entries)
    return _parse(envelope).preferences


def test_marketing_stop_and_resume() -> None:
    (stop,) = _parse(PREFS).preferences
    assert (stop.customer, stop.business, stop.preference, stop.timestamp) == (
        "1234567890", "+15551234567", MarketingPreference.STOP, 1690000000)
    base = PREFS["entry"][0]["changes"][1]["value"]["user_preferences"][0]
    (resume,) = _prefs({**base, "value": "resume", "wa_id": "+1234567890"})
    assert (resume.preference, resume.customer) == (MarketingPreference.RESUME, "1234567890")
    assert len(_prefs(base, dict(base))) == 1  # the same choice twice is one
    assert _prefs({**base, "category": "other"}) == ()
    assert _prefs({**base, "value": "maybe"}) == ()
    assert _prefs({**base, "wa_id": None}) == ()
    assert _prefs({**base, "wa_id": "+"}) == ()
    assert _prefs({**base, "wa_id": "x" * 65}) == ()
    assert _prefs("junk") == ()


# ---- refusals say why, skips are logged, bounds hold ---------------------------------------
@pytest.mark.parametrize(("body", "answer"), [
    (b"[]", "envelope is not a JSON object"),
    (b'{"object": "whatsapp_business_account"}', "not a WhatsApp Cloud envelope"),
    (b'{"entry": 5}', "entry is not a list"),
])
def test_each_refusal_says_why(body: bytes, answer: str) -> None:
    """The 400's body is the reason (webhooks/inbound.py): a clear 4xx."""
    with pytest.raises(BadPayload) as info:
        _parse(body)
    assert str(info.value) == answer


def test_a_body_that_is_not_json_says_so() -> None:
    with pytest.raises(BadPayload) as info:
        _parse(b"not json")
    assert str(info.value) not in ("", "None")


def test_a_skipped_change_does_not_end_the_entry() -> None:
    envelope = copy.deepcopy(TEXT)
    changes = envelope["entry"][0]["changes"]
    changes.insert(0, {"field": "account_update", "value": {"messages": []}})
    assert len(_parse(envelope).messages) == 1


def test_a_bad_order_line_does_not_end_the_order() -> None:
    msg = _one(type="order", text=None, order={"product_items": [
        "junk", {"product_retailer_id": "A", "quantity": 1, "item_price": "12.50",
                 "currency": "INR"},
        {"product_retailer_id": "Z", "quantity": 1, "item_price": 0, "currency": "INR"},
        {"product_retailer_id": "M", "quantity": 1, "item_price": "1" + "0" * 28,
         "currency": "INR"}]})
    assert [(i.sku, i.item_price_minor) for i in msg.order_items] == [
        ("A", 1250), ("Z", 0), ("M", 10**30)]
    assert msg.text == ""


def test_defaults_of_each_kind_are_empty() -> None:
    unknown = _one(type="call_permission_reply", text=None)
    assert (unknown.text, unknown.order_items, unknown.media) == ("", (), ())
    text = _one()
    assert (text.order_items, text.media) == ((), ())
    flow = _one(type="interactive", interactive={"type": "nfm_reply", "nfm_reply": {
        "name": "flow", "response_json": "{}"}})
    assert flow.text == ""
    voice = _one(type="voice", text=None, voice={"id": "v1"})
    assert voice.text == ""
    empty = _one(type="order", text=None, order={"product_items": []})
    assert empty.text == ""


def test_long_fields_are_cut_to_their_columns() -> None:
    msg = _one(type="location", text=None, location={
        "latitude": "0" * 64 + "5", "longitude": 1, "name": "n" * 2000})
    assert msg.location is not None
    assert (msg.location.latitude, msg.location.name) == (0.0, "n" * 1024)
    msg = _one(type="location", text=None, location={"latitude": 1,
                                                     "longitude": "0" * 64 + "5"})
    assert msg.location is not None and msg.location.longitude == 0.0
    envelope = _with_message()
    _value(envelope)["contacts"][0]["profile"]["name"] = "p" * 300
    (msg,) = _parse(envelope).messages
    assert msg.profile_name == "p" * 256
    sub = "s" * 100
    assert _one(type="interactive", interactive={"type": sub}).raw_kind == (
        "interactive." + sub)[:64]
    (update,) = _status(errors=[{"code": "c" * 40, "title": "t" * 300}]).statuses
    assert (update.error_code, update.error_title) == ("c" * 32, "t" * 256)


def test_negative_and_millisecond_timestamps_are_no_timestamps() -> None:
    assert _one(timestamp=-5).timestamp is None
    (update,) = _status(timestamp=str(10**11 + 1)).statuses
    assert update.timestamp is None and update.channel == "whatsapp"
    base = PREFS["entry"][0]["changes"][1]["value"]["user_preferences"][0]
    (pref,) = _prefs({**base, "timestamp": str(10**11 + 1)})
    assert pref.timestamp is None and pref.channel == "whatsapp"


def test_the_phone_comes_from_the_sender_without_a_contact() -> None:
    envelope = _with_message()
    _value(envelope)["contacts"] = []
    (msg,) = _parse(envelope).messages
    assert msg.phone == "+16505551234"


def test_a_contact_is_found_by_its_user_id() -> None:
    envelope = _with_message(**{"from": "IN.1"})
    _value(envelope)["contacts"] = [{"user_id": "IN.1", "profile": {"name": "Asha"}},
                                    {"wa_id": "222", "profile": {"name": "Other"}}]
    (msg,) = _parse(envelope).messages
    assert msg.profile_name == "Asha"


def test_a_business_number_needs_digits() -> None:
    for number in ("", {"n": 15550783881}, None):
        envelope = copy.deepcopy(TEXT)
        _value(envelope)["metadata"] = {"display_phone_number": number,
                                        "phone_number_id": "1"}
        (msg,) = _parse(envelope).messages
        assert msg.business == "", number
    envelope = copy.deepcopy(TEXT)
    _value(envelope)["metadata"]["display_phone_number"] = "1" * 30
    assert _parse(envelope).messages[0].business == "+" + "1" * 20  # E.164 is 15 at most


def test_a_message_without_an_id_gets_the_same_id_in_any_key_order() -> None:
    first = _one(id=None, timestamp="1749416383")
    envelope = _with_message(id=None)
    msg = _value(envelope)["messages"][0]
    _value(envelope)["messages"] = [dict(reversed(list(msg.items())))]
    (second,) = _parse(envelope).messages
    assert first.message_id == second.message_id and first.message_id.startswith("noid.")
    body = json.dumps(_with_message(id=None)).replace('"1749416383"', "1.5").encode()
    (decimal,) = _parse(body).messages  # 1.5 is read as a Decimal: still an id
    assert decimal.message_id.startswith("noid.")


def test_skips_are_logged_without_the_content(caplog: pytest.LogCaptureFixture) -> None:
    envelope = _with_message(**{"from": None})
    _value(envelope)["contacts"] = []
    assert _parse(envelope).messages == ()
    assert [r.getMessage() for r in caplog.records] == [
        "cloud message without any sender id skipped"]
    caplog.clear()
    _parse(_load("cloud_value_errors__courier.json"))
    assert [r.getMessage() for r in caplog.records] == ["cloud webhook error code=0"]
    caplog.clear()
    _status_envelope = copy.deepcopy(STATUS)
    _value(_status_envelope)["statuses"].append("junk")
    assert len(_parse(_status_envelope).statuses) == 1 and caplog.records == []


def test_a_price_without_a_currency_is_no_price_and_keeps_the_line() -> None:
    msg = _one(type="order", text=None, order={"product_items": [
        {"product_retailer_id": "A", "quantity": 2, "item_price": 40}]})
    assert [(i.sku, i.quantity, i.item_price_minor, i.currency) for i in msg.order_items] == [
        ("A", 2, None, None)]


def test_an_address_form_nested_past_the_parser_is_unknown_and_costs_nothing_else() -> None:
    # json.loads recursed on it (RecursionError, which the skip does not catch): the whole
    # envelope was answered 400, every other shopper's message in it with it
    envelope = copy.deepcopy(TEXT)
    good = _value(envelope)["messages"][0]
    deep = {**good, "id": "wamid.deep", "type": "interactive", "interactive": {
        "type": "nfm_reply", "nfm_reply": {"name": "address_message",
                                           "response_json": "[" * 4000}}}
    _value(envelope)["messages"] = [deep, good]
    first, second = _parse(envelope).messages
    assert (first.message_id, first.kind, first.raw_kind, first.address_form) == (
        "wamid.deep", MessageKind.UNKNOWN, "interactive.nfm_reply.address", ())
    assert (second.message_id, second.kind) == (good["id"], MessageKind.TEXT)


# ---- totality: no message or status makes the parsing raise ---------------------------------
# Every field is read through total functions (config/wire.py), so the skip around each
# message and status (whatsapp_inbound._add_messages, _add_statuses) never fires. Two
# checks: every field (at any depth) of one part of each kind in the real fixtures replaced
# by each of a list of hostile values, in turn (the sweep found the address form's
# RecursionError above); and hypothesis: up to 3 fields of up to 3 parts at once replaced
# by arbitrary JSON, fields added, arbitrary objects and contacts (it did not find that
# one in its 500 examples: the sweep is the exhaustive half).
CLOUD = [_load(path.name) for path in sorted(FIXTURES.glob("cloud_*.json"))]


def _fixture_values(envelope: dict[str, Any]) -> list[dict[str, Any]]:
    if "entry" not in envelope:
        return [envelope]
    return [change["value"] for entry in envelope["entry"] for change in entry["changes"]]


def _parts(key: str) -> list[Any]:
    return [part for envelope in CLOUD for value in _fixture_values(envelope)
            for part in value.get(key, [])]


MESSAGES, STATUSES, CONTACTS = _parts("messages"), _parts("statuses"), _parts("contacts")
# the kinds no fixture has: Meta's India address form and an order with client prices
MESSAGES += [_with_message(type="interactive", interactive={"type": "nfm_reply", "nfm_reply": {
                 "name": "address_message", "body": "",
                 "response_json": json.dumps({"values": ADDRESS})}}),
             _with_message(type="order", order={"catalog_id": "1", "text": "", "product_items": [
                 {"product_retailer_id": "A", "quantity": 2, "item_price": "12.35",
                  "currency": "INR"}]})]
MESSAGES[-2:] = [_value(envelope)["messages"][0] for envelope in MESSAGES[-2:]]


def _keys_in(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node).union(*(_keys_in(child) for child in node.values()))
    if isinstance(node, list):
        return set().union(*(_keys_in(child) for child in node))
    return set()


KEYS = sorted(_keys_in(MESSAGES + STATUSES + CONTACTS) | set(ADDRESS) | {
    "values", "response_json", "payload", "emoji", "message_id", "link", "caption"})
WORDS = ["text", "interactive", "button", "order", "location", "reaction", "image", "audio",
         "voice", "video", "document", "sticker", "unsupported", "nfm_reply", "button_reply",
         "list_reply", "address_message", "flow", "payment", "sent", "delivered", "read",
         "failed", "deleted", "INR", "inr", "USD", "JPY", "BHD", "XXX", "", " ", "+", "0",
         "-1", "12.35", "1e3", "1E+40", "NaN", "-Infinity", "91 98300 00077", "US.123",
         "wamid.X", "١٢٣", "²", "\x00", "\ud83d\ude00"]


def _round(number: float) -> float:
    return round(number, 6)  # its JSON text is a number wire.loads keeps (exponent ≤ 30)


# text as a field holds it: any, a word haat reads, JSON nested past any parser's stack
DEEP = st.sampled_from((1, 31, 32, 33, 1000, 5000)).flatmap(  # about wire.MAX_DEPTH, far past
    lambda n: st.sampled_from(["[" * n, '{"values": ' * n, "[" * n + "]" * n]))
TEXTS = st.text(max_size=12) | st.sampled_from(WORDS) | DEEP
SCALARS = (st.none() | st.booleans() | st.integers(-(10**30), 10**30)
           | st.floats(-1e12, 1e12, allow_nan=False).map(_round) | TEXTS)
JSON = st.recursive(
    SCALARS, lambda inner: (st.lists(inner, max_size=4)
                            | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4),
                                              inner, max_size=5)
                            | inner.map(json.dumps)),  # a JSON string (response_json)
    max_leaves=12)
FIELD = JSON | TEXTS | JSON.map(json.dumps) | DEEP  # what replaces a field


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """Every place in ``node`` (keys of objects, indexes of arrays) but the root, with
    what is there."""
    found: list[tuple[tuple[Any, ...], Any]] = [(here, node)] if here else []
    children = (node.items() if isinstance(node, dict)
                else enumerate(node) if isinstance(node, list) else ())
    for key, child in children:
        found += _paths(child, (*here, key))
    return found


@st.composite
def _changed(draw: st.DrawFn, shapes: dict[str, list[Any]]) -> Any:
    """A part of one kind of ``shapes`` with 1 to 3 fields (at any depth, most often a
    leaf) replaced, and maybe a field added."""
    kind = draw(st.sampled_from(sorted(shapes)))  # each kind as likely as another
    shape = copy.deepcopy(draw(st.sampled_from(shapes[kind])))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(shape)
        leaves = [place for place in paths if not isinstance(place[1], dict | list)]
        *parent, last = draw(st.sampled_from(leaves or paths) | st.sampled_from(paths))[0]
        node = shape
        for step in parent:
            node = node[step]
        node[last] = draw(FIELD)
    if draw(st.booleans()):
        shape[draw(st.sampled_from(KEYS))] = draw(FIELD)
    return shape


def _by_kind(parts: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Fixtures' parts by their kind: a message's type (an interactive's own type, a flow's
    name), a status's status, a contact's keys."""
    kinds: dict[str, list[dict[str, Any]]] = {}
    for part in parts:
        kind = str(part.get("type") or part.get("status") or sorted(part))
        if kind == "interactive":
            sub = part["interactive"]["type"]
            kind += "." + sub + "." + str(part["interactive"][sub].get("name", ""))
        kinds.setdefault(kind, []).append(part)
    return kinds


def _any(parts: list[dict[str, Any]]) -> st.SearchStrategy[Any]:
    changed = _changed(_by_kind(parts))  # most often: the real shapes are the deep ones
    return st.one_of(changed, changed, changed,
                     st.dictionaries(st.sampled_from(KEYS), JSON, max_size=6), JSON)


class _Skips(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("malformed cloud"):
            self.lines.append(record.getMessage())


# values a field may hold instead of its own: each kind of JSON, the words haat reads, text
# nested past any parser's stack (as JSON in a string), numbers at and past their bounds
HOSTILE: list[Any] = [None, True, False, 0, -1, 1.5, -0.000001, 2**63, 10**30, -(10**30),
                      [], {}, [None], [[]], {"id": {}}, {"values": []}, *WORDS,
                      *("[" * n for n in (33, 5000)), '{"values": ' * 5000,
                      "[" * 5000 + "]" * 5000, json.dumps({"values": ADDRESS}),
                      json.dumps({"values": {"city": {}}}), "x" * 5000, "9" * 5000]


def _one_field_changed(parts: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each kind's first part with each of its fields (at any depth) replaced by each
    hostile value in turn, and each hostile value added as a new field of each name."""
    for shapes in _by_kind(parts).values():
        shape = shapes[0]
        for path, _ in _paths(shape):
            for hostile in HOSTILE:
                changed = copy.deepcopy(shape)
                *parent, last = path
                node = changed
                for step in parent:
                    node = node[step]
                node[last] = hostile
                yield changed
        for key in KEYS:
            yield {**shape, key: HOSTILE[-6]}


def _skipped(messages: list[Any], statuses: list[Any], contacts: Any) -> tuple[
        Delivery, list[str]]:
    """The delivery of TEXT's envelope with these parts, and the skip lines it logged."""
    envelope = copy.deepcopy(TEXT)
    _value(envelope).update(messages=messages, statuses=statuses, contacts=contacts)
    skips = _Skips()
    logger = logging.getLogger("webhooks.channels.whatsapp_inbound")
    logger.addHandler(skips)
    try:
        delivery = _parse(envelope)
    finally:
        logger.removeHandler(skips)
    return delivery, skips.lines


def test_no_field_of_a_real_message_status_or_contact_makes_the_parsing_raise() -> None:
    contacts = _value(TEXT)["contacts"]
    message = _value(TEXT)["messages"][0]
    for changed in _one_field_changed(MESSAGES):
        delivery, skips = _skipped([changed, message], [], contacts)
        assert skips == [] and delivery.messages[-1].message_id == message["id"], changed
    for changed in _one_field_changed(STATUSES):
        delivery, skips = _skipped([], [changed], contacts)
        assert skips == [], changed
    for changed in _one_field_changed(CONTACTS):
        delivery, skips = _skipped([message], [], [changed])
        assert skips == [] and len(delivery.messages) <= 1, changed


@settings(max_examples=500, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(_any(MESSAGES), min_size=1, max_size=3),
       statuses=st.lists(_any(STATUSES), max_size=3),
       contacts=st.lists(_any(CONTACTS), max_size=2) | JSON)
def test_no_message_or_status_makes_the_parsing_raise(
        messages: list[Any], statuses: list[Any], contacts: Any) -> None:
    envelope = copy.deepcopy(TEXT)
    _value(envelope).update(messages=messages, statuses=statuses, contacts=contacts)
    try:
        wire.loads(json.dumps(envelope))
    except wire.WireError:
        reject()  # refused whole with a 400 before any message is read (not this property)
    delivery, skips = _skipped(messages, statuses, contacts)
    assert skips == []
    assert len(delivery.messages) <= len(messages) and len(delivery.statuses) <= len(statuses)
