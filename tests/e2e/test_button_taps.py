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

The same exploration runs on the cash-on-delivery shop (examples/kolkata-sweets: "Cash on
delivery" beside Confirm, then the order's Confirm / Pay now / Cancel), the manual-transfer
shop (examples/dhaka-grocer: COD first, "Pay now" switches to bKash with Nagad and a link
beside it) and the demo shop with ``marketing.opt_in: ask_at_checkout`` (the Yes / No
question after an order; WhatsApp's own "Stop promotions" template reply, tapped as it
comes), each in all four languages (the example shops' copies list en, hi, bn and ar). A
payload naming an order (``cod:confirm:1001``) is kept as ``cod:confirm:{order}`` and tapped
with the replaying shopper's own order; the outcome also holds the shopper's consent.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.replies import TEXTS
from config.settings import Settings
from tests.conftest import DEMO_SHOP, ROOT, SIM_TOKEN, AiohttpClient
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
# taps on buttons of messages the bot did not send: a merchant's template quick reply
FOREIGN = (("promo:diwali-2025", "Diwali offer"),)
# WhatsApp's own opt-out button of a marketing template: its payload is its text
STOP_PROMOTIONS = (("Stop promotions", "Stop promotions"),)

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
                 graph: FakeGraphApi, address: str = ADDRESS) -> None:
        self.client = client
        self.settings = settings
        self.graph = graph
        self.address = address  # where this shop delivers (and, for COD, takes cash)
        self.numbers = itertools.count(1)
        self.seen_graph = 0

    async def order_numbers(self, phone: str) -> list[int]:
        from webhooks.keys import DB

        rows = await self.client.app[DB].fetchall(
            "SELECT number FROM orders WHERE customer = ? ORDER BY number", (phone,))
        return [int(r[0]) for r in rows]

    async def generic(self, phone: str, payload: str) -> str:
        """``cod:confirm:1001`` → ``cod:confirm:{order}`` when 1001 is this shopper's order."""
        for number in await self.order_numbers(phone):
            payload = re.sub(rf":{number}$", ":{order}", payload)
        return payload

    async def concrete(self, phone: str, payload: str) -> str:
        """The payload as this shopper's own message shows it (their newest order)."""
        if "{order}" not in payload:
            return payload
        numbers = await self.order_numbers(phone)
        return payload.replace("{order}", str(numbers[-1] if numbers else 0))

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
        sender = envelope["entry"][0]["changes"][0]["value"]["messages"][0]["from"]
        sent = [r.json for r in self.graph.received[self.seen_graph:] if r.json is not None
                and r.json.get("to") == sender]  # not the owners' alerts
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
        options = tuple([await self.generic(phone, p)
                         for p, _ in conversation.data.get("options") or ()])
        consent = await db.fetchone(
            "SELECT status FROM marketing_consent WHERE customer = ? AND channel = ?",
            (phone, channel))
        return (conversation.state.value, tuple(sorted(conversation.cart.items())), options,
                conversation.language, "address" in conversation.data,
                orders[0] if orders else 0,
                requests[0] if requests else 0, consent[0] if consent else None)


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
        body = {"text": step[1]} if step[0] == "text" else {
            "button": await h.concrete(phone, step[1])}
        if step[0] == "tap" and step[3] == "foreign":  # a template's reply: id and its text
            body["text"] = step[2]
        replies = await h.simulator(phone, body)
    return phone, replies


def _seeds(h: Harness, language: str, foreign: tuple[tuple[str, str], ...],
           browse: bool = True) -> list[tuple[Step, ...]]:
    """A greeting, a price question and a product question in ``language`` (without
    ``browse``: the price question only, the shortest way to an order); then each tap on
    something the bot did not send (a merchant's template quick reply)."""
    from webhooks.keys import SHOPS

    shop = next(iter(h.client.app[SHOPS].runtimes.values())).shop
    product = next((p for p in shop.catalog.products if p.options),
                   shop.catalog.products[0])
    name = product.name.get(language, product.name.get(shop.default_language, product.sku))
    question = {"en": f"how much is {name}", "hi": f"{name} कितने का है",
                "bn": f"{name} এর দাম কত", "ar": f"كم سعر {name}"}[language]
    about = {"en": f"tell me about {name}", "hi": f"{name} के बारे में बताओ",
             "bn": f"{name} সম্পর্কে বলুন", "ar": f"ما هو {name}"}[language]
    switch: Step = ("text", SWITCH[language])
    texts = (GREETING[language], question, about) if browse else (question,)
    return [*((switch, ("text", text)) for text in texts),
            *((switch, ("tap", payload, title, "foreign")) for payload, title in foreign)]


async def explore(h: Harness, language: str,
                  foreign: tuple[tuple[str, str], ...] = FOREIGN,
                  browse: bool = True) -> Explored:
    """Every button reachable from a greeting and a product question, tapped once each
    in the first context that offers it; a context is expanded again only when it offers
    something new (so "checkout" after an order offers the saved-address buttons). The
    re-prompt after a tap from an old message offers buttons of its own (``foreign``:
    a template quick reply the bot did not send, tapped as it comes, checked too)."""
    explored = Explored()
    seen_contexts: set[tuple[Any, ...]] = set()
    frontier = _seeds(h, language, foreign, browse)
    for path in frontier[len(frontier) - len(foreign):]:  # foreign taps are checked too
        _, payload, title, kind = path[-1]
        tap = Tap(language, path[:-1], payload, title, kind, False)
        phone, _replies = await _run_reference(h, path)
        explored.taps.append(tap)
        explored.reference[tap] = await h.outcome("simulator", phone)
    while frontier:
        path = frontier.pop(0)
        phone, replies = await _run_reference(h, path)
        outcome = await h.outcome("simulator", phone)
        assert outcome[3] == language, f"{path} left the conversation in {outcome[3]}"
        children: list[tuple[Step, ...]] = []
        if outcome[0] == "awaiting_address" and not _offers(replies):
            children.append((*path, ("text", h.address)))
        for payload, title, kind, numbered in _offers(replies):
            tap = Tap(language, path, await h.generic(phone, payload), title, kind, numbered)
            if tap in explored.reference:
                continue
            after = await _reference_tap(h, tap)
            explored.taps.append(tap)
            explored.reference[tap] = after
            context = (after[0], bool(after[1]), after[2], after[4], after[7])
            if context not in seen_contexts:
                seen_contexts.add(context)
                children.append((*path, ("tap", tap.payload, title, kind)))
        frontier.extend(children)
    return explored


async def _reference_tap(h: Harness, tap: Tap) -> tuple[Any, ...]:
    """The tap through the simulator, payload only: the outcome every channel must give."""
    step = ("tap", tap.payload, tap.title, tap.kind)
    tap_phone, tap_replies = await _run_reference(h, (*tap.path, step))
    assert not any(t in _texts(tap_replies) for t in _expired(tap.language)), (
        f"the bot's own button {tap.payload!r} ({tap.title!r}) was not recognised after "
        f"{tap.path}: {tap_replies}")
    return await h.outcome("simulator", tap_phone)


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
    for given in steps:
        # an order's button names the order this shopper placed
        step = given if given[0] != "tap" else (
            given[0], await h.concrete(phone, given[1]), *given[2:])
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


async def _tap_everything(h: Harness, explored: Explored, language: str) -> None:
    """Each explored tap replayed through every channel reaches the reference's outcome,
    and every button the bot offers, every channel shows (a Cloud order_details card or QR
    image holds none: checkout.offer_payment sends "other ways to pay" after it)."""
    failures = []
    not_rendered: set[tuple[str, str]] = set()
    for tap in explored.taps:
        for channel in CHANNELS:
            if channel == "twilio_numbered" and not tap.numbered:
                continue
            try:
                phone, replies_text = await replay(h, channel, tap)
            except NotRendered as exc:
                not_rendered.add((channel, str(exc).split(":", 1)[0]))
                continue
            sim_channel = {"cloud": "whatsapp", "simulator": "simulator"}.get(channel, "twilio")
            got = await h.outcome(sim_channel, phone)
            expired = any(t in replies_text for t in _expired(language))
            if got != explored.reference[tap] or (expired and tap.kind != "foreign"):
                failures.append(f"{channel}: {tap.payload!r} titled {tap.title!r} "
                                f"→ {got}, expected {explored.reference[tap]}"
                                + (" (answered 'button expired')" if expired else ""))
    assert not failures, f"{len(failures)} taps missed their handler:\n" + "\n".join(
        failures[:40])
    assert not not_rendered, not_rendered


def _prefixes(explored: Explored) -> set[str]:
    return {t.payload.split(":", 1)[0] for t in explored.taps}


@pytest.mark.sqlite_only
@pytest.mark.parametrize("language", LANGUAGES)
async def test_every_button_reaches_its_handler_on_every_channel(
        harness: Harness, language: str) -> None:
    explored = await explore(harness, language)
    # the exploration is generated, so check it found every kind of button the flows send
    assert {"menu", "cat", "add", "opt", "checkout", "address", "confirm", "edit",
            "pay"} <= _prefixes(explored), _prefixes(explored)
    await _tap_everything(harness, explored, language)


@dataclass(frozen=True)
class ShopCase:
    """A shop folder (a copy of an example, listing all four languages) to explore."""

    name: str
    make: Callable[[Path], Path]
    address: str
    wanted: frozenset[str]  # payloads (or their prefixes) the exploration must find
    foreign: tuple[tuple[str, str], ...] = FOREIGN
    browse: bool = True  # False: the demo's browsing is explored by the test above


def _example(folder: str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        return _copy(ROOT / "examples" / folder, tmp, "")

    return make


def _copy(source: Path, tmp: Path, extra: str) -> Path:
    """``source``'s shop in every language the explorer speaks, with ``extra`` YAML, and
    no stock limit (every replay places its orders: 12 kg of hilsa would run out)."""
    shop = tmp / source.name
    shop.mkdir()
    catalog = re.sub(r"(?m)^\s+stock: \d+.*\n", "", (source / "catalog.yaml").read_text("utf-8"))
    (shop / "catalog.yaml").write_text(catalog, "utf-8")
    text = re.sub(r"(?m)^languages: .*$", "languages: [" + ", ".join(
        _ordered(source)) + "]", (source / "shop.yaml").read_text("utf-8"))
    (shop / "shop.yaml").write_text(text + extra, "utf-8")
    return shop


def _ordered(source: Path) -> list[str]:
    """The shop's own languages first (its default stays), then the rest of the four."""
    found = re.search(r"(?m)^languages: \[(.*)\]", (source / "shop.yaml").read_text("utf-8"))
    own = [x.strip() for x in found.group(1).split(",")] if found else []
    return own + [x for x in LANGUAGES if x not in own]


def _opt_in(tmp: Path) -> Path:
    return _copy(DEMO_SHOP, tmp, "marketing:\n  opt_in: ask_at_checkout\n")


SHOP_CASES = (
    # UPI first, "Cash on delivery" beside Confirm; then Confirm / Pay now / Cancel
    ShopCase("cod", _example("kolkata-sweets"), "12 Salt Lake, Sector 1",
             frozenset({"confirm", "confirm:cod", "cod:confirm:{order}",
                        "cod:prepaid:{order}", "cod:cancel:{order}"})),
    # COD first; "Pay now" shows the bKash transfer with Nagad and a link beside it
    ShopCase("transfer", _example("dhaka-grocer"), "বাড়ি ৪, রোড ৭, Dhanmondi",
             frozenset({"confirm", "cod:prepaid:{order}", "cod:cancel:{order}",
                        "pay:nagad", "pay:payment_link"})),
    # the Yes / No after an order, and WhatsApp's "Stop promotions" template reply
    ShopCase("consent", _opt_in, ADDRESS, frozenset({"consent:yes", "consent:no"}),
             FOREIGN + STOP_PROMOTIONS, browse=False),
)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("case", SHOP_CASES, ids=[c.name for c in SHOP_CASES])
async def test_every_cod_transfer_and_consent_button_reaches_its_handler(
        aiohttp_client: AiohttpClient, settings: Settings, graph: FakeGraphApi,
        tmp_path: Path, case: ShopCase, language: str) -> None:
    from webhooks.app import create_app

    shop_settings = settings.with_(shop_dir=case.make(tmp_path)).with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN)
    h = Harness(await aiohttp_client(create_app(shop_settings)), shop_settings, graph,
                case.address)
    explored = await explore(h, language, case.foreign, case.browse)
    found = {t.payload for t in explored.taps} | _prefixes(explored)
    assert case.wanted <= found, sorted(case.wanted - found)
    await _tap_everything(h, explored, language)


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
