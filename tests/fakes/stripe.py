"""A small aiohttp stand-in for the Stripe endpoints haat uses, enforcing their contract.

Speaks ``POST /v1/payment_links`` (ad-hoc ``price_data``), ``POST /v1/payment_links/{id}``
(``active=false``), ``GET /v1/payment_links/{id}``, ``GET /v1/checkout/sessions?payment_link=``
and ``POST /v1/refunds``, as Stripe's API reference describes them:

- ``Authorization: Bearer <secret key>``, else 401 with Stripe's error envelope;
- POST bodies **form-encoded** (bracketed keys); a JSON body is a 400, as Stripe answers;
- ``Idempotency-Key``: a retry with the same parameters gets the first answer, different
  parameters are an ``idempotency_error``;
- integer amounts in the smallest unit, lowercase currencies; a refund beyond what the
  payment has left is a 400.

Test helpers play the shopper (``pay_link``) and Stripe's webhook sender (``event``,
``signed``). ``DRIVER`` lets tests/contract/test_providers.py drive it like any provider.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from payments.providers.base import PaymentProvider
from payments.providers.stripe import signature_header

Json = dict[str, Any]
WEBHOOK_SECRET = "whsec_test_secret"  # stripe-python's tests/test_webhook.py secret
FORM = web.RequestKey("form", dict)
_KEY = re.compile(r"^([a-z_]+)((?:\[[A-Za-z0-9_]*\])*)$")


def _error(status: int, message: str, type_: str = "invalid_request_error",
           code: str | None = None) -> web.Response:
    error: Json = {"type": type_, "message": message}
    if code:
        error["code"] = code
    return web.json_response({"error": error}, status=status)


def parse_form(text: str) -> Json:
    """Stripe's bracketed form keys back into nested dicts (lists stay index-keyed)."""
    out: Json = {}
    for key, value in parse_qsl(text, keep_blank_values=True, strict_parsing=False):
        match = _KEY.match(key)
        if match is None:
            raise ValueError(f"bad key {key!r}")
        parts = [match.group(1), *re.findall(r"\[([A-Za-z0-9_]*)\]", match.group(2))]
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"{key!r} mixes a value and a hash")
            node = child
        node[parts[-1]] = value
    return out


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    form: Json


@dataclass
class FakeStripe:
    secret_key: str = "sk_test_fake_haat"
    requests: list[Recorded] = field(default_factory=list)
    links: dict[str, Json] = field(default_factory=dict)
    sessions: dict[str, Json] = field(default_factory=dict)
    intents: dict[str, Json] = field(default_factory=dict)
    refunds: dict[str, Json] = field(default_factory=dict)
    idempotent: dict[str, tuple[str, Json, Json]] = field(default_factory=dict)
    # how the next refunds answer: succeeded, pending, failed, or error (HTTP 500)
    refund_mode: str = "succeeded"
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _id(self, prefix: str) -> str:
        return f"{prefix}_Fake{next(self._ids):012d}"

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._contract])
        app.router.add_post("/v1/payment_links", self._create_link)
        app.router.add_get("/v1/payment_links/{id}", self._get_link)
        app.router.add_post("/v1/payment_links/{id}", self._update_link)
        app.router.add_get("/v1/checkout/sessions", self._list_sessions)
        app.router.add_post("/v1/refunds", self._refund)
        return app

    @web.middleware
    async def _contract(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.secret_key}":
            return _error(401, "Invalid API Key provided")
        form: Json = {}
        if request.method == "POST":
            if request.content_type != "application/x-www-form-urlencoded":
                return _error(400, "Invalid request (check that your POST content type is "
                                   "application/x-www-form-urlencoded)")
            try:
                form = parse_form((await request.read()).decode())
            except (ValueError, UnicodeDecodeError):
                return _error(400, "Invalid request body")
        self.requests.append(Recorded(request.method, request.path, dict(request.headers),
                                      form))
        key = request.headers.get("Idempotency-Key")
        if request.method == "POST" and key:
            seen = self.idempotent.get(key)
            if seen is not None:
                if (seen[0], seen[1]) != (request.path, form):
                    return _error(400, "Keys for idempotent requests can only be used with "
                                       "the same parameters they were first used with.",
                                  "idempotency_error")
                return web.json_response(seen[2])
        request[FORM] = form
        response: web.StreamResponse = await handler(request)
        if request.method == "POST" and key and isinstance(response, web.Response) \
                and response.status == 200 and response.body is not None:
            assert isinstance(response.body, bytes)
            self.idempotent[key] = (request.path, form, json.loads(response.body))
        return response

    # REST -------------------------------------------------------------------------------
    async def _create_link(self, request: web.Request) -> web.Response:
        form: Json = request[FORM]
        item = (form.get("line_items") or {}).get("0")
        price = item.get("price_data") if isinstance(item, dict) else None
        if not isinstance(item, dict) or not isinstance(price, dict):
            return _error(400, "Missing required param: line_items[0][price_data].",
                          code="parameter_missing")
        currency, amount = price.get("currency", ""), price.get("unit_amount", "")
        if not re.fullmatch(r"[a-z]{3}", currency):
            return _error(400, f"Invalid currency: {currency}.", code="parameter_invalid")
        if not re.fullmatch(r"[1-9][0-9]{0,11}", amount):
            return _error(400, "Invalid integer: unit_amount.", code="parameter_invalid")
        name = (price.get("product_data") or {}).get("name")
        if not name or item.get("quantity") != "1":
            return _error(400, "Missing required param: product_data[name] or quantity.",
                          code="parameter_missing")
        link_id = self._id("plink")
        link = {"id": link_id, "object": "payment_link", "active": True,
                "currency": currency, "metadata": form.get("metadata") or {},
                "url": f"https://buy.stripe.com/test_{link_id[6:]}", "livemode": False,
                "restrictions": form.get("restrictions"),
                "after_completion": form.get("after_completion"),
                "_amount": int(amount),
                "_intent_metadata": (form.get("payment_intent_data") or {}).get("metadata")
                or {}}
        self.links[link_id] = link
        return web.json_response(self._public(link))

    @staticmethod
    def _public(link: Json) -> Json:
        return {k: v for k, v in link.items() if not k.startswith("_")}

    def _link(self, request: web.Request) -> Json:
        link = self.links.get(request.match_info["id"])
        if link is None:
            raise web.HTTPNotFound(text=json.dumps({"error": {
                "type": "invalid_request_error", "code": "resource_missing",
                "message": "No such payment_link"}}), content_type="application/json")
        return link

    async def _get_link(self, request: web.Request) -> web.Response:
        return web.json_response(self._public(self._link(request)))

    async def _update_link(self, request: web.Request) -> web.Response:
        link = self._link(request)
        active = request[FORM].get("active")
        if active not in ("true", "false"):
            return _error(400, "Invalid boolean: active", code="parameter_invalid")
        link["active"] = active == "true"
        return web.json_response(self._public(link))

    async def _list_sessions(self, request: web.Request) -> web.Response:
        wanted = request.query.get("payment_link")
        data = [s for s in self.sessions.values() if wanted in (None, s["payment_link"])]
        return web.json_response({"object": "list", "data": data, "has_more": False,
                                  "url": "/v1/checkout/sessions"})

    async def _refund(self, request: web.Request) -> web.Response:
        form: Json = request[FORM]
        intent = self.intents.get(form.get("payment_intent", ""))
        if intent is None:
            return _error(400, "No such payment_intent", code="resource_missing")
        amount_text = form.get("amount", str(intent["amount"] - intent["refunded"]))
        if not re.fullmatch(r"[1-9][0-9]{0,11}", amount_text):
            return _error(400, "Invalid integer: amount.", code="parameter_invalid")
        amount = int(amount_text)
        if amount > intent["amount"] - intent["refunded"]:
            return _error(400, f"Refund amount ({amount}) is greater than unrefunded amount "
                               f"on charge ({intent['amount'] - intent['refunded']})",
                          code="amount_too_large")
        if self.refund_mode == "error":
            return _error(500, "An unknown error occurred", "api_error")
        status = self.refund_mode
        if status != "failed":
            intent["refunded"] += amount
        refund = {"id": self._id("re"), "object": "refund", "amount": amount,
                  "currency": intent["currency"], "payment_intent": intent["id"],
                  "status": status, "metadata": form.get("metadata") or {},
                  "created": int(time.time())}
        self.refunds[refund["id"]] = refund
        return web.json_response(refund)

    # the shopper and Stripe's webhook sender ---------------------------------------------
    def pay_link(self, link_id: str) -> str:
        """The shopper pays the link on Stripe's page: a paid session; returns its intent."""
        link = self.links[link_id]
        intent_id, session_id = self._id("pi"), self._id("cs_test")
        self.intents[intent_id] = {"id": intent_id, "amount": link["_amount"],
                                   "currency": link["currency"], "refunded": 0,
                                   "metadata": link["_intent_metadata"]}
        self.sessions[session_id] = {
            "id": session_id, "object": "checkout.session", "payment_link": link_id,
            "payment_intent": intent_id, "payment_status": "paid", "status": "complete",
            "amount_total": link["_amount"], "currency": link["currency"],
            "metadata": link["metadata"], "mode": "payment"}
        return intent_id

    def session_for(self, intent_id: str) -> Json:
        return next(s for s in self.sessions.values() if s["payment_intent"] == intent_id)

    def event(self, type_: str, obj: Json) -> bytes:
        """A Stripe event envelope (API version as pinned), pretty-printed as Stripe sends."""
        return json.dumps({"id": self._id("evt"), "object": "event",
                           "api_version": "2025-07-30.basil", "created": int(time.time()),
                           "type": type_, "livemode": False, "pending_webhooks": 1,
                           "data": {"object": obj}}, indent=2).encode()

    @staticmethod
    def signed(body: bytes, secret: str = WEBHOOK_SECRET,
               at: int | None = None) -> dict[str, str]:
        return {"Content-Type": "application/json",
                "Stripe-Signature": signature_header(secret, body, int(
                    time.time() if at is None else at))}


class StripeDriver:
    """How the provider contract suite drives Stripe: through this fake."""

    def __init__(self) -> None:
        self.fake = FakeStripe()

    async def start(self, serve: Any) -> dict[str, str]:
        server = await serve(self.fake.build_app())
        return {"STRIPE_SECRET_KEY": self.fake.secret_key,
                "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "STRIPE_API_BASE_URL": str(server.make_url("/v1"))}

    async def pay(self, provider: PaymentProvider, provider_ref: str, callback_url: str) -> str:
        return self.fake.pay_link(provider_ref)

    def sign(self, body: bytes) -> dict[str, str]:
        return self.fake.signed(body)

    def forge(self, body: bytes) -> dict[str, str]:
        return {"Stripe-Signature": f"t={int(time.time())},v1={'0' * 64}"}

    async def sample_callbacks(self, provider: PaymentProvider, callback_url: str,
                               received: list[tuple[dict[str, str], bytes, bool]]
                               ) -> tuple[list[tuple[Mapping[str, str], bytes]], int]:
        """A paid link, its refund and one event haat ignores; (samples, informational)."""
        link = await provider.create_payment_link(_link_request())
        intent = self.fake.pay_link(link.provider_ref)
        refund = await provider.refund(intent, _link_request().amount, idempotency_key="s-1")
        bodies = [self.fake.event("checkout.session.completed", self.fake.session_for(intent)),
                  self.fake.event("refund.updated", dict(refund.raw)),
                  self.fake.event("customer.created", {"id": "cus_1", "object": "customer"})]
        return [(self.sign(b), b) for b in bodies], 1


def _link_request() -> Any:
    from catalog.money import Money
    from payments.providers.base import LinkRequest

    return LinkRequest(reference="ORD-7-9", amount=Money(14950, "INR"), description="Order")


DRIVER = StripeDriver
