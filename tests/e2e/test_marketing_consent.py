"""Opt-out and opt-in as a shopper and WhatsApp do them: signed webhooks, real replies.

STOP and its usual forms in hi, bn and ar (native and romanised) are answered in the
shopper's language, in any state; Meta's ``user_preferences`` webhook is honoured (signed
like every Cloud webhook, the newest change winning); the merchant's ``marketing.opt_in``
decides what else opts a shopper in.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot import consent
from bot.consent import ConsentStatus
from config.clock import Clock
from config.settings import Settings
from tests.conftest import SIM_TOKEN, AiohttpClient, Shopper
from tests.e2e.conftest import open_shop
from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi
from tests.sim import BUSINESS, PHONE_NUMBER_ID, cloud_text, signed_cloud_request

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = {"hi": re.compile(r"[\u0900-\u097F]"), "bn": re.compile(r"[\u0980-\u09FF]"),
           "ar": re.compile(r"[\u0600-\u06FF]")}


@pytest.fixture
async def cloud(aiohttp_client: AiohttpClient, settings: Settings, graph: FakeGraphApi,
                clock: Clock) -> TestClient[Any, Any]:
    from webhooks.app import create_app

    return await aiohttp_client(create_app(settings.with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN), clock=clock))


async def _post(client: TestClient[Any, Any], settings: Settings, payload: Any,
                secret: str | None = None) -> int:
    body, headers = signed_cloud_request(
        secret if secret is not None else settings.env["WHATSAPP_APP_SECRET"], payload)
    response = await client.post("/webhooks/whatsapp", data=body, headers=headers)
    return response.status


async def _replies_to(client: TestClient[Any, Any], graph: FakeGraphApi,
                      phone: str) -> list[str]:
    from webhooks.keys import OUTBOX

    await client.app[OUTBOX].drain()
    out = []
    for r in graph.received:
        if r.json and r.json.get("to") == phone:
            message = r.json
            out.append(message["text"]["body"] if message["type"] == "text"
                       else json.dumps(message, ensure_ascii=False))
    return out


async def _status(client: TestClient[Any, Any], customer: str,
                  channel: str = "whatsapp") -> ConsentStatus:
    from webhooks.keys import DB, SHOPS

    shop_id = next(iter(client.app[SHOPS].runtimes))
    return (await consent.read(client.app[DB], shop_id, channel, customer)).status


@pytest.mark.parametrize(("text", "language", "words"), [
    ("STOP", "en", ["no more offers", "START"]),
    ("Unsubscribe", "en", ["no more offers"]),
    ("बंद करो", "hi", ["ऑफ़र", "START"]),
    ("band karo", "hi", ["ऑफ़र", "START"]),
    ("বন্ধ করুন", "bn", ["অফার", "START"]),
    ("bondho koro", "bn", ["অফার"]),
    ("توقف", "ar", ["العروض", "START"]),
    ("إلغاء الاشتراك", "ar", ["العروض"]),
])
async def test_stop_in_every_language_opts_out_and_is_confirmed_in_it(
        cloud: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi, text: str,
        language: str, words: list[str]) -> None:
    phone = "919700000001"
    assert await _post(cloud, settings, cloud_text("START", from_=phone)) == 200
    assert await _status(cloud, phone) is ConsentStatus.OPTED_IN
    assert await _post(cloud, settings, cloud_text(text, from_=phone)) == 200
    reply = (await _replies_to(cloud, graph, phone))[-1]
    assert "didn't understand" not in reply
    assert all(word in reply for word in words), reply
    if language != "en":
        assert SCRIPTS[language].search(reply), reply
    assert await _status(cloud, phone) is ConsentStatus.OPTED_OUT


@pytest.mark.parametrize(("text", "language"), [
    ("START", "en"), ("shuru karo", "hi"), ("শুরু করুন", "bn"), ("ابدأ", "ar")])
async def test_start_opts_back_in_and_is_confirmed_in_the_shoppers_language(
        cloud: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi, text: str,
        language: str) -> None:
    phone = "919700000002"
    await _post(cloud, settings, cloud_text("stop", from_=phone))
    assert await _status(cloud, phone) is ConsentStatus.OPTED_OUT
    assert await _post(cloud, settings, cloud_text(text, from_=phone)) == 200
    reply = (await _replies_to(cloud, graph, phone))[-1]
    assert "STOP" in reply
    if language != "en":
        assert SCRIPTS[language].search(reply), reply
    assert await _status(cloud, phone) is ConsentStatus.OPTED_IN


async def test_a_template_stop_promotions_tap_opts_out(
        cloud: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi) -> None:
    from tests.sim import cloud_button

    phone = "919700000003"
    await _post(cloud, settings, cloud_text("start", from_=phone))
    # a marketing template's quick reply: Meta sends the button's text as its payload
    await _post(cloud, settings, cloud_button("Stop promotions", kind="quick_reply",
                                              from_=phone))
    assert await _status(cloud, phone) is ConsentStatus.OPTED_OUT
    assert "no more offers" in (await _replies_to(cloud, graph, phone))[-1]


def _preferences(customer: str, value: str, timestamp: int,
                 category: str = "marketing_messages") -> dict[str, Any]:
    """Meta's documented user_preferences change (field ``user_preferences``)."""
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
            "changes": [{"field": "user_preferences", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": BUSINESS.removeprefix("+"),
                             "phone_number_id": PHONE_NUMBER_ID},
                "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": customer}],
                "user_preferences": [{
                    "wa_id": customer, "category": category, "value": value,
                    "detail": f"User requested to {value} marketing messages",
                    "timestamp": timestamp}]}}]}]}


async def test_whatsapps_user_preferences_webhook_is_honoured_newest_first(
        cloud: TestClient[Any, Any], settings: Settings, clock: Clock) -> None:
    phone = "919700000004"
    await _post(cloud, settings, cloud_text("start", from_=phone))
    clock.advance(minutes=5)
    now = clock.now_ms() // 1000
    # (a webhook says when the shopper chose: here a minute ago, after their START)
    assert await _post(cloud, settings, _preferences(phone, "stop", now - 60)) == 200
    assert await _status(cloud, phone) is ConsentStatus.OPTED_OUT
    # redelivered, and an older "resume" arriving late: the newest choice stays
    assert await _post(cloud, settings, _preferences(phone, "stop", now - 60)) == 200
    assert await _post(cloud, settings, _preferences(phone, "resume", now - 90)) == 200
    assert await _status(cloud, phone) is ConsentStatus.OPTED_OUT
    assert await _post(cloud, settings, _preferences(phone, "resume", now - 30)) == 200
    assert await _status(cloud, phone) is ConsentStatus.OPTED_IN
    # other categories are not marketing consent
    assert await _post(cloud, settings, _preferences(phone, "stop", now - 20,
                                                     category="other")) == 200
    assert await _status(cloud, phone) is ConsentStatus.OPTED_IN
    # a webhook dated ahead of our clock counts as now: a START right after it still wins
    assert await _post(cloud, settings, _preferences(phone, "stop", now + 3600)) == 200
    assert await _status(cloud, phone) is ConsentStatus.OPTED_OUT
    await _post(cloud, settings, cloud_text("START", from_=phone))
    assert await _status(cloud, phone) is ConsentStatus.OPTED_IN


async def test_a_forged_user_preferences_webhook_is_refused_and_changes_nothing(
        cloud: TestClient[Any, Any], settings: Settings, clock: Clock) -> None:
    phone = "919700000005"
    await _post(cloud, settings, cloud_text("start", from_=phone))
    stop = _preferences(phone, "stop", clock.now_ms() // 1000 - 5)
    assert await _post(cloud, settings, stop, secret="not-the-app-secret") == 403
    assert await _status(cloud, phone) is ConsentStatus.OPTED_IN


def test_the_recorded_user_preferences_fixture_parses() -> None:
    from tests.contract.test_channels_parse import parse_fixture

    delivery = parse_fixture("cloud_batch_multi_change_with_user_preferences__pius.json")
    (preference,) = delivery.preferences
    assert (preference.customer, preference.preference.value, preference.timestamp) == (
        "1234567890", "stop", 1690000000)
    assert preference.business == "+15551234567"


# ---- the merchant's opt-in mode ----------------------------------------------------------


def _shop_with(tmp_path: Path, settings: Settings, mode: str) -> Path:
    shop = open_shop(tmp_path, settings)
    text = (shop / "shop.yaml").read_text(encoding="utf-8")
    (shop / "shop.yaml").write_text(text + f"marketing:\n  opt_in: {mode}\n", encoding="utf-8")
    return shop


async def _order(shopper: Shopper) -> list[dict[str, Any]]:
    await shopper.send("2 samosa")
    await shopper.send("checkout")
    await shopper.send("4 Park Street")
    summary = await shopper.send("confirm")
    return summary


async def test_ask_at_checkout_asks_once_and_the_tap_opts_in(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        tmp_path: Path) -> None:
    from webhooks.app import create_app

    client = await aiohttp_client(create_app(settings.with_(
        shop_dir=_shop_with(tmp_path, settings, "ask_at_checkout")), clock=clock))
    shopper = Shopper(client, "+919700000006")
    replies = await _order(shopper)
    asks = [r for r in replies if "offers and reminders" in r["text"]]
    assert len(asks) == 1, replies
    (yes,) = [b for b in asks[0]["buttons"] if b["payload"] == "consent:yes"]
    assert await _status(client, "919700000006", "simulator") is ConsentStatus.UNKNOWN
    # the tap carries the id and the title the renderer emitted
    tapped = await client.post("/webhooks/simulator", json={
        "from": shopper.phone, "id": "tap-yes", "button": yes["payload"], "text": yes["title"]},
        headers={"Authorization": f"Bearer {SIM_TOKEN}"})
    assert tapped.status == 200
    assert "STOP" in (await tapped.json())["replies"][0]["text"]
    assert await _status(client, "919700000006", "simulator") is ConsentStatus.OPTED_IN
    again = await _order(shopper)  # asked once only
    assert not [r for r in again if "offers and reminders" in r["text"]]


async def test_implicit_on_order_opts_in_but_never_over_a_stop(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        tmp_path: Path) -> None:
    from webhooks.app import create_app

    client = await aiohttp_client(create_app(settings.with_(
        shop_dir=_shop_with(tmp_path, settings, "implicit_on_order")), clock=clock))
    first, second = Shopper(client, "+919700000007"), Shopper(client, "+919700000008")
    await _order(first)
    assert await _status(client, "919700000007", "simulator") is ConsentStatus.OPTED_IN
    await second.send("STOP")
    await _order(second)
    assert await _status(client, "919700000008", "simulator") is ConsentStatus.OPTED_OUT


async def test_keyword_only_is_the_default_an_order_opts_nobody_in(
        shopper: Shopper, client: TestClient[Any, Any]) -> None:
    replies = await _order(shopper)
    assert not [r for r in replies if "offers and reminders" in r["text"]]
    assert await _status(client, "919000000001", "simulator") is ConsentStatus.UNKNOWN


def _check(shop: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI, as the merchant runs it
        [sys.executable, "-m", "webhooks", "check", str(shop)], cwd=ROOT,
        capture_output=True, text=True, timeout=120, check=False)


def test_haat_check_names_a_wrong_opt_in_mode(tmp_path: Path, settings: Settings) -> None:
    done = _check(_shop_with(tmp_path, settings, "always"))
    assert done.returncode == 1
    assert "marketing.opt_in must be one of keyword_only, ask_at_checkout, " \
           "implicit_on_order" in done.stdout
    (tmp_path / "good").mkdir()
    done = _check(_shop_with(tmp_path / "good", settings, "ask_at_checkout"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "marketing opt-in ask_at_checkout" in done.stdout
