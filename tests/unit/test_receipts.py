"""Receipts: GST splits and their rounding, amounts in the usual form, GSTIN checks, and
invoice numbers (consecutive per shop and financial year) on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bot.receipts import (
    BILL_OF_SUPPLY,
    RECEIPT,
    TAX_INVOICE,
    Receipts,
    build_document,
    number_of,
    page_view,
)
from catalog.gst import gstin_check_character, gstin_problem, state_code, state_in_address
from catalog.models import Shop
from catalog.money import Money
from config.clock import Clock
from payments.invoices import (
    InvoiceNumberError,
    financial_year,
    invoice_number,
    year_label,
)
from payments.repository import Order, OrderLine
from payments.service import PaymentService
from payments.status import OrderStatus
from payments.tax import rate_text, split_inclusive
from storage.database import Conflict, Database, WriteSet, open_database
from tests.conftest import DEMO_SHOP, OPEN_HOURS_MS
from webhooks.plugins import check_shop, check_shop_with_warnings, load_shop

RATES_BP = (0, 10, 25, 100, 150, 300, 500, 600, 750, 1200, 1800, 2800, 4000)
APRIL_1_2027_IST_MS = 1_806_517_800_000  # 2027-04-01 00:00 Asia/Kolkata


# ---- GST splits ------------------------------------------------------------------------


@pytest.mark.parametrize("rate", RATES_BP)
def test_every_line_splits_exactly_and_each_tax_is_within_half_a_paisa(rate: int) -> None:
    for gross in [*range(0, 2001), 99_999, 1_00_000_00, 12_345_678_91]:
        for inter in (False, True):
            line = split_inclusive(gross, rate, inter_state=inter)
            assert line.taxable + line.tax == gross
            assert line.cgst == line.sgst and (line.igst == 0 or line.cgst == 0)
            exact_tax = gross * rate / (10_000 + rate)  # the test may use floats
            # each rounded component is within half a minor unit of the exact one
            assert abs(line.tax - exact_tax) <= (0.5 if inter else 1.0)
            if not inter:
                assert abs(line.cgst - exact_tax / 2) <= 0.5


def test_known_splits() -> None:
    # ₹24.00 at 5 % inside the state: 2 × 0.57, taxable 22.86 (22.86 × 5 % = 1.143)
    assert split_inclusive(2400, 500, inter_state=False) == \
        split_inclusive(2400, 500, inter_state=False).__class__(2400, 500, 2286, 57, 57, 0)
    igst = split_inclusive(11800, 1800, inter_state=True)
    assert (igst.taxable, igst.igst) == (10000, 1800)
    assert rate_text(1800) == "18%" and rate_text(250) == "2.5%" and rate_text(25) == "0.25%"


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError):
        split_inclusive(-1, 500, inter_state=False)


# ---- amounts ---------------------------------------------------------------------------


def test_indian_grouping_whole_taka_and_dirhams() -> None:
    assert Money(1_00_000_00, "INR").format(usual=True) == "₹1,00,000.00"
    assert Money(12_34_56_789_50, "INR").format(usual=True) == "₹12,34,56,789.50"
    assert Money(999_00, "INR").format(usual=True) == "₹999.00"
    assert Money(1_250_00, "BDT").format(usual=True, whole=True) == "৳1,250"
    assert Money(12_34_567_00, "BDT").format(usual=True, whole=True) == "৳12,34,567"
    assert Money(1_250_50, "BDT").format(usual=True, whole=True) == "৳1,250.50"  # never hidden
    assert Money(1_250_00, "BDT").format(usual=True) == "৳1,250.00"
    assert Money(1_234_567_00, "AED").format(usual=True) == "AED 1,234,567.00"
    assert Money(-5_00, "INR").format(usual=True) == "-₹5.00"
    assert Money(1_500, "JPY").format(usual=True) == "¥1,500"
    assert Money(1_250, "KWD").format(usual=True) == "KWD 1.250"


# ---- GSTIN and states ------------------------------------------------------------------


def test_gstin_layout_state_and_check_character() -> None:
    assert gstin_problem("27AAPFU0939F1ZV") is None  # a published GSTIN
    assert gstin_problem("19AAPCM1234F1ZG") is None
    assert "check character" in str(gstin_problem("27AAPFU0939F1ZW"))
    assert "15 characters" in str(gstin_problem("27AAPFU0939F1Z"))
    assert "15 characters" in str(gstin_problem("27AAPFU0939F1XV"))  # 14th must be Z
    bad_state = "98AAPFU0939F1Z"
    assert "state code" in str(gstin_problem(bad_state + gstin_check_character(bad_state)))


def test_state_names_codes_and_addresses() -> None:
    assert state_code("19") == state_code("WB") == state_code("west bengal") == "19"
    assert state_code("9") == "09" and state_code("Atlantis") is None
    assert state_in_address("Boring Road, Patna, Bihar 800001") == "10"
    assert state_in_address("Flat 2, Andhra Pradesh Bhavan, Delhi") == "07"  # the last one
    assert state_in_address("12 Salt Lake, Sector 1, Kolkata") is None


def _shop_folder(tmp_path: Path, invoice: str, catalog_extra: str = "") -> Path:
    folder = tmp_path / "shop"
    folder.mkdir(exist_ok=True)
    shop = (DEMO_SHOP / "shop.yaml").read_text(encoding="utf-8")
    shop = shop[:shop.index("invoice:")] + invoice
    (folder / "shop.yaml").write_text(shop, encoding="utf-8")
    catalog = (DEMO_SHOP / "catalog.yaml").read_text(encoding="utf-8")
    (folder / "catalog.yaml").write_text(catalog + catalog_extra, encoding="utf-8")
    return folder


def test_haat_check_validates_the_invoice_keys(tmp_path: Path) -> None:
    folder = _shop_folder(tmp_path, (
        "invoice:\n  legal_name: Mitra\n  address: Kolkata\n  gstin: 19AAPCM1234F1ZH\n"
        "  state: Bihar\n  prefix: MITRA\n  gst_rate: 7\n  whole_amounts: maybe\n"))
    messages = [e.message for e in check_shop(folder)]
    assert any("invoice.gstin '19AAPCM1234F1ZH': its check character is wrong (expected G)"
               in m for m in messages), messages
    assert any("invoice.prefix 'MITRA' must be 1-4" in m for m in messages)
    assert any("invoice.gst_rate '7' is not a GST rate" in m for m in messages)
    assert any("invoice.whole_amounts must be true or false" in m for m in messages)
    state = _shop_folder(tmp_path, "invoice:\n  legal_name: M\n  address: K\n"
                                   "  gstin: 19AAPCM1234F1ZG\n  state: BR\n")
    assert any("invoice.state is Bihar (10) but the GSTIN is registered in West Bengal (19)"
               in e.message for e in check_shop(state))
    rates = _shop_folder(tmp_path, "invoice:\n  legal_name: M\n  address: K\n"
                                   "  gstin: 19AAPCM1234F1ZG\n")
    assert any("every line of a tax invoice needs a GST rate" in e.message
               for e in check_shop(rates))
    unregistered = _shop_folder(tmp_path, "invoice:\n  legal_name: M\n  address: K\n"
                                          "  gst_rate: 5\n")
    assert any("invoice.gst_rate needs invoice.gstin" in e.message
               for e in check_shop(unregistered))
    hsn = _shop_folder(tmp_path, "invoice:\n  legal_name: M\n  address: K\n",
                       "  - {sku: X1, category: tea, name: X, price: '1.00', hsn: '09A2'}\n")
    assert any("hsn '09A2' must be an HSN or SAC code" in e.message for e in check_shop(hsn))


def test_a_gstin_outside_india_is_a_warning_and_ignored(tmp_path: Path) -> None:
    folder = _shop_folder(tmp_path, "invoice:\n  legal_name: M\n  address: K\n"
                                    "  gstin: 19AAPCM1234F1ZG\n  gst_rate: 5\n")
    shop_yaml = folder / "shop.yaml"
    # a dirham shop pays by link (UPI takes rupees only)
    shop_yaml.write_text(shop_yaml.read_text(encoding="utf-8").replace(
        "currency: INR", "currency: AED").replace(
        "methods: [upi_link, payment_link]", "methods: [payment_link]"), encoding="utf-8")
    errors, warnings = check_shop_with_warnings(folder)
    assert errors == [], errors
    assert any("it is ignored and receipts carry no GST" in w.message for w in warnings)
    shop = load_shop(folder)
    assert shop.invoice is not None and shop.invoice.gstin is None


def test_the_demo_shop_is_a_gst_registered_tea_house() -> None:
    shop = load_shop(DEMO_SHOP)
    assert shop.invoice is not None and shop.invoice.gstin == "19AAPCM1234F1ZG"
    assert shop.invoice.state == "19" and shop.invoice.prefix == "MTH"
    assert shop.invoice.gst_rate_bp == 500
    found = shop.catalog.find_sku("TEA-LEAVES-250G")
    assert found is not None and found[0].hsn == "0902"


# ---- the document ----------------------------------------------------------------------


def _order(shop: Shop, lines: list[OrderLine], delivery: int, *, address: str = "",
           total: int | None = None, language: str = "en") -> Order:
    subtotal = sum(line.total.minor for line in lines)
    return Order(id=f"{shop.id}/ORD-1001", shop_id=shop.id, number=1001, channel="simulator",
                 customer="919000000001", status=OrderStatus.PAID, currency=shop.currency,
                 subtotal_minor=subtotal, delivery_minor=delivery, tip_minor=0,
                 total_minor=subtotal + delivery if total is None else total,
                 address=address, language=language, created_at=0, updated_at=0)


def _line(sku: str, quantity: int, price: int, currency: str = "INR") -> OrderLine:
    return OrderLine(sku, sku.title(), quantity, Money(price, currency))


def test_tax_invoice_intra_state_sums_to_the_total() -> None:
    shop = load_shop(DEMO_SHOP)
    order = _order(shop, [_line("SAMOSA", 2, 1200), _line("TEA-LEAVES-250G", 1, 14000)],
                   3000, address="12 Salt Lake, Kolkata")
    doc = build_document(shop, order, [_line("SAMOSA", 2, 1200),
                                       _line("TEA-LEAVES-250G", 1, 14000)],
                         method="upi_link", reference="pay_1", issued_at=OPEN_HOURS_MS)
    assert doc["kind"] == TAX_INVOICE and doc["supply"] == "intra"
    assert doc["place_of_supply"] == "19"
    samosa, leaves, delivery = doc["lines"]
    assert (samosa["taxable"], samosa["cgst"], samosa["sgst"]) == (2286, 57, 57)
    assert leaves["hsn"] == "0902" and leaves["unit"] == "pack"
    assert delivery["kind"] == "delivery" and delivery["hsn"] == "996331"
    totals = doc["totals"]
    assert totals["net"] == order.total_minor == 19400
    assert totals["taxable"] + totals["tax"] == totals["net"]
    for key in ("taxable", "cgst", "sgst", "igst"):
        assert totals[key] == sum(line[key] for line in doc["lines"])


def test_delivery_to_another_state_is_igst() -> None:
    shop = load_shop(DEMO_SHOP)
    lines = [_line("SAMOSA", 3, 1200)]
    doc = build_document(shop, _order(shop, lines, 0, address="Boring Road, Patna, Bihar"),
                         lines, method="upi_link", reference=None, issued_at=0)
    assert doc["supply"] == "inter" and doc["place_of_supply"] == "10"
    (line,) = doc["lines"]
    assert (line["taxable"], line["igst"], line["cgst"]) == (3429, 171, 0)


def test_an_order_level_discount_is_shared_over_the_lines_before_tax() -> None:
    shop = load_shop(DEMO_SHOP)
    lines = [_line("SAMOSA", 1, 1000), _line("SAMOSA", 1, 2000), _line("SAMOSA", 1, 3000)]
    doc = build_document(shop, _order(shop, lines, 0, total=5900), lines, method="upi_link",
                         reference=None, issued_at=0)
    assert [line["discount"] for line in doc["lines"]] == [17, 33, 50]
    assert doc["totals"]["discount"] == 100 and doc["totals"]["net"] == 5900
    assert doc["totals"]["taxable"] + doc["totals"]["tax"] == 5900


def test_a_shop_without_gst_issues_a_bill_of_supply_and_abroad_a_receipt() -> None:
    shop = load_shop(DEMO_SHOP)
    assert shop.invoice is not None
    unregistered = replace(shop, invoice=replace(shop.invoice, gstin=None, gst_rate_bp=None))
    lines = [_line("SAMOSA", 2, 1200)]
    doc = build_document(unregistered, _order(shop, lines, 0), lines, method="upi_link",
                         reference=None, issued_at=0)
    assert doc["kind"] == BILL_OF_SUPPLY and doc["totals"]["tax"] == 0
    assert doc["seller"]["gstin"] is None
    dhaka = load_shop(Path(__file__).resolve().parents[2] / "examples" / "dhaka-grocer")
    sku = dhaka.catalog.products[0].sku
    taka = [OrderLine(sku, "x", 1, Money(125000, "BDT"))]
    receipt = build_document(dhaka, _order(dhaka, taka, 4000), taka, method="payment_link",
                             reference=None, issued_at=0)
    assert receipt["kind"] == RECEIPT and receipt["whole"] is True


# ---- numbers ---------------------------------------------------------------------------


def test_financial_years_and_numbers() -> None:
    assert financial_year(date(2027, 3, 31)) == 2026
    assert financial_year(date(2027, 4, 1)) == 2027
    assert financial_year(date(2027, 6, 30), 7) == 2026  # Bangladesh: July–June
    assert year_label(2026) == "2627" and year_label(2099) == "9900"
    assert year_label(2026, 1) == "2026"
    assert invoice_number("MTH", 2026, 123) == "MTH/2627/000123"
    assert invoice_number("MTHS", 2026, 999_999) == "MTHS/2627/999999"
    assert len(invoice_number("MT", 2026, 10_000_000)) == 16
    with pytest.raises(InvoiceNumberError):
        invoice_number("MTHS", 2026, 1_000_000)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = open_database(database_url)
    await database.start()
    yield database
    await database.close()


async def _placed(payments: PaymentService, shop: Shop, customer: str) -> Order:
    writes = WriteSet()
    order = await payments.place_order(
        writes, shop_id=shop.id, channel="simulator", customer=customer,
        lines=[OrderLine("SAMOSA", "Samosa", 2, Money(1200, "INR"))], delivery=Money(3000, "INR"),
        address="12 Salt Lake, Kolkata", language="en")
    await payments.db.write(writes)
    return order


async def _issue(receipts: Receipts, db: Database, order: Order, now: int) -> str:
    for _attempt in range(8):
        writes = WriteSet()
        await receipts.issue(writes, order, method="upi_link", reference=None, now_ms=now)
        try:
            await db.write(writes)
        except Conflict:
            continue  # another process issued it meanwhile: read it back
        break
    stored = await receipts.for_order(order.id)
    assert stored is not None
    return number_of(stored)


async def test_numbers_are_consecutive_per_shop_and_restart_each_financial_year(
        db: Database) -> None:
    shop = load_shop(DEMO_SHOP)
    other = replace(load_shop(DEMO_SHOP, "other"), invoice=replace(
        shop.invoice, prefix="OTH") if shop.invoice else None)
    shops = {shop.id: shop, other.id: other}
    clock = Clock.starting_at(OPEN_HOURS_MS)
    payments = PaymentService(db, {}, public_url="https://x.test", now_ms=clock.now_ms)
    receipts = Receipts(db, shop_for=shops.get, lines=payments.lines,
                        public_url="https://x.test")
    first = await _placed(payments, shop, "1")
    number = await _issue(receipts, db, first, clock.now_ms())
    assert number == "MTH/2627/000001"
    # issuing again (a redelivered callback, a retry) gives the same invoice
    assert await _issue(receipts, db, first, clock.now_ms()) == number
    second = await _issue(receipts, db, await _placed(payments, shop, "2"), clock.now_ms())
    assert second == "MTH/2627/000002"
    # another shop counts on its own
    assert await _issue(receipts, db, await _placed(payments, other, "3"),
                        clock.now_ms()) == "OTH/2627/000001"
    # the movable clock passes 31 March: a new year, a new series
    clock.offset_ms += APRIL_1_2027_IST_MS - clock.now_ms() - 1000
    assert await _issue(receipts, db, await _placed(payments, shop, "4"),
                        clock.now_ms()) == "MTH/2627/000003"
    clock.offset_ms += 2000
    assert await _issue(receipts, db, await _placed(payments, shop, "5"),
                        clock.now_ms()) == "MTH/2728/000001"
    stored = await receipts.for_order(first.id)
    assert stored is not None
    view = page_view(stored, "en")
    assert view["number"] == number and view["totals"]["net"] == "₹54.00"
    assert json.loads(stored.document)["totals"]["net"] == 5400


async def test_servers_sharing_postgresql_never_share_or_skip_a_number(
        fresh_postgres: str) -> None:
    """Two servers (two connection pools) issue at once for different orders and for the
    same ones: every order one number, the numbers 1..N with no gap."""
    shop = load_shop(DEMO_SHOP)
    servers = [open_database(fresh_postgres) for _ in range(2)]
    for server in servers:
        await server.start()
    try:
        payments = PaymentService(servers[0], {}, public_url="https://x.test",
                                  now_ms=lambda: OPEN_HOURS_MS)
        orders = [await _placed(payments, shop, str(i)) for i in range(12)]
        issuers = [Receipts(s, shop_for={shop.id: shop}.get, lines=payments.lines,
                            public_url="https://x.test") for s in servers]
        numbers = await asyncio.gather(*(
            _issue(issuers[i % 2], servers[i % 2], order, OPEN_HOURS_MS)
            for order in orders for i in range(2)))
        by_order = dict(zip([o.id for o in orders for _ in range(2)], numbers, strict=True))
        assert all(numbers[2 * i] == numbers[2 * i + 1] for i in range(len(orders)))
        assert sorted(by_order.values()) == [f"MTH/2627/{n:06d}" for n in range(1, 13)]
    finally:
        for server in servers:
            await server.close()
