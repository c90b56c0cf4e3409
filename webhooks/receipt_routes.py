"""The shopper's receipt page: ``GET /receipt/{token}`` (bot/receipts.py builds it).

The token (192 random bits) is the only key, as for ``/pay/{token}``; ``?lang=`` reads it in
another of the four languages (the order's own by default); Arabic is laid out right to
left. The page prints on A4 (its print stylesheet hides the button).
"""

from __future__ import annotations

import json
import re

from aiohttp import web

from bot.receipts import LABELS, Receipts, page_view, qr_text
from payments.invoices import StoredInvoice
from payments.qr import render_qr_png_async
from webhooks.payment_routes import PAGES

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


def setup_receipt_routes(app: web.Application) -> None:
    app.router.add_get("/receipt/{token}", receipt_page)
    app.router.add_get("/receipt/{token}/qr.png", receipt_qr)
