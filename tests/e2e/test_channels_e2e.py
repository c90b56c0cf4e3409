"""A shopper holds a conversation through each real channel route, signed like the real thing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from tests.conftest import AiohttpClient
from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi
from tests.sim import (
    cloud_button,
    cloud_order,
    cloud_status,
    cloud_text,
    signed_cloud_request,
    signed_twilio_request,
    twilio_text,
)

TWILIO_URL = "https://shop.example.test/webhooks/twilio"


@pytest.fixture
async def cloud_client(
    aiohttp_client: AiohttpClient, settings: Settings, graph: FakeGraphApi
) -> TestClient[Any, Any]:
    from webhooks.app import create_app

    return await aiohttp_client(
        create_app(
            # replies leave through the outbox's child process, as under `haat serve`
            settings.with_(outbox_sender="process").with_env(
                               WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN)
        )
    )


async def _post_cloud(
    client: TestClient[Any, Any], settings: Settings, payload: dict[str, Any]
) -> int:
    body, headers = signed_cloud_request(settings.env.get("WHATSAPP_APP_SECRET") or "", payload)
    response = await client.post("/webhooks/whatsapp", data=body, headers=headers)
    return response.status


async def _sent_texts(client: TestClient[Any, Any], graph: FakeGraphApi) -> list[dict[str, Any]]:
    from webhooks.keys import OUTBOX

    await client.app[OUTBOX].drain()
    return [r.json for r in graph.received if r.json is not None]


def _body_text(message: dict[str, Any]) -> str:
    if message.get("type") == "text":
        return str(message["text"]["body"])
    if message.get("type") == "interactive":
        return str(message["interactive"]["body"]["text"])
    return json.dumps(message, ensure_ascii=False)


async def test_cloud_conversation_replies_through_the_graph_api(
    cloud_client: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi
) -> None:
    assert (
        await _post_cloud(
            cloud_client, settings, cloud_text("hello", message_id="wamid.1", from_="919000000001")
        )
        == 200
    )
    sent = await _sent_texts(cloud_client, graph)
    assert len(sent) == 1 and sent[0]["to"] == "919000000001"
    assert "Mitra Tea House" in _body_text(sent[0])
    assert graph.received[0].path.endswith("/messages")

    await _post_cloud(
        cloud_client, settings, cloud_text("2 samosa", message_id="wamid.2", from_="919000000001")
    )
    await _post_cloud(
        cloud_client,
        settings,
        cloud_button("cart", "Cart", message_id="wamid.3", from_="919000000001"),
    )
    texts = [_body_text(m) for m in await _sent_texts(cloud_client, graph)]
    assert any("2 × Samosa — ₹24.00" in t for t in texts[-1:])


async def test_cloud_redelivery_sends_nothing_twice(
    cloud_client: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi
) -> None:
    envelope = cloud_text("3 samosa", message_id="wamid.dup", from_="919000000002")
    assert await _post_cloud(cloud_client, settings, envelope) == 200
    assert await _post_cloud(cloud_client, settings, envelope) == 200
    sent = await _sent_texts(cloud_client, graph)
    await _post_cloud(
        cloud_client, settings, cloud_text("cart", message_id="wamid.cart", from_="919000000002")
    )
    after = await _sent_texts(cloud_client, graph)
    assert len(after) > len(sent)
    assert "3 × Samosa" in _body_text(after[-1])


async def test_cloud_catalog_order_fills_the_cart(
    cloud_client: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi
) -> None:
    await _post_cloud(
        cloud_client,
        settings,
        cloud_order(
            [("SAMOSA", 2, "12.00", "INR")], message_id="wamid.order", from_="919000000003"
        ),
    )
    await _post_cloud(
        cloud_client, settings, cloud_text("cart", message_id="wamid.c2", from_="919000000003")
    )
    sent = await _sent_texts(cloud_client, graph)
    assert "2 × Samosa" in _body_text(sent[-1])


async def test_cloud_bad_signature_is_403_and_nothing_is_sent(
    cloud_client: TestClient[Any, Any], graph: FakeGraphApi
) -> None:
    body, headers = signed_cloud_request(
        "wrong-secret", cloud_text("hello", message_id="wamid.forged")
    )
    response = await cloud_client.post("/webhooks/whatsapp", data=body, headers=headers)
    assert response.status == 403
    assert await _sent_texts(cloud_client, graph) == []


async def test_cloud_status_receipts_never_go_backwards(
    cloud_client: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi
) -> None:
    from webhooks.keys import DB

    await _post_cloud(
        cloud_client, settings, cloud_text("hi", message_id="wamid.s1", from_="919000000004")
    )
    await _sent_texts(cloud_client, graph)
    row = await cloud_client.app[DB].fetchone(
        "SELECT channel_message_id, status FROM outbound_messages"
    )
    assert row is not None and row[1] == "sent"
    wamid = row[0]
    for status in ("read", "delivered"):
        await _post_cloud(
            cloud_client, settings, cloud_status(wamid, status, recipient="919000000004")
        )
    row = await cloud_client.app[DB].fetchone(
        "SELECT status FROM outbound_messages WHERE channel_message_id = ?", (wamid,)
    )
    assert row == ("read",)


async def test_cloud_verification_handshake(cloud_client: TestClient[Any, Any]) -> None:
    ok = await cloud_client.get(
        "/webhooks/whatsapp",
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": "meta-verify-token",
            "hub.challenge": "1158201444",
        },
    )
    assert ok.status == 200 and await ok.text() == "1158201444"
    bad = await cloud_client.get(
        "/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"},
    )
    assert bad.status == 403


async def test_twilio_conversation_answers_in_twiml(
    client: TestClient[Any, Any], settings: Settings
) -> None:
    params = twilio_text("2 samosa", sid="SM" + "1" * 32, from_="919000000005")
    body, headers = signed_twilio_request(
        TWILIO_URL, settings.env.get("TWILIO_AUTH_TOKEN", ""), params)
    response = await client.post("/webhooks/twilio", data=body, headers=headers)
    assert response.status == 200
    assert response.content_type == "application/xml"
    twiml = await response.text()
    assert "<Response>" in twiml and "2 × Samosa" in twiml
    again = await client.post("/webhooks/twilio", data=body, headers=headers)
    assert await again.text() == twiml  # a redelivery replays the first answer

    params = twilio_text("menu", sid="SM" + "2" * 32, from_="919000000005")
    body, headers = signed_twilio_request(
        TWILIO_URL, settings.env.get("TWILIO_AUTH_TOKEN", ""), params)
    twiml = await (await client.post("/webhooks/twilio", data=body, headers=headers)).text()
    assert "1. Tea" in twiml  # lists become numbered text on Twilio
    params = twilio_text("1", sid="SM" + "3" * 32, from_="919000000005")
    body, headers = signed_twilio_request(
        TWILIO_URL, settings.env.get("TWILIO_AUTH_TOKEN", ""), params)
    twiml = await (await client.post("/webhooks/twilio", data=body, headers=headers)).text()
    assert "Masala Chai" in twiml  # "1" chose the first category


async def test_twilio_bad_signature_is_403(client: TestClient[Any, Any]) -> None:
    params = twilio_text("hi", sid="SM" + "9" * 32)
    body, headers = signed_twilio_request(TWILIO_URL, "not-the-token", params)
    response = await client.post("/webhooks/twilio", data=body, headers=headers)
    assert response.status == 403


async def test_no_secret_configured_fails_closed(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    from webhooks.app import create_app

    bare = await aiohttp_client(
        create_app(settings.with_env(TWILIO_AUTH_TOKEN=None, WHATSAPP_APP_SECRET=None))
    )
    body, headers = signed_twilio_request(TWILIO_URL, "", twilio_text("hi"))
    assert (await bare.post("/webhooks/twilio", data=body, headers=headers)).status == 403
    body, headers = signed_cloud_request("", cloud_text("hi"))
    assert (await bare.post("/webhooks/whatsapp", data=body, headers=headers)).status == 403
