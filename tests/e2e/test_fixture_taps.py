"""Taps in the exact shapes of real captured webhooks reach the handler their id names.

The fixtures (tests/fixtures/channels/, from public projects) carry a placeholder id
("callback_data") and title ("title"); here the id becomes one of the bot's payloads and
the envelope otherwise stays as captured, then goes through the real app signed. An id
the bot never sent, the fixture's own "callback_data", gets the re-prompt, in English.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.replies import TEXTS
from config.settings import Settings
from tests.conftest import AiohttpClient
from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi
from tests.sim import signed_cloud_request, signed_twilio_request
from webhooks.channels.twilio import parse_form
from webhooks.channels.whatsapp_cloud import parse_envelope

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "channels"
TWILIO_URL = "https://shop.example.test/webhooks/twilio"
CLOUD_TAPS = ("cloud_msg_interactive_button_reply__pywa.json",
              "cloud_msg_interactive_list_reply__pywa.json",
              "cloud_msg_button_template_quick_reply__pywa.json")


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _with_id(envelope: Any, payload: str) -> Any:
    envelope = copy.deepcopy(envelope)
    message = envelope["entry"][0]["changes"][0]["value"]["messages"][0]
    if message["type"] == "button":
        message["button"]["payload"] = payload
    else:
        message["interactive"][message["interactive"]["type"]]["id"] = payload
    message["id"] = f"{message['id']}.{payload}"
    return envelope


@pytest.mark.parametrize("name", CLOUD_TAPS)
def test_a_cloud_tap_carries_its_id_and_its_title(name: str) -> None:
    (message,) = parse_envelope(_load(name))[0].messages
    assert (message.button_payload, message.button_title) == ("callback_data", "title")


def test_a_twilio_tap_carries_its_payload_and_its_text() -> None:
    form = _load("twilio_inbound_button_text__courier.json") | {"ButtonPayload": "menu"}
    (message,) = parse_form(form).messages
    assert (message.button_payload, message.button_title) == ("menu", "Confirm")


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, settings: Settings,
                 graph: FakeGraphApi) -> TestClient[Any, Any]:
    from webhooks.app import create_app

    return await aiohttp_client(create_app(settings.with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN)))


async def _cloud(client: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi,
                 envelope: Any) -> list[dict[str, Any]]:
    from webhooks.keys import OUTBOX

    before = len(graph.received)
    body, headers = signed_cloud_request(settings.env.get("WHATSAPP_APP_SECRET") or "", envelope)
    assert (await client.post("/webhooks/whatsapp", data=body, headers=headers)).status == 200
    await client.app[OUTBOX].drain()
    return [r.json for r in graph.received[before:] if r.json is not None]


def _ids(sent: list[dict[str, Any]]) -> list[str]:
    out = []
    for message in sent:
        action = (message.get("interactive") or {}).get("action", {})
        out += [b["reply"]["id"] for b in action.get("buttons", [])]
        out += [r["id"] for s in action.get("sections", []) for r in s.get("rows", [])]
    return out


@pytest.mark.parametrize("name", CLOUD_TAPS)
async def test_a_captured_cloud_tap_reaches_the_handler_its_id_names(
        client: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi,
        name: str) -> None:
    sent = await _cloud(client, settings, graph, _with_id(_load(name), "menu"))
    assert _ids(sent)[:2] == ["cat:tea", "cat:coffee"]  # the menu, whatever "title" says
    sent = await _cloud(client, settings, graph, _with_id(_load(name), "cat:snacks"))
    assert "add:SAMOSA" in _ids(sent)
    sent = await _cloud(client, settings, graph, _load(name))  # "callback_data": not ours
    text = json.dumps(sent, ensure_ascii=False)
    assert TEXTS["button_expired_menu"]["en"] in text and "menu" in _ids(sent)


async def test_a_captured_twilio_tap_reaches_the_handler_its_payload_names(
        client: TestClient[Any, Any], settings: Settings) -> None:
    form = _load("twilio_inbound_button_text__courier.json") | {"ButtonPayload": "menu"}
    body, headers = signed_twilio_request(
        TWILIO_URL, settings.env.get("TWILIO_AUTH_TOKEN", ""), form)
    twiml = await (await client.post("/webhooks/twilio", data=body, headers=headers)).text()
    assert "1. Tea" in twiml and "2. Coffee" in twiml  # "Confirm" is only its title
