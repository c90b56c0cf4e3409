"""Proactive sends against loopback fakes of Twilio's REST API and the Graph API."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.types import Button, Reply
from config.settings import Settings
from tests import sim
from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi, run_fake_graph_api
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi, run_fake_twilio_api
from webhooks.channels.base import SendError
from webhooks.channels.twilio import TwilioAdapter
from webhooks.channels.whatsapp_cloud import WhatsAppCloudAdapter

CUSTOMER = "919811111111"
TEXT = Reply(type="text", text="Your order ORD-7 is on its way 🚚")


def _free_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


# ---- Twilio -----------------------------------------------------------------------------------


@pytest.fixture
async def twilio_fake() -> AsyncIterator[FakeTwilioApi]:
    async with run_fake_twilio_api() as fake:
        yield fake


@pytest.fixture
async def twilio(twilio_fake: FakeTwilioApi) -> AsyncIterator[TwilioAdapter]:
    adapter = TwilioAdapter(Settings(public_url="https://bot.example.com").with_env(
                                         TWILIO_ACCOUNT_SID=ACCOUNT_SID,
                                         TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                                         TWILIO_API_BASE_URL=twilio_fake.url), timeout=0.5)
    yield adapter
    await adapter.close()


async def test_twilio_text_send(twilio: TwilioAdapter, twilio_fake: FakeTwilioApi,
                                session: aiohttp.ClientSession) -> None:
    sid = await twilio.send(session, business=sim.TWILIO_BUSINESS, to=CUSTOMER, reply=TEXT,
                            idempotency_key="out-1")
    assert sid.startswith("SM") and len(sid) == 34
    (request,) = twilio_fake.received
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.form["To"] == [f"whatsapp:+{CUSTOMER}"]
    assert request.form["From"] == [f"whatsapp:{sim.TWILIO_BUSINESS}"]
    assert request.form["Body"] == ["Your order ORD-7 is on its way 🚚"]
    assert request.form["StatusCallback"] == ["https://bot.example.com/webhooks/twilio"]
    # the client is cached: a second send reuses it and gets a new sid
    second = await twilio.send(session, business=sim.TWILIO_BUSINESS, to="+" + CUSTOMER,
                               reply=TEXT, idempotency_key="out-2")
    assert second != sid and len(twilio_fake.received) == 2


async def test_twilio_rich_replies_degrade_to_text_with_media(
        twilio: TwilioAdapter, twilio_fake: FakeTwilioApi,
        session: aiohttp.ClientSession) -> None:
    buttons = Reply(type="buttons", text="Add chai?", buttons=(Button("y", "Yes"),
                                                               Button("n", "No")))
    qr = Reply(type="payment", text="Pay ₹40", link="upi://pay?pa=a@b",
               image_url="https://bot.example.com/pay/t/qr.png")
    await twilio.send(session, business=sim.TWILIO_BUSINESS, to=CUSTOMER, reply=buttons,
                      idempotency_key="k1")
    await twilio.send(session, business=sim.TWILIO_BUSINESS, to="US.1234", reply=qr,
                      idempotency_key="k2")
    first, second = twilio_fake.received
    assert first.form["Body"] == ["Add chai?\n1. Yes\n2. No"]
    assert "MediaUrl" not in first.form
    assert second.form["To"] == ["whatsapp:US.1234"]
    assert second.form["MediaUrl"] == ["https://bot.example.com/pay/t/qr.png"]
    assert second.form["Body"] == ["Pay ₹40\nupi://pay?pa=a@b"]


async def test_twilio_template_uses_content_sid(twilio: TwilioAdapter,
                                                twilio_fake: FakeTwilioApi,
                                                session: aiohttp.ClientSession) -> None:
    reply = Reply(type="template", template="order_update", params=("Asha", "ORD-7"),
                  extra={"content_sid": "HX123"})
    await twilio.send(session, business="MG0001", to=CUSTOMER, reply=reply,
                      idempotency_key="k")
    (request,) = twilio_fake.received
    assert request.form["ContentSid"] == ["HX123"]
    assert json.loads(request.form["ContentVariables"][0]) == {"1": "Asha", "2": "ORD-7"}
    assert request.form["MessagingServiceSid"] == ["MG0001"] and "From" not in request.form


@pytest.mark.parametrize("case", [
    (429, 20429, True), (500, 20500, True), (503, 20503, True),
    (400, 21211, False), (403, 63016, False),
])
async def test_twilio_error_mapping(twilio: TwilioAdapter, twilio_fake: FakeTwilioApi,
                                    session: aiohttp.ClientSession,
                                    case: tuple[int, int, bool]) -> None:
    status, code, retryable = case
    twilio_fake.fail_next(status=status, code=code)
    with pytest.raises(SendError) as info:
        await twilio.send(session, business=sim.TWILIO_BUSINESS, to=CUSTOMER, reply=TEXT,
                          idempotency_key="k")
    assert (info.value.retryable, info.value.status, info.value.code) == (
        retryable, status, str(code))
    # the next attempt (what the outbox would do) goes through
    assert (await twilio.send(session, business=sim.TWILIO_BUSINESS, to=CUSTOMER, reply=TEXT,
                              idempotency_key="k")).startswith("SM")
    assert twilio_fake.attempts == 2 and len(twilio_fake.received) == 1


async def test_twilio_error_text_is_twilios_message_cut_at_300(
        twilio: TwilioAdapter, twilio_fake: FakeTwilioApi,
        session: aiohttp.ClientSession) -> None:
    # what the outbox stores as the send's error: the status and Twilio's own message
    twilio_fake.fail_next(status=400, code=21211,
                          message="The 'To' number +919811111111 is not a valid phone number.")
    with pytest.raises(SendError) as short:
        await twilio.send(session, business=sim.TWILIO_BUSINESS, to=CUSTOMER, reply=TEXT,
                          idempotency_key="k")
    assert str(short.value) == ("Twilio API 400: Unable to create record: The 'To' number "
                                "+919811111111 is not a valid phone number.")
    long = "The message body is not valid: " + "é" * 400  # Twilio quotes the input back
    twilio_fake.fail_next(status=400, code=21617, message=long)
    with pytest.raises(SendError) as cut:
        await twilio.send(session, business=sim.TWILIO_BUSINESS, to=CUSTOMER, reply=TEXT,
                          idempotency_key="k")
    text = str(cut.value)
    assert len(text) == 300
    assert text == f"Twilio API 400: Unable to create record: {long}"[:300]
    assert (cut.value.status, cut.value.code) == (400, "21617")


async def test_twilio_errors_without_a_twilio_code(
        twilio: TwilioAdapter, twilio_fake: FakeTwilioApi,
        session: aiohttp.ClientSession) -> None:
    # Twilio's JSON with "code": null: no code is recorded, not the text "None"
    twilio_fake.codeless_error_next(503, "Service Unavailable")
    with pytest.raises(SendError) as codeless:
        await twilio.send(session, business=sim.TWILIO_BUSINESS, to=CUSTOMER, reply=TEXT,
                          idempotency_key="k")
    assert (str(codeless.value), codeless.value.retryable, codeless.value.status,
            codeless.value.code) == (
        "Twilio API 503: Unable to create record: Service Unavailable", True, 503, None)
    # a proxy's HTML page is not JSON: the twilio package gives the HTTP status as the code
    twilio_fake.proxy_error_next(502)
    with pytest.raises(SendError) as page:
        await twilio.send(session, business=sim.TWILIO_BUSINESS, to=CUSTOMER, reply=TEXT,
                          idempotency_key="k")
    assert (str(page.value), page.value.retryable, page.value.status, page.value.code) == (
        "Twilio API 502: Unable to create record", True, 502, "502")
    assert twilio_fake.attempts == 2 and twilio_fake.received == []


async def test_twilio_problem_details_errors_are_send_errors_too(
        twilio: TwilioAdapter, twilio_fake: FakeTwilioApi,
        session: aiohttp.ClientSession) -> None:
    # an RFC 9457 body makes the twilio package raise TwilioServiceException, not
    # TwilioRestException: it is still a SendError the outbox can keep, never a crash
    twilio_fake.problem_next(400, 21211, "Invalid 'To' Phone Number",
                             detail="The 'To' number is not a valid phone number.")
    with pytest.raises(SendError) as permanent:
        await twilio.send(session, business=sim.TWILIO_BUSINESS, to=CUSTOMER, reply=TEXT,
                          idempotency_key="k")
    assert (str(permanent.value), permanent.value.retryable, permanent.value.status,
            permanent.value.code) == (
        "Twilio API 400: The 'To' number is not a valid phone number.", False, 400, "21211")
    twilio_fake.problem_next(429, 20429, "Too Many Requests")  # no detail: the title
    with pytest.raises(SendError) as busy:
        await twilio.send(session, business=sim.TWILIO_BUSINESS, to=CUSTOMER, reply=TEXT,
                          idempotency_key="k")
    assert (str(busy.value), busy.value.retryable, busy.value.status, busy.value.code) == (
        "Twilio API 429: Too Many Requests", True, 429, "20429")
    twilio_fake.problem_next(503, 20503, "Service Unavailable", detail="x" * 400)
    with pytest.raises(SendError) as down:
        await twilio.send(session, business=sim.TWILIO_BUSINESS, to=CUSTOMER, reply=TEXT,
                          idempotency_key="k")
    assert (len(str(down.value)), down.value.retryable) == (300, True)
    assert twilio_fake.attempts == 3 and twilio_fake.received == []


@pytest.mark.parametrize("edge_region", [
    ("sydney", "au1"),  # real values: in production they would move sends to another host
    ("x/y", "au1?z"),  # values that would show through even here, where only the path goes
])
async def test_twilio_sends_ignore_twilio_edge_and_region_in_the_environment(
        twilio: TwilioAdapter, twilio_fake: FakeTwilioApi, session: aiohttp.ClientSession,
        monkeypatch: pytest.MonkeyPatch, edge_region: tuple[str, str]) -> None:
    """TWILIO_EDGE / TWILIO_REGION in the process environment (set for another tool on the
    host) never reach the twilio client: sends go where the settings say, unchanged.

    With TWILIO_API_BASE_URL (the fake) only the path of the client's URL is kept, so a
    host the client chose from the environment cannot show here; an edge or region with a
    ``/`` or ``?`` in it would change that path too, and the send would miss the fake's
    Messages resource.
    """
    edge, region = edge_region
    monkeypatch.setenv("TWILIO_EDGE", edge)
    monkeypatch.setenv("TWILIO_REGION", region)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "ACother")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "other-token")
    sid = await twilio.send(session, business=sim.TWILIO_BUSINESS, to=CUSTOMER, reply=TEXT,
                            idempotency_key="k")
    assert sid.startswith("SM")
    (request,) = twilio_fake.received
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert twilio_fake.attempts == 1


async def test_twilio_timeout_is_retryable(twilio: TwilioAdapter, twilio_fake: FakeTwilioApi,
                                           session: aiohttp.ClientSession) -> None:
    twilio_fake.hang_next()
    with pytest.raises(SendError) as info:
        await twilio.send(session, business=sim.TWILIO_BUSINESS, to=CUSTOMER, reply=TEXT,
                          idempotency_key="k")
    assert info.value.retryable and info.value.code == "timeout"


async def test_twilio_wrong_credentials_are_permanent(twilio_fake: FakeTwilioApi,
                                                      session: aiohttp.ClientSession) -> None:
    adapter = TwilioAdapter(Settings().with_env(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN="bad",
        TWILIO_API_BASE_URL=twilio_fake.url))
    try:
        with pytest.raises(SendError) as info:
            await adapter.send(session, business=sim.TWILIO_BUSINESS, to=CUSTOMER,
                               reply=TEXT, idempotency_key="k")
    finally:
        await adapter.close()
    assert not info.value.retryable and info.value.status == 401


async def test_twilio_unreachable_and_unconfigured(session: aiohttp.ClientSession) -> None:
    adapter = TwilioAdapter(Settings().with_env(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_API_BASE_URL=_free_port_url()), timeout=2)
    try:
        with pytest.raises(SendError) as info:
            await adapter.send(session, business=sim.TWILIO_BUSINESS, to=CUSTOMER,
                               reply=TEXT, idempotency_key="k")
    finally:
        await adapter.close()
    assert info.value.retryable and info.value.code == "connect"
    with pytest.raises(SendError) as missing:
        await TwilioAdapter(Settings()).send(session, business=sim.TWILIO_BUSINESS,
                                             to=CUSTOMER, reply=TEXT, idempotency_key="k")
    assert not missing.value.retryable and missing.value.code == "not_configured"


# ---- Graph API --------------------------------------------------------------------------------


@pytest.fixture
async def graph_fake() -> AsyncIterator[FakeGraphApi]:
    async with run_fake_graph_api() as fake:
        yield fake


@pytest.fixture
def cloud(graph_fake: FakeGraphApi) -> WhatsAppCloudAdapter:
    return WhatsAppCloudAdapter(Settings().with_env(
        WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN, WHATSAPP_API_BASE_URL=graph_fake.url + "/"),
                                timeout=0.5)


async def test_cloud_send_to_a_number_learned_from_inbound(
        cloud: WhatsAppCloudAdapter, graph_fake: FakeGraphApi,
        session: aiohttp.ClientSession) -> None:
    body, headers = sim.signed_cloud_request("s", sim.cloud_text("hi", phone_number_id="777"))
    (inbound,) = cloud.parse(body, headers).messages
    assert inbound.business == sim.BUSINESS
    wamid = await cloud.send(session, business=inbound.business, to=inbound.customer,
                             reply=TEXT, idempotency_key="out-42")
    assert wamid.startswith("wamid.FAKE")
    (request,) = graph_fake.received
    assert request.path == "/777/messages"
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.json == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
        "type": "text", "text": {"body": TEXT.text, "preview_url": False},
        "biz_opaque_callback_data": "out-42"}


async def test_cloud_send_interactive_by_phone_number_id(
        cloud: WhatsAppCloudAdapter, graph_fake: FakeGraphApi,
        session: aiohttp.ClientSession) -> None:
    reply = Reply(type="buttons", text="Add?", buttons=(Button("y", "Yes"),))
    await cloud.send(session, business=sim.PHONE_NUMBER_ID, to=CUSTOMER, reply=reply,
                     idempotency_key="k")
    (request,) = graph_fake.received
    assert request.path == f"/{sim.PHONE_NUMBER_ID}/messages"
    assert request.json["interactive"]["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": "y", "title": "Yes"}}]


@pytest.mark.parametrize("case", [
    (429, 130429, True), (400, 130429, True), (400, 131056, True), (500, 1, True),
    (503, 131000, True), (400, 131047, False), (400, 131009, False), (404, 100, False),
])
async def test_cloud_error_mapping(cloud: WhatsAppCloudAdapter, graph_fake: FakeGraphApi,
                                   session: aiohttp.ClientSession,
                                   case: tuple[int, int, bool]) -> None:
    status, code, retryable = case
    graph_fake.fail_next(status=status, code=code)
    with pytest.raises(SendError) as info:
        await cloud.send(session, business=sim.PHONE_NUMBER_ID, to=CUSTOMER, reply=TEXT,
                         idempotency_key="k")
    assert (info.value.retryable, info.value.status, info.value.code) == (
        retryable, status, str(code))
    assert await cloud.send(session, business=sim.PHONE_NUMBER_ID, to=CUSTOMER, reply=TEXT,
                            idempotency_key="k")
    assert graph_fake.attempts == 2 and len(graph_fake.received) == 1


async def test_cloud_wrong_token_is_permanent(graph_fake: FakeGraphApi,
                                              session: aiohttp.ClientSession) -> None:
    adapter = WhatsAppCloudAdapter(Settings().with_env(
        WHATSAPP_ACCESS_TOKEN="wrong", WHATSAPP_API_BASE_URL=graph_fake.url))
    with pytest.raises(SendError) as info:
        await adapter.send(session, business=sim.PHONE_NUMBER_ID, to=CUSTOMER, reply=TEXT,
                           idempotency_key="k")
    assert (info.value.retryable, info.value.status, info.value.code) == (False, 401, "190")


async def test_cloud_timeout_and_unreachable_are_retryable(
        cloud: WhatsAppCloudAdapter, graph_fake: FakeGraphApi,
        session: aiohttp.ClientSession) -> None:
    graph_fake.hang_next()
    with pytest.raises(SendError) as hung:
        await cloud.send(session, business=sim.PHONE_NUMBER_ID, to=CUSTOMER, reply=TEXT,
                         idempotency_key="k")
    assert hung.value.retryable and hung.value.code == "timeout"
    down = WhatsAppCloudAdapter(Settings().with_env(
        WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN, WHATSAPP_API_BASE_URL=_free_port_url()))
    with pytest.raises(SendError) as refused:
        await down.send(session, business=sim.PHONE_NUMBER_ID, to=CUSTOMER, reply=TEXT,
                        idempotency_key="k")
    assert refused.value.retryable and refused.value.code == "connect"


async def test_cloud_unknown_business_or_missing_token_is_permanent(
        cloud: WhatsAppCloudAdapter, graph_fake: FakeGraphApi,
        session: aiohttp.ClientSession) -> None:
    with pytest.raises(SendError) as unknown:
        await cloud.send(session, business="+15550000000", to=CUSTOMER, reply=TEXT,
                         idempotency_key="k")
    assert not unknown.value.retryable and unknown.value.code == "unknown_business"
    # the adapter learns a number's id from an inbound message's metadata, as in production
    inbound = sim.cloud_envelope([sim.cloud_text("hi")], business="+15550000000",
                                 phone_number_id="888")
    cloud.parse(json.dumps(inbound).encode(), {})
    await cloud.send(session, business="+15550000000", to=CUSTOMER, reply=TEXT,
                     idempotency_key="k")
    assert graph_fake.received[-1].path == "/888/messages"
    with pytest.raises(SendError) as missing:
        await WhatsAppCloudAdapter(Settings()).send(session, business="1", to=CUSTOMER,
                                                    reply=TEXT, idempotency_key="k")
    assert not missing.value.retryable and missing.value.code == "not_configured"
