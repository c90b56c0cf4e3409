"""Every real channel fixture parses, through the adapter whose test module
(``tests/fakes/channel_<name>.py``, found for every registered channel) claims its prefix."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.types import ChannelCapability, MessageKind, StatusKind
from config.settings import Settings
from tests import sim
from webhooks.channels.base import (
    BadPayload,
    ChannelAdapter,
    Delivery,
    webhook_path,
)
from webhooks.channels.registry import CHANNEL_CLASSES, CHANNELS
from webhooks.channels.twilio import TwilioAdapter
from webhooks.channels.whatsapp_cloud import WhatsAppCloudAdapter

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "channels"
DRIVERS: dict[str, ModuleType] = {
    cls.name: importlib.import_module(f"tests.fakes.channel_{cls.name}")
    for cls in CHANNEL_CLASSES}
PREFIXES = tuple(p for driver in DRIVERS.values() for p in driver.FIXTURE_PREFIXES)
INBOUND = sorted(p for p in FIXTURES.glob("*.json") if p.name.startswith(PREFIXES))
SETTINGS = Settings().with_env(TWILIO_AUTH_TOKEN="12345", WHATSAPP_APP_SECRET="s",
                               HAAT_SIMULATOR_TOKEN="t")


def _channel(name: str) -> str:
    (channel,) = [key for key, driver in DRIVERS.items()
                  if name.startswith(driver.FIXTURE_PREFIXES)]
    return channel


def _adapter(name: str) -> ChannelAdapter:
    return CHANNELS[_channel(name)](SETTINGS)


def _body(path: Path) -> bytes:
    body: bytes = DRIVERS[_channel(path.name)].fixture_body(path)
    return body


def parse_fixture(name: str) -> Delivery:
    path = FIXTURES / name
    return _adapter(name).parse(_body(path), {})


def test_fixture_set_is_complete() -> None:
    assert len(INBOUND) == 52
    for path in INBOUND:
        _channel(path.name)  # exactly one channel claims each fixture
    assert (FIXTURES / "SOURCES.md").exists()


@pytest.mark.parametrize("path", INBOUND, ids=lambda p: p.name)
def test_every_fixture_parses_to_known_kinds(path: Path) -> None:
    adapter = _adapter(path.name)
    delivery = adapter.parse(_body(path), {})
    for message in delivery.messages:
        assert message.channel == adapter.name
        assert message.kind in MessageKind
        assert message.message_id and message.customer
        if message.kind is MessageKind.UNKNOWN:
            assert message.raw_kind  # diagnosable
    for status in delivery.statuses:
        assert status.status in StatusKind and status.message_id
    # parsing is pure: the same bytes give the same result
    assert adapter.parse(_body(path), {}) == delivery


def test_registry_builds_adapters_named_like_their_key() -> None:
    assert [cls.name for cls in CHANNEL_CLASSES] == list(CHANNELS)
    for key, cls in CHANNELS.items():
        adapter = cls(SETTINGS)
        assert adapter.name == key and cls.name == key
        assert cls.capabilities <= set(ChannelCapability)
        assert (ChannelCapability.DIRECT_REPLIES in cls.capabilities) is adapter.direct_replies
        assert all(o.env.isupper() for o in cls.options)
        for route in adapter.extra_routes():
            assert route.path.startswith(webhook_path(key))
    assert isinstance(_adapter("cloud_x"), WhatsAppCloudAdapter)
    assert isinstance(_adapter("twilio_x"), TwilioAdapter)


# ---- Cloud API: specific fixtures ----------------------------------------------------------


def test_cloud_docs_text() -> None:
    (msg,) = parse_fixture("cloud_msg_text__meta_docs.json").messages
    assert msg.message_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert (msg.customer, msg.phone, msg.business) == ("16505551234", "+16505551234",
                                                       "+15550783881")
    assert msg.kind is MessageKind.TEXT and msg.text == "Does it come in another color?"
    assert msg.profile_name == "Sheena Nelson" and msg.timestamp == 1749416383


def test_cloud_order_prices_in_minor_units() -> None:
    (msg,) = parse_fixture("cloud_msg_order__pywa.json").messages
    assert msg.kind is MessageKind.ORDER
    assert [(i.sku, i.quantity, i.item_price_minor, i.currency) for i in msg.order_items] == [
        ("HAMBURGER", 3, 3000, "ILS"), ("FRENCH_FRIES", 2, 3500, "ILS"), ("SODA", 2, 1000, "ILS")]


def test_cloud_order_decimal_prices_are_exact() -> None:
    envelope = sim.cloud_order([("CHAI", 2, "12.35", "INR"), ("KAHWA", 1, "0.1", "KWD"),
                                ("ODD", 1, "1.005", "INR"), ("JPY", 1, "300", "JPY")])
    body, _ = sim.signed_cloud_request("s", envelope)
    assert b'"item_price":12.35' in body  # a JSON number, as WhatsApp sends it
    (msg,) = WhatsAppCloudAdapter(SETTINGS).parse(body, {}).messages
    assert [i.item_price_minor for i in msg.order_items] == [1235, 100, None, 300]


def test_cloud_bsuid_sender_has_no_phone() -> None:
    (msg,) = parse_fixture("cloud_msg_bsuid_in_from__courier.json").messages
    assert msg.customer == "US.1234" and msg.phone is None
    assert msg.business == "+250788123200"


def test_cloud_message_without_any_sender_is_skipped() -> None:
    assert parse_fixture("cloud_msg_no_from__courier.json").messages == ()


def test_cloud_user_id_is_used_when_from_is_missing() -> None:
    envelope = sim.cloud_text("hi", from_="919811111111")
    value = envelope["entry"][0]["changes"][0]["value"]
    del value["messages"][0]["from"]
    value["contacts"] = [{"profile": {"name": "Asha"}, "user_id": "IN.998877"}]
    (msg,) = WhatsAppCloudAdapter(SETTINGS).parse(sim.dumps(envelope), {}).messages
    assert (msg.customer, msg.phone, msg.profile_name) == ("IN.998877", None, "Asha")


def test_cloud_duplicate_ids_in_one_batch_are_kept_once() -> None:
    delivery = parse_fixture("cloud_msg_duplicate_same_id_in_one_batch__courier.json")
    assert [m.message_id for m in delivery.messages] == ["external_id"]


def test_cloud_batches_keep_order_and_skip_other_fields() -> None:
    delivery = parse_fixture("cloud_batch_text_location_reaction_sticker__pius.json")
    assert [(m.message_id, m.kind) for m in delivery.messages] == [
        ("wamid.TEXT123", MessageKind.TEXT), ("wamid.LOC789", MessageKind.LOCATION),
        ("wamid.RXN001", MessageKind.REACTION), ("wamid.STK002", MessageKind.MEDIA)]
    loc = delivery.messages[1].location
    assert loc is not None and (loc.latitude, loc.name) == (37.7749, "San Francisco")
    prefs = parse_fixture("cloud_batch_multi_change_with_user_preferences__pius.json")
    assert [m.message_id for m in prefs.messages] == ["wamid.TEXTXYZ123"]


@pytest.mark.parametrize(("name", "payload", "text", "raw_kind"), [
    ("cloud_msg_interactive_button_reply__pywa.json", "callback_data", "title",
     "interactive.button_reply"),
    ("cloud_msg_interactive_list_reply__pywa.json", "callback_data", "title",
     "interactive.list_reply"),
    ("cloud_msg_button_template_quick_reply__pywa.json", "callback_data", "title", "button"),
    ("cloud_msg_button_template_with_context__courier.json", "No-Button-Payload", "No",
     "button"),
    ("onprem360_value_button_without_payload__chatwoot.json", "Yes this is a button",
     "Yes this is a button", "button"),
])
def test_cloud_taps_carry_their_payload(name: str, payload: str, text: str,
                                        raw_kind: str) -> None:
    (msg,) = parse_fixture(name).messages
    assert msg.kind is MessageKind.BUTTON
    assert (msg.button_payload, msg.text, msg.raw_kind) == (payload, text, raw_kind)


def test_cloud_flow_completion_keeps_response_json() -> None:
    (msg,) = parse_fixture("cloud_msg_interactive_nfm_reply__pywa.json").messages
    assert msg.kind is MessageKind.BUTTON and msg.button_payload is not None
    assert json.loads(msg.button_payload)["flow_token"] == "AQAAAAACS5FpgQ_cAAAAAD0QI3s."


def test_cloud_media_and_errors() -> None:
    (image,) = parse_fixture("cloud_msg_image_with_caption__courier.json").messages
    assert image.kind is MessageKind.MEDIA and image.text == "Check out my new phone!"
    assert [(m.media_type, m.url_or_id) for m in image.media] == [("image", "id_image")]
    (broken,) = parse_fixture("cloud_msg_image_with_media_error__chatwoot.json").messages
    assert broken.kind is MessageKind.MEDIA and broken.media == ()
    assert broken.message_id.startswith("noid.")  # no id in the payload: a stable one
    (doc,) = parse_fixture("cloud_msg_document_unicode_filename__chatwoot.json").messages
    assert doc.media[0].media_type == "document" and doc.text == "My résumé"


def test_cloud_reaction_unsupported_and_context() -> None:
    (reaction,) = parse_fixture("cloud_msg_reaction__pywa.json").messages
    assert (reaction.kind, reaction.text, reaction.reply_to) == (
        MessageKind.REACTION, "😮", "wamid.yzxyzx=")
    (unsupported,) = parse_fixture("cloud_msg_unsupported__pywa.json").messages
    assert (unsupported.kind, unsupported.raw_kind) == (MessageKind.UNKNOWN, "unsupported")
    (reply,) = parse_fixture("cloud_msg_text_reply_context__pywa.json").messages
    assert reply.reply_to == "wamid.xyzxyz=="


def test_cloud_unknown_type_becomes_unknown() -> None:
    envelope = sim.cloud_message("call_permission_reply", {"response": "accept"})
    (msg,) = WhatsAppCloudAdapter(SETTINGS).parse(sim.dumps(envelope), {}).messages
    assert msg.kind is MessageKind.UNKNOWN and msg.raw_kind == "call_permission_reply"


@pytest.mark.parametrize(("name", "status", "code"), [
    ("cloud_status_sent__pywa.json", StatusKind.SENT, None),
    ("cloud_status_delivered__pywa.json", StatusKind.DELIVERED, None),
    ("cloud_status_read__pywa.json", StatusKind.READ, None),
    ("cloud_status_failed__pywa.json", StatusKind.FAILED, "130472"),
    ("cloud_status_failed_131014__courier.json", StatusKind.FAILED, "131014"),
])
def test_cloud_statuses(name: str, status: StatusKind, code: str | None) -> None:
    delivery = parse_fixture(name)
    assert delivery.messages == ()
    (update,) = delivery.statuses
    assert (update.status, update.error_code) == (status, code)
    assert update.recipient in ("972987654321", "5678") and update.timestamp


def test_cloud_payment_status_is_not_a_delivery_status() -> None:
    """India PG ``type: payment`` statuses are never trusted: money is confirmed through the
    payment provider's own callback, so the adapter acknowledges them and reads nothing."""
    body = (FIXTURES / "cloud_status_payment_captured__meta_docs_pg.json").read_bytes()
    assert WhatsAppCloudAdapter(SETTINGS).parse(body, {}) == Delivery()


def test_cloud_value_errors_give_an_empty_delivery() -> None:
    assert parse_fixture("cloud_value_errors__courier.json") == Delivery()


def test_cloud_learns_phone_number_ids() -> None:
    adapter = WhatsAppCloudAdapter(SETTINGS)
    adapter.parse((FIXTURES / "cloud_msg_text__meta_docs.json").read_bytes(), {})
    assert adapter.phone_number_id_for("+15550783881") == "106540352242922"
    assert adapter.phone_number_id_for("+15550000000") is None
    assert adapter.phone_number_id_for("106540352242922") == "106540352242922"


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"foo": 1}',
                                  b'{"entry": 5}', b"\xff\xfe"])
def test_cloud_malformed_bodies_raise_bad_payload(body: bytes) -> None:
    with pytest.raises(BadPayload):
        WhatsAppCloudAdapter(SETTINGS).parse(body, {})


@pytest.mark.parametrize("junk", [
    {"entry": [None, {"changes": "x"}, {"changes": [None, {"value": 3}]}]},
    {"entry": [{"changes": [{"value": {"messages": [1, {"type": "text"}],
                                       "statuses": [{"status": "sent"}]}}]}]},
    {"entry": [{"changes": [{"value": {"messages": [
        {"from": "1", "id": "x", "type": "order", "order": {"product_items": [
            {"product_retailer_id": "A", "quantity": "two"}, "bad"]}},
        {"from": "1", "id": "y", "type": "location", "location": {"latitude": "n/a"}},
        {"from": "1", "id": "z", "type": "interactive", "interactive": None},
    ]}}]}]},
])
def test_cloud_junk_inside_a_valid_envelope_never_raises(junk: dict[str, Any]) -> None:
    delivery = WhatsAppCloudAdapter(SETTINGS).parse(json.dumps(junk).encode(), {})
    assert all(m.kind is MessageKind.UNKNOWN for m in delivery.messages)
    assert delivery.statuses == ()


# ---- Twilio: specific fixtures -------------------------------------------------------------


def test_twilio_text() -> None:
    (msg,) = parse_fixture("twilio_inbound_text__courier.json").messages
    assert msg.message_id == "SMe287d7109a5a925f182f0e07fe5b223b"
    assert (msg.customer, msg.phone, msg.business) == ("14133881111", "+14133881111",
                                                       "+12028831111")
    assert msg.kind is MessageKind.TEXT and msg.text == "Msg"


@pytest.mark.parametrize(("name", "customer"), [
    ("twilio_inbound_bsuid_no_phone__courier.json", "US.1234"),
    ("twilio_inbound_whatsapp_bsuid_username__chatwoot.json", "IN.2081978709342942"),
])
def test_twilio_bsuid_customer(name: str, customer: str) -> None:
    (msg,) = parse_fixture(name).messages
    assert msg.customer == customer and msg.phone is None


def test_twilio_button_media_location_profile() -> None:
    (button,) = parse_fixture("twilio_inbound_button_text__courier.json").messages
    assert (button.kind, button.button_payload, button.text) == (MessageKind.BUTTON,
                                                                 "Confirm", "Confirm")
    (media,) = parse_fixture("twilio_inbound_media_multi__chatwoot.json").messages
    assert media.kind is MessageKind.MEDIA and media.text == "testing multiple media"
    assert [(m.media_type, m.mime_type) for m in media.media] == [("image", "image/png"),
                                                                  ("image", "image/jpeg")]
    (loc,) = parse_fixture("twilio_inbound_location__chatwoot.json").messages
    assert loc.kind is MessageKind.LOCATION and loc.location is not None
    assert loc.location.latitude == pytest.approx(12.160894393921)
    (named,) = parse_fixture("twilio_inbound_whatsapp_profile_name__chatwoot.json").messages
    assert named.profile_name == "João Silva" and named.customer == "5541988887777"


def test_twilio_button_payload_differs_from_label() -> None:
    body = urlencode(sim.twilio_button("ADD:CHAI", "Add chai")).encode()
    (msg,) = TwilioAdapter(SETTINGS).parse(body, {}).messages
    assert (msg.button_payload, msg.text, msg.customer) == ("ADD:CHAI", "Add chai",
                                                            sim.CUSTOMER)


@pytest.mark.parametrize(("name", "status", "code"), [
    ("twilio_status_read__courier.json", StatusKind.READ, None),
    ("twilio_status_failed_63018__courier.json", StatusKind.FAILED, "63018"),
    ("twilio_status_failed_30008__chatwoot.json", StatusKind.FAILED, "30008"),
])
def test_twilio_statuses(name: str, status: StatusKind, code: str | None) -> None:
    delivery = parse_fixture(name)
    assert delivery.messages == ()
    (update,) = delivery.statuses
    assert (update.status, update.error_code) == (status, code)


@pytest.mark.parametrize(("raw", "kind"), [("queued", StatusKind.ACCEPTED),
                                           ("sent", StatusKind.SENT),
                                           ("delivered", StatusKind.DELIVERED),
                                           ("undelivered", StatusKind.FAILED),
                                           ("something_new", StatusKind.UNKNOWN)])
def test_twilio_status_names(raw: str, kind: StatusKind) -> None:
    body = urlencode(sim.twilio_status("SM1", raw)).encode()
    (update,) = TwilioAdapter(SETTINGS).parse(body, {}).statuses
    assert update.status is kind and update.recipient == "+" + sim.CUSTOMER


@pytest.mark.parametrize(("body", "headers"), [
    (b"Body=hi", {}),  # no MessageSid
    (b"\xff", {}),
    (b'{"MessageSid": "SM1"}', {"Content-Type": "application/json"}),
])
def test_twilio_malformed_bodies_raise_bad_payload(body: bytes,
                                                   headers: dict[str, str]) -> None:
    with pytest.raises(BadPayload):
        TwilioAdapter(SETTINGS).parse(body, headers)
