"""``haat test``: conversation tests in YAML (docs/DESIGN.md §1.7) against the real app.

Each case runs the whole server in-process on a fresh SQLite file, talks to it through the
simulator route exactly like a phone would, and checks what came back. ``wait`` moves the
app's clock and runs whatever became due (reminders, expiries); ``pay`` settles the shopper's
open payment request through its test PSP (a provider that declares ``simulate``, as the
sandbox does), which calls back over real HTTP.
"""

from __future__ import annotations

import re
import secrets
import socket
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from config.clock import Clock
from config.settings import Settings

STEP_KINDS = ("user", "button", "order", "pay", "wait", "merchant")
EXPECT_KEYS = ("reply", "intent", "cart", "order_status")
SCRIPTS = {
    "hi": re.compile(r"[\u0900-\u097F]"),
    "bn": re.compile(r"[\u0980-\u09FF]"),
    "ar": re.compile(r"[\u0600-\u06FF]"),
}


class CaseError(ValueError):
    """The test file itself is malformed."""


@dataclass
class Outcome:
    name: str
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def script_of(text: str) -> str:
    """The language whose script dominates ``text`` (Latin → en)."""
    counts = {lang: len(rx.findall(text)) for lang, rx in SCRIPTS.items()}
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] else "en"


def check_reply(expect: Mapping[str, Any], replies: Sequence[Mapping[str, Any]]) -> list[str]:
    texts = []
    for reply in replies:
        parts = [str(reply.get("text", ""))]
        parts += [str(b.get("title", "")) for b in reply.get("buttons", []) or []]
        parts += [str(b.get("title", "")) + " " + str(b.get("description", ""))
                  for b in reply.get("rows", []) or []]
        if reply.get("link"):
            parts.append(str(reply["link"]))
        texts.append("\n".join(parts))
    whole = "\n".join(texts)
    problems = []
    for item in _as_list(expect.get("contains")):
        if item.casefold() not in whole.casefold():
            problems.append(f"reply does not contain {item!r}")
    for item in _as_list(expect.get("not_contains")):
        if item.casefold() in whole.casefold():
            problems.append(f"reply contains {item!r}")
    if (pattern := expect.get("matches")) is not None and not re.search(str(pattern), whole):
        problems.append(f"reply does not match /{pattern}/")
    if (language := expect.get("language")) is not None:
        got = script_of(" ".join(str(r.get("text", "")) for r in replies))
        if got != language:
            problems.append(f"reply is written in {got}, expected {language}")
    if problems:
        problems.append("got: " + (whole.replace("\n", " ⏎ ")[:400] or "(no reply)"))
    return problems


class Runner:
    """One case: a fresh app on a temporary database, driven through HTTP on loopback."""

    def __init__(self, settings: Settings, shop_dir: Path) -> None:
        self.token = secrets.token_urlsafe(12)
        self.tmp = tempfile.TemporaryDirectory(prefix="haat-test-")
        self.clock = Clock()
        self.settings = settings.with_(
            # ``merchant:`` steps speak from the owner's number on the simulator
            shop_dir=shop_dir, simulator_owner=True,
            database_url=f"sqlite:///{Path(self.tmp.name) / 'haat.db'}",
            admin_token=settings.admin_token or secrets.token_hex(16),
            reload_interval_seconds=3600.0).with_env(
            HAAT_SIMULATOR_TOKEN=self.token, **_test_provider_secrets(settings))
        self.runner: web.AppRunner | None = None
        self.base = ""
        self.session: aiohttp.ClientSession | None = None
        self.counter = 0

    async def __aenter__(self) -> Runner:
        from webhooks.app import create_app

        # a test PSP calls back to this server: its public URL is the loopback one
        port = _free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.settings = self.settings.with_(public_url=self.base)
        app = create_app(self.settings, clock=self.clock)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {self.token}"})
        self._open_shop()
        return self

    def _open_shop(self) -> None:
        """Start the clock at a time the shop is open, so a case reads the same whenever
        it runs (outside hours the first answer of the day starts with the away message)."""
        from bot.flows.support import is_open
        from webhooks.keys import SHOPS

        shop = next(iter(self.app[SHOPS].runtimes.values())).shop
        for half_hours in range(7 * 48):
            at = self.clock.now_ms() + half_hours * 30 * 60_000
            if is_open(shop, at):
                self.clock.offset_ms += half_hours * 30 * 60_000
                return

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()
        if self.runner is not None:
            await self.runner.cleanup()
        self.tmp.cleanup()

    @property
    def app(self) -> web.Application:
        assert self.runner is not None
        return self.runner.app

    async def send(self, phone: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        assert self.session is not None
        self.counter += 1
        payload = {"from": phone, "id": f"test-{self.counter}-{secrets.token_hex(4)}", **body}
        async with self.session.post(f"{self.base}/webhooks/simulator",
                                     json=payload) as response:
            return response.status, await response.json()

    async def outbox(self, phone: str) -> list[dict[str, Any]]:
        assert self.session is not None
        async with self.session.get(f"{self.base}/webhooks/simulator/outbox",
                                    params={"to": phone}) as response:
            messages: list[dict[str, Any]] = (await response.json())["messages"]
            return messages

    async def cart(self, phone: str) -> dict[str, int]:
        from webhooks.keys import ENGINE, SHOPS

        shops = self.app[SHOPS]
        runtime = next(iter(shops.runtimes.values()))
        found = await self.app[ENGINE].store.find(runtime.shop.id, _digits(phone))
        sim = [c for c in found if c.key.channel == "simulator"]
        return dict(sim[0].cart) if sim else {}

    async def latest_order_status(self, phone: str) -> str | None:
        from webhooks.keys import PAYMENT_RECORDS

        order = await self.app[PAYMENT_RECORDS].latest_order(_digits(phone))
        return None if order is None else str(order.status)

    async def wait(self, minutes: float) -> None:
        from webhooks.keys import SCHEDULER

        self.clock.advance(minutes=minutes)
        scheduler = self.app.get(SCHEDULER)
        if scheduler is not None:
            await scheduler.run_due()

    async def pay(self, phone: str, outcome: str) -> str | None:
        from webhooks.payment_routes import settle_latest_for_tests

        return await settle_latest_for_tests(self.app, _digits(phone), outcome, self.base)


def _test_provider_secrets(settings: Settings) -> dict[str, str]:
    """Every secret of every test PSP (``simulate``): the one set, else a random one, so
    ``pay:`` steps can sign their callbacks."""
    from payments.providers.registry import PROVIDER_CLASSES

    return {opt.env: settings.env.get(opt.env) or secrets.token_hex(16)
            for cls in PROVIDER_CLASSES if "simulate" in cls.capabilities
            for opt in cls.options if opt.secret}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit()) or phone


def load_cases(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise CaseError(f"{path}: a conversation test file is a YAML list of cases")
    for number, case in enumerate(data, 1):
        if not isinstance(case, dict) or "name" not in case or "steps" not in case:
            raise CaseError(f"{path}: case {number} needs 'name' and 'steps'")
        for step in case["steps"]:
            kinds = [k for k in STEP_KINDS if k in step]
            if len(kinds) != 1:
                raise CaseError(f"{path}: {case['name']}: each step has exactly one of "
                                f"{', '.join(STEP_KINDS)}")
            unknown = set(step) - set(STEP_KINDS) - set(EXPECT_KEYS)
            if unknown:
                raise CaseError(f"{path}: {case['name']}: unknown step keys {sorted(unknown)}")
    return data


async def run_case(case: Mapping[str, Any], settings: Settings, base_dir: Path) -> Outcome:
    outcome = Outcome(str(case["name"]))
    shop_dir = Path(case["shop"]) if case.get("shop") else Path(settings.shop_dir)
    if not shop_dir.is_absolute() and case.get("shop"):
        shop_dir = (base_dir / shop_dir).resolve()
    phone = str(case.get("as", "+919000000001"))
    async with Runner(settings, shop_dir) as runner:
        from webhooks.keys import SHOPS

        shop = next(iter(runner.app[SHOPS].runtimes.values())).shop
        owner = shop.owners[0] if shop.owners else "+10000000000"
        for number, step in enumerate(case["steps"], 1):
            where = f"step {number}"
            replies, intent, problem = await _act(runner, step, phone, owner)
            if problem is not None:
                outcome.failures.append(f"{where}: {problem}")
                break
            if "merchant" not in step and owner != phone:
                await runner.outbox(owner)  # owner alerts are not the shopper's replies
            failures = await _expectations(runner, step, phone, replies, intent)
            outcome.failures += [f"{where}: {f}" for f in failures]
    return outcome


async def _act(runner: Runner, step: Mapping[str, Any], phone: str, owner: str
               ) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """Do what a step says (send, pay, wait): its replies, the intent the simulator
    understood, and the problem that ends the case, if any."""
    replies: list[dict[str, Any]] = []
    intent: str | None = None
    if "user" in step or "button" in step or "order" in step or "merchant" in step:
        sender = owner if "merchant" in step else phone
        if "user" in step:
            body: dict[str, Any] = {"text": str(step["user"])}
        elif "merchant" in step:
            body = {"text": str(step["merchant"])}
        elif "button" in step:
            body = {"button": str(step["button"])}
        else:
            body = {"order": step["order"]}
        status, data = await runner.send(sender, body)
        if status != 200:
            return replies, intent, f"HTTP {status}: {data}"
        replies = list(data.get("replies", []))
        intent = data.get("intent")
        replies += await runner.outbox(sender)
    elif "pay" in step:
        problem = await runner.pay(phone, str(step["pay"]))
        if problem:
            return replies, intent, f"pay: {problem}"
        replies = await runner.outbox(phone)
    elif "wait" in step:
        await runner.wait(float(step["wait"]))
        replies = await runner.outbox(phone)
    return replies, intent, None


async def _expectations(runner: Runner, step: Mapping[str, Any], phone: str,
                        replies: list[dict[str, Any]], intent: str | None) -> list[str]:
    """What a step expected and did not get."""
    failures: list[str] = []
    if "reply" in step:
        failures += check_reply(step["reply"] or {}, replies)
    if "intent" in step and intent != step["intent"]:
        failures.append(f"intent was {intent!r}, expected {step['intent']!r}")
    if "cart" in step:
        want = {str(k): int(v) for k, v in (step["cart"] or {}).items()}
        got = await runner.cart(phone)
        if got != want:
            failures.append(f"cart is {got}, expected {want}")
    if "order_status" in step:
        got_status = await runner.latest_order_status(phone)
        if got_status != step["order_status"]:
            failures.append(f"order status is {got_status!r}, "
                            f"expected {step['order_status']!r}")
    return failures


async def run_files(files: Sequence[Path], settings: Settings, *,
                    verbose: bool = False) -> tuple[int, int, str]:
    passed = failed = 0
    lines: list[str] = []
    for path in files:
        try:
            cases = load_cases(path)
        except (CaseError, yaml.YAMLError, OSError) as exc:
            failed += 1
            lines.append(f"ERROR {path}: {exc}")
            continue
        for case in cases:
            outcome = await run_case(case, settings, path.parent)
            if outcome.passed:
                passed += 1
                if verbose:
                    lines.append(f"ok   {path.name}: {outcome.name}")
            else:
                failed += 1
                lines.append(f"FAIL {path.name}: {outcome.name}")
                lines += [f"     {f}" for f in outcome.failures]
    return passed, failed, "\n".join(lines)
