"""Templates per event by each platform's rules, and what happens when a send fails.

The Graph and Twilio fakes (tests/fakes/) approve exactly what ``haat templates export``
writes and answer rule breaks with the platforms' own error codes, so every path is the
one a live number would take: 132018, 132000, 132001, 131047 (at send and as a receipt),
131026, 131049, 130429, Twilio 63016, and an error nobody knows.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient

from catalog.message_templates import (
    BODY_LIMIT,
    EVENTS,
    NAME_RE,
    TWILIO_KEY_LIMIT,
    TemplateCategory,
    TemplateEvent,
    clean_variable,
    placeholders,
    variable_problem,
)
from catalog.template_export import meta_templates, twilio_contents
from config.clock import Clock
from config.settings import Settings
from tests.conftest import DEMO_SHOP, ROOT, AiohttpClient
from tests.e2e.conftest import ADMIN, SANDBOX_AUTH, open_shop, start_live
from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi, run_fake_twilio_api
from tests.sim import (
    cloud_status,
    cloud_text,
    signed_cloud_request,
    signed_twilio_request,
    twilio_text,
)
from webhooks.app import create_app
from webhooks.cli import main
from webhooks.plugins import check_shop_with_warnings, load_shop

SHOPPER = "919000000042"
OWNER = "919811111111"
HINDI_SHOPPER = "919000000043"


# ---- the templates themselves ----------------------------------------------------------


def test_every_event_has_a_template_by_both_platforms_rules() -> None:
    assert set(EVENTS) == set(TemplateEvent)
    for event, template in EVENTS.items():
        assert NAME_RE.match(template.default_name)
        expected = TemplateCategory.MARKETING if event is TemplateEvent.CART_REMINDER \
            else TemplateCategory.UTILITY
        assert template.category is expected, event
        for name, example in template.variables:
            assert re.fullmatch(r"[a-z][a-z0-9_]*", name) and len(name) <= TWILIO_KEY_LIMIT
            assert variable_problem(example) is None
        for language, body in template.bodies.items():
            assert set(placeholders(body)) == set(template.variable_names), (event, language)
            assert len(placeholders(body)) == len(template.variable_names)
            assert "\n" not in body and len(body) <= BODY_LIMIT
            # Meta and Twilio refuse a body that starts or ends with a variable, or two
            # variables side by side
            assert not body.startswith("{{") and not re.search(r"\}\}\W*$", body)
            assert not re.search(r"\}\}\s*\{\{", body), (event, language)


def test_a_value_is_made_acceptable_and_the_rule_is_the_fakes() -> None:
    alert = "💰 ORD-7 paid: ₹54.00\n• 2 × Samosa\t(hot)\n📍 12     Lake Road\n"
    cleaned = clean_variable(alert)
    assert variable_problem(alert) is not None and variable_problem(cleaned) is None
    assert cleaned == "💰 ORD-7 paid: ₹54.00 · • 2 × Samosa (hot) · 📍 12 Lake Road"
    assert clean_variable("") == "-" and len(clean_variable("x" * 5000)) == 250


def test_export_writes_meta_and_twilio_definitions(tmp_path: Path) -> None:
    assert main(["templates", "export", "--shop", str(DEMO_SHOP), "--out",
                 str(tmp_path)]) == 0
    meta = json.loads((tmp_path / "whatsapp_message_templates.json").read_text("utf-8"))
    twilio = json.loads((tmp_path / "twilio_content.json").read_text("utf-8"))
    snippet = yaml.safe_load((tmp_path / "shop_templates.yaml").read_text("utf-8"))
    assert set(snippet["templates"]) == {e.value for e in TemplateEvent}
    # four languages for the shopper's seven events, English for the owner's two
    assert len(meta) == len(twilio) == 7 * 4 + 2
    by_key = {(t["name"], t["language"]): t for t in meta}
    cart = by_key[("haat_cart_reminder", "bn")]
    assert cart["category"] == "MARKETING" and cart["parameter_format"] == "named"
    body = cart["components"][0]
    assert [p["param_name"] for p in body["example"]["body_text_named_params"]] == \
        list(placeholders(body["text"]))
    assert {p["example"] for p in body["example"]["body_text_named_params"]} >= {"মিত্র টি হাউস"}
    assert ("haat_merchant_alert", "en") in by_key and ("haat_merchant_alert", "hi") not in by_key
    for definition in twilio:
        content = definition["content"]
        text = content["types"]["twilio/text"]["body"]
        assert set(content["variables"]) == set(placeholders(text))
        assert definition["whatsapp_approval"]["category"] in ("UTILITY", "MARKETING")


def _shop_with(tmp_path: Path, templates: Any) -> Path:
    folder = open_shop(tmp_path, Settings(shop_dir=DEMO_SHOP))
    data = yaml.safe_load((folder / "shop.yaml").read_text(encoding="utf-8"))
    if templates is None:
        data.pop("templates", None)
    else:
        data["templates"] = templates
    (folder / "shop.yaml").write_text(yaml.safe_dump(data, allow_unicode=True,
                                                     sort_keys=False), encoding="utf-8")
    return folder


def test_haat_check_validates_the_mapping_and_explains_the_old_keys(tmp_path: Path) -> None:
    folder = _shop_with(tmp_path, {
        "reminder": "cart_reminder", "order_paid": "Order Paid",
        "order_shipped": {"twilio": {"en": "HX123"}}, "order_delvered": "haat_x",
        "refund": {"whatsapp": "haat_refund", "twilio": {"hi": "HX" + "a" * 32}}})
    errors, warnings = check_shop_with_warnings(folder)
    text = "\n".join(str(e) for e in errors)
    assert "templates.reminder is the old one-parameter form" in text
    assert "cart_reminder, payment_reminder" in text and "haat templates export" in text
    assert "'Order Paid' must be lower-case" in text
    assert "'HX123' is not a Twilio Content SID" in text
    assert any("did you mean 'order_delivered'" in str(w) for w in warnings)
    assert len(errors) == 3
    (tmp_path / "ok").mkdir()
    good = _shop_with(tmp_path / "ok", {
        "refund": {"whatsapp": "haat_refund", "twilio": {"hi": "HX" + "a" * 32}}})
    shop = load_shop(good)
    assert shop.templates["refund"].name == "haat_refund"
    assert shop.templates["refund"].content_sid("hi") == "HX" + "a" * 32
    assert shop.templates["refund"].content_sid("en") is None


# ---- the Cloud API, end to end ---------------------------------------------------------


@pytest.fixture
async def cloud(aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
                graph: FakeGraphApi, tmp_path: Path) -> TestClient[Any, Any]:
    graph.approve(meta_templates(load_shop(DEMO_SHOP)))  # as submitted and approved
    return await start_live(aiohttp_client, settings.with_(
        shop_dir=open_shop(tmp_path, settings)).with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN), clock)


async def _say(client: TestClient[Any, Any], settings: Settings, text: str,
               sender: str = SHOPPER) -> None:
    body, headers = signed_cloud_request(settings.env.get("WHATSAPP_APP_SECRET") or "",
                                         cloud_text(text, from_=sender))
    assert (await client.post("/webhooks/whatsapp", data=body, headers=headers)).status == 200


async def _settle(client: TestClient[Any, Any]) -> None:
    from webhooks.keys import OUTBOX

    outbox = client.app[OUTBOX]
    await outbox.drain()
    await outbox.run_due()
    await outbox.drain()


async def _rows(client: TestClient[Any, Any], customer: str) -> list[tuple[Any, ...]]:
    from webhooks.keys import DB

    rows: list[tuple[Any, ...]] = await client.app[DB].fetchall(
        "SELECT status, error, payload FROM outbound_messages WHERE customer = ? "
        "ORDER BY created_at", (customer,))
    return rows


async def _problems(client: TestClient[Any, Any]) -> list[dict[str, Any]]:
    response = await client.get("/api/outbox", headers=ADMIN)
    assert response.status == 200
    messages: list[dict[str, Any]] = (await response.json())["messages"]
    return messages


def _sent(graph: FakeGraphApi, to: str) -> list[dict[str, Any]]:
    return [r.json for r in graph.received if r.json and r.json.get("to") == to]


async def _order(client: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi,
                 sender: str = SHOPPER, items: str = "2 samosa") -> str:
    """Place an order; returns its payment token."""
    for text in (items, "checkout", "12 Lake Road, Salt Lake", "yes"):
        await _say(client, settings, text, sender)
    await _settle(client)
    from webhooks.keys import DB

    row = await client.app[DB].fetchone(
        "SELECT r.token FROM payment_requests r JOIN orders o ON o.id = r.order_id "
        "WHERE o.customer = ? ORDER BY r.created_at DESC",
        (sender,))
    assert row is not None
    return str(row[0])


async def _pay(client: TestClient[Any, Any], token: str) -> None:
    response = await client.post(f"/pay/{token}/sandbox", json={"outcome": "success"},
                                 headers=SANDBOX_AUTH)
    assert response.status == 200
    await _settle(client)


async def test_an_owner_who_never_wrote_gets_each_alert_as_its_approved_template(
        cloud: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi) -> None:
    await _pay(cloud, await _order(cloud, settings, graph))
    alerts = _sent(graph, OWNER)
    assert [a["type"] for a in alerts] == ["template", "template"]  # new order, paid
    paid = alerts[1]["template"]
    assert paid["name"] == "haat_merchant_alert" and paid["language"] == {"code": "en"}
    shop, alert = paid["components"][0]["parameters"]
    assert shop == {"type": "text", "parameter_name": "shop", "text": "Mitra Tea House"}
    # the multi-line alert as one line: the fake (Meta's rule, 132018) accepted it
    assert alert["parameter_name"] == "alert" and "ORD-1001 paid: ₹54.00 · • 2 × " in \
        alert["text"] and "\n" not in alert["text"]
    assert [r[0] for r in await _rows(cloud, OWNER)] == ["sent", "sent"]


async def test_a_hindi_shopper_outside_the_window_gets_the_hindi_template(
        cloud: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi,
        clock: Clock) -> None:
    await _say(cloud, settings, "नमस्ते", HINDI_SHOPPER)
    await _pay(cloud, await _order(cloud, settings, graph, HINDI_SHOPPER, "2 समोसा"))
    clock.advance(minutes=25 * 60)
    await _say(cloud, settings, "ship ORD-1001", OWNER)
    await _settle(cloud)
    shipped = _sent(graph, HINDI_SHOPPER)[-1]
    assert shipped["type"] == "template"
    assert shipped["template"]["name"] == "haat_order_shipped"
    assert shipped["template"]["language"] == {"code": "hi"}
    assert [p["parameter_name"] for p in shipped["template"]["components"][0]["parameters"]] \
        == ["order", "shop"]
    payload = json.loads((await _rows(cloud, HINDI_SHOPPER))[-1][2])
    assert "मित्रा टी हाउस से आपका ऑर्डर ORD-1001 रास्ते में है" in payload["text"]


async def test_131047_at_send_is_sent_again_as_the_template(
        cloud: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi) -> None:
    await _pay(cloud, await _order(cloud, settings, graph))
    graph.closed.add(SHOPPER)  # Meta's clock says the window closed; ours did not yet
    await _say(cloud, settings, "ship ORD-1001", OWNER)
    await _settle(cloud)
    rows = await _rows(cloud, SHOPPER)
    assert [r[0] for r in rows[-2:]] == ["templated", "sent"]
    assert "131047" in rows[-2][1]
    last = _sent(graph, SHOPPER)[-1]
    assert last["type"] == "template" and last["template"]["name"] == "haat_order_shipped"
    from webhooks.keys import OUTBOX

    assert cloud.app[OUTBOX].templated_count == 1  # /metrics counts each resend once


async def test_131047_as_a_receipt_is_sent_again_once(
        cloud: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi) -> None:
    await _pay(cloud, await _order(cloud, settings, graph))
    graph.closed.add(SHOPPER)
    graph.window_receipts = True  # accepted, then reported failed, as Meta does
    await _say(cloud, settings, "deliver ORD-1001", OWNER)
    await _settle(cloud)
    (wamid, recipient, code), = graph.failed_statuses
    secret = settings.env.get("WHATSAPP_APP_SECRET") or ""
    for _ in range(2):  # Meta redelivers webhooks: one resend only
        body, headers = signed_cloud_request(secret, cloud_status(
            wamid, "failed", recipient=recipient, error_code=code))
        assert (await cloud.post("/webhooks/whatsapp", data=body, headers=headers)).status \
            == 200
        await _settle(cloud)
    templates = [m for m in _sent(graph, SHOPPER) if m["type"] == "template"]
    assert [t["template"]["name"] for t in templates] == ["haat_order_delivered"]
    assert [r[0] for r in await _rows(cloud, SHOPPER)][-2:] == ["templated", "sent"]
    from webhooks.keys import OUTBOX

    assert cloud.app[OUTBOX].templated_count == 1


async def test_undeliverable_unknown_and_refused_sends_are_shown_in_the_api(
        cloud: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi,
        clock: Clock) -> None:
    await _pay(cloud, await _order(cloud, settings, graph))
    graph.undeliverable.add(SHOPPER)
    await _say(cloud, settings, "ship ORD-1001", OWNER)  # 131026
    await _settle(cloud)
    graph.undeliverable.clear()
    graph.fail_next(1, status=400, code=987654, message="something new")
    await _say(cloud, settings, "deliver ORD-1001", OWNER)
    await _settle(cloud)
    problems = await _problems(cloud)
    by_status = {p["status"]: p for p in problems}
    assert by_status["undeliverable"]["event"] == "order_shipped"
    assert "131026" in by_status["undeliverable"]["error"]
    assert "987654" in by_status["unknown_error"]["error"]
    assert all(p["shop"] == "shop" for p in problems) and len(problems) == 2
    # the throughput limit (130429) is not a problem: it is retried until it goes
    graph.fail_next(1, status=400, code=130429)
    await _say(cloud, settings, "orders", OWNER)
    await _settle(cloud)
    clock.advance(minutes=10)
    await _settle(cloud)
    assert len(await _problems(cloud)) == 2
    assert (await cloud.get("/api/outbox", params={"limit": "x"}, headers=ADMIN)).status == 400
    assert (await cloud.get("/api/outbox")).status == 403


async def test_a_marketing_template_over_meta_s_limit_is_undeliverable(
        cloud: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi,
        clock: Clock) -> None:
    from webhooks.keys import SCHEDULER

    graph.marketing_capped.add(SHOPPER)
    await _say(cloud, settings, "START")  # a cart nudge is marketing: only once opted in
    await _say(cloud, settings, "2 samosa")
    clock.advance(minutes=25 * 60)  # the cart nudge is due, and the window closed
    await cloud.app[SCHEDULER].run_due()
    await _settle(cloud)
    (status, error, payload), = [r for r in await _rows(cloud, SHOPPER)
                                 if json.loads(r[2]).get("template")]
    assert status == "undeliverable" and "131049" in error
    assert json.loads(payload)["extra"]["category"] == "marketing"


async def test_a_template_that_does_not_match_the_approved_one_fails(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock, graph: FakeGraphApi,
        tmp_path: Path) -> None:
    shop = _shop_with(tmp_path, {"merchant_alert": "old_merchant_alert",
                                 "order_placed": "haat_order_placed"})
    approved = meta_templates(load_shop(DEMO_SHOP))
    for template in approved:
        if template["name"] == "haat_merchant_alert":  # the old one-parameter template
            template["name"] = "old_merchant_alert"
            template["components"][0]["example"]["body_text_named_params"] = [
                {"param_name": "text", "example": "x"}]
    graph.approve(approved)
    client = await start_live(aiohttp_client, settings.with_(shop_dir=shop).with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN), clock)
    await _order(client, settings, graph)
    (status, error, _), = await _rows(client, OWNER)
    assert status == "held" and "132000" in error  # kept for the owner's digest
    assert [p["status"] for p in await _problems(client)] == ["held"]


async def test_alerts_that_cannot_reach_the_owner_come_as_a_digest_when_they_write(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock, graph: FakeGraphApi,
        tmp_path: Path) -> None:
    shop = _shop_with(tmp_path, {"order_paid": "haat_order_paid"})  # no merchant_alert
    client = await start_live(aiohttp_client, settings.with_(shop_dir=shop).with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN), clock)
    await _pay(client, await _order(client, settings, graph))
    assert _sent(graph, OWNER) == []  # nothing WhatsApp would deliver
    held = await _rows(client, OWNER)
    assert [r[0] for r in held] == ["held", "held"]
    assert {p["status"] for p in await _problems(client)} == {"held"}
    await _say(client, settings, "orders", OWNER)
    await _settle(client)
    first, *rest = _sent(graph, OWNER)
    digest = first["text"]["body"]
    assert digest.startswith("📬 2 alerts could not reach you")
    assert "New order ORD-1001" in digest and "ORD-1001 paid: ₹54.00 · • 2 × Samosa" in digest
    assert any("Orders:" in m["text"]["body"] for m in rest)
    assert [r[0] for r in await _rows(client, OWNER)][:2] == ["digested", "digested"]
    assert await _problems(client) == []
    await _say(client, settings, "orders", OWNER)  # once only
    await _settle(client)
    assert not any("📬" in m["text"]["body"] for m in _sent(graph, OWNER)[len(rest) + 1:])
    # inside the owner's window by our clock, but Meta says 131047: kept as well
    graph.closed.add(OWNER)
    await _order(client, settings, graph, HINDI_SHOPPER)
    held = await _rows(client, OWNER)
    assert held[-1][0] == "held" and "131047" in held[-1][1]
    graph.closed.clear()
    await _say(client, settings, "help", OWNER)
    await _settle(client)
    assert "New order ORD-1002" in _sent(graph, OWNER)[-2]["text"]["body"]


# ---- Twilio ----------------------------------------------------------------------------


@pytest.fixture
async def twilio_fake() -> Any:
    async with run_fake_twilio_api() as fake:
        yield fake


async def test_an_alert_held_on_one_channel_reaches_the_owner_once_on_another(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock, graph: FakeGraphApi,
        twilio_fake: FakeTwilioApi, tmp_path: Path) -> None:
    shop = _shop_with(tmp_path, {"order_paid": "haat_order_paid"})  # no merchant_alert
    client = await start_live(aiohttp_client, settings.with_(shop_dir=shop).with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN,
        TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_API_BASE_URL=twilio_fake.url), clock)
    await _order(client, settings, graph)  # on the Cloud API: its "new order" alert is held
    assert [r[0] for r in await _rows(client, OWNER)] == ["held"]
    # the owner next writes from the Twilio number: the digest comes with the answer
    from webhooks.keys import SETTINGS

    url = f"{client.app[SETTINGS].public_url}/webhooks/twilio"  # what Twilio signs
    body, headers = signed_twilio_request(url, AUTH_TOKEN, twilio_text("orders", from_=OWNER))
    response = await client.post("/webhooks/twilio", data=body, headers=headers)
    assert response.status == 200
    await _settle(client)
    told = "\n".join([html.unescape(await response.text()), *(
        r.form["Body"][0] for r in twilio_fake.received
        if r.form.get("To") == ["whatsapp:+" + OWNER] and r.form.get("Body"))])
    assert told.count("📬 1 alert could not reach you") == 1, told
    assert "New order ORD-1001" in told
    assert next(r[0] for r in await _rows(client, OWNER)) == "digested"
    await _say(client, settings, "orders", OWNER)  # then on the Cloud API: not again
    await _settle(client)
    assert not any("📬" in json.dumps(m, ensure_ascii=False) for m in _sent(graph, OWNER))


async def test_twilio_sids_are_found_by_the_exported_names_and_haat_takes_the_block(
        settings: Settings, twilio_fake: FakeTwilioApi, tmp_path: Path) -> None:
    import aiohttp

    from webhooks.twilio_content import ContentLookupError, lookup, yaml_block

    folder = _shop_with(tmp_path, {"order_shipped": "haat_order_shipped"})
    shop = load_shop(folder)
    definitions = twilio_contents(shop)
    sids = {}
    for n, definition in enumerate(definitions):
        key = (definition["event"], definition["language"])
        sid = sids[key] = f"HX{n + 1:032x}"
        if key == ("refund", "ar"):
            twilio_fake.create_content(definition, sid, status="rejected",
                                       rejection_reason="The template is not clear.")
        elif key == ("order_paid", "hi"):
            twilio_fake.create_content(definition, sid, status="pending")
        else:
            twilio_fake.create_content(definition, sid)
    configured = settings.with_env(TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                                   TWILIO_CONTENT_BASE_URL=twilio_fake.url)
    async with aiohttp.ClientSession() as session:
        found = await lookup(configured, shop, session, page_size=8)
        with pytest.raises(ContentLookupError, match="code 20003"):
            await lookup(settings.with_env(
                TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN="wrong",
                TWILIO_CONTENT_BASE_URL=twilio_fake.url), shop, session)
    assert twilio_fake.content_pages == -(-len(definitions) // 8)  # every page, once
    waiting = {(f.event, f.language): (f.status, f.reason) for f in found if f.sid is None}
    assert waiting == {("refund", "ar"): ("rejected", "The template is not clear."),
                       ("order_paid", "hi"): ("pending", "")}
    # the block goes into shop.yaml as it is: haat then sends each event by those SIDs
    text = (folder / "shop.yaml").read_text(encoding="utf-8")
    before, _, _ = text.partition("templates:")
    (folder / "shop.yaml").write_text(before + yaml_block(shop, found), encoding="utf-8")
    errors, _warnings = check_shop_with_warnings(folder)
    assert not errors, errors
    mapped = load_shop(folder).templates
    assert mapped["order_shipped"].name == "haat_order_shipped"
    for (event, language), sid in sids.items():
        expected = None if (event, language) in waiting else sid
        assert mapped[event].content_sids.get(language) == expected, (event, language)
    # the command a merchant runs prints the same block, and exits 1 while some wait
    done = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "webhooks", "templates", "twilio", "--shop", str(folder),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
             "TWILIO_CONTENT_BASE_URL": twilio_fake.url})
    out, _ = await asyncio.wait_for(done.communicate(), timeout=120)
    printed = out.decode()
    assert done.returncode == 1, printed
    assert f"{len(definitions) - 2} of {len(definitions)} Twilio templates approved" in printed
    assert "refund (ar) haat_refund_ar: rejected: The template is not clear." in printed
    assert yaml_block(shop, found) in printed


async def test_twilio_63016_is_sent_again_as_the_content_template(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        twilio_fake: FakeTwilioApi, tmp_path: Path) -> None:
    shipped_sid, alert_sid = "HX" + "1" * 32, "HX" + "2" * 32
    shop = _shop_with(tmp_path, {
        "order_shipped": {"whatsapp": "haat_order_shipped", "twilio": {"en": shipped_sid}},
        "merchant_alert": {"twilio": alert_sid}})
    for definition in twilio_contents(load_shop(shop)):
        sid = {("order_shipped", "en"): shipped_sid, ("merchant_alert", "en"): alert_sid}.get(
            (definition["event"], definition["language"]))
        if sid:
            twilio_fake.approve(sid, tuple(definition["content"]["variables"]))
    client = await aiohttp_client(create_app(settings.with_(shop_dir=shop).with_env(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_API_BASE_URL=twilio_fake.url), clock=clock))
    url = "https://shop.example.test/webhooks/twilio"

    async def post(form: dict[str, str]) -> None:
        body, headers = signed_twilio_request(url, AUTH_TOKEN, form)
        assert (await client.post("/webhooks/twilio", data=body, headers=headers)).status == 200

    for text in ("2 samosa", "checkout", "12 Lake Road, Salt Lake", "yes"):
        await post(twilio_text(text, from_=SHOPPER))
    await _settle(client)
    new_order = [r.form for r in twilio_fake.received
                 if r.form.get("To") == ["whatsapp:+" + OWNER]]
    assert new_order[0]["ContentSid"] == [alert_sid]
    variables = json.loads(new_order[0]["ContentVariables"][0])
    assert list(variables) == ["shop", "alert"] and "New order ORD-1001" in variables["alert"]
    await post(twilio_text("paid ORD-1001", from_=OWNER))
    await _settle(client)  # the receipt goes while the window is open
    twilio_fake.closed.add("+" + SHOPPER)
    await post(twilio_text("ship ORD-1001", from_=OWNER))
    await _settle(client)
    (callback,) = twilio_fake.callbacks  # Twilio accepted the free text, then: 63016
    for _ in range(2):
        await post(callback)
        await _settle(client)
    templated = [r.form for r in twilio_fake.received if r.form.get("ContentSid") == [shipped_sid]]
    assert len(templated) == 1
    assert json.loads(templated[0]["ContentVariables"][0]) == {
        "order": "ORD-1001", "shop": "Mitra Tea House"}
    assert [r[0] for r in await _rows(client, SHOPPER)][-2:] == ["templated", "sent"]


def test_any_approved_template_by_name_for_broadcasts(tmp_path: Path) -> None:
    from bot.templates import template_item
    from webhooks.channels.whatsapp_outbound import build_message

    shop = load_shop(_shop_with(tmp_path, {
        "diwali_offer": {"whatsapp": "diwali_offer", "twilio": "HX" + "d" * 32}}))
    item = template_item(shop, "diwali_offer", "hi", {"1": "Asha", "2": "20%\noff"},
                         channel="whatsapp", customer=SHOPPER, business="123")
    assert item is not None and item.reply.extra["content_sid"] == "HX" + "d" * 32
    assert item.reply.extra["category"] == "marketing"
    template = build_message(SHOPPER, item.reply)["template"]
    assert template["name"] == "diwali_offer" and template["language"] == {"code": "hi"}
    assert template["components"][0]["parameters"] == [  # positional: {{1}}, {{2}}
        {"type": "text", "text": "Asha"}, {"type": "text", "text": "20% · off"}]
    assert template_item(shop, "order_paid", "en", {}, channel="whatsapp",
                         customer=SHOPPER, business="123") is None  # not mapped here


async def test_the_fake_graph_answers_rule_breaks_with_meta_s_codes(
        settings: Settings, graph: FakeGraphApi) -> None:
    import aiohttp

    from bot.outgoing import OutboundStatus
    from bot.types import Reply
    from webhooks.channels.base import SendError
    from webhooks.channels.whatsapp_cloud import WhatsAppCloudAdapter
    from webhooks.outbox import classify

    graph.approve(meta_templates(load_shop(DEMO_SHOP)))
    adapter = WhatsAppCloudAdapter(settings.with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN))
    old_style = Reply(type="template", template="haat_merchant_alert", params=(
        "Mitra Tea House", "💰 ORD-7 paid\n• 2 × Samosa"),
        extra={"language": "en", "param_names": ["shop", "alert"]})
    unknown = Reply(type="template", template="haat_merchant_alert", params=("x",),
                    extra={"language": "bn", "param_names": ["alert"]})
    twilio_only = Reply(type="template", params=("x",),
                        extra={"content_sid": "HX" + "1" * 32, "param_names": ["alert"]})
    codes = []
    async with aiohttp.ClientSession() as session:
        for reply in (old_style, unknown, twilio_only):
            with pytest.raises(SendError) as refused:
                await adapter.send(session, business="1234", to=SHOPPER, reply=reply,
                                   idempotency_key="k")
            assert not refused.value.retryable
            codes.append(refused.value.code)
    assert codes == ["132018", "132001", "no_template_name"]
    assert graph.attempts == 2  # the template without a Cloud API name never left
    assert {classify(code, Reply(type="text")) for code in codes[:2]} == {OutboundStatus.FAILED}
    assert classify(codes[2], Reply(type="text")) is OutboundStatus.UNDELIVERABLE
    assert classify("424242", Reply(type="text")) is OutboundStatus.UNKNOWN_ERROR
    assert classify("131026", Reply(type="text")) is OutboundStatus.UNDELIVERABLE


def test_haat_check_warns_about_events_without_a_template(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _shop_with(tmp_path, {"order_paid": "haat_order_paid"})
    assert main(["check", str(folder)]) == 0  # a warning, not an error
    out = capsys.readouterr().out
    assert "templates: no Cloud API template for order_placed, order_shipped" in out
    assert "order_paid," not in out.split("no Cloud API template for")[1].split(";")[0]


@pytest.mark.parametrize(("code", "end"), [
    (131026, "undeliverable"),  # accepted, then undeliverable: shown, never sent again
    (987654, "unknown_error"),  # an error nobody knows: shown as such
    (132000, "failed"),  # a refusal haat knows (a setup fault): the receipt's status stays
])
async def test_a_failed_receipt_ends_its_row_by_what_the_code_means(
        cloud: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi, code: int,
        end: str) -> None:
    await _pay(cloud, await _order(cloud, settings, graph))
    await _say(cloud, settings, "ship ORD-1001", OWNER)
    await _settle(cloud)
    from webhooks.keys import DB

    rows = await cloud.app[DB].fetchall(
        "SELECT id, channel_message_id, payload FROM outbound_messages WHERE customer = ? "
        "AND status = 'sent' ORDER BY created_at DESC", (SHOPPER,))
    # a plain text reply (an order card that fails is sent again without it, elsewhere)
    row = next(r for r in rows if json.loads(r[2])["type"] == "text")
    assert row[1]
    sent_before = len(_sent(graph, SHOPPER))
    secret = settings.env.get("WHATSAPP_APP_SECRET") or ""
    for _ in range(2):  # Meta redelivers webhooks: one end only
        body, headers = signed_cloud_request(secret, cloud_status(
            str(row[1]), "failed", recipient=SHOPPER.removeprefix("+"), error_code=code))
        assert (await cloud.post("/webhooks/whatsapp", data=body, headers=headers)).status \
            == 200
        await _settle(cloud)
    status, error = await cloud.app[DB].fetchone(
        "SELECT status, error FROM outbound_messages WHERE id = ?", (row[0],)) or ("", "")
    assert status == end and str(code) in str(error)
    assert len(_sent(graph, SHOPPER)) == sent_before  # nothing sent again
    assert end in {p["status"] for p in await _problems(cloud)}  # the owner sees it


async def test_a_reply_with_no_template_refused_for_the_window_is_undeliverable(
        cloud: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi,
        caplog: pytest.LogCaptureFixture) -> None:
    graph.closed.add(SHOPPER)  # Meta says the window is closed: a plain reply has no template
    await _say(cloud, settings, "hello")
    await _settle(cloud)
    rows = await _rows(cloud, SHOPPER)
    assert rows and {r[0] for r in rows} == {"undeliverable"}
    assert all("131047" in r[1] and r[1].endswith(
        "(and no approved template for it in shop.yaml)") for r in rows)
    assert _sent(graph, SHOPPER) == []
    from webhooks.keys import DB, OUTBOX

    ids = [r[0] for r in await cloud.app[DB].fetchall(
        "SELECT id FROM outbound_messages WHERE customer = ?", (SHOPPER,))]
    warned = [r.getMessage() for r in caplog.records if "window was closed" in r.getMessage()]
    # one warning per row, naming it (the log filter masks its digits) and its end
    assert len(warned) == len(ids) and all(re.fullmatch(
        r"outbox: message [0-9a-f<numbr>]{8,} undeliverable: the window was closed", w)
        for w in warned)
    assert cloud.app[OUTBOX].templated_count == 0
