"""Receipts and invoices: one per order, issued once money is in, shown at /receipt/{token}.

:meth:`Receipts.issue` is the one entry point the flows call: after a capture
(bot/flows/payment_updates.py) and, for cash on delivery, when the cash is collected. It
adds the statements to the caller's write set, so the receipt exists exactly when the
payment (or delivery) does, and issuing again returns the same invoice.

The receipt is built here, from the order as placed (its lines, prices, address), the
catalog (HSN codes, GST rates, units) and shop.yaml ``invoice:`` (legal name, address,
GSTIN, state), and stored whole as JSON: editing the shop later never rewrites an invoice
a shopper already holds. The page (webhooks/receipt_routes.py) only translates its labels.

Three kinds: a *tax invoice* (the shop has a GSTIN: GST per line, CGST + SGST inside the
shop's state, IGST to another state), a *bill of supply* (an Indian shop not registered for
GST: no tax), and a plain *receipt* (other countries).
"""

from __future__ import annotations

import json
import secrets
import zoneinfo
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from bot.replies import shop_name
from catalog.gst import STATES, state_in_address
from catalog.invoice_schema import default_prefix
from catalog.models import Shop
from catalog.money import Money, currency_code
from payments.invoices import (
    InvoiceRepository,
    ReceiptKind,
    StoredInvoice,
    financial_year,
    invoice_number,
)
from payments.repository import Order, OrderLine
from payments.tax import rate_text, split_inclusive
from storage.database import Database, WriteSet

TAX_INVOICE = ReceiptKind.TAX_INVOICE
BILL_OF_SUPPLY = ReceiptKind.BILL_OF_SUPPLY
RECEIPT = ReceiptKind.RECEIPT
DOCUMENT_VERSION = 1

# what the page says, per language (the merchant's own texts stay as written)
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "tax_invoice": "Tax invoice", "bill_of_supply": "Bill of supply",
        "receipt": "Receipt", "invoice_no": "Invoice no.", "date": "Date", "order": "Order",
        "gstin": "GSTIN", "state": "State", "place_of_supply": "Place of supply",
        "delivered_to": "Delivered to", "item": "Item", "hsn": "HSN", "qty": "Qty",
        "price": "Price", "amount": "Amount", "taxable": "Taxable value", "cgst": "CGST",
        "sgst": "SGST", "igst": "IGST", "delivery": "Delivery", "discount": "Discount",
        "total": "Total", "total_tax": "Total GST", "paid_by": "Paid by",
        "reference": "Reference", "tax_included": "Prices include GST.",
        "unregistered": "Supplier not registered for GST: no tax charged.",
        "print": "Print", "thanks": "Thank you!",
        "intra": "within the state", "inter": "to another state",
    },
    "hi": {
        "tax_invoice": "टैक्स इनवॉइस", "bill_of_supply": "बिल ऑफ़ सप्लाई", "receipt": "रसीद",
        "invoice_no": "इनवॉइस नंबर", "date": "तारीख", "order": "ऑर्डर", "gstin": "GSTIN",
        "state": "राज्य", "place_of_supply": "आपूर्ति का स्थान",
        "delivered_to": "डिलीवरी का पता", "item": "सामान", "hsn": "HSN", "qty": "मात्रा",
        "price": "दर", "amount": "राशि", "taxable": "कर योग्य मूल्य", "cgst": "CGST",
        "sgst": "SGST", "igst": "IGST", "delivery": "डिलीवरी", "discount": "छूट",
        "total": "कुल", "total_tax": "कुल GST", "paid_by": "भुगतान का तरीका",
        "reference": "संदर्भ", "tax_included": "कीमतों में GST शामिल है।",
        "unregistered": "विक्रेता GST में पंजीकृत नहीं है: कोई कर नहीं लिया गया।",
        "print": "प्रिंट करें", "thanks": "धन्यवाद!",
        "intra": "राज्य के भीतर", "inter": "दूसरे राज्य में",
    },
    "bn": {
        "tax_invoice": "ট্যাক্স ইনভয়েস", "bill_of_supply": "বিল অফ সাপ্লাই", "receipt": "রসিদ",
        "invoice_no": "ইনভয়েস নং", "date": "তারিখ", "order": "অর্ডার", "gstin": "GSTIN",
        "state": "রাজ্য", "place_of_supply": "সরবরাহের স্থান",
        "delivered_to": "ডেলিভারির ঠিকানা", "item": "পণ্য", "hsn": "HSN", "qty": "পরিমাণ",
        "price": "দর", "amount": "দাম", "taxable": "করযোগ্য মূল্য", "cgst": "CGST",
        "sgst": "SGST", "igst": "IGST", "delivery": "ডেলিভারি", "discount": "ছাড়",
        "total": "মোট", "total_tax": "মোট GST", "paid_by": "পেমেন্টের মাধ্যম",
        "reference": "রেফারেন্স", "tax_included": "দামে GST ধরা আছে।",
        "unregistered": "বিক্রেতা GST-তে নিবন্ধিত নন: কোনো কর নেওয়া হয়নি।",
        "print": "প্রিন্ট", "thanks": "ধন্যবাদ!",
        "intra": "রাজ্যের ভেতরে", "inter": "অন্য রাজ্যে",
    },
    "ar": {
        "tax_invoice": "فاتورة ضريبية", "bill_of_supply": "فاتورة توريد", "receipt": "إيصال",
        "invoice_no": "رقم الفاتورة", "date": "التاريخ", "order": "الطلب", "gstin": "GSTIN",
        "state": "الولاية", "place_of_supply": "مكان التوريد",
        "delivered_to": "عنوان التوصيل", "item": "الصنف", "hsn": "HSN", "qty": "الكمية",
        "price": "السعر", "amount": "المبلغ", "taxable": "القيمة الخاضعة للضريبة",
        "cgst": "CGST", "sgst": "SGST", "igst": "IGST", "delivery": "التوصيل",
        "discount": "الخصم", "total": "الإجمالي", "total_tax": "إجمالي GST",
        "paid_by": "طريقة الدفع", "reference": "المرجع",
        "tax_included": "الأسعار تشمل ضريبة GST.",
        "unregistered": "المورّد غير مسجل في GST: لم تُحتسب ضريبة.",
        "print": "طباعة", "thanks": "شكراً!",
        "intra": "داخل الولاية", "inter": "إلى ولاية أخرى",
    },
}
# how each payment method reads on the receipt; a method not listed shows its own name
METHODS: dict[str, dict[str, str]] = {
    "upi_link": {"en": "UPI", "hi": "UPI", "bn": "UPI", "ar": "UPI"},
    "collect": {"en": "UPI", "hi": "UPI", "bn": "UPI", "ar": "UPI"},
    "payment_link": {"en": "Payment link", "hi": "पेमेंट लिंक", "bn": "পেমেন্ট লিংক",
                     "ar": "رابط الدفع"},
    "cod": {"en": "Cash on delivery", "hi": "कैश ऑन डिलीवरी", "bn": "ক্যাশ অন ডেলিভারি",
            "ar": "الدفع عند الاستلام"},
    "bkash": {"en": "bKash", "hi": "bKash", "bn": "বিকাশ", "ar": "bKash"},
    "nagad": {"en": "Nagad", "hi": "Nagad", "bn": "নগদ", "ar": "Nagad"},
    "rocket": {"en": "Rocket", "hi": "Rocket", "bn": "রকেট", "ar": "Rocket"},
    "upi_transfer": {"en": "UPI transfer", "hi": "UPI ट्रांसफ़र", "bn": "UPI ট্রান্সফার",
                     "ar": "تحويل UPI"},
    "bank_transfer": {"en": "Bank transfer", "hi": "बैंक ट्रांसफ़र", "bn": "ব্যাংক ট্রান্সফার",
                      "ar": "تحويل بنكي"},
}
RTL_LANGUAGES = frozenset({"ar"})


class ReceiptError(ValueError):
    """An order that cannot have a receipt (no lines, a currency mix)."""


# ---- the document (pure) ---------------------------------------------------------------


def _apportion(discount: int, grosses: Sequence[int]) -> list[int]:
    """Split an order-level discount over lines in proportion to their amounts, in whole
    minor units (largest remainder), so the shares add up to the discount exactly."""
    base = sum(grosses)
    if discount <= 0 or base <= 0:
        return [0 for _ in grosses]
    shares = [discount * g // base for g in grosses]
    order = sorted(range(len(grosses)), key=lambda i: -(discount * grosses[i] % base))
    for i in order[:discount - sum(shares)]:
        shares[i] += 1
    return shares


def build_document(shop: Shop, order: Order, lines: Sequence[OrderLine], *, method: str,
                   reference: str | None, issued_at: int) -> dict[str, Any]:
    """The receipt as stored: every amount an integer in minor units, the order's total
    exactly the sum of its lines (payments/tax.py states the rounding)."""
    if not lines:
        raise ReceiptError("an order without lines has no receipt")
    profile = shop.invoice
    kind = TAX_INVOICE if profile is not None and profile.gstin else \
        BILL_OF_SUPPLY if order.currency == "INR" else RECEIPT
    seller_state = profile.state if profile is not None else None
    delivery_state = state_in_address(order.address) if order.address else None
    place = delivery_state or seller_state
    inter = kind == TAX_INVOICE and place is not None and place != seller_state
    rows: list[dict[str, Any]] = []
    for line in lines:
        if line.unit_price.currency != order.currency:
            raise ReceiptError("a receipt is in one currency")
        found = shop.catalog.find_sku(line.sku)
        product = found[0] if found else None
        rate = None
        if kind == TAX_INVOICE:
            rate = (product.gst_rate_bp if product and product.gst_rate_bp is not None
                    else profile.gst_rate_bp if profile else None)
        rows.append({"kind": "item", "name": line.name, "sku": line.sku,
                     "hsn": product.hsn if product else None,
                     "unit": product.unit if product else None,
                     "quantity": line.quantity, "unit_price": line.unit_price.minor,
                     "gross": line.total.minor, "rate_bp": rate})
    if order.delivery_minor:
        rate = profile.delivery_gst_rate_bp if kind == TAX_INVOICE and profile else None
        rows.append({"kind": "delivery", "name": "", "sku": "", "quantity": 1,
                     "hsn": profile.delivery_hsn if profile else None, "unit": None,
                     "unit_price": order.delivery_minor, "gross": order.delivery_minor,
                     "rate_bp": rate})
    before = sum(r["gross"] for r in rows)
    discount = before - order.total_minor  # an order-level discount, if any
    if discount < 0:
        raise ReceiptError("the order's total is more than its lines and delivery")
    for row, share in zip(rows, _apportion(discount, [r["gross"] for r in rows]), strict=True):
        row["discount"] = share
        net = row["gross"] - share
        split = split_inclusive(net, row["rate_bp"] or 0, inter_state=inter)
        row.update(net=net, taxable=split.taxable, cgst=split.cgst, sgst=split.sgst,
                   igst=split.igst)
    totals = {key: sum(r[key] for r in rows)
              for key in ("gross", "discount", "net", "taxable", "cgst", "sgst", "igst")}
    totals["tax"] = totals["cgst"] + totals["sgst"] + totals["igst"]
    if totals["net"] != order.total_minor:  # pragma: no cover - _apportion is exact
        raise ReceiptError("the receipt's lines do not add up to the order's total")
    name = shop_name(shop, order.language)
    return {
        "v": DOCUMENT_VERSION, "kind": kind, "currency": order.currency,
        "whole": bool(profile and profile.whole_amounts),
        "seller": {"trade_name": name,
                   "legal_name": profile.legal_name if profile else name,
                   "address": profile.address if profile else "",
                   "gstin": profile.gstin if profile else None, "state": seller_state},
        "order": order.label, "language": order.language, "address": order.address,
        "place_of_supply": place if kind == TAX_INVOICE else None,
        "supply": ("inter" if inter else "intra") if kind == TAX_INVOICE else None,
        "lines": rows, "totals": totals, "timezone": shop.timezone, "issued_at": issued_at,
        "payment": {"method": method, "reference": reference or ""},
    }


def local_date(ms: int, timezone: str) -> datetime:
    """The moment in the shop's timezone (the date on the invoice, its financial year)."""
    try:
        zone: tzinfo = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return datetime.fromtimestamp(ms / 1000, tz=zone)


# ---- issuing ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedReceipt:
    """What the flow tells the shopper: the link (the number is the database's)."""

    token: str
    url: str
    existing: StoredInvoice | None  # issued before: the same invoice, nothing written


class Receipts:
    def __init__(self, db: Database, *, shop_for: Callable[[str], Shop | None],
                 lines: Callable[[str], Awaitable[list[OrderLine]]], public_url: str) -> None:
        self.repo = InvoiceRepository(db)
        self.shop_for = shop_for
        self._lines = lines  # PaymentService.lines: the order's lines as placed
        self.public_url = public_url.rstrip("/")

    def url(self, token: str) -> str:
        return f"{self.public_url}/receipt/{token}"

    async def issue(self, writes: WriteSet, order: Order, *, method: str,
                    reference: str | None, now_ms: int) -> IssuedReceipt | None:
        """Give ``order`` its receipt in ``writes`` (idempotent: an order that has one gets
        the same one back and nothing is written). None when the shop is not served."""
        existing = await self.repo.for_order(order.id)
        if existing is not None:
            return IssuedReceipt(existing.token, self.url(existing.token), existing)
        shop = self.shop_for(order.shop_id)
        if shop is None:
            return None
        document = build_document(shop, order, await self._lines(order.id), method=method,
                                  reference=reference, issued_at=now_ms)
        start = shop.invoice.year_start_month if shop.invoice else 4
        prefix = shop.invoice.prefix if shop.invoice else default_prefix(shop.id)
        fy = financial_year(local_date(now_ms, shop.timezone).date(), start)
        document["year_start_month"] = start
        # the next number must fit GST's 16 characters (else: the merchant is told)
        invoice_number(prefix, fy, await self.repo.last_number(order.shop_id, fy) + 1, start)
        token = secrets.token_urlsafe(24)
        self.repo.issue(writes, order_id=order.id, shop_id=order.shop_id, fy=fy,
                        prefix=prefix, token=token, kind=ReceiptKind(document["kind"]),
                        issued_at=now_ms, document=json.dumps(document, ensure_ascii=False,
                                                              sort_keys=True))
        return IssuedReceipt(token, self.url(token), None)

    async def for_order(self, order_id: str) -> StoredInvoice | None:
        return await self.repo.for_order(order_id)

    async def by_token(self, token: str) -> StoredInvoice | None:
        return await self.repo.by_token(token)


# ---- what the page shows ---------------------------------------------------------------


def number_of(stored: StoredInvoice) -> str:
    document = json.loads(stored.document)
    return invoice_number(stored.prefix, stored.fy, stored.seq,
                          int(document.get("year_start_month", 4)), strict=False)


def qr_text(stored: StoredInvoice) -> str:
    """What the receipt's QR code says, in ASCII for any scanner: seller, GSTIN, number,
    date, total and tax (the fields India's B2C invoice QR carries), one per line."""
    document: dict[str, Any] = json.loads(stored.document)
    totals = document["totals"]
    currency = str(document["currency"])

    def amount(minor: int) -> str:
        return f"{currency_code(currency)} {Money(minor, currency).to_decimal_string()}"

    seller = document["seller"]
    lines = [str(seller["legal_name"])]
    if seller.get("gstin"):
        lines.append(f"GSTIN: {seller['gstin']}")
    issued = local_date(int(document["issued_at"]), str(document["timezone"]))
    lines += [f"Invoice: {number_of(stored)}", f"Date: {issued:%d/%m/%Y}",
              f"Total: {amount(int(totals['net']))}"]
    if document["kind"] == TAX_INVOICE:
        lines.append(f"GST: {amount(int(totals['tax']))}")
    return "\n".join(lines)


def page_view(stored: StoredInvoice, language: str) -> dict[str, Any]:
    """Everything receipt.html shows, formatted for ``language``: labels translated, amounts
    in the currency's usual form, the date in the shop's timezone (DD/MM/YYYY)."""
    document: dict[str, Any] = json.loads(stored.document)
    lang = language if language in LABELS else "en"
    labels = LABELS[lang]
    currency = str(document["currency"])
    whole = bool(document.get("whole"))

    def money(minor: int) -> str:
        return Money(minor, currency).format(usual=True, whole=whole)

    rows = []
    for line in document["lines"]:
        name = labels["delivery"] if line["kind"] == "delivery" else line["name"]
        rate = line["rate_bp"]
        rows.append({
            "name": name, "hsn": line["hsn"] or "", "quantity": line["quantity"],
            "unit": line["unit"] or "", "price": money(line["unit_price"]),
            "amount": money(line["gross"]),
            "discount": money(line["discount"]) if line["discount"] else "",
            "taxable": money(line["taxable"]), "rate": rate_text(rate) if rate else "",
            "half_rate": rate_text(rate // 2) if rate else "",
            "cgst": money(line["cgst"]), "sgst": money(line["sgst"]),
            "igst": money(line["igst"])})
    totals = {key: money(value) for key, value in document["totals"].items()}
    seller = document["seller"]
    place = document.get("place_of_supply")
    payment = document["payment"]
    method = str(payment["method"])
    method_text = METHODS.get(method, {}).get(lang) or method.replace("_", " ").title()
    return {
        "lang": lang, "dir": "rtl" if lang in RTL_LANGUAGES else "ltr", "labels": labels,
        "kind": document["kind"], "title": labels[document["kind"]],
        "number": number_of(stored),
        "date": local_date(int(document["issued_at"]), str(document["timezone"]))
        .strftime("%d/%m/%Y"),
        "order": document["order"], "seller": seller,
        "seller_state": STATES.get(seller.get("state") or "", ""),
        "address": document["address"],
        "place_of_supply": f"{STATES.get(place, place)} ({place})" if place else "",
        "supply": labels[document["supply"]] if document.get("supply") else "",
        "inter": document.get("supply") == "inter", "rows": rows, "totals": totals,
        "has_discount": bool(document["totals"]["discount"]),
        "has_hsn": any(line["hsn"] for line in document["lines"]),
        "method": method_text, "reference": payment.get("reference") or "",
        "total_minor": document["totals"]["net"], "token": stored.token,
    }

