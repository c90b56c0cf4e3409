"""The shopper's receipt page: ``GET /receipt/{token}`` (bot/receipts.py builds it).

The token (192 random bits) is the only key, as for ``/pay/{token}``; ``?lang=`` reads it in
another of the four languages (the order's own by default); Arabic is laid out right to
left. The page prints on A4 (its print stylesheet hides the button).
"""

from __future__ import annotations

import json
import re

from aiohttp import web

from bot.receipts import LABELS, Receipts, local_date, number_of, page_view, qr_text
from catalog.money import currency_code, exponent
from payments.invoices import StoredInvoice, financial_year
from payments.qr import render_qr_png_async
from webhooks import keys as k
from webhooks.payment_routes import PAGES, require_admin

RECEIPTS = web.AppKey("receipts", Receipts)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")


async def _stored(request: web.Request) -> StoredInvoice:
    token = request.match_info["token"]
    if _TOKEN.fullmatch(token) is None:
        raise web.HTTPNotFound(text="no such receipt")
    stored = await request.app[RECEIPTS].by_token(token)
    if stored is None:
        raise web.HTTPNotFound(text="no such receipt")
    return stored


async def receipt_qr(request: web.Request) -> web.Response:
    """The invoice's details as a QR code (bot/receipts.py:qr_text)."""
    png = await render_qr_png_async(qr_text(await _stored(request)))
    return web.Response(body=png, content_type="image/png",
                        headers={"Cache-Control": "private, max-age=86400"})


async def receipt_page(request: web.Request) -> web.Response:
    stored = await _stored(request)
    wanted = request.query.get("lang")
    if wanted is not None and wanted not in LABELS:
        raise web.HTTPBadRequest(text=f"lang must be one of {', '.join(LABELS)}")
    view = page_view(stored, wanted or str(json.loads(stored.document).get("language", "en")))
    page = request.app[PAGES].get_template("receipt.html").render(v=view)
    return web.Response(text=page, content_type="text/html", headers={
        "Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff", "X-Robots-Tag": "noindex"})


async def api_invoices(request: web.Request) -> web.Response:
    """``GET /api/invoices?shop=ID[&fy=2026]``: the shop's invoices of one financial year
    (the current one by default), in number order, with their tax: the sales register a
    GST return is filed from. Admin token required."""
    require_admin(request)
    app = request.app
    shops = app[k.SHOPS].runtimes
    shop_id = request.query.get("shop") or (next(iter(shops)) if len(shops) == 1 else "")
    runtime = shops.get(shop_id)
    if runtime is None:
        raise web.HTTPBadRequest(text=f"name the shop with ?shop= ({', '.join(sorted(shops))})")
    shop = runtime.shop
    start = shop.invoice.year_start_month if shop.invoice else 4
    fy_text = request.query.get("fy")
    if fy_text is None:
        fy = financial_year(local_date(app[k.CLOCK].now_ms(), shop.timezone).date(), start)
    else:
        if not (fy_text.isascii() and fy_text.isdigit() and len(fy_text) == 4):
            raise web.HTTPBadRequest(text="fy must be the year the financial year starts in, "
                                          "e.g. 2026 for 2026-27")
        fy = int(fy_text)
    rows = []
    for stored in await app[k.INVOICE_RECORDS].for_shop(shop.id, fy):
        document = json.loads(stored.document)
        totals = document["totals"]
        rows.append({
            "number": number_of(stored), "order": document["order"], "kind": stored.kind,
            "issued_at": stored.issued_at,
            "date": local_date(stored.issued_at, str(document["timezone"])).date().isoformat(),
            "currency": currency_code(document["currency"]),
            "exponent": exponent(document["currency"]),
            "place_of_supply": document.get("place_of_supply"),
            "taxable_minor": totals["taxable"], "cgst_minor": totals["cgst"],
            "sgst_minor": totals["sgst"], "igst_minor": totals["igst"],
            "total_minor": totals["net"], "url": app[RECEIPTS].url(stored.token)})
    return web.json_response({"shop": shop.id, "fy": fy, "invoices": rows},
                             headers={"Cache-Control": "no-store"})


def setup_receipt_routes(app: web.Application) -> None:
    app.router.add_get("/receipt/{token}", receipt_page)
    app.router.add_get("/receipt/{token}/qr.png", receipt_qr)
    app.router.add_get("/api/invoices", api_invoices)
