"""Every button and list row the bot can send, tapped through every channel (issue #13).

Nothing here is written per button. The flows are explored through the simulator in each
language: from a greeting and a product question, every button or row a reply offers is
tapped (payload only, the reference), and so on while taps lead somewhere new. Each tap is
then replayed through each channel exactly as that platform sends it, from what that
channel actually rendered: a Cloud API ``interactive.button_reply {id, title}`` or
``list_reply {id, title, description}`` taken from the message the fake Graph API received,
a signed Twilio form with ``ButtonPayload``/``ButtonText`` (rows: ``ListId``/``ListTitle``),
the number in Twilio's numbered-text rendering, and a simulator tap with its title. The
tap must reach the handler its payload names: the conversation after it (state, cart,
options offered, language, orders placed) equals the reference's, and no reply is the
"button expired" re-prompt. Before payload-first dispatch, the titles "Confirm order"
and "Add more" went through the intent engine and these failed.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.replies import TEXTS
from config.settings import Settings
from tests.conftest import SIM_TOKEN, AiohttpClient
from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi
from tests.sim import (
    cloud_button,
    cloud_text,
    signed_cloud_request,
    signed_twilio_request,
    twilio_message,
    twilio_text,
)

TWILIO_URL = "https://shop.example.test/webhooks/twilio"
LANGUAGES = ("en", "hi", "bn", "ar")
SWITCH = {"en": "English", "hi": "हिंदी", "bn": "বাংলা", "ar": "العربية"}
GREETING = {"en": "hello", "hi": "नमस्ते", "bn": "নমস্কার", "ar": "مرحبا"}
ADDRESS = "12 Park Street, Kolkata"
CHANNELS = ("cloud", "twilio_button", "twilio_numbered", "simulator")

# ("text", body) or ("tap", payload, title, kind): kind "button" or "row" as the bot sent
# it, "foreign" for a tap on something it did not send (a merchant's template)
Step = tuple[str, ...]


@dataclass(frozen=True)
class Tap:
    language: str
    path: tuple[Step, ...]  # the steps that lead to the message offering the button
    payload: str
    title: str
    kind: str  # "button" or "row"
    numbered: bool  # the last message with options: "N" selects it in numbered text


@dataclass
class Explored:
    taps: list[Tap] = field(default_factory=list)
    reference: dict[Tap, tuple[Any, ...]] = field(default_factory=dict)


class Harness:
    """The real app with every channel on, and what each conversation looks like after."""

    def __init__(self, client: TestClient[Any, Any], settings: Settings,
                 graph: FakeGraphApi) -> None:
        self.client = client
        self.settings = settings
        self.graph = graph
        self.numbers = itertools.count(1)
        self.seen_graph = 0

    def new_phone(self) -> str:
        return f"91700{next(self.numbers):07d}"

    async def simulator(self, phone: str, body: dict[str, str]) -> list[dict[str, Any]]:
        response = await self.client.post(
            "/webhooks/simulator", json={"from": phone, **body},
            headers={"Authorization": f"Bearer {SIM_TOKEN}"})
        assert response.status == 200, await response.text()
        replies: list[dict[str, Any]] = (await response.json())["replies"]
        return replies

    async def cloud(self, envelope: dict[str, Any]) -> list[dict[str, Any]]:
        from webhooks.keys import OUTBOX

        body, headers = signed_cloud_request(
            self.settings.env.get("WHATSAPP_APP_SECRET", ""), envelope)
        response = await self.client.post("/webhooks/whatsapp", data=body, headers=headers)
        assert response.status == 200, await response.text()
        await self.client.app[OUTBOX].drain()
        sent = [r.json for r in self.graph.received[self.seen_graph:] if r.json is not None]
        self.seen_graph = len(self.graph.received)
        return sent

    async def twilio(self, form: dict[str, str]) -> str:
        body, headers = signed_twilio_request(TWILIO_URL, self.settings.env.get(
            "TWILIO_AUTH_TOKEN", ""),
                                              form)
        response = await self.client.post("/webhooks/twilio", data=body, headers=headers)
        assert response.status == 200, await response.text()
        return await response.text()

    async def outcome(self, channel: str, phone: str) -> tuple[Any, ...]:
        """What a tap changed: the conversation (state, cart, options offered, language,
        whether an address is saved) and the shopper's orders and payment requests."""
        from webhooks.keys import DB, ENGINE, SHOPS

        runtime = next(iter(self.client.app[SHOPS].runtimes.values()))
        found = await self.client.app[ENGINE].store.find(runtime.shop.id, phone)
        conversation = next(c for c in found if c.key.channel == channel)
        db = self.client.app[DB]
        orders = await db.fetchone("SELECT COUNT(*) FROM orders WHERE customer = ?", (phone,))
        requests = await db.fetchone(
            "SELECT COUNT(*) FROM payment_requests r JOIN orders o ON r.order_id = o.id "
            "WHERE o.customer = ?", (phone,))
        options = tuple(p for p, _ in conversation.data.get("options") or ())
        return (conversation.state.value, tuple(sorted(conversation.cart.items())), options,
                conversation.language, "address" in conversation.data,
                orders[0] if orders else 0,
                requests[0] if requests else 0)


def _offers(replies: list[dict[str, Any]]) -> list[tuple[str, str, str, bool]]:
    """(payload, title, kind, numbered) of every button and row in simulator replies."""
    with_options = [r for r in replies if r.get("buttons") or r.get("rows")]
    out = []
    for reply in with_options:
        kind = "row" if reply.get("rows") else "button"
        for choice in reply.get("rows") or reply.get("buttons") or []:
            out.append((str(choice["payload"]), str(choice["title"]), kind,
                        reply is with_options[-1]))
    return out


def _texts(replies: list[dict[str, Any]]) -> str:
    return "\n".join(str(r.get("text", "")) for r in replies)


def _expired(language: str) -> tuple[str, str]:
    return (TEXTS["button_expired"][language], TEXTS["button_expired_menu"][language])


async def _run_reference(h: Harness, path: tuple[Step, ...]) -> tuple[
        str, list[dict[str, Any]]]:
    phone = h.new_phone()
    replies: list[dict[str, Any]] = []
    for step in path:
        body = {"text": step[1]} if step[0] == "text" else {"button": step[1]}
        replies = await h.simulator(phone, body)
    return phone, replies


async def explore(h: Harness, language: str) -> Explored:
    """Every button reachable from a greeting and a product question, tapped once each
    in the first context that offers it; a context is expanded again only when it offers
    something new (so "checkout" after an order offers the saved-address buttons)."""
    from webhooks.keys import SHOPS

    shop = next(iter(h.client.app[SHOPS].runtimes.values())).shop
    product = next(p for p in shop.catalog.products if p.options)
    name = product.name.get(language, shop.default_language)
    question = {"en": f"how much is {name}", "hi": f"{name} कितने का है",
                "bn": f"{name} এর দাম কত", "ar": f"كم سعر {name}"}[language]
    about = {"en": f"tell me about {name}", "hi": f"{name} के बारे में बताओ",
             "bn": f"{name} সম্পর্কে বলুন", "ar": f"ما هو {name}"}[language]
    seeds: list[tuple[Step, ...]] = [
        (("text", SWITCH[language]), ("text", GREETING[language])),
        (("text", SWITCH[language]), ("text", question)),
        (("text", SWITCH[language]), ("text", about)),
        # the re-prompt after a tap from an old message offers buttons of its own
        # (a template quick reply the bot did not send: "foreign", tapped as it comes)
        (("text", SWITCH[language]), ("tap", "promo:diwali-2025", "Diwali offer", "foreign")),
    ]
    explored = Explored()
    seen_contexts: set[tuple[Any, ...]] = set()
    frontier = list(seeds)
    while frontier:
        path = frontier.pop(0)
        phone, replies = await _run_reference(h, path)
        outcome = await h.outcome("simulator", phone)
        assert outcome[3] == language, f"{path} left the conversation in {outcome[3]}"
        children: list[tuple[Step, ...]] = []
        if outcome[0] == "awaiting_address" and not _offers(replies):
            children.append((*path, ("text", ADDRESS)))
        for payload, title, kind, numbered in _offers(replies):
            tap = Tap(language, path, payload, title, kind, numbered)
            if tap in explored.reference:
                continue
            step = ("tap", payload, title, kind)
            tap_phone, tap_replies = await _run_reference(h, (*path, step))
            after = await h.outcome("simulator", tap_phone)
            assert not any(t in _texts(tap_replies) for t in _expired(language)), (
                f"the bot's own button {payload!r} ({title!r}) was not recognised after {path}")
            explored.taps.append(tap)
            explored.reference[tap] = after
            context = (after[0], bool(after[1]), after[2], after[4])
            if context not in seen_contexts:
                seen_contexts.add(context)
                children.append((*path, step))
        frontier.extend(children)
    return explored


async def _tap_cloud(h: Harness, phone: str, sent: list[dict[str, Any]], payload: str,
                     title: str) -> list[dict[str, Any]]:
    """Tap what the Graph API was sent, with exactly the id, title and description there."""
    for message in reversed(sent):
        interactive = message.get("interactive") or {}
        if interactive.get("type") == "button":
            for button in interactive["action"]["buttons"]:
                if button["reply"]["id"] == payload:
                    return await h.cloud(cloud_button(payload, button["reply"]["title"],
                                                      from_=phone))
        if interactive.get("type") == "list":
            for section in interactive["action"]["sections"]:
                for row in section["rows"]:
                    if row["id"] == payload:
                        reply = {"id": row["id"], "title": row["title"]}
                        if "description" in row:
                            reply["description"] = row["description"]
                        return await h.cloud(_cloud_list_reply(reply, phone))
        if message.get("type") == "text":  # rich replies degraded to numbered text
            number = _number_of(message["text"]["body"], title)
            if number is not None:
                return await h.cloud(cloud_text(number, from_=phone))
    raise NotRendered(payload)


class NotRendered(Exception):
    """The bot offered a button the channel's rendering has no place for."""


def _cloud_list_reply(reply: dict[str, str], phone: str) -> dict[str, Any]:
    envelope = cloud_button(reply["id"], reply["title"], kind="list_reply", from_=phone)
    message = envelope["entry"][0]["changes"][0]["value"]["messages"][0]
    message["interactive"]["list_reply"] = dict(reply)
    return envelope


def _number_of(body: str, title: str) -> str | None:
    """The number numbered-text rendering gave ``title`` in the last list of ``body``."""
    found = None
    for number, text in re.findall(r"(?m)^(\d+)\. (.+)$", body):
        if text.strip() == title:
            found = number
    return found


def _twiml_bodies(twiml: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r"<Message>(.*?)(?:<Media>.*?</Media>)?"
                                                 r"</Message>", twiml, re.DOTALL)]


async def replay(h: Harness, channel: str, tap: Tap) -> tuple[str, str]:
    """The path and then the tap through ``channel``; (phone, text of the tap's replies)."""
    phone = h.new_phone()
    cloud_sent: list[dict[str, Any]] = []
    twiml = ""
    steps: list[Step] = [*tap.path, ("tap", tap.payload, tap.title, tap.kind)]
    replies_text = ""
    for step in steps:
        if channel == "cloud":
            if step[0] == "text":
                cloud_sent = await h.cloud(cloud_text(step[1], from_=phone))
            elif step[3] == "foreign":
                cloud_sent = await h.cloud(cloud_button(step[1], step[2], kind="quick_reply",
                                                        from_=phone))
            else:
                cloud_sent = await _tap_cloud(h, phone, cloud_sent, step[1], step[2])
            replies_text = "\n".join(str(m) for m in cloud_sent)
        elif channel in ("twilio_button", "twilio_numbered"):
            if step[0] == "text":
                form = twilio_text(step[1], from_=phone)
            elif channel == "twilio_numbered" and step[3] != "foreign":
                number = next((n for body in reversed(_twiml_bodies(twiml))
                               if (n := _number_of(body, step[2]))), None)
                if number is None:
                    pytest.fail(f"Twilio's numbered text never offered {step[2]!r}: {twiml}")
                form = twilio_text(number, from_=phone)
            elif len(step) > 3 and step[3] == "row":
                form = twilio_message(Body=step[2], ListId=step[1], ListTitle=step[2],
                                      MessageType="interactive", from_=phone)
            else:
                form = twilio_message(Body=step[2], ButtonText=step[2], ButtonPayload=step[1],
                                      MessageType="button", from_=phone)
            twiml = await h.twilio(form)
            replies_text = "\n".join(_twiml_bodies(twiml))
        else:
            body = {"text": step[1]} if step[0] == "text" else {"button": step[1],
                                                                 "text": step[2]}
            replies_text = _texts(await h.simulator(phone, body))
    return phone, replies_text


@pytest.fixture
async def harness(aiohttp_client: AiohttpClient, settings: Settings,
                  graph: FakeGraphApi) -> AsyncIterator[Harness]:
    from webhooks.app import create_app

    app = create_app(settings.with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN))
    yield Harness(await aiohttp_client(app), settings, graph)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_every_button_reaches_its_handler_on_every_channel(
        harness: Harness, language: str) -> None:
    explored = await explore(harness, language)
    payloads = {t.payload.split(":", 1)[0] for t in explored.taps}
    # the exploration is generated, so check it found every kind of button the flows send
    assert {"menu", "cat", "add", "opt", "checkout", "address", "confirm", "edit",
            "pay"} <= payloads, payloads
    failures = []
    not_rendered: set[tuple[str, str]] = set()
    for tap in explored.taps:
        for channel in CHANNELS:
            if channel == "twilio_numbered" and not tap.numbered:
                continue
            try:
                phone, replies_text = await replay(harness, channel, tap)
            except NotRendered as exc:
                not_rendered.add((channel, str(exc).split(":", 1)[0]))
                continue
            sim_channel = {"cloud": "whatsapp", "simulator": "simulator"}.get(channel, "twilio")
            got = await harness.outcome(sim_channel, phone)
            expired = any(t in replies_text for t in _expired(language))
            if got != explored.reference[tap] or expired:
                failures.append(f"{channel}: {tap.payload!r} titled {tap.title!r} "
                                f"→ {got}, expected {explored.reference[tap]}"
                                + (" (answered 'button expired')" if expired else ""))
    assert not failures, f"{len(failures)} taps missed their handler:\n" + "\n".join(
        failures[:40])
    # every button the bot offers, every channel shows (a Cloud order_details card or QR
    # image holds none: checkout.offer_payment sends "other ways to pay" after it)
    assert not not_rendered, not_rendered


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_tap_whose_moment_passed_gets_a_polite_re_prompt(
        harness: Harness, language: str) -> None:
    """The summary's "Confirm order" tapped again after the order was placed, a product
    row for a sku the shop no longer sells, and an id this bot never sent: each is told,
    in the shopper's language, that the button is from an earlier message, and nothing
    is ordered twice; never "didn't understand" or a guess from the title."""
    h = harness
    phone = h.new_phone()
    await h.cloud(cloud_text(SWITCH[language], from_=phone))
    await h.cloud(cloud_button("add:SAMOSA", "Samosa", kind="list_reply", from_=phone))
    await h.cloud(cloud_button("checkout", TEXTS["checkout_button"][language], from_=phone))
    await h.cloud(cloud_text(ADDRESS, from_=phone))
    confirm = TEXTS["confirm_button"][language]
    await h.cloud(cloud_button("confirm", confirm, from_=phone))
    placed = await h.outcome("whatsapp", phone)
    assert placed[0] == "awaiting_payment" and placed[5] == 1, placed
    not_wanted = [TEXTS[k][language].split("{")[0] for k in ("fallback", "did_you_mean")]
    for payload, title in (("confirm", confirm), ("add:NO-SUCH-SKU", "Samosa"),
                           ("promo:diwali-2025", "Diwali offer")):
        sent = await h.cloud(cloud_button(payload, title, from_=phone))
        text = "\n".join(str(m) for m in sent)
        assert any(t.split(":")[0] in text for t in _expired(language)), (payload, text)
        assert not any(t and t in text for t in not_wanted), (payload, text)
        assert (await h.outcome("whatsapp", phone))[5] == 1  # no second order
    # with an empty cart the re-prompt offers the menu, and that button works
    assert any(b["reply"]["id"] == "menu" for m in sent
               for b in (m.get("interactive") or {}).get("action", {}).get("buttons", []))


@pytest.mark.parametrize("language", ["en", "hi"])
async def test_confirm_under_a_summary_whose_cart_changed_shows_the_new_summary(
        harness: Harness, language: str) -> None:
    """Items added after the summary was shown: its Confirm button would order a cart the
    shopper never saw summed up, so the tap re-prompts with the new summary instead."""
    h = harness
    phone = h.new_phone()
    confirm = TEXTS["confirm_button"][language]
    await h.cloud(cloud_text(SWITCH[language], from_=phone))
    await h.cloud(cloud_button("add:SAMOSA", "Samosa", kind="list_reply", from_=phone))
    await h.cloud(cloud_button("checkout", TEXTS["checkout_button"][language], from_=phone))
    await h.cloud(cloud_text(ADDRESS, from_=phone))
    await h.cloud(cloud_button("add:SAMOSA", "Samosa", kind="list_reply", from_=phone))
    sent = await h.cloud(cloud_button("confirm", confirm, from_=phone))
    text = "\n".join(str(m) for m in sent)
    assert TEXTS["button_expired"][language].split(":")[0] in text and "2 × " in text, text
    assert (await h.outcome("whatsapp", phone))[5] == 0  # nothing ordered yet
    await h.cloud(cloud_button("confirm", confirm, from_=phone))
    after = await h.outcome("whatsapp", phone)
    assert after[0] == "awaiting_payment" and after[5] == 1, after


async def test_a_quick_reply_without_an_id_selects_by_its_title_else_reads_as_text(
        harness: Harness) -> None:
    """Some providers send a template quick reply with its text and no payload; the
    parser then gives the title as the payload. It selects the option of that title
    when one is on screen, else it is an ordinary message (never a re-prompt)."""
    h = harness
    phone = h.new_phone()
    await h.twilio(twilio_text("2 samosa", from_=phone))
    checkout = TEXTS["checkout_button"]["en"]
    await h.twilio(twilio_message(Body=checkout, ButtonText=checkout, from_=phone))
    assert (await h.outcome("twilio", phone))[0] == "awaiting_address"
    other = h.new_phone()
    twiml = await h.twilio(twilio_message(Body="menu", ButtonText="menu", from_=other))
    assert (await h.outcome("twilio", other))[2][:1] == ("cat:tea",), twiml
