"""Payment HTTP routes: provider callbacks, the hosted payment page, its QR, the routes
each provider adds (a test PSP's settle button), and the merchant JSON API
(docs/DESIGN.md §1.3)."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from bot import outgoing
from bot.receipts import RTL_LANGUAGES
from bot.replies import TEXTS, shop_name, text_for
from catalog.models import MOBILE_WALLETS, Shop, TransferAccount
from catalog.money import Money, MoneyError, currency_code, exponent
from config import wire
from payments.providers.base import (
    PagePayment,
    PaymentProvider,
    ProviderError,
    callback_path,
    simulates,
)
from payments.providers.registry import PROVIDER_CLASSES
from payments.qr import render_qr_png_async
from payments.repository import Order, PaymentRequest
from payments.service import PaymentError
from payments.status import OPEN_REQUEST, InvalidTransition, OrderEvent, OrderStatus, PaymentStatus
from webhooks import keys as k
from webhooks.security import verify_bearer

log = logging.getLogger(__name__)

# the HTML pages: jinja2 with autoescaping, one environment per app (setup_payment_routes)
PAGES = web.AppKey("pages", jinja2.Environment)
# secrets.token_urlsafe(24) makes 32 characters; anything else is not a token we issued
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
_MAX_ORDER_DIGITS = 12
# what the page shows: a request's status, or CLOSED (paid another way); all but the open
# ones are final
CLOSED = "closed"
TERMINAL = frozenset({*(s.value for s in PaymentStatus if s not in OPEN_REQUEST), CLOSED})


# ---- provider callbacks -----------------------------------------------------------------


async def provider_callback(request: web.Request) -> web.Response:
    """Verify on raw bytes, store each event once, apply it, then answer 200."""
    name = request.match_info["provider"]
    provider = request.app[k.PROVIDERS].get(name)
    if provider is None:
        return web.json_response({"error": f"unknown provider {name}"}, status=404)
    body = await request.read()
    if not provider.verify_callback(request.headers, body):
        request.app[k.METRICS].rejected += 1
        return web.json_response({"error": "signature check failed"}, status=403)
    try:
        events = provider.parse_callback(request.headers, body)
    except (ProviderError, ValueError, KeyError, TypeError, ArithmeticError) as exc:
        log.warning("%s callback could not be parsed: %s", name, type(exc).__name__)
        return web.json_response({"error": "malformed callback"}, status=400)
    service = request.app[k.PAYMENTS]
    applied = rejected = 0
    for event in events:
        if await service.apply_event(name, event, request.app[k.NOTIFIER]) is not None:
            applied += 1
        elif await request.app[k.PAYMENT_RECORDS].event_rejection(name, event.event_id):
            rejected += 1  # stored as rejected, merchant alerted: a 2xx stops the retries
    await request.app[k.OUTBOX].run_due()
    return web.json_response({"received": len(events), "applied": applied,
                              "rejected": rejected})


# ---- the hosted payment page ------------------------------------------------------------


async def _payment(request: web.Request) -> tuple[PaymentRequest, Order]:
    token = request.match_info["token"]
    if _TOKEN.fullmatch(token) is None:
        raise web.HTTPNotFound(text="no such payment")
    found = await request.app[k.PAYMENT_RECORDS].request_by_token(token)
    if found is None:
        raise web.HTTPNotFound(text="no such payment")
    order = await request.app[k.PAYMENT_RECORDS].order(found.order_id)
    if order is None:  # pragma: no cover - foreign key
        raise web.HTTPNotFound(text="no such payment")
    return found, order


def _status(payment: PaymentRequest, now_ms: int, order: Order | None = None) -> str:
    if payment.status in OPEN_REQUEST and now_ms >= payment.expires_at:
        return PaymentStatus.EXPIRED
    if payment.status is PaymentStatus.CANCELLED and order is not None and \
            payment.method != "tip" and \
            order.status not in (OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED):
        return CLOSED  # the order was paid another way: this one must not be paid
    return payment.status


# the pay page's words in the browser (its script shows the status it polls)
_PAGE_STATUSES = ("issued", "partially_paid", "paid", "paid_after_close", "expired",
                  "cancelled", "closed", "partially_refunded", "refunded")
_PAGE_SCRIPT_WORDS = ("expires_in", "qr_test_alt", "sandbox_enter", "sandbox_wrong")
PAGE_LANGUAGES = ("en", "hi", "bn", "ar")


class _PageText:
    """The pay page's texts (``pay_page_*`` in bot/replies.py, the shop's ``replies:``
    overrides first) in one language."""

    def __init__(self, shop: Shop | None, language: str) -> None:
        self.shop, self.language = shop, language

    def __call__(self, key: str, **values: str) -> str:
        key = f"pay_page_{key}"
        if self.shop is not None:
            return text_for(self.shop, key, self.language, **values)
        template = TEXTS[key].get(self.language) or TEXTS[key]["en"]
        return template.format(**values) if values else template

    def marked(self, key: str, **bold: str) -> Markup:
        """A text whose values are shown bold (escaped; the text's own words too)."""
        return Markup(escape(self(key))).format(  # noqa: S704 - the text is escaped first
            **{name: Markup("<b>{}</b>").format(value) for name, value in bold.items()})


async def pay_page(request: web.Request) -> web.Response:
    payment, order = await _payment(request)
    app = request.app
    runtime = app[k.SHOPS].get(order.shop_id)
    shop = runtime.shop if runtime else None
    wanted = request.query.get("lang")
    if wanted is not None and wanted not in PAGE_LANGUAGES:
        raise web.HTTPBadRequest(text=f"lang must be one of {', '.join(PAGE_LANGUAGES)}")
    language = wanted or (shop.language_for(order.language) if shop else "en")
    if language not in PAGE_LANGUAGES:
        language = "en"
    t = _PageText(shop, language)
    shop_title = shop_name(shop, language) if shop else order.shop_id
    lines = await app[k.PAYMENT_RECORDS].lines(order.id)
    now = app[k.CLOCK].now_ms()
    status = _status(payment, now, order)
    rows = [(f"{ln.quantity} × {ln.name}", ln.total.format()) for ln in lines]
    if order.delivery_minor and payment.method != "tip":
        rows.append((t("delivery"), Money(order.delivery_minor, order.currency).format()))
    if payment.method == "tip":
        rows = [(t("tip"), "")]
    account = shop.payments.transfers.get(payment.method) if shop else None
    amount = payment.amount.format()
    # a test PSP's settle button, where its own route takes it (SimulatesPayments)
    simulated = simulates(app[k.PROVIDERS].get(payment.provider))
    words = {s: t(f"status_{s}") for s in _PAGE_STATUSES}
    words.update({w: t(w, time="{time}") if w == "expires_in" else t(w)
                  for w in _PAGE_SCRIPT_WORDS})
    page = app[PAGES].get_template("pay.html").render(
        t=t, lang=language, dir="rtl" if language in RTL_LANGUAGES else "ltr",
        shop=shop_title, order=order.label, rows=rows, amount=amount,
        transfer=_transfer_view(account, payment, t) if account else None,
        upi_link=payment.upi_link, has_upi="1" if payment.upi_link else "", status=status,
        expires_at=payment.expires_at, now=now, token=request.match_info["token"],
        simulate_path=simulated.simulate_path if simulated else "", words=words)
    return web.Response(text=page, content_type="text/html", headers={
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff"})


def _transfer_view(account: TransferAccount, payment: PaymentRequest,
                   t: _PageText) -> dict[str, object]:
    """What the page shows for a manual transfer: where to send it (the chat said so too)."""
    rows = [(t("number") if account.method in MOBILE_WALLETS else
             t("upi_id") if account.method == "upi_transfer" else t("account"), account.number),
            (t("name"), account.name)]
    rows += [(t(label), value) for label, value in (
        ("bank", account.bank), ("branch", account.branch), ("ifsc", account.ifsc),
        ("routing", account.routing), ("swift", account.swift)) if value]
    method = TEXTS[f"method_{account.method}"]
    return {"method": method.get(t.language) or method["en"],
            "amount": payment.amount.format(), "rows": rows}


async def pay_status(request: web.Request) -> web.Response:
    payment, order = await _payment(request)
    # re-read: the page polls while the callback lands
    fresh = await request.app[k.PAYMENT_RECORDS].order(order.id) or order
    now = request.app[k.CLOCK].now_ms()
    return web.json_response({
        "status": _status(payment, now, fresh), "order_status": fresh.status,
        "amount_minor": payment.amount_minor, "captured_minor": payment.captured_minor,
        "currency": currency_code(payment.currency), "exponent": exponent(payment.currency),
        "seconds_left": max(0, (payment.expires_at - now) // 1000)},
        headers={"Cache-Control": "no-store"})


async def pay_qr(request: web.Request) -> web.Response:
    payment, order = await _payment(request)
    if not payment.upi_link:
        raise web.HTTPNotFound(text="this payment has no UPI link")
    if _status(payment, request.app[k.CLOCK].now_ms(), order) in TERMINAL:
        raise web.HTTPGone(text="this payment is closed")
    png = await render_qr_png_async(payment.upi_link)
    return web.Response(body=png, content_type="image/png",
                        headers={"Cache-Control": "private, max-age=300"})


class AppHost:
    """What a provider's own routes get of the app (``payments/providers/base.py:RouteHost``)."""

    def provider(self, request: web.Request, name: str) -> PaymentProvider | None:
        return request.app[k.PROVIDERS].get(name)

    async def payment(self, request: web.Request) -> PagePayment:
        payment, _ = await _payment(request)
        return PagePayment(payment.provider, payment.provider_ref or "")

    def authorized(self, request: web.Request, secret: str | None) -> bool:
        auth = request.headers.get("Authorization")
        return (verify_bearer(auth, secret)
                or verify_bearer(auth, request.app[k.SETTINGS].admin_token))

    def callback_url(self, request: web.Request, name: str) -> str:
        return f"{request.app[k.SETTINGS].public_base}{callback_path(name)}"


async def settle(app: web.Application, payment: PaymentRequest, outcome: str) -> int:
    """Settle ``payment`` through its test provider (``SimulatesPayments``)."""
    provider = simulates(app[k.PROVIDERS].get(payment.provider))
    if provider is None:
        raise web.HTTPConflict(text=f"provider {payment.provider} does not simulate payments")
    callback = f"{app[k.SETTINGS].public_base}{callback_path(payment.provider)}"
    try:
        return await provider.simulate(payment.provider_ref or "", outcome, callback)
    except ProviderError as exc:
        raise web.HTTPConflict(text=str(exc)) from exc


async def settle_latest_for_tests(app: web.Application, customer: str, outcome: str,
                                  base: str) -> str | None:
    """``haat test``'s ``pay:`` step: settle the shopper's newest open request, which a test
    provider (one that declares ``simulate``) must hold."""
    payment = await app[k.PAYMENT_RECORDS].latest_open_request(customer)
    if payment is None:
        return "no open payment request"
    if simulates(app[k.PROVIDERS].get(payment.provider)) is None:
        return (f"the open payment request is with {payment.provider}, which does not "
                "simulate payments (a test provider does)")
    if outcome == "expire":
        # time passes beyond the expiry; the PSP and our clock agree it is over
        app[k.CLOCK].offset_ms += max(0, payment.expires_at - app[k.CLOCK].now_ms()) + 1000
        await app[k.SCHEDULER].run_due()
        return None
    await settle(app, payment, outcome)
    await app[k.OUTBOX].drain()
    return None


# ---- merchant API -----------------------------------------------------------------------


def require_admin(request: web.Request) -> None:
    """The merchant API's gate (every ``/api`` route): the admin bearer token, or 403."""
    if not verify_bearer(request.headers.get("Authorization"),
                         request.app[k.SETTINGS].admin_token):
        raise web.HTTPForbidden(text="admin token required")


def _shops_asked(request: web.Request) -> list[str]:
    """``?shop=ID`` names one of the served shops (else 404); without it, all of them."""
    shops = list(request.app[k.SHOPS].runtimes)
    if (wanted := request.query.get("shop")) is not None:
        if wanted not in shops:
            raise web.HTTPNotFound(text="no such shop")
        shops = [wanted]
    return shops


def _amount_style(request: web.Request) -> bool:
    """``?amounts=string``: every ``*_minor`` as a decimal string, for JavaScript clients
    (a JSON number above 2^53 loses digits there). The default is a JSON integer, exact in
    the text at any size."""
    style = request.query.get("amounts", "number")
    if style not in ("number", "string"):
        raise web.HTTPBadRequest(text="amounts must be number or string")
    return style == "string"


async def _order_json(app: web.Application, order: Order,
                      as_text: bool = False) -> dict[str, Any]:
    repo = app[k.PAYMENT_RECORDS]

    def amount(value: int) -> int | str:
        return str(value) if as_text else value

    requests = await repo.requests_for_order(order.id)
    return {
        "id": order.label, "shop": order.shop_id, "status": order.status,
        "customer": order.customer, "total_minor": amount(order.total_minor),
        # what people read (ETH, not the internal ETH/18) and the scale of every *_minor
        "currency": currency_code(order.currency), "exponent": exponent(order.currency),
        "total": order.total.to_decimal_string(),
        "refunded_minor": amount(sum(p.refunded_minor for p in requests)),
        "address": order.address,
        "lines": [{"sku": ln.sku, "name": ln.name, "quantity": ln.quantity,
                   "unit_price_minor": amount(ln.unit_price.minor)}
                  for ln in await repo.lines(order.id)],
        "payments": [{"id": p.id, "method": p.method, "provider": p.provider,
                      "status": p.status, "amount_minor": amount(p.amount_minor),
                      "captured_minor": amount(p.captured_minor),
                      "refunded_minor": amount(p.refunded_minor)}
                     for p in requests],
    }


async def api_orders(request: web.Request) -> web.Response:
    require_admin(request)
    app = request.app
    customer = request.query.get("customer")
    digits = wire.ascii_digits(customer) if customer else None
    as_text = _amount_style(request)
    shops = _shops_asked(request)
    orders: list[Order] = []
    for shop_id in shops:
        orders += await app[k.PAYMENT_RECORDS].orders(shop_id, customer=digits, limit=200)
    return web.json_response({"orders": [await _order_json(app, o, as_text) for o in orders]})


async def api_outbox(request: web.Request) -> web.Response:
    """``GET /api/outbox[?shop=][&limit=N]``: the messages that did not arrive, newest
    first: failed, dead, undeliverable, unknown_error, and owner alerts held for the
    digest (bot/outgoing.py ``PROBLEMS``), each with its error, event and recipient."""
    require_admin(request)
    limit = wire.bounded_int(request.query.get("limit") or 100, lo=1, hi=1000)
    if limit is None:
        raise web.HTTPBadRequest(text="limit must be a whole number from 1 to 1000")
    shops = _shops_asked(request)
    messages: list[dict[str, object]] = []
    for shop_id in shops:
        for row in await outgoing.problems(request.app[k.DB], shop_id, limit):
            messages.append({"shop": shop_id, **row})
    return web.json_response({"messages": messages[:limit]})


async def api_cod(request: web.Request) -> web.Response:
    """Cash-on-delivery figures per shop: how many COD orders are waiting for the shopper's
    confirmation, confirmed, out for delivery, delivered (with the cash recorded), cancelled
    before dispatch, and returned to origin (refused at the door: ``returned ORD-…``).
    ``returned_to_origin`` counts the returned and the cancelled ones (both had their stock
    released); ``returned`` and ``cancelled`` split it."""
    require_admin(request)
    app = request.app
    as_text = _amount_style(request)
    shops = _shops_asked(request)
    out: dict[str, Any] = {}
    for shop_id in shops:
        counts = {s: 0 for s in ("awaiting_confirmation", "confirmed", "shipped", "delivered",
                                 "paid", "cancelled", "returned")}
        cash = returned_minor = total = 0
        currency = app[k.SHOPS].runtimes[shop_id].shop.currency
        for status, _currency, total_minor, collected in \
                await app[k.PAYMENT_RECORDS].cod_rows(shop_id):
            total += 1
            key = "paid" if status in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED,
                                       OrderStatus.REFUND_PENDING, OrderStatus.REFUNDED) \
                else status
            counts[key] = counts.get(key, 0) + 1
            cash += collected
            if status in (OrderStatus.RETURNED, OrderStatus.CANCELLED):
                returned_minor += total_minor

        def amount(value: int) -> int | str:
            return str(value) if as_text else value

        out[shop_id] = {
            "orders": total, **counts,
            "returned_to_origin": counts["returned"] + counts["cancelled"],
            "returned_to_origin_minor": amount(returned_minor),
            "cash_collected_minor": amount(cash),
            "currency": currency_code(currency), "exponent": exponent(currency),
        }
    return web.json_response({"cod": out})


def _api_shop(request: web.Request) -> str:
    """The shop an order route acts on. Order numbers are per shop (ORD-1001 exists in every
    shop), so with more than one shop served the caller must name it: never a guess."""
    shops = list(request.app[k.SHOPS].runtimes)
    wanted = request.query.get("shop")
    if wanted is None:
        if len(shops) == 1:
            return shops[0]
        raise web.HTTPBadRequest(
            text=f"this server serves {len(shops)} shops: name one with ?shop= "
                 f"({', '.join(sorted(shops))})")
    if wanted not in shops:
        raise web.HTTPNotFound(text="no such shop")
    return wanted


async def _api_order(request: web.Request) -> Order:
    label = request.match_info["order"]
    number = wire.ascii_digits(label, _MAX_ORDER_DIGITS + 1)
    shop = _api_shop(request)
    order = None
    if number and len(number) <= _MAX_ORDER_DIGITS:
        order = await request.app[k.PAYMENT_RECORDS].order(f"{shop}/ORD-{number}")
    if order is None:
        raise web.HTTPNotFound(text="no such order")
    return order


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        data = wire.loads(await request.read())  # bounded depth and numbers (config/wire.py)
    except wire.WireError as exc:
        raise web.HTTPBadRequest(text="body must be JSON") from exc
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return data


_API_EVENTS = {"shipped": OrderEvent.SHIP, "delivered": OrderEvent.DELIVER,
               "cancelled": OrderEvent.CANCEL, "returned": OrderEvent.RETURN}


async def api_order_status(request: web.Request) -> web.Response:
    require_admin(request)
    order = await _api_order(request)
    data = await _json_body(request)
    event = _API_EVENTS.get(str(data.get("status")))
    if event is None:
        return web.json_response(
            {"error": "status must be shipped, delivered, cancelled or returned"}, status=400)
    text = {"shipped": "ship", "delivered": "deliver", "cancelled": "cancel",
            "returned": "returned"}[data["status"]]
    result = await request.app[k.ENGINE].merchant_command(
        request.app[k.SHOPS].get(order.shop_id), f"{text} {order.label}")
    if result is None:
        return web.json_response({"error": "this shop has no owner number"}, status=409)
    # the shopper's notice now (on PostgreSQL its row is stored claimed by this process)
    request.app[k.OUTBOX].submit(result.outbox, claimed=result.claimed)
    fresh = await request.app[k.PAYMENT_RECORDS].order(order.id) or order
    if fresh.status != data["status"]:
        hint = " (refund it first)" if event is OrderEvent.CANCEL else ""
        return web.json_response(
            {"error": f"cannot move {order.status} to {data['status']}{hint}"}, status=409)
    return web.json_response(await _order_json(request.app, fresh, _amount_style(request)))


_AMOUNT_DIGITS = len(str(wire.JSON_INT_LIMIT))


def _amount_minor(value: object, *, digits: bool) -> int | None:
    """An ``amount_minor`` from a JSON body: an integer, or (``digits``) a string of ASCII
    digits, as ``?amounts=string`` JavaScript clients send; None for anything else."""
    if digits and isinstance(value, str) and value.isascii() and value.isdigit():
        # bounded as JSON integers are (config/wire.py): 5,000 digits never reach int()
        if len(value) > _AMOUNT_DIGITS or int(value) > wire.JSON_INT_LIMIT:
            return None
        return int(value)
    return value if type(value) is int else None


async def api_refund(request: web.Request) -> web.Response:
    require_admin(request)
    order = await _api_order(request)
    data = await _json_body(request)
    amount = None
    as_text = _amount_style(request)
    if "amount_minor" in data:
        value = _amount_minor(data["amount_minor"], digits=as_text)
        if value is None:
            return web.json_response({"error": "amount_minor must be an integer"}, status=400)
        try:
            amount = Money(value, order.currency)
        except MoneyError as exc:
            return web.json_response({"error": str(exc)}, status=400)
    try:
        refunded = await request.app[k.PAYMENTS].refund(order, amount, reason="api",
                                                        notify=request.app[k.NOTIFIER])
    except PaymentError as exc:
        return web.json_response({"error": exc.code, "detail": str(exc)}, status=409)
    except InvalidTransition as exc:
        return web.json_response({"error": str(exc)}, status=409)
    await request.app[k.OUTBOX].run_due()
    fresh = await request.app[k.PAYMENT_RECORDS].order(order.id) or order
    return web.json_response({"refunded_minor": str(refunded.minor) if as_text
                              else refunded.minor,
                              "order": await _order_json(request.app, fresh, as_text)})


async def api_refunded(request: web.Request) -> web.Response:
    """The merchant refunded by hand (plain UPI cannot refund): ``{"amount_minor": N,
    "reference": "<UPI ref>"}`` books it like ``refunded ORD-7 <amount> <ref>``."""
    require_admin(request)
    order = await _api_order(request)
    data = await _json_body(request)
    value = _amount_minor(data.get("amount_minor"), digits=True)
    reference = data.get("reference")
    if value is None or not isinstance(reference, str):
        return web.json_response({"error": "amount_minor (integer) and reference (string) "
                                           "are required"}, status=400)
    try:
        amount = Money(value, order.currency)
        await request.app[k.PAYMENTS].record_manual_refund(
            order, amount, reference, notify=request.app[k.NOTIFIER])
    except MoneyError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    except PaymentError as exc:
        status = 400 if exc.code in ("bad_reference", "bad_amount") else 409
        return web.json_response({"error": exc.code, "detail": str(exc)}, status=status)
    await request.app[k.OUTBOX].run_due()
    fresh = await request.app[k.PAYMENT_RECORDS].order(order.id) or order
    return web.json_response({"order": await _order_json(request.app, fresh,
                                                         _amount_style(request))})


def setup_payment_routes(app: web.Application) -> None:
    app[PAGES] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "pages"),
        autoescape=True, keep_trailing_newline=True, auto_reload=False)
    app.router.add_post(callback_path("{provider}"), provider_callback)
    app.router.add_get("/pay/{token}", pay_page)
    app.router.add_get("/pay/{token}/status", pay_status)
    app.router.add_get("/pay/{token}/qr.png", pay_qr)
    host = AppHost()
    for provider in PROVIDER_CLASSES:  # the routes each provider adds (a test PSP's button)
        for route in provider.routes:
            app.router.add_route(route.method, route.path, route.handler(host))
    app.router.add_get("/api/orders", api_orders)
    app.router.add_get("/api/outbox", api_outbox)
    app.router.add_get("/api/cod", api_cod)
    app.router.add_post("/api/orders/{order}/status", api_order_status)
    app.router.add_post("/api/orders/{order}/refund", api_refund)
    app.router.add_post("/api/orders/{order}/refunded", api_refunded)
