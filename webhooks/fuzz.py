"""``haat fuzz``: generated hostile requests, validly signed, against a real ``haat serve``.

It starts ``haat serve`` on a loopback port with fresh secrets and a throwaway SQLite file,
beside a sink that answers the Graph API's and Twilio's send endpoints, places a few real
orders (so the payment pages have real tokens), then sends ``--count`` requests spread over
every route: each channel's webhook, each provider's callback, the payment page and its
actions, the admin API, health and metrics. Bodies are structure-aware mutations of the
real fixtures in ``tests/fixtures`` (type confusion, huge numbers, deep nesting, unicode:
surrogates, RTL, emoji, NUL; oversized fields, deleted and unknown keys) and random bytes,
signed the way each route checks (X-Hub-Signature-256, X-Twilio-Signature, the sandbox and
Razorpay HMACs, bearer tokens). It prints the status codes per route and the slowest
answer, by the server's own time and on the fuzzer's clock (the server, started with
``HAAT_SERVER_TIMING=1``, says in each answer how much of its time the machine kept it from
running: webhooks/timing.py); every request answered 5xx, or with more than ``--slow``
seconds of the server's own time, is written to ``--corpus`` (replayed by
tests/e2e/test_fuzz_corpus.py). Exit status 1 when there was any.
docs/RELIABILITY.md "Hostile input" has the figures of a full run.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp import web
from multidict import MultiDict
from yarl import URL

from config import wire
from security.signatures import hmac_sha256_hex
from webhooks import timing
from webhooks.security import meta_signature, twilio_signature

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
DEFAULT_CORPUS = ROOT / "tests" / "fuzz_corpus"
BUSINESS = "919800000000"  # the demo shop's number (config/shop.yaml)
ACCOUNT_SID = "AC" + "f" * 32
PROVIDER_CALLBACK = "POST /webhooks/payments/{provider}"


# ---- raw JSON: lets a generated tree hold literals json.dumps cannot write ----------------


@dataclass(frozen=True, slots=True)
class Raw:
    """A JSON fragment written as is: ``1E+1000000``, 5,000 digits, ``NaN``, ``"\\ud800"``."""

    text: str


def dump(value: Any) -> str:
    """JSON text of a tree that may hold :class:`Raw` fragments."""
    raws: list[str] = []

    def placeholder(item: object) -> str:
        if not isinstance(item, Raw):
            raise TypeError(type(item).__name__)
        raws.append(item.text)
        return f"@@raw{len(raws) - 1}@@"

    text = json.dumps(value, default=placeholder, ensure_ascii=False)
    if not raws:
        return text
    return _PLACEHOLDER.sub(lambda m: raws[int(m.group(1))], text)


_PLACEHOLDER = re.compile(r'"@@raw(\d+)@@"')


# ---- hostile values ---------------------------------------------------------------------


def _deep(rng: random.Random) -> Raw:
    # a few very deep (200 KB) bodies; most just past the limits that matter (32, 1,000)
    depth = rng.choices([33, 100, 999, 1001, 5000, 100_000], [5, 3, 3, 3, 2, 0.3])[0]
    opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
    return Raw(opener * depth + ("1" if opener != "[" else "") + closer * depth)


_STRINGS = [
    "", " ", "²", "٣", "१२३", "½", "9" * 4301, "-1", "0", "1e9", "1E+1000000", "NaN",
    "\u202eRTL override", "مرحبا بالعالم", "हिंदी", "বাংলা", "😀" * 50, "👨‍👩‍👧‍👦",
    "\u0000", "a\u0000b",
    "\ufeffBOM", "e\u0301" * 20, "\u200b\u200c\u200d", "ﷺ" * 100, "null", "true", "[]", "{}",
    "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd", "%00", "%ED%A0%80",
    "whatsapp:+", "+" + "9" * 40, "ORD-" + "9" * 30, "US.", "." * 64, "\\", '"',
]
_RAWS = [
    "9" * 5000, "-" + "9" * 4400, "1E+1000000", "1e-1000000", "-1E+400", "1e308", "1e309",
    "NaN", "Infinity", "-Infinity", "9223372036854775808", "-9223372036854775809",
    "18446744073709551616", "4611686018427387904", "0.1" + "0" * 5000 + "1", "-0", "1.0",
    '"\\ud800"', '"\\udfff"', '"a\\ud800b"', '"\\ud83d\\ude00"', '"\\u0000"', '"\\uffff"',
    '"\\u202e"', "1" * 19, "99999999999",
]


# percent-escapes that decode to no valid UTF-8 (a lone surrogate, overlong forms), NUL, RTL
_RAW_QUERY = ["%ED%A0%80", "%FF%FE", "%00", "%C0%AF", "%", "%zz", "%E2%80%AE", "%F0%9F",
              "%2B919800000000", "a%00b", "%" * 50]


def hostile_value(rng: random.Random) -> Any:
    """One value chosen to break a parser that trusts types, sizes or encodings."""
    roll = rng.random()
    if roll < 0.25:
        return Raw(rng.choice(_RAWS))
    if roll < 0.5:
        return rng.choice(_STRINGS)
    if roll < 0.6:
        return _deep(rng)
    if roll < 0.7:
        size = rng.choices([300, 5000, 70_000, 300_000], [20, 6, 1, 0.2])[0]
        return rng.choice(["x", "é", "😀", "9", "\u0000", " "]) * size
    if roll < 0.78:
        return rng.choice([0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, -(2**63), 10**18, 7])
    if roll < 0.86:
        return rng.choice([True, False, None, [], {}, [None], {"": ""}, 1.5, -0.0])
    if roll < 0.93:
        return [rng.choice(_STRINGS)[:50]
                for _ in range(rng.choices([1, 3, 100, 3000], [5, 5, 3, 0.5])[0])]
    return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x80, 0x2FFF),
                                   rng.randrange(0x1F300, 0x1FAFF)]))
                   for _ in range(rng.randrange(1, 40)))


def _paths(tree: Any) -> list[tuple[Any, Any]]:
    """(container, key) of every node of a JSON tree (iterative)."""
    found: list[tuple[Any, Any]] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            found.append((node, key))
            if len(found) >= 5000:
                return found
            if isinstance(child, dict | list):
                stack.append(child)
    return found


def _small(value: Any, budget: int = 500) -> bool:
    """At most ``budget`` characters of JSON (estimated): safe to repeat 2,000 times."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Raw | str):
            budget -= len(item.text if isinstance(item, Raw) else item) + 2
        elif isinstance(item, dict):
            budget -= 2 + 4 * len(item)
            stack.extend(item.values())
            budget -= sum(len(str(k)) for k in item)
        elif isinstance(item, list):
            budget -= 2 + len(item)
            stack.extend(item)
        else:
            budget -= 8
        if budget < 0:
            return False
    return True


MAX_SENT = 1_200_000  # a little over the server's 1 MB cap, so 413 is exercised too


def mutate_tree(tree: Any, rng: random.Random) -> Any:
    """A deep copy of ``tree`` with 1–4 structure-aware mutations."""
    tree = json.loads(json.dumps(tree))
    for _ in range(rng.choice([1, 1, 2, 3, 4])):
        nodes = _paths(tree) if isinstance(tree, dict | list) else []
        if not nodes:
            return hostile_value(rng)
        parent, key = rng.choice(nodes)
        roll = rng.random()
        if roll < 0.55:
            parent[key] = hostile_value(rng)
        elif roll < 0.65 and isinstance(parent, dict):
            del parent[key]
        elif roll < 0.75 and _small(parent[key]):
            # shared references: mutating one copy later would mutate them all, so last
            parent[key] = [parent[key]] * rng.choice([2, 50, 2000])
            break
        elif roll < 0.82 and isinstance(parent, dict):
            parent[rng.choice(_STRINGS) or "k"] = hostile_value(rng)
        elif roll < 0.9:
            child = parent[key]
            parent[key] = (str(child) if not isinstance(child, str) else
                           rng.choice([Raw(child) if child.isdigit() else 5, [child], {}]))
        else:
            parent[key] = {"a": parent[key]} if rng.random() < 0.5 else [parent[key]]
    return tree


def mutate_bytes(body: bytes, rng: random.Random) -> bytes:
    """Byte-level damage: flips, cuts, inserted junk, or random bytes altogether."""
    roll = rng.random()
    if roll < 0.15 or not body:
        return rng.randbytes(rng.choice([0, 1, 16, 1000, 100_000]))
    data = bytearray(body)
    if roll < 0.4:
        for _ in range(rng.randrange(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif roll < 0.6:
        del data[rng.randrange(len(data)):]
    elif roll < 0.8:
        at = rng.randrange(len(data) + 1)
        data[at:at] = rng.choice([b"\x00", b"\xff\xfe", b"\xed\xa0\x80", b"\\ud800", b"[[[[",
                                  b'"', b"}", b",", b"\r\n", rng.randbytes(32)])
    else:
        copies = min(rng.choices([2, 20, 200], [10, 3, 0.5])[0], MAX_SENT // len(data) + 1)
        data = data * copies
    return bytes(data[:MAX_SENT])


# ---- cases --------------------------------------------------------------------------------


@dataclass
class Case:
    route: str
    method: str
    path: str  # percent-encoded; may contain "{token}" for a real payment token
    body: bytes = b""
    sign: str = ""  # meta | twilio | sandbox | razorpay | simulator | admin | ""
    content_type: str = ""
    forged: bool = False  # a wrong signature on purpose (expect 403)
    app_route: str = ""  # "METHOD /canonical/{path}" of the app's router it was made for


@dataclass
class Secrets:
    app_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    verify_token: str = field(default_factory=lambda: secrets.token_hex(8))
    twilio_token: str = field(default_factory=lambda: secrets.token_hex(16))
    sandbox: str = field(default_factory=lambda: secrets.token_hex(16))
    razorpay: str = field(default_factory=lambda: secrets.token_hex(16))
    simulator: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    admin: str = field(default_factory=lambda: secrets.token_urlsafe(12))


def sign(case: Case, keys: Secrets, public_base: str) -> dict[str, str]:
    """The headers that make ``case`` pass its route's signature or token check."""
    headers: dict[str, str] = {}
    if case.content_type:
        headers["Content-Type"] = case.content_type
    body = case.body
    if case.sign == "meta":
        headers["X-Hub-Signature-256"] = meta_signature(body, keys.app_secret)
    elif case.sign == "twilio":
        try:
            # as the server decodes them (and as fast: urllib's took the fuzzer 0.7 s a MB)
            params: Any = MultiDict(wire.form_pairs(body, max_fields=len(body) + 1))
            headers["X-Twilio-Signature"] = twilio_signature(
                public_base + case.path, params, keys.twilio_token)
        except (UnicodeDecodeError, ValueError):
            headers["X-Twilio-Signature"] = "not-computable"
    elif case.sign == "sandbox":
        headers["X-Sandbox-Signature"] = "sha256=" + hmac_sha256_hex(keys.sandbox, body)
    elif case.sign == "razorpay":
        headers["X-Razorpay-Signature"] = hmac_sha256_hex(keys.razorpay, body)
        headers["X-Razorpay-Event-Id"] = "evt_" + hashlib.sha256(body).hexdigest()[:14]
    elif case.sign == "simulator":
        headers["Authorization"] = f"Bearer {keys.simulator}"
    elif case.sign == "admin":
        headers["Authorization"] = f"Bearer {keys.admin}"
    elif case.sign == "sandbox_bearer":  # the payment page's simulate action
        headers["Authorization"] = f"Bearer {keys.sandbox}"
    if case.forged:
        for name in list(headers):
            if name != "Content-Type":
                headers[name] = headers[name][:-4] + "AAAA"
    return headers


def _load_fixtures(folder: Path, prefix: str) -> list[Any]:
    out = []
    for path in sorted(folder.glob(f"{prefix}*.json")):
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return out


def _cloud_seed(rng: random.Random) -> dict[str, Any]:
    text = rng.choice(["hi", "menu", "2 samosa", "checkout", "price of chai", "ship ORD-1001"])
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": BUSINESS, "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Fuzz"}, "wa_id": "919000000999"}],
            "messages": [{"from": "919000000999", "id": "wamid.F" + secrets.token_hex(8),
                          "timestamp": "1700000000", "type": "text", "text": {"body": text}}]}}]}]}


def _to_business(envelope: Any) -> Any:
    """A copy of a Cloud envelope addressed to the demo shop's number."""
    copy = json.loads(json.dumps(envelope))
    entries = copy.get("entry") if isinstance(copy, dict) else None
    values = [copy] if entries is None else [
        change.get("value") for entry in entries if isinstance(entry, dict)
        for change in entry.get("changes") or () if isinstance(change, dict)]
    for value in values:
        if isinstance(value, dict) and isinstance(value.get("metadata"), dict):
            value["metadata"]["display_phone_number"] = BUSINESS
    return copy


def app_routes(environ: dict[str, str]) -> list[str]:
    """Every route of the app ``haat serve`` builds from ``environ``, read from its router
    ("METHOD /canonical/{path}"; the HEAD aiohttp adds beside each GET left out), so a route
    added to webhooks/ is fuzzed from the first run (``Generator``'s ``generic_case``)."""
    from config.settings import Settings
    from webhooks.app import create_app

    app = create_app(Settings.from_env(environ))
    return sorted({f"{r.method} {r.resource.canonical}" for r in app.router.routes()
                   if r.resource is not None and r.method != "HEAD"})


class Generator:
    """Cases for every route, from the fixtures and a seeded random source."""

    def __init__(self, rng: random.Random, fixtures: Path = FIXTURES,
                 app_routes: Iterable[str] = ()) -> None:
        self.rng = rng
        channels = fixtures / "channels"
        self.cloud = [f for f in _load_fixtures(channels, "cloud_") if isinstance(f, dict)
                      and ("entry" in f or "messages" in f or "statuses" in f)]
        self.twilio = [f for f in _load_fixtures(channels, "twilio_") if isinstance(f, dict)]
        self.razorpay = [f for f in _load_fixtures(fixtures / "payments" / "razorpay", "")
                         if isinstance(f, dict) and "event" in f]
        self.tokens: list[str] = []
        self.broadcasts: list[str] = []  # ids of real broadcasts (_seed_broadcast)
        # (the app's route it hits, its weight, its maker); a case's own label may be finer
        # (each provider of POST /webhooks/payments/{provider} is counted apart)
        self.routes: list[tuple[str, float, Callable[[], Case]]] = [
            ("POST /webhooks/whatsapp", 22, self.cloud_case),
            ("GET /webhooks/whatsapp", 3, self.cloud_verify_case),
            ("POST /webhooks/twilio", 18, self.twilio_case),
            ("POST /webhooks/simulator", 12, self.simulator_case),
            ("GET /webhooks/simulator/outbox", 2, self.simulator_outbox_case),
            (PROVIDER_CALLBACK, 9, self.sandbox_case),
            (PROVIDER_CALLBACK, 9, self.razorpay_case),
            (PROVIDER_CALLBACK, 2, self.other_provider_case),
            ("GET /pay/{token}", 4, lambda: self.pay_case("")),
            ("GET /pay/{token}/status", 3, lambda: self.pay_case("/status")),
            ("GET /pay/{token}/qr.png", 2, lambda: self.pay_case("/qr.png")),
            ("POST /pay/{token}/sandbox", 3, self.pay_sandbox_case),
            ("GET /receipt/{token}", 2, lambda: self.receipt_case("")),
            ("GET /receipt/{token}/qr.png", 1, lambda: self.receipt_case("/qr.png")),
            ("GET /api/orders", 3, self.api_orders_case),
            ("GET /api/outbox", 2, self.api_outbox_case),
            ("GET /api/cod", 2, self.api_cod_case),
            ("GET /api/invoices", 2, self.api_invoices_case),
            ("POST /api/orders/{order}/status", 3, lambda: self.api_post_case("status")),
            ("POST /api/orders/{order}/refund", 3, lambda: self.api_post_case("refund")),
            ("POST /api/orders/{order}/refunded", 2, lambda: self.api_post_case("refunded")),
            ("POST /api/broadcasts", 1, self.broadcast_create_case),
            ("GET /api/broadcasts", 1, self.broadcast_list_case),
            ("GET /api/broadcasts/{broadcast}", 1, lambda: self.broadcast_case("")),
            ("POST /api/broadcasts/{broadcast}/resume", 1,
             lambda: self.broadcast_case("/resume")),
            ("GET /healthz", 1, lambda: self.health_case("/healthz")),
            ("GET /readyz", 1, lambda: self.health_case("/readyz")),
            ("GET /metrics", 1, lambda: self.health_case("/metrics")),
        ]
        self.dedicated = frozenset(route for route, _, _ in self.routes)
        self.generic: list[str] = []  # app routes without a maker of their own (see cover)
        for route in sorted(set(app_routes) - self.dedicated):
            self.generic.append(route)
            self.routes.append((route, 2, functools.partial(self.generic_case, route)))
        self._weights = [w for _, w, _ in self.routes]

    def next(self) -> Case:
        route, _, make = self.rng.choices(self.routes, weights=self._weights)[0]
        case = make()
        case.app_route = route
        if case.sign and self.rng.random() < 0.03:
            case.forged = True
        return case

    def _json_body(self, seed: Any) -> bytes:
        roll = self.rng.random()
        if roll < 0.12:
            return dump(seed).encode("utf-8", "surrogatepass")
        tree = mutate_tree(seed, self.rng)
        body = dump(tree).encode("utf-8", "surrogatepass")[:MAX_SENT]
        return mutate_bytes(body, self.rng) if roll > 0.88 else body

    def cloud_case(self) -> Case:
        seed = (self.rng.choice(self.cloud) if self.cloud and self.rng.random() < 0.8
                else _cloud_seed(self.rng))
        if self.rng.random() < 0.3:  # sent to the demo shop, so the turn runs too
            seed = _to_business(seed)
        return Case("POST /webhooks/whatsapp", "POST", "/webhooks/whatsapp",
                    self._json_body(seed), "meta", "application/json")

    def cloud_verify_case(self) -> Case:
        query = {"hub.mode": self.rng.choice(["subscribe", "unsubscribe", "", "²"]),
                 "hub.verify_token": self.rng.choice(["{verify}", "wrong", "", "\u0000"]),
                 "hub.challenge": str(self.rng.choice(_STRINGS))[:2000]}
        if self.rng.random() < 0.3:
            query.pop(self.rng.choice(list(query)))
        path = "/webhooks/whatsapp?" + urlencode(
            query, quote_via=lambda v, *_: quote(v, safe="{}"))
        if self.rng.random() < 0.3:  # an undecodable challenge, with the right token
            path = ("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={verify}"
                    "&hub.challenge=" + self.rng.choice(_RAW_QUERY))
        return Case("GET /webhooks/whatsapp", "GET", path)

    def twilio_case(self) -> Case:
        seed: dict[str, Any] = dict(self.rng.choice(self.twilio)) if self.twilio else {}
        seed.setdefault("MessageSid", "SM" + secrets.token_hex(16))
        seed["MessageSid"] = "SM" + secrets.token_hex(16)
        seed["To"] = "whatsapp:+" + BUSINESS
        pairs: list[tuple[str, str]] = [(str(k), str(v)) for k, v in seed.items()]
        for _ in range(self.rng.choice([1, 1, 2, 3])):
            roll = self.rng.random()
            if roll < 0.6 and pairs:
                i = self.rng.randrange(len(pairs))
                value = hostile_value(self.rng)
                text = value.text if isinstance(value, Raw) else (
                    value if isinstance(value, str) else json.dumps(value, default=str))
                pairs[i] = (pairs[i][0], text[: self.rng.choices([5000, 200_000], [50, 1])[0]])
            elif roll < 0.7 and pairs:
                pairs.pop(self.rng.randrange(len(pairs)))
            elif roll < 0.8:
                pairs += [(self.rng.choice(["X", "Body", "NumMedia", "MediaUrl0"]), "y")] * (
                    self.rng.choice([1, 10, 300]))
            else:
                pairs.append((str(self.rng.choice(_STRINGS)), str(self.rng.choice(_STRINGS))))
        body = urlencode(pairs, encoding="utf-8", errors="surrogatepass").encode()[:MAX_SENT]
        if self.rng.random() < 0.1:
            body = mutate_bytes(body, self.rng)
        content_type = self.rng.choice(["application/x-www-form-urlencoded"] * 9
                                       + ["application/json", ""])
        return Case("POST /webhooks/twilio", "POST", "/webhooks/twilio", body, "twilio",
                    content_type)

    def simulator_case(self) -> Case:
        seed: dict[str, Any] = {"from": "+9190000" + str(self.rng.randrange(10000, 99999)),
                                "text": self.rng.choice(["hi", "2 samosa", "menu", "checkout"])}
        roll = self.rng.random()
        if roll < 0.3:
            seed = {"from": seed["from"], "order": [{"sku": "SAMOSA", "qty": 2,
                                                     "price_minor": 1200}]}
        elif roll < 0.45:
            seed = {"from": seed["from"], "button": "confirm", "id": secrets.token_hex(6)}
        elif roll < 0.55:
            seed = {"from": "+919811111111", "text": "ship ORD-1001"}  # the owner's number
        return Case("POST /webhooks/simulator", "POST", "/webhooks/simulator",
                    self._json_body(seed), "simulator", "application/json")

    def simulator_outbox_case(self) -> Case:
        to = str(self.rng.choice(["+919000012345", *_STRINGS]))[:3000]
        query = urlencode({"to": to}, quote_via=quote)
        if self.rng.random() < 0.3:
            query = "to=" + self.rng.choice(_RAW_QUERY)
        return Case("GET /webhooks/simulator/outbox", "GET",
                    "/webhooks/simulator/outbox?" + query, sign="simulator")

    def sandbox_case(self) -> Case:
        seed = {"amount": 5400, "created_at": 1767225600, "currency": "INR",
                "id": "sevt_" + secrets.token_hex(8), "payment_id": "spay_" + secrets.token_hex(4),
                "ref": "slink_" + secrets.token_hex(8), "reference": "ORD-1001-1",
                "refund_id": None, "type": self.rng.choice([
                    "payment.captured", "payment.failed", "request.expired", "refund.processed",
                    "payment.authorized", "bogus"])}
        return Case("POST /webhooks/payments/sandbox", "POST", "/webhooks/payments/sandbox",
                    self._json_body(seed), "sandbox", "application/json")

    def razorpay_case(self) -> Case:
        seed = self.rng.choice(self.razorpay) if self.razorpay else {
            "event": "payment.captured", "payload": {"payment": {"entity": {
                "id": "pay_1", "amount": 100, "currency": "INR"}}}}
        return Case("POST /webhooks/payments/razorpay", "POST", "/webhooks/payments/razorpay",
                    self._json_body(seed), "razorpay", "application/json")

    def other_provider_case(self) -> Case:
        name = self.rng.choice(["upi_intent", "stripe", "%ED%A0%80", "x" * 300, "..%2F.."])
        return Case("POST /webhooks/payments/{other}", "POST", f"/webhooks/payments/{name}",
                    self.rng.randbytes(self.rng.choice([0, 10, 1000])), "sandbox")

    def _token(self) -> str:
        roll = self.rng.random()
        if roll < 0.6:
            return "{token}"
        if roll < 0.7:
            return quote(str(self.rng.choice(_STRINGS))[:500], safe="") or "x"
        if roll < 0.8:
            return self.rng.choice(_RAW_QUERY) * self.rng.choice([1, 5, 30])
        real = self.rng.choice(self.tokens) if self.tokens else "a" * 32
        return quote(real[: self.rng.randrange(len(real))] + self.rng.choice(
            ["", "²", "%00", "A" * 40, "-_"]), safe="%")

    def pay_case(self, suffix: str) -> Case:
        route = "GET /pay/{token}" + suffix
        return Case(route, "GET", f"/pay/{self._token()}{suffix}")

    def receipt_case(self, suffix: str) -> Case:
        query = ""
        if not suffix and self.rng.random() < 0.5:
            query = "?lang=" + quote(str(self.rng.choice(["ar", "bn", *_STRINGS]))[:300],
                                     safe="")
        return Case(f"GET /receipt/{{token}}{suffix}", "GET",
                    f"/receipt/{self._token()}{suffix}{query}")

    def pay_sandbox_case(self) -> Case:
        seed = {"outcome": self.rng.choice(["success", "failure", "expire", "other"])}
        sign_as = self.rng.choice(["admin", "sandbox_bearer", ""])
        return Case("POST /pay/{token}/sandbox", "POST", f"/pay/{self._token()}/sandbox",
                    self._json_body(seed), sign_as, "application/json")

    def api_orders_case(self) -> Case:
        query = {"customer": str(self.rng.choice(["+919000000999", *_STRINGS]))[:3000]}
        if self.rng.random() < 0.3:
            query["shop"] = str(self.rng.choice(_STRINGS))[:300]
        encoded = urlencode(query, quote_via=quote)
        if self.rng.random() < 0.3:
            encoded = f"customer={self.rng.choice(_RAW_QUERY)}&shop={self.rng.choice(_RAW_QUERY)}"
        return Case("GET /api/orders", "GET", "/api/orders?" + encoded, sign="admin")

    def api_outbox_case(self) -> Case:
        hostile = ["0", "-5", "10" * 40, *_STRINGS]
        query = {"limit": str(self.rng.choice(["1", "20", "1000"] if self.rng.random() < 0.5
                                              else hostile))}
        if self.rng.random() < 0.3:
            query["shop"] = str(self.rng.choice(_STRINGS))[:300]
        encoded = urlencode(query, quote_via=quote)
        if self.rng.random() < 0.3:
            encoded = f"limit={self.rng.choice(_RAW_QUERY)}&shop={self.rng.choice(_RAW_QUERY)}"
        return Case("GET /api/outbox", "GET", "/api/outbox?" + encoded, sign="admin")

    def api_post_case(self, action: str) -> Case:
        label = self.rng.choice(["ORD-1001", "ORD-1002", "ORD-1", "1001", *_STRINGS[:20]])
        seed: dict[str, Any] = {"status": self.rng.choice(["shipped", "delivered", "cancelled",
                                                           "paid", "returned"])}
        if action == "refund":
            seed = {"amount_minor": 100}
        elif action == "refunded":
            seed = {"amount_minor": self.rng.choice([100, "100", 10**30]),
                    "reference": self.rng.choice(["123456789012", "", "x" * 300])}
        return Case(f"POST /api/orders/{{order}}/{action}", "POST",
                    f"/api/orders/{quote(str(label)[:300], safe='') or 'x'}/{action}",
                    self._json_body(seed), "admin", "application/json")

    def health_case(self, path: str) -> Case:
        query = self.rng.choice(["", "", "?x=%00", "?" + self.rng.choice(_RAW_QUERY)])
        return Case(f"GET {path}", "GET", path + query)

    def _shop_query(self, extra: dict[str, str]) -> str:
        """``?shop=`` (the demo shop's id, or hostile) and ``extra``, sometimes undecodable."""
        query = dict(extra)
        if self.rng.random() < 0.5:
            query["shop"] = "config" if self.rng.random() < 0.5 else str(  # the demo shop
                self.rng.choice(_STRINGS))[:300]
        encoded = urlencode(query, quote_via=quote)
        if self.rng.random() < 0.2:
            encoded += "&shop=" + self.rng.choice(_RAW_QUERY)
        return "?" + encoded if encoded else ""

    def api_cod_case(self) -> Case:
        extra = {"amounts": self.rng.choice(["number", "string", *_STRINGS])[:300]} \
            if self.rng.random() < 0.5 else {}
        return Case("GET /api/cod", "GET", "/api/cod" + self._shop_query(extra), sign="admin")

    def api_invoices_case(self) -> Case:
        extra = {"fy": str(self.rng.choice(["2026", "2025", "1", "99999", "٢٠٢٦",
                                            *_STRINGS]))[:300]} if self.rng.random() < 0.6 else {}
        return Case("GET /api/invoices", "GET", "/api/invoices" + self._shop_query(extra),
                    sign="admin")

    def broadcast_create_case(self) -> Case:
        seed: dict[str, Any] = {
            "template": self.rng.choice(["haat_cart_reminder", "haat_order_paid", "nope"]),
            "segment": self.rng.choice(["all", "all", "recent:30", "recent:0", "product:SAMOSA",
                                        "product:NOPE", "bogus"]),
            "language": self.rng.choice(["en", "hi", "bn", "ar", "en_US", "xx"]),
            "params": self.rng.choice([[], [], ["Diwali"], ["a"] * 11, ["x" * 2000]])}
        return Case("POST /api/broadcasts", "POST", "/api/broadcasts" + self._shop_query({}),
                    self._json_body(seed), "admin", "application/json")

    def broadcast_list_case(self) -> Case:
        return Case("GET /api/broadcasts", "GET", "/api/broadcasts" + self._shop_query({}),
                    sign="admin")

    def broadcast_case(self, suffix: str) -> Case:
        ident = self.rng.choice(self.broadcasts) if self.broadcasts and \
            self.rng.random() < 0.5 else self.rng.choice(["1", "b" + "0" * 31, "x" * 33,
                                                          *_STRINGS[:20]])
        method = "POST" if suffix else "GET"
        return Case(f"{method} /api/broadcasts/{{broadcast}}{suffix}", method,
                    f"/api/broadcasts/{quote(str(ident)[:300], safe='') or 'x'}{suffix}",
                    b"" if method == "GET" else self.rng.randbytes(self.rng.choice([0, 20])),
                    "admin", "application/json")

    def generic_case(self, route: str) -> Case:
        """A route without a maker of its own (one added since): hostile path parameters,
        query and body, with the admin token, so it is fuzzed from the day it exists."""
        method, template = route.split(" ", 1)
        path = re.sub(r"\{[^}]+\}", lambda _: quote(str(self.rng.choice(
            ["1", "ORD-1001", *_STRINGS]))[:300], safe="") or "x", template)
        path += "?" + self.rng.choice(["", "shop=config", "x=" + self.rng.choice(_RAW_QUERY)])
        body = self._json_body({"a": 1}) if method in ("POST", "PUT", "PATCH") else b""
        return Case(route, method, path, body, "admin", "application/json")


# ---- the sink: Graph API and Twilio REST stand-ins so replies have somewhere to go -------


def _sink_app() -> web.Application:
    app = web.Application(client_max_size=4 * 1024 * 1024)

    async def graph(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"messaging_product": "whatsapp", "messages": [
            {"id": "wamid.SINK" + secrets.token_hex(8)}]})

    async def twilio(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"sid": "SM" + secrets.token_hex(16), "status": "queued"},
                                 status=201)

    app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", twilio)
    app.router.add_post("/{number_id}/messages", graph)
    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# ---- running ----------------------------------------------------------------------------


@dataclass
class Report:
    count: int = 0
    by_route: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    slowest: tuple[float, str] = (0.0, "")
    # the most of one answer's time that was the server's own (webhooks/timing.py): the
    # verdict's measure; the rest of an answer's time was queued in the fuzzer or the machine
    slowest_server: tuple[float, str] = (0.0, "")
    most_queued: float = 0.0
    slow_answers: int = 0  # slower than --slow on the fuzzer's clock
    slow_server: int = 0  # ... by the server's own time: findings
    found: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    transport_errors: int = 0
    server_errors_logged: int = 0
    # the fuzzer's own event loop, late by this much at worst: a slow answer seen while the
    # client itself stalled (a starved process on a busy machine) says nothing of the server
    client_stall: float = 0.0
    server_loop_lag: float = 0.0  # haat_loop_lag_max_seconds at the end
    server_loop_busy: float = 0.0  # haat_loop_busy_max_seconds
    server_loop_own_lag: float = 0.0  # haat_loop_own_lag_max_seconds: lateness not starved
    client_run_queue: float = 0.0  # the fuzzer's loop thread waited this long for a CPU
    app_routes: list[str] = field(default_factory=list)  # the served app's router
    by_app_route: Counter[str] = field(default_factory=Counter)
    generic_routes: list[str] = field(default_factory=list)  # fuzzed by generic_case only

    @property
    def routes_not_fuzzed(self) -> list[str]:
        return [r for r in self.app_routes if not self.by_app_route[r]]

    @property
    def server_errors(self) -> int:
        return sum(n for counts in self.by_route.values() for s, n in counts.items() if s >= 500)

    def as_json(self) -> dict[str, Any]:
        return {"count": self.count, "seconds": round(self.seconds, 1),
                "by_route": {r: dict(sorted(c.items())) for r, c in sorted(self.by_route.items())},
                "slowest_seconds": round(self.slowest[0], 3), "slowest_route": self.slowest[1],
                "slowest_server_seconds": round(self.slowest_server[0], 3),
                "slowest_server_route": self.slowest_server[1],
                "most_queued_seconds": round(self.most_queued, 3),
                "slow_answers": self.slow_answers, "slow_server_answers": self.slow_server,
                "server_errors": self.server_errors, "found": len(self.found),
                "transport_errors": self.transport_errors,
                "server_error_log_lines": self.server_errors_logged,
                "client_stall_seconds": round(self.client_stall, 3),
                "server_loop_lag_seconds": round(self.server_loop_lag, 3),
                "server_loop_busy_seconds": round(self.server_loop_busy, 3),
                "server_loop_own_lag_seconds": round(self.server_loop_own_lag, 3),
                "client_run_queue_seconds": round(self.client_run_queue, 3),
                "app_routes": len(self.app_routes), "routes_not_fuzzed": self.routes_not_fuzzed,
                "generic_routes": self.generic_routes}

    def text(self) -> str:
        statuses = sorted({s for c in self.by_route.values() for s in c})
        width = max(len(r) for r in self.by_route) if self.by_route else 10
        lines = [f"{'route':<{width}} " + " ".join(f"{s:>6}" for s in statuses) + "   total"]
        for route, counts in sorted(self.by_route.items()):
            lines.append(f"{route:<{width}} " + " ".join(
                f"{counts.get(s, 0):>6}" for s in statuses) + f" {sum(counts.values()):>7}")
        total: Counter[int] = Counter()
        for counts in self.by_route.values():
            total.update(counts)
        lines.append(f"{'all routes':<{width}} " + " ".join(f"{total.get(s, 0):>6}"
                                                         for s in statuses)
                     + f" {sum(total.values()):>7}")
        lines.append(f"{self.count} requests in {self.seconds:.1f} s "
                     f"({self.count / max(self.seconds, 1e-9):.0f}/s); "
                     f"5xx: {self.server_errors}; kept in the corpus: {len(self.found)}; "
                     f"connection errors: {self.transport_errors}; "
                     f"ERROR lines in the server log: {self.server_errors_logged}")
        lines.append(f"the app's {len(self.app_routes)} routes: not fuzzed "
                     f"{self.routes_not_fuzzed or 'none'}; fuzzed without a maker of their own "
                     f"(add one in webhooks/fuzz.py) {self.generic_routes or 'none'}")
        lines.append(f"server's own time: slowest {self.slowest_server[0] * 1000:.0f} ms on "
                     f"{self.slowest_server[1]}; answers over the limit: {self.slow_server}")
        lines.append(f"on the fuzzer's clock: slowest {self.slowest[0] * 1000:.0f} ms on "
                     f"{self.slowest[1]}; answers over the limit: {self.slow_answers}; most "
                     f"time queued outside the server: {self.most_queued * 1000:.0f} ms")
        lines.append(f"the machine: the fuzzer's loop stalled {self.client_stall * 1000:.0f} ms "
                     f"at worst and waited {self.client_run_queue:.1f} s in all for a CPU; "
                     f"the server's loop ran {self.server_loop_lag * 1000:.0f} ms late at worst, "
                     f"{self.server_loop_own_lag * 1000:.0f} ms of it by its own doing; most "
                     f"CPU the server used in one 0.1 s tick: "
                     f"{self.server_loop_busy * 1000:.0f} ms")
        return "\n".join(lines)


def case_record(case: Case, status: int, seconds: float,
                server_seconds: float | None = None) -> dict[str, Any]:
    """How a found case is kept in the corpus (tests/e2e/test_fuzz_corpus.py replays it).

    Bodies over 4 KB are stored zlib-compressed (deep nesting shrinks a thousandfold).
    """
    record: dict[str, Any] = {
        "route": case.route, "method": case.method, "path": case.path, "sign": case.sign,
        "content_type": case.content_type, "forged": case.forged, "status": status,
        "seconds": round(seconds, 3),
        "server_seconds": round(seconds if server_seconds is None else server_seconds, 3)}
    if len(case.body) > 4096:
        record["body_zlib_b64"] = base64.b64encode(zlib.compress(case.body, 9)).decode()
    else:
        record["body_b64"] = base64.b64encode(case.body).decode()
    return record


def case_from_record(record: dict[str, Any]) -> Case:
    """The :class:`Case` a corpus file holds."""
    if "body_zlib_b64" in record:
        body = zlib.decompress(base64.b64decode(record["body_zlib_b64"]))
    else:
        body = base64.b64decode(record.get("body_b64", ""))
    return Case(str(record["route"]), str(record["method"]), str(record["path"]), body,
                str(record.get("sign", "")), str(record.get("content_type", "")),
                bool(record.get("forged", False)))


async def _seed_orders(session: aiohttp.ClientSession, base: str, keys: Secrets,
                       count: int) -> list[str]:
    """Real orders through the simulator; their payment tokens."""
    tokens: list[str] = []
    headers = {"Authorization": f"Bearer {keys.simulator}"}
    for n in range(count):
        phone = f"+91900000{n:04d}"
        reply: dict[str, Any] = {}
        for body in ({"text": "2 samosa"}, {"text": "checkout"},
                     {"text": "12 Salt Lake, Sector 1, Kolkata"}, {"button": "confirm"}):
            async with session.post(f"{base}/webhooks/simulator", json={"from": phone, **body},
                                    headers=headers) as response:
                reply = await response.json()
        for item in reply.get("replies", []):
            link = str(item.get("link") or "")
            if "/pay/" in link:
                tokens.append(link.rstrip("/").rsplit("/pay/", 1)[1].split("/")[0])
    return tokens


async def _seed_broadcast(session: aiohttp.ClientSession, base: str, keys: Secrets) -> list[str]:
    """One real broadcast (to nobody yet: nobody opted in), so its id routes are fuzzed on
    a row that exists, not only on 404s."""
    async with session.post(f"{base}/api/broadcasts", json={
            "template": "haat_cart_reminder", "segment": "all", "language": "en"},
            headers={"Authorization": f"Bearer {keys.admin}"}) as response:
        if response.status != 201:
            return []
        return [str((await response.json())["id"])]


class Shot(NamedTuple):
    """One answer: its status (0: the connection failed), its time on the fuzzer's clock,
    and the part of that time that was the server's own (webhooks/timing.py)."""

    status: int
    seconds: float
    server_seconds: float


async def fire(session: aiohttp.ClientSession, base: str, case: Case, keys: Secrets,
               tokens: list[str], rng: random.Random) -> Shot:
    """Send one case. Without a ``Server-Timing`` answer, all of its time is the server's."""
    path = case.path
    if "{token}" in path:
        path = path.replace("{token}", rng.choice(tokens) if tokens else "a" * 32)
    if "{verify}" in path:
        path = path.replace("{verify}", keys.verify_token)
    headers = sign(Case(case.route, case.method, path, case.body, case.sign, case.content_type,
                        case.forged), keys, base)
    started = time.perf_counter()
    try:
        async with session.request(case.method, URL(base + path, encoded=True),
                                   data=case.body if case.method == "POST" else None,
                                   headers=headers, allow_redirects=False) as response:
            await response.read()
            seconds = time.perf_counter() - started
            return Shot(response.status, seconds, timing.server_seconds(
                seconds, timing.parse(response.headers.get(timing.HEADER))))
    except (aiohttp.ClientError, TimeoutError, ValueError):
        seconds = time.perf_counter() - started
        return Shot(0, seconds, seconds)


async def run(base: str, keys: Secrets, *, count: int, seed: int, concurrency: int,
              slow: float, tokens: list[str], fixtures: Path = FIXTURES,
              progress: Callable[[int], None] | None = None,
              routes: Iterable[str] = (), broadcasts: Iterable[str] = ()) -> Report:
    rng = random.Random(seed)
    generator = Generator(rng, fixtures, routes)
    generator.tokens = tokens
    generator.broadcasts = list(broadcasts)
    report = Report(app_routes=sorted(routes), generic_routes=list(generator.generic))
    cases: Iterator[Case] = (generator.next() for _ in range(count))
    started = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def worker() -> None:
            for case in cases:
                status, seconds, own = await fire(session, base, case, keys, tokens, rng)
                report.count += 1
                report.by_route[case.route][status] += 1
                report.by_app_route[case.app_route] += 1
                if status == 0:
                    report.transport_errors += 1
                if seconds > report.slowest[0]:
                    report.slowest = (seconds, case.route)
                if own > report.slowest_server[0]:
                    report.slowest_server = (own, case.route)
                report.most_queued = max(report.most_queued, seconds - own)
                report.slow_answers += seconds > slow
                report.slow_server += own > slow
                if status >= 500 or status == 0 or own > slow:
                    report.found.append(case_record(case, status, seconds, own))
                if progress is not None and report.count % 10_000 == 0:
                    progress(report.count)

        async def heartbeat() -> None:
            while True:
                before = time.perf_counter()
                await asyncio.sleep(0.05)
                report.client_stall = max(report.client_stall,
                                          time.perf_counter() - before - 0.05)

        delay = timing.RunDelay()
        waited = delay.seconds()
        beat = asyncio.create_task(heartbeat())
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
        report.client_run_queue = delay.seconds() - waited
        delay.close()
    report.seconds = time.perf_counter() - started
    return report


def _write_corpus(found: list[dict[str, Any]], corpus: Path) -> list[Path]:
    corpus.mkdir(parents=True, exist_ok=True)
    written = []
    for record in found:
        body = record.get("body_b64") or record.get("body_zlib_b64") or ""
        digest = hashlib.sha256((record["path"] + body).encode()).hexdigest()[:16]
        name = record["route"].split()[-1].strip("/").replace("/", "_").replace("{", "").replace(
            "}", "").replace("|", "_") or "root"
        path = corpus / f"{name}-{digest}.json"
        path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        written.append(path)
    return written


@contextlib.asynccontextmanager
async def _sink() -> Any:
    runner = web.AppRunner(_sink_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def fuzz(*, count: int, seed: int, concurrency: int, slow: float, corpus: Path | None,
               shop: Path | None, orders: int = 5, verbose: bool = True,
               database_url: str | None = None, workers: int = 1) -> Report:
    """Start ``haat serve`` and the sink, fuzz, stop; the report (corpus written)."""
    keys = Secrets()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="haat-fuzz-") as tmp:
        async with _sink() as sink:
            env = dict(os.environ, HAAT_DATABASE_URL=f"sqlite:///{Path(tmp) / 'fuzz.db'}",
                       HAAT_PUBLIC_URL=base, HAAT_SIMULATOR_TOKEN=keys.simulator,
                       HAAT_ADMIN_TOKEN=keys.admin, HAAT_SANDBOX_SECRET=keys.sandbox,
                       WHATSAPP_APP_SECRET=keys.app_secret,
                       WHATSAPP_VERIFY_TOKEN=keys.verify_token,
                       WHATSAPP_ACCESS_TOKEN=secrets.token_hex(8), WHATSAPP_API_BASE_URL=sink,
                       TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=keys.twilio_token,
                       TWILIO_API_BASE_URL=sink, RAZORPAY_WEBHOOK_SECRET=keys.razorpay,
                       RAZORPAY_KEY_ID="rzp_test_fuzz", RAZORPAY_KEY_SECRET=secrets.token_hex(8),
                       RAZORPAY_API_BASE_URL=sink + "/v1", HAAT_LOG_LEVEL="WARNING",
                       # the channels are fakes on loopback: the sandbox is right here
                       HAAT_ALLOW_SANDBOX_WITH_LIVE_CHANNEL="1",
                       # each answer says how much of its time was the server's own
                       HAAT_SERVER_TIMING="1")
            env.pop("HAAT_SIMULATOR_OWNER", None)
            if database_url:
                env["HAAT_DATABASE_URL"] = database_url
            if shop is not None:
                env["HAAT_SHOP_DIR"] = str(shop)
            routes = app_routes(env)
            log_path = Path(tmp) / "serve.log"
            with log_path.open("wb") as log_file:
                proc = subprocess.Popen(  # noqa: S603, ASYNC220 - our own server, on loopback
                    [sys.executable, "-m", "webhooks", "serve", "--host", "127.0.0.1",
                     "--port", str(port), "--workers", str(workers)], env=env,
                    stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT)
                try:
                    await _until_ready(base, proc, log_path)
                    async with aiohttp.ClientSession() as session:
                        tokens = await _seed_orders(session, base, keys, orders)
                        broadcasts = await _seed_broadcast(session, base, keys)
                    if verbose:
                        print(f"haat fuzz: server on {base}, {len(tokens)} payment tokens, "
                              f"{count} cases, seed {seed}", flush=True)
                    report = await run(base, keys, count=count, seed=seed,
                                       concurrency=concurrency, slow=slow, tokens=tokens,
                                       progress=(lambda n: print(f"  {n} sent", flush=True))
                                       if verbose else None, routes=routes,
                                       broadcasts=broadcasts)
                    await _read_loop_lag(base, report)
                finally:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
            server_log = log_path.read_text(encoding="utf-8", errors="replace")
            report.server_errors_logged = sum(
                1 for line in server_log.splitlines() if " ERROR " in line)
            if verbose and report.server_errors_logged:
                print(server_log[-4000:], file=sys.stderr)
    if corpus is not None and report.found:
        for path in _write_corpus(report.found, corpus):
            print(f"kept {path}", file=sys.stderr)
    return report


async def _read_loop_lag(base: str, report: Report) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == "haat_loop_lag_max_seconds":
            report.server_loop_lag = float(value)
        elif name == "haat_loop_busy_max_seconds":
            report.server_loop_busy = float(value)
        elif name == "haat_loop_own_lag_max_seconds":
            report.server_loop_own_lag = float(value)


async def _until_ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if proc.poll() is not None:
                break
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{base}/readyz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.05)
    proc.kill()
    raise RuntimeError("haat serve did not start:\n"
                       + log.read_text(encoding="utf-8", errors="replace")[-3000:])  # noqa: ASYNC240
