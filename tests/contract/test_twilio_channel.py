"""The Twilio channel as Twilio drives it: form posts signed with Twilio's own
``RequestValidator`` (the twilio package), the real fixtures' fields with one thing changed,
and REST sends against the local fake of Twilio's Messages API (tests/fakes/twilio_api.py).

Each test pins one rule of webhooks/channels/twilio.py that a shopper or the shop would
notice: whose message it is, what kind, which status, which request is refused."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from bot.types import MessageKind, Reply, StatusKind
from config.settings import Settings
from tests import sim
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi, run_fake_twilio_api
from webhooks.channels import limits
from webhooks.channels.base import BadPayload, Delivery, SendError
from webhooks.channels.twilio import TwilioAdapter, public_request_url, render_twiml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "channels"
PUBLIC = "https://bot.example.com"
URL = PUBLIC + "/webhooks/twilio"
TOKEN = "12345"
FORM = "application/x-www-form-urlencoded"


def _fixture(name: str, **changes: str | None) -> dict[str, str]:
    form: dict[str, str] = json.loads((FIXTURES / name).read_text())
    for key, value in changes.items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = value
    return form


def _adapter(**env: str) -> TwilioAdapter:
    return TwilioAdapter(Settings(public_url=PUBLIC).with_env(**{"TWILIO_AUTH_TOKEN": TOKEN,
                                                                 **env}))


def _parse(form: dict[str, str] | list[tuple[str, str]],
           headers: dict[str, str] | None = None) -> Delivery:
    return _adapter().parse(urlencode(form).encode(), headers or {"Content-Type": FORM})


def _signed(form: dict[str, str], token: str = TOKEN) -> tuple[bytes, dict[str, str]]:
    signature = RequestValidator(token).compute_signature(URL, form)
    return urlencode(form).encode(), {"Content-Type": FORM, "X-Twilio-Signature": signature}


# ---- signatures --------------------------------------------------------------------------
TEXT = "twilio_inbound_text__courier.json"


def test_a_post_signed_by_twilios_validator_verifies() -> None:
    body, headers = _signed(_fixture(TEXT))
    assert _adapter().verify(url="/webhooks/twilio", headers=headers, body=body)
    # header names are case-insensitive, as aiohttp hands them over
    lower = {k.lower(): v for k, v in headers.items()}
    assert _adapter().verify(url="/webhooks/twilio", headers=lower, body=body)


@pytest.mark.parametrize("signature", [None, ""])
def test_a_missing_or_empty_signature_header_fails(signature: str | None) -> None:
    body, headers = _signed(_fixture(TEXT))
    if signature is None:
        del headers["X-Twilio-Signature"]
    else:
        headers["X-Twilio-Signature"] = signature
    assert not _adapter().verify(url="/webhooks/twilio", headers=headers, body=body)


def test_a_signature_with_another_token_or_without_ours_fails() -> None:
    body, headers = _signed(_fixture(TEXT), token="other")
    assert not _adapter().verify(url="/webhooks/twilio", headers=headers, body=body)
    body, headers = _signed(_fixture(TEXT))
    unconfigured = TwilioAdapter(Settings(public_url=PUBLIC))
    assert not unconfigured.verify(url="/webhooks/twilio", headers=headers, body=body)


def test_the_json_body_variant_is_signed_over_the_url_with_the_body_hash() -> None:
    raw = json.dumps(_fixture(TEXT)).encode()
    url = f"{URL}?bodySHA256={hashlib.sha256(raw).hexdigest()}"
    signature = RequestValidator(TOKEN).compute_signature(url, {})
    headers = {"Content-Type": "application/json", "X-Twilio-Signature": signature}
    path = url.removeprefix(PUBLIC)
    assert _adapter().verify(url=path, headers=headers, body=raw)
    assert not _adapter().verify(url=path, headers=headers, body=raw + b" ")
    assert not _adapter().verify(url=path, headers=headers, body=b"\xff" + raw)


def test_a_body_that_is_not_a_form_never_verifies() -> None:
    _, headers = _signed(_fixture(TEXT))
    assert not _adapter().verify(url="/webhooks/twilio", headers=headers, body=b"\xff\xfe")
    many = "&".join(f"k{i}=v" for i in range(300)).encode()
    assert not _adapter().verify(url="/webhooks/twilio", headers=headers, body=many)


def test_verify_then_parse_of_one_body_agree() -> None:
    adapter = _adapter()
    body, headers = _signed(_fixture(TEXT))
    assert adapter.verify(url="/webhooks/twilio", headers=headers, body=body)
    (first,) = adapter.parse(body, headers).messages
    other, _ = _signed(_fixture(TEXT, Body="Another", MessageSid="SM2"))
    (second,) = adapter.parse(other, headers).messages
    assert (first.text, second.text, second.message_id) == ("Msg", "Another", "SM2")


# ---- parsing: who, what kind ----------------------------------------------------------------
def test_content_types() -> None:
    form = _fixture(TEXT)
    assert _parse(form, {"Content-Type": FORM + "; charset=utf-8"}).messages
    assert _parse(form, {"content-type": FORM}).messages
    assert _parse(form, {}).messages  # Twilio always sends one; none is still a form
    with pytest.raises(BadPayload, match=r"^Twilio webhooks are form posts$"):
        _parse(form, {"Content-Type": "text/plain"})
    with pytest.raises(BadPayload, match=r"^Twilio webhooks are form posts$"):
        _parse(form, {"content-type": "application/json"})


@pytest.mark.parametrize(("body", "answer"), [
    (b"Body=hi", "no MessageSid: not a Twilio messaging webhook"),
    (b"MessageSid=" + b"S" * 129, "MessageSid is too long"),
    (b"MessageSid=\xff\xfe", "form body is not UTF-8"),
    ("&".join(f"k{i}=v" for i in range(300)).encode(), "too many form fields"),
])
def test_each_refusal_says_why(body: bytes, answer: str) -> None:
    """The 400's body is the reason (webhooks/inbound.py): a clear 4xx."""
    with pytest.raises(BadPayload) as info:
        _adapter().parse(body, {"Content-Type": FORM})
    assert str(info.value) == answer


def test_the_message_id_falls_back_to_the_sms_sids_and_is_bounded() -> None:
    form = _fixture(TEXT, MessageSid=None, SmsMessageSid="SMa", SmsSid="SMb")
    assert _parse(form).messages[0].message_id == "SMa"
    form = _fixture(TEXT, MessageSid=None, SmsMessageSid=None, SmsSid="SMb")
    assert _parse(form).messages[0].message_id == "SMb"
    assert _parse(_fixture(TEXT, MessageSid="S" * 128)).messages[0].message_id == "S" * 128
    with pytest.raises(BadPayload):
        _parse(_fixture(TEXT, MessageSid="S" * 129))
    with pytest.raises(BadPayload):
        _parse(_fixture(TEXT, MessageSid="", SmsMessageSid=None, SmsSid=None))


def test_the_customer_is_the_waid_or_the_senders_digits() -> None:
    (msg,) = _parse(_fixture(TEXT, WaId="+14133882222")).messages
    assert (msg.customer, msg.phone) == ("14133882222", "+14133882222")
    (msg,) = _parse(_fixture(TEXT, WaId=None)).messages  # From is whatsapp:+1413…
    assert (msg.customer, msg.phone) == ("14133881111", "+14133881111")
    (msg,) = _parse(_fixture(TEXT, WaId=None, From="whatsapp: +14133883333 ")).messages
    assert (msg.customer, msg.phone) == ("14133883333", "+14133883333")
    (msg,) = _parse(_fixture(TEXT, WaId=None, From="whatsapp:US.99")).messages
    assert (msg.customer, msg.phone) == ("US.99", None)
    (msg,) = _parse(_fixture(TEXT, WaId=None, From="whatsapp:US.99",
                             ExternalUserId="whatsapp:IN.42")).messages
    assert (msg.customer, msg.phone) == ("IN.42", None)
    (msg,) = _parse(_fixture(TEXT, WaId=None, From="whatsapp:" + "U" * 80)).messages
    assert msg.customer == "U" * 64
    assert msg.business == "+12028831111"
    # phone numbers have at most 20 digits: a longer WaId or From is no phone number
    (msg,) = _parse(_fixture(TEXT, WaId="1" * 20)).messages
    assert msg.customer == "1" * 20
    (msg,) = _parse(_fixture(TEXT, WaId="1" * 21)).messages
    assert (msg.customer, msg.phone) == ("14133881111", "+14133881111")
    (msg,) = _parse(_fixture(TEXT, WaId=None, From="whatsapp:+" + "2" * 21)).messages
    assert (msg.customer, msg.phone) == ("+" + "2" * 21, None)
    (msg,) = _parse(_fixture(TEXT, To=None)).messages
    assert msg.business == ""


def test_a_message_without_any_sender_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    assert _parse(_fixture(TEXT, WaId=None, From=None)) == Delivery()
    assert [r.getMessage() for r in caplog.records] == [
        "twilio message without a sender skipped"]
    assert _parse(_fixture(TEXT, WaId="", From="whatsapp:")) == Delivery()


def test_profile_reply_and_kind_fields() -> None:
    form = _fixture(TEXT, ProfileName="", OriginalRepliedMessageSid="SMprev")
    (msg,) = _parse(form).messages
    assert (msg.profile_name, msg.reply_to, msg.raw_kind) == (None, "SMprev", "text")
    (msg,) = _parse(_fixture(TEXT, MessageType="text", ProfileName="Asha")).messages
    assert (msg.profile_name, msg.raw_kind, msg.reply_to) == ("Asha", "text", None)


def test_list_replies_and_buttons_carry_the_id_and_the_title() -> None:
    (row,) = _parse(_fixture(TEXT, ListId="SKU:CHAI", ListTitle="Masala Chai",
                             MessageType="interactive")).messages
    assert (row.kind, row.button_payload, row.button_title, row.text) == (
        MessageKind.BUTTON, "SKU:CHAI", "Masala Chai", "Masala Chai")
    assert row.raw_kind == "interactive"
    (bare,) = _parse(_fixture(TEXT, ButtonPayload="PAY")).messages
    assert (bare.kind, bare.button_payload, bare.button_title, bare.text) == (
        MessageKind.BUTTON, "PAY", None, "Msg")
    assert bare.raw_kind == "button"
    (label,) = _parse(_fixture(TEXT, ButtonText="Yes")).messages
    assert (label.button_payload, label.button_title, label.text) == ("Yes", "Yes", "Yes")


def test_locations_in_range_only() -> None:
    loc = "twilio_inbound_location__chatwoot.json"
    (msg,) = _parse(_fixture(loc, Label="Home", Address="MG Road")).messages
    assert msg.kind is MessageKind.LOCATION and msg.location is not None
    assert (msg.location.name, msg.location.address) == ("Home", "MG Road")
    assert msg.raw_kind == "location"
    (edge,) = _parse(_fixture(loc, Latitude="-90", Longitude="180")).messages
    assert edge.location is not None and (edge.location.latitude, edge.location.longitude) == (
        -90.0, 180.0)
    (edge,) = _parse(_fixture(loc, Latitude="90", Longitude="-180")).messages
    assert edge.location is not None
    for lat, lon in [("90.5", "0"), ("-91", "0"), ("0", "180.1"), ("0", "-181"),
                     ("nan", "0"), ("0", "inf"), ("north", "0")]:
        (msg,) = _parse(_fixture(loc, Latitude=lat, Longitude=lon)).messages
        assert msg.location is None and msg.kind is not MessageKind.LOCATION, (lat, lon)
    (msg,) = _parse(_fixture(loc, Longitude=None)).messages
    assert msg.location is None
    (msg,) = _parse(_fixture(loc, MessageType=None)).messages
    assert (msg.kind, msg.raw_kind) == (MessageKind.LOCATION, "location")
    # a coordinate is read from its first 64 characters
    for field in ("Latitude", "Longitude"):
        (msg,) = _parse(_fixture(loc, **{field: "0" * 64 + "5"})).messages
        assert msg.location is not None
        assert 0.0 in (msg.location.latitude, msg.location.longitude), field


def test_media_kinds_and_counts() -> None:
    media = "twilio_inbound_media_multi__chatwoot.json"
    (msg,) = _parse(_fixture(media, MediaContentType0="audio/ogg",
                             MediaContentType1="video/mp4")).messages
    assert [m.media_type for m in msg.media] == ["audio", "video"]
    assert msg.raw_kind == "media"
    (msg,) = _parse(_fixture(media, MediaContentType0="application/pdf",
                             MediaContentType1=None)).messages
    assert [(m.media_type, m.mime_type) for m in msg.media] == [
        ("document", "application/pdf"), ("document", None)]
    assert [m.url_or_id for m in msg.media] == ["https://chatwoot-assets.local/sample.png",
                                          "https://chatwoot-assets.local/sample.jpg"]
    (msg,) = _parse(_fixture(media, MediaUrl0=None)).messages
    assert [m.url_or_id for m in msg.media] == ["https://chatwoot-assets.local/sample.jpg"]
    (msg,) = _parse(_fixture(media, NumMedia="1")).messages
    assert len(msg.media) == 1
    (msg,) = _parse(_fixture(media, MediaContentType0="image/vnd/odd")).messages
    assert msg.media[0].media_type == "image"  # the type before the first slash
    for count in ("0", "", "many", "11", "-1"):
        (msg,) = _parse(_fixture(media, NumMedia=count)).messages
        assert msg.media == () and msg.kind is MessageKind.TEXT, count
    ten = sim.twilio_media([(f"https://m/{i}.jpg", "image/jpeg") for i in range(10)])
    (msg,) = _parse(ten).messages
    assert len(msg.media) == 10 and msg.media[9].url_or_id == "https://m/9.jpg"


def test_an_empty_message_is_unknown_and_says_what_it_was() -> None:
    (msg,) = _parse(_fixture(TEXT, Body="", MessageType="sticker")).messages
    assert (msg.kind, msg.raw_kind, msg.text) == (MessageKind.UNKNOWN, "sticker", "")
    (msg,) = _parse(_fixture(TEXT, Body="")).messages
    assert (msg.kind, msg.raw_kind) == (MessageKind.UNKNOWN, "")
    (msg,) = _parse(_fixture(TEXT, Body=None)).messages
    assert (msg.kind, msg.raw_kind, msg.text) == (MessageKind.UNKNOWN, "", "")


def test_nul_and_long_values_are_made_storable() -> None:
    (msg,) = _parse(_fixture(TEXT, Body="a\x00b")).messages  # a short body: the NUL alone
    assert msg.text == "a\ufffdb"
    (msg,) = _parse(_fixture(TEXT, Body="a\x00b", ProfileName="x" * 5000)).messages
    assert msg.text == "a\ufffdb" and msg.profile_name == "x" * 4096
    (msg,) = _parse([*_fixture(TEXT, Body="first").items(), ("Body", "second")]).messages
    assert msg.text == "first"  # the first value of a repeated field
    nul_key = [*_fixture(TEXT).items(), ("Body\x00", "second")]  # NUL in a key: another field
    assert _parse(nul_key).messages[0].text == "Msg"


def test_a_long_body_without_nul_is_cut_too() -> None:
    (msg,) = _parse(_fixture(TEXT, Body="y" * 4100)).messages
    assert msg.text == "y" * 4096


# ---- statuses ----------------------------------------------------------------------------
def test_status_callbacks() -> None:
    form = _fixture("twilio_status_failed_30008__chatwoot.json")
    (update,) = _parse(form).statuses
    assert update.status is StatusKind.FAILED and update.error_code == "30008"
    assert update.error_title
    (update,) = _parse({**form, "MessageStatus": "DELIVERED", "ErrorCode": "",
                        "ErrorMessage": ""}).statuses
    assert (update.status, update.error_code, update.error_title) == (
        StatusKind.DELIVERED, None, None)
    (update,) = _parse({k: v for k, v in form.items() if k != "To"}).statuses
    assert update.recipient == ""
    for raw, kind in [("accepted", StatusKind.ACCEPTED), ("scheduled", StatusKind.ACCEPTED),
                      ("sending", StatusKind.ACCEPTED), ("read", StatusKind.READ),
                      ("failed", StatusKind.FAILED), ("canceled", StatusKind.FAILED)]:
        (update,) = _parse(sim.twilio_status("SM1", raw)).statuses
        assert update.status is kind, raw
        assert (update.channel, update.message_id) == ("twilio", "SM1")


@pytest.mark.parametrize("status", ["received", "RECEIVING"])
def test_an_inbound_status_is_a_message(status: str) -> None:
    delivery = _parse(_fixture(TEXT, MessageStatus=status))
    assert delivery.statuses == () and len(delivery.messages) == 1


# ---- TwiML and settings --------------------------------------------------------------------
def test_twiml_media_only_for_pictures() -> None:
    empty = render_twiml([])
    assert b"<Response" in empty and b"<Message" not in empty
    link = Reply(type="text", text="See", image_url="https://cdn.example/x.jpg")
    assert b"<Media>" not in render_twiml([link])
    product = Reply(type="product", text="Chai", image_url="https://cdn.example/c.jpg")
    assert b"<Media>https://cdn.example/c.jpg</Media>" in render_twiml([product])
    assert render_twiml([Reply(type="text", text="z" * 2000)]).count(b"z") < limits.TWILIO_BODY


def test_live_names_the_credentials_when_either_is_set() -> None:
    assert TwilioAdapter.enabled(Settings())
    assert TwilioAdapter.live(Settings()) is None
    for env in ({"TWILIO_ACCOUNT_SID": ACCOUNT_SID}, {"TWILIO_AUTH_TOKEN": "t"}):
        assert TwilioAdapter.live(Settings().with_env(**env)) == (
            "Twilio (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)")
    assert _adapter().extra_routes() == ()


# ---- REST sends against the fake Messages API ----------------------------------------------
@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilioApi]:
    async with run_fake_twilio_api() as api:
        yield api


def _sender(fake: FakeTwilioApi, public: str = PUBLIC) -> TwilioAdapter:
    return TwilioAdapter(Settings(public_url=public).with_env(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_API_BASE_URL=fake.url), timeout=2)


async def _send(adapter: TwilioAdapter, reply: Reply, *, business: str = sim.TWILIO_BUSINESS,
                to: str = "919811111111") -> str:
    async with aiohttp.ClientSession() as session:
        return await adapter.send(session, business=business, to=to, reply=reply,
                                  idempotency_key="k")


async def test_no_status_callback_without_an_https_public_url(fake: FakeTwilioApi) -> None:
    adapter = _sender(fake, public="http://127.0.0.1:8080")
    try:
        await _send(adapter, Reply(type="text", text="hi"), to="whatsapp:919811111111",
                    business="whatsapp:+14155238886")
    finally:
        await adapter.close()
    (request,) = fake.received
    assert "StatusCallback" not in request.form
    assert request.form["To"] == ["whatsapp:+919811111111"]
    assert request.form["From"] == ["whatsapp:+14155238886"]


async def test_templates_name_their_variables(fake: FakeTwilioApi) -> None:
    adapter = _sender(fake)
    named = Reply(type="template", template="HXabc", params=("Asha", "7"),
                  extra={"param_names": ["name", "order"]})
    mismatched = Reply(type="template", template="HXabc", params=("Asha",),
                       extra={"param_names": ["name", "order"]})
    try:
        await _send(adapter, named)
        await _send(adapter, mismatched)
        with pytest.raises(SendError) as info:
            await _send(adapter, Reply(type="template", template="order_update",
                                       params=("Asha",)))
        with pytest.raises(SendError) as nobody:
            await _send(adapter, Reply(type="text", text="hi"), business="")
    finally:
        await adapter.close()
    first, second = fake.received
    assert first.form["ContentSid"] == ["HXabc"] and "Body" not in first.form
    assert json.loads(first.form["ContentVariables"][0]) == {"name": "Asha", "order": "7"}
    assert json.loads(second.form["ContentVariables"][0]) == {"1": "Asha"}
    assert (info.value.retryable, info.value.code) == (False, "no_content_sid")
    assert str(info.value) == ("no Twilio Content SID for this template (shop.yaml "
                               "templates: EVENT: {twilio: HX…})")
    assert (nobody.value.retryable, nobody.value.code) == (False, "unknown_business")
    assert str(nobody.value) == "no sender number for this business"
    assert len(fake.received) == 2  # neither refusal reached Twilio


async def test_non_ascii_template_variables_go_as_written(fake: FakeTwilioApi) -> None:
    adapter = _sender(fake)
    try:
        await _send(adapter, Reply(type="template", template="x", params=("জয়",),
                                   extra={"content_sid": "HXbn"}))
    finally:
        await adapter.close()
    (request,) = fake.received
    assert request.form["ContentVariables"] == ['{"1": "জয়"}']


async def test_a_closed_sender_opens_a_new_client(fake: FakeTwilioApi) -> None:
    adapter = _sender(fake)
    try:
        await _send(adapter, Reply(type="text", text="one"))
        await adapter.close()
        await adapter.close()  # twice is harmless
        await _send(adapter, Reply(type="text", text="two"))
    finally:
        await adapter.close()
    assert [r.form["Body"] for r in fake.received] == [["one"], ["two"]]


async def test_only_pictures_carry_media(fake: FakeTwilioApi) -> None:
    adapter = _sender(fake)
    try:
        await _send(adapter, Reply(type="product", text="Chai",
                                   image_url="https://cdn.example/c.jpg"))
        await _send(adapter, Reply(type="text", text="See", image_url="https://cdn.example/x"))
        await _send(adapter, Reply(type="image", text="No picture yet"))
    finally:
        await adapter.close()
    product, text, bare = fake.received
    assert product.form["MediaUrl"] == ["https://cdn.example/c.jpg"]
    assert "MediaUrl" not in text.form and "MediaUrl" not in bare.form


async def test_closing_a_sender_that_never_sent() -> None:
    await TwilioAdapter(Settings()).close()


async def test_unconfigured_sends_say_which_setting_is_missing(fake: FakeTwilioApi) -> None:
    for env in ({"TWILIO_ACCOUNT_SID": ACCOUNT_SID}, {"TWILIO_AUTH_TOKEN": AUTH_TOKEN}):
        adapter = TwilioAdapter(Settings().with_env(TWILIO_API_BASE_URL=fake.url, **env))
        with pytest.raises(SendError) as info:
            await _send(adapter, Reply(type="text", text="hi"))
        assert (info.value.retryable, info.value.code, str(info.value)) == (
            False, "not_configured", "TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN are not set")
    assert fake.received == []


async def test_a_long_text_is_trimmed_to_twilios_limit(fake: FakeTwilioApi) -> None:
    adapter = _sender(fake)
    try:
        await _send(adapter, Reply(type="image", text="w" * 2000,
                                   image_url="https://cdn.example/w.jpg"))
    finally:
        await adapter.close()
    (request,) = fake.received
    assert len(request.form["Body"][0]) == limits.TWILIO_BODY
    assert request.form["MediaUrl"] == ["https://cdn.example/w.jpg"]




async def test_transport_failures_say_what_happened(fake: FakeTwilioApi) -> None:
    fake.hang_next()
    adapter = TwilioAdapter(Settings().with_env(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_API_BASE_URL=fake.url), timeout=0.5)
    try:
        with pytest.raises(SendError) as lost:
            await _send(adapter, Reply(type="text", text="hi"))
    finally:
        await adapter.close()
    assert str(lost.value) == "Twilio call failed: TimeoutError"
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    adapter = TwilioAdapter(Settings().with_env(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_API_BASE_URL=closed), timeout=2)
    try:
        with pytest.raises(SendError) as refused:
            await _send(adapter, Reply(type="text", text="hi"))
    finally:
        await adapter.close()
    assert (str(refused.value), refused.value.code) == ("cannot connect to Twilio", "connect")


@pytest.mark.parametrize(("public", "seen", "signed"), [
    ("https://bot.example.com", "?x=1", "https://bot.example.com/?x=1"),
    ("https://example.com/shopX/", "/webhooks/twilio", "https://example.com/shopX/webhooks/twilio"),
])
def test_the_signed_url_keeps_the_configured_path(public: str, seen: str,
                                                  signed: str) -> None:
    assert public_request_url(public, seen) == signed


def test_a_raw_nul_byte_in_a_short_body_is_made_storable() -> None:
    body = urlencode(_fixture(TEXT)).encode().replace(b"Body=Msg", b"Body=M\x00sg")
    (msg,) = _adapter().parse(body, {"Content-Type": FORM}).messages
    assert msg.text == "M\ufffdsg"
