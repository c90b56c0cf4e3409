"""A small aiohttp stand-in for the Razorpay REST endpoints haat uses.

Speaks ``/v1/payment_links`` (create, fetch), ``/v1/orders`` (create, list payments),
``/v1/payments/create/upi`` (S2S collect), ``/v1/payments/{id}``,
``GET /v1/payments/{id}/refunds/{refund_id}`` (a refund's status: ``pending`` until
:meth:`FakeRazorpay.settle_refund`, then ``processed`` or ``failed``, as Razorpay's "Fetch a
Specific Refund for a Payment" answers),
``/v1/payment_links/{id}/cancel`` (only a link in ``created`` can be cancelled, as Razorpay's
"Payment Link States" page says; ``cancel_mode = "error"`` answers Razorpay's documented
``SERVER_ERROR``, HTTP 500, and cancels nothing) and ``/v1/payments/{id}/refund`` with basic auth,
Razorpay-shaped JSON (as in the SDK mocks) and Razorpay's error envelope; every request is
recorded for assertions.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Json = dict[str, Any]


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Json | None


def _error(status: int, description: str, code: str = "BAD_REQUEST_ERROR") -> web.Response:
    return web.json_response(
        {"error": {"code": code, "description": description, "source": "business",
                   "step": "payment_initiation", "reason": "input_validation_failed"}},
        status=status,
    )


async def _body(request: web.Request) -> Json:
    """The JSON object body (already validated by the middleware; aiohttp caches the bytes)."""
    if not request.body_exists:
        return {}
    parsed = json.loads(await request.read())
    return parsed if isinstance(parsed, dict) else {}


@dataclass
class FakeRazorpay:
    key_id: str = "rzp_test_fake"
    key_secret: str = "fake_key_secret"
    now: int = 1_767_225_600
    requests: list[RecordedRequest] = field(default_factory=list)
    links: dict[str, Json] = field(default_factory=dict)
    orders: dict[str, Json] = field(default_factory=dict)
    payments: dict[str, Json] = field(default_factory=dict)
    refunds_by_key: dict[str, Json] = field(default_factory=dict)
    refunds: dict[str, Json] = field(default_factory=dict)
    # how the next refunds answer: processed (at once), pending (settle later with
    # settle_refund: "late"), failed (Razorpay's refund entity with status failed), or
    # error (HTTP 500, nothing happened)
    refund_mode: str = "processed"
    # how the next link cancels answer: ok (as the link's state allows) or error (HTTP 500)
    cancel_mode: str = "ok"
    # how link fetches answer: ok, or error (Razorpay's SERVER_ERROR, HTTP 500)
    fetch_mode: str = "ok"
    # run once, first, inside the next cancel (another process acting meanwhile)
    before_cancel: Callable[[], Awaitable[object]] | None = None
    # the next refunds answer this error envelope (HTTP status, code, description) and
    # refund nothing, as Razorpay's documented refund errors do (429 rate limited, 409 a
    # request with the same idempotency key still being processed, 400 a refund the bank
    # does not support)
    refund_error: tuple[int, str, str] | None = None
    # run once, first, inside the next refund (the world looking while haat waits)
    before_refund: Callable[[], Awaitable[object]] | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _id(self, prefix: str) -> str:
        return f"{prefix}_Fake{next(self._ids):010d}"

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth_and_record])
        app.router.add_post("/v1/payment_links", self._create_link)
        app.router.add_get("/v1/payment_links/{id}", self._get_link)
        app.router.add_post("/v1/payment_links/{id}/cancel", self._cancel_link)
        app.router.add_post("/v1/orders", self._create_order)
        app.router.add_get("/v1/orders/{id}/payments", self._order_payments)
        app.router.add_post("/v1/payments/create/upi", self._create_upi)
        app.router.add_get("/v1/payments/{id}", self._get_payment)
        app.router.add_post("/v1/payments/{id}/refund", self._refund)
        app.router.add_get("/v1/payments/{id}/refunds/{refund_id}", self._get_payment_refund)
        return app

    @web.middleware
    async def _auth_and_record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body: Json | None = None
        if request.body_exists:
            try:
                parsed = json.loads(await request.read())
            except ValueError:
                return _error(400, "The request body is not valid JSON")
            body = parsed if isinstance(parsed, dict) else None
        self.requests.append(
            RecordedRequest(request.method, request.path, dict(request.headers), body)
        )
        expected = base64.b64encode(f"{self.key_id}:{self.key_secret}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return _error(401, "The api key provided is invalid", "BAD_REQUEST_ERROR")
        response: web.StreamResponse = await handler(request)
        return response

    # test helpers -----------------------------------------------------------------------
    def pay_link(self, link_id: str, amount: int | None = None) -> str:
        """Simulate a shopper paying a link: a captured payment on it and its order."""
        link = self.links[link_id]
        paid = link["amount"] if amount is None else amount
        payment_id = self._id("pay")
        self.payments[payment_id] = {
            "id": payment_id, "entity": "payment", "amount": paid,
            "currency": link["currency"], "status": "captured", "order_id": link["order_id"],
            "method": "upi", "amount_refunded": 0, "refund_status": None, "captured": True,
            "notes": link.get("notes") or [], "fee": 2, "tax": 0,
            "created_at": self.now + 60,
        }
        link["payments"].append({"amount": paid, "created_at": self.now + 60, "method": "upi",
                                 "payment_id": payment_id, "plink_id": link_id,
                                 "status": "captured", "updated_at": self.now + 60})
        link["amount_paid"] += paid
        link["status"] = "paid" if link["amount_paid"] >= link["amount"] else "partially_paid"
        return payment_id

    def expire_link(self, link_id: str) -> None:
        self.links[link_id]["status"] = "expired"
        self.links[link_id]["expired_at"] = self.now + 3600

    def settle_refund(self, refund_id: str, status: str = "processed") -> Json:
        """A pending refund finishes later (processed) or fails; returns the entity for the
        ``refund.processed`` / ``refund.failed`` webhook."""
        refund = self.refunds[refund_id]
        refund["status"] = status
        if status == "failed":
            payment = self.payments[refund["payment_id"]]
            payment["amount_refunded"] -= refund["amount"]
        return refund

    # handlers ---------------------------------------------------------------------------
    async def _cancel_link(self, request: web.Request) -> web.Response:
        race, self.before_cancel = self.before_cancel, None
        if race is not None:
            await race()
        if self.cancel_mode == "error":
            return _error(500, "We are facing some trouble completing your request at the "
                          "moment. Please try again shortly.", "SERVER_ERROR")
        link = self.links.get(request.match_info["id"])
        if link is None:
            return _error(400, "The id provided does not exist")
        if link["status"] != "created":
            return _error(400, f"Payment Link cannot be cancelled in {link['status']} state")
        link["status"] = "cancelled"
        link["cancelled_at"] = self.now + 30
        return web.json_response({k: v for k, v in link.items() if k != "payments"})

    async def _create_link(self, request: web.Request) -> web.Response:
        body = await _body(request)
        amount = body.get("amount")
        if type(amount) is not int or amount < 100:
            return _error(400, "The amount must be at least INR 1.00.")
        ref = body.get("reference_id")
        if ref and any(link["reference_id"] == ref for link in self.links.values()):
            return _error(400, "payment link creation with reference ID already attempted")
        link_id = self._id("plink")
        order_id = self._id("order")
        link: Json = {
            "accept_partial": bool(body.get("accept_partial", False)), "amount": amount,
            "amount_paid": 0, "cancelled_at": 0, "created_at": self.now,
            "currency": body.get("currency", "INR"), "customer": body.get("customer", {}),
            "description": body.get("description", ""), "expire_by": body.get("expire_by", 0),
            "expired_at": 0, "first_min_partial_amount": 0, "id": link_id,
            "notes": body.get("notes"), "notify": body.get("notify", {}),
            "order_id": order_id, "payments": [], "reference_id": ref or "",
            "reminder_enable": body.get("reminder_enable", False), "reminders": [],
            "short_url": f"https://rzp.io/i/{link_id[-7:]}", "status": "created",
            "updated_at": self.now, "upi_link": bool(body.get("upi_link", False)),
            "user_id": "FakeUser",
        }
        self.links[link_id] = link
        self.orders[order_id] = {"id": order_id, "entity": "order", "amount": amount,
                                 "currency": link["currency"], "status": "created"}
        return web.json_response({k: v for k, v in link.items() if k != "payments"})

    async def _get_link(self, request: web.Request) -> web.Response:
        if self.fetch_mode == "error":
            return _error(500, "We are facing some trouble completing your request at the "
                          "moment. Please try again shortly.", "SERVER_ERROR")
        link = self.links.get(request.match_info["id"])
        if link is None:
            return _error(400, "The id provided does not exist")
        return web.json_response(link)

    async def _create_order(self, request: web.Request) -> web.Response:
        body = await _body(request)
        amount = body.get("amount")
        if type(amount) is not int or amount < 100:
            return _error(400, "The amount must be at least INR 1.00.")
        order_id = self._id("order")
        order = {"id": order_id, "entity": "order", "amount": amount, "amount_paid": 0,
                 "amount_due": amount, "currency": body.get("currency", "INR"),
                 "receipt": body.get("receipt"), "status": "created", "attempts": 0,
                 "notes": body.get("notes", []), "created_at": self.now}
        self.orders[order_id] = order
        return web.json_response(order)

    async def _order_payments(self, request: web.Request) -> web.Response:
        order_id = request.match_info["id"]
        if order_id not in self.orders:
            return _error(400, "The id provided does not exist")
        items = [p for p in self.payments.values() if p["order_id"] == order_id]
        return web.json_response({"entity": "collection", "count": len(items), "items": items})

    async def _create_upi(self, request: web.Request) -> web.Response:
        body = await _body(request)
        order = self.orders.get(str(body.get("order_id")))
        upi = body.get("upi")
        if order is None:
            return _error(400, "The id provided does not exist")
        if not isinstance(upi, dict) or upi.get("flow") != "collect" or "@" not in str(
            upi.get("vpa", "")
        ):
            return _error(400, "Invalid VPA. Please enter a valid Virtual Payment Address")
        if body.get("amount") != order["amount"]:
            return _error(400, "Payment amount is different from the order amount")
        payment_id = self._id("pay")
        self.payments[payment_id] = {
            "id": payment_id, "entity": "payment", "amount": order["amount"],
            "currency": order["currency"], "status": "created", "order_id": order["id"],
            "method": "upi", "vpa": upi["vpa"], "notes": body.get("notes", []),
            "created_at": self.now,
        }
        return web.json_response({"razorpay_payment_id": payment_id})

    async def _get_payment(self, request: web.Request) -> web.Response:
        payment = self.payments.get(request.match_info["id"])
        if payment is None:
            return _error(400, "The id provided does not exist")
        return web.json_response(payment)

    async def _get_payment_refund(self, request: web.Request) -> web.Response:
        refund = self.refunds.get(request.match_info["refund_id"])
        if refund is None or refund["payment_id"] != request.match_info["id"]:
            return _error(400, "The id provided does not exist")
        return web.json_response(refund)

    async def _refund(self, request: web.Request) -> web.Response:
        look, self.before_refund = self.before_refund, None
        if look is not None:
            await look()
        if self.refund_error is not None:
            http, code, description = self.refund_error
            return _error(http, description, code)
        payment = self.payments.get(request.match_info["id"])
        body = await _body(request)
        if payment is None:
            return _error(400, "The id provided does not exist")
        key = request.headers.get("X-Refund-Idempotency")
        if key and key in self.refunds_by_key:
            known = self.refunds_by_key[key]
            if known["payment_id"] != payment["id"] or known["amount"] != body.get("amount"):
                return _error(400, "Different request with the same idempotency key has "
                                   "already been processed.")
            return web.json_response(known)
        if payment["status"] != "captured":
            return _error(400, "The payment has not been captured")
        if self.refund_mode == "error":
            return _error(500, "We are facing some trouble completing your request",
                          "SERVER_ERROR")
        amount = body.get("amount", payment["amount"] - payment["amount_refunded"])
        if type(amount) is not int or amount < 100:
            return _error(400, "The amount must be at least INR 1.00.")
        if amount > payment["amount"] - payment["amount_refunded"]:
            return _error(400, "The refund amount provided is greater than amount captured.")
        status = {"failed": "failed", "pending": "pending"}.get(self.refund_mode, "processed")
        if status != "failed":
            payment["amount_refunded"] += amount
            payment["refund_status"] = (
                "full" if payment["amount_refunded"] == payment["amount"] else "partial"
            )
        refund = {"id": self._id("rfnd"), "entity": "refund", "amount": amount,
                  "currency": payment["currency"], "payment_id": payment["id"],
                  "notes": body.get("notes", {}), "receipt": None,
                  "acquirer_data": {"arn": None}, "created_at": self.now + 120,
                  "status": status, "speed_processed": "normal",
                  "speed_requested": body.get("speed", "normal")}
        self.refunds[refund["id"]] = refund
        if key and status != "failed":  # a failed refund may be tried again with its key
            self.refunds_by_key[key] = refund
        return web.json_response(refund)


class RazorpayDriver:
    """How the provider contract suite drives Razorpay: through this fake, with the
    documentation's own webhook samples signed by the official SDK vector's secret."""

    WEBHOOK_SECRET = "key_secret"  # the secret of the official SDK vector TV-RZP-1

    def __init__(self) -> None:
        self.fake = FakeRazorpay()

    async def start(self, serve: Any) -> dict[str, str]:
        server = await serve(self.fake.build_app())
        return {"RAZORPAY_KEY_ID": self.fake.key_id, "RAZORPAY_KEY_SECRET": self.fake.key_secret,
                "RAZORPAY_WEBHOOK_SECRET": self.WEBHOOK_SECRET,
                "RAZORPAY_API_BASE_URL": str(server.make_url("/v1"))}

    async def pay(self, provider: Any, provider_ref: str, callback_url: str) -> str:
        return self.fake.pay_link(provider_ref)

    def sign(self, body: bytes) -> dict[str, str]:
        from security.signatures import hmac_sha256_hex

        return {"X-Razorpay-Signature": hmac_sha256_hex(self.WEBHOOK_SECRET, body)}

    def forge(self, body: bytes) -> dict[str, str]:
        return {"X-Razorpay-Signature": "0" * 64}

    async def sample_callbacks(self, provider: Any, callback_url: str,
                               received: list[tuple[dict[str, str], bytes, bool]]
                               ) -> tuple[list[tuple[dict[str, str], bytes]], int]:
        """Razorpay's documented webhooks; refund.created is the informational one."""
        from pathlib import Path

        folder = Path(__file__).parents[1] / "fixtures" / "payments" / "razorpay"
        out = []
        for i, path in enumerate(sorted(folder.glob("docs__*.json"))):
            body = path.read_bytes()
            out.append((self.sign(body) | {"X-Razorpay-Event-Id": f"evt_fixture_{i}"}, body))
        return out, 1


DRIVER = RazorpayDriver
