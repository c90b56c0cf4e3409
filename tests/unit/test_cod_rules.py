"""Cash on delivery, the pure parts: the order machine's COD edges, ``payments.cod`` in
shop.yaml as ``haat check`` reads it, and the ledger and audit of cash in hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.loader import SHOP_FILE
from catalog.models import CashOnDelivery
from catalog.money import Money
from payments.audit import expected_balances
from payments.book import COD, OrderBook
from payments.ledger import (
    CASH_PROVIDER,
    Account,
    balances,
    check_balanced,
    clearing,
    postings_for_capture,
    postings_for_order,
    postings_for_return,
)
from payments.repository import Order, PaymentRequest
from payments.status import (
    InvalidTransition,
    OrderEvent,
    OrderStatus,
    PaymentEventKind,
    PaymentStatus,
    apply_events,
    order_transition,
)
from tests.unit.test_loader import make_shop, position
from tests.unit.test_payment_status import ev
from webhooks.plugins import check_shop_with_warnings, load_shop

OS = OrderStatus
OE = OrderEvent


# ---- the order machine ----------------------------------------------------------------
def test_cod_happy_path_is_paid_only_when_the_cash_is_collected() -> None:
    status = OS.AWAITING_CONFIRMATION
    for event, expected in [(OE.CONFIRM, OS.CONFIRMED), (OE.SHIP, OS.SHIPPED),
                            (OE.CASH_COLLECTED, OS.DELIVERED)]:
        status = order_transition(status, event)
        assert status is expected


@pytest.mark.parametrize("status", [OS.AWAITING_CONFIRMATION, OS.CONFIRMED])
def test_a_cod_order_is_cancelled_or_switched_to_prepaid_before_dispatch(
        status: OrderStatus) -> None:
    assert order_transition(status, OE.CANCEL) is OS.CANCELLED
    assert order_transition(status, OE.PAYMENT_RECEIVED) is OS.PAID
    with pytest.raises(InvalidTransition):  # money arrived: refund it, never a cancel
        order_transition(status, OE.CANCEL, payment_in_flight=True)


@pytest.mark.parametrize(("status", "event"), [
    (OS.AWAITING_CONFIRMATION, OE.SHIP),  # never dispatched unconfirmed
    (OS.AWAITING_CONFIRMATION, OE.CASH_COLLECTED),
    (OS.CONFIRMED, OE.RETURN),  # not left yet: that is a cancel
    (OS.SHIPPED, OE.CANCEL),  # on its way: refused at the door is a return
    (OS.PENDING_PAYMENT, OE.CONFIRM),  # prepaid orders are not confirmed in chat
    (OS.PAID, OE.RETURN),
    (OS.RETURNED, OE.CASH_COLLECTED),
    (OS.CANCELLED, OE.CONFIRM),
])
def test_cod_edges_that_do_not_exist(status: OrderStatus, event: OrderEvent) -> None:
    with pytest.raises(InvalidTransition):
        order_transition(status, event)


def test_a_return_is_refused_once_money_was_taken() -> None:
    assert order_transition(OS.SHIPPED, OE.RETURN) is OS.RETURNED
    with pytest.raises(InvalidTransition):
        order_transition(OS.SHIPPED, OE.RETURN, payment_in_flight=True)


# ---- shop.yaml --------------------------------------------------------------------------
_COD = ("  tips: true", "  tips: true\n  cod: {max_order: \"800.00\", areas: [Salt Lake], "
        "confirm_minutes: 90, remind_minutes: 20}")


def test_cod_keys_load(tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=("[upi_link, payment_link]", "[cod, upi_link]"))
    (folder / SHOP_FILE).write_text((folder / SHOP_FILE).read_text(encoding="utf-8").replace(
        *_COD), encoding="utf-8")
    errors, warnings = check_shop_with_warnings(folder)
    assert errors == [] and warnings == []
    shop = load_shop(folder)
    assert shop.payments.methods == ("cod", "upi_link")
    assert shop.payments.prepaid_methods == ("upi_link",)
    assert shop.payments.cod == CashOnDelivery(max_order=Money(80_000, "INR"),
                                               areas=("Salt Lake",), confirm_minutes=90,
                                               remind_minutes=20)


@pytest.mark.parametrize(("replacement", "needle", "says"), [
    ("areas: [Park Street]", "Park Street", "not one of delivery.areas"),
    ("areas: [Salt lake]", None, None),  # case does not matter
    ("max_order: \"800.005\"", "800.005", "more decimals than INR allows"),
    ("remind_minutes: 95", "95", "must be less than confirm_minutes (90)"),
    ("confirm_minutes: 2", "2,", "at least 5"),
    ("confirm_after: 5", "confirm_after", "unknown key 'confirm_after'"),
])
def test_cod_keys_are_checked(tmp_path: Path, replacement: str, needle: str | None,
                              says: str | None) -> None:
    key = replacement.split(":", 1)[0]
    old = {"areas": "areas: [Salt Lake]", "max_order": 'max_order: "800.00"',
           "remind_minutes": "remind_minutes: 20", "confirm_minutes": "confirm_minutes: 90",
           "confirm_after": "remind_minutes: 20"}[key]
    text = _COD[1].replace(old, replacement)
    folder = make_shop(tmp_path, shop=("[upi_link, payment_link]", "[cod, upi_link]"))
    (folder / SHOP_FILE).write_text((folder / SHOP_FILE).read_text(encoding="utf-8").replace(
        _COD[0], text), encoding="utf-8")
    errors, _warnings = check_shop_with_warnings(folder)
    if needle is None:
        assert errors == []
        assert load_shop(folder).payments.cod.areas == ("Salt Lake",)
        return
    assert len(errors) == 1, [str(e) for e in errors]
    assert says is not None and says in errors[0].message, str(errors[0])
    assert errors[0].line == position(folder, SHOP_FILE, needle)[0]


def test_cod_areas_need_delivery_areas_and_a_cod_block_without_the_method_warns(
        tmp_path: Path) -> None:
    folder = make_shop(tmp_path, shop=(
        'delivery: {fee: "30.00", free_above: "500.00", areas: [Salt Lake]}\n', ""))
    (folder / SHOP_FILE).write_text((folder / SHOP_FILE).read_text(encoding="utf-8").replace(
        *_COD), encoding="utf-8")
    errors, warnings = check_shop_with_warnings(folder)
    assert [e.message for e in errors] == [
        "payments.cod.areas needs delivery.areas: add the areas you deliver to under "
        "delivery first"]
    assert len(warnings) == 1 and "'cod' is not in payments.methods" in warnings[0].message


def test_cod_allows_by_limit_and_area() -> None:
    cod = CashOnDelivery(max_order=Money(300_000, "BDT"), areas=("Mirpur", "Pallabi"))
    assert cod.allows(Money(300_000, "BDT"), "House 1, Road 2, Mirpur 10")
    assert not cod.allows(Money(300_001, "BDT"), "Mirpur 10")
    assert not cod.allows(Money(100, "BDT"), "Kafrul")
    assert cod.allows(Money(100, "BDT"), "pallabi section 7")
    assert CashOnDelivery().allows(Money(10**12, "BDT"), "")


# ---- ledger and audit -------------------------------------------------------------------
def _order(status: OrderStatus, total: int = 7_400) -> Order:
    return Order(id="s/ORD-1001", shop_id="s", number=1001, channel="simulator", customer="1",
                 status=status, currency="BDT", subtotal_minor=total - 5_000,
                 delivery_minor=5_000, tip_minor=0, total_minor=total, address="Mirpur",
                 language="bn", created_at=0, updated_at=0)


def _cash_request(status: PaymentStatus = PaymentStatus.ISSUED) -> PaymentRequest:
    return PaymentRequest(id="pr_cash", order_id="s/ORD-1001", shop_id="s", method=COD,
                          provider=CASH_PROVIDER, provider_ref=None, token="t", status=status,
                          amount_minor=7_400, currency="BDT", captured_minor=0,
                          refunded_minor=0, upi_link="", link_url="", vpa=None,
                          expires_at=0, created_at=0)


def test_cash_goes_to_cash_in_hand_against_the_receivable() -> None:
    assert clearing(CASH_PROVIDER) == str(Account.CASH_IN_HAND) == "cash_in_hand"
    assert clearing("sandbox") == "psp_clearing:sandbox"
    total = Money(7_400, "BDT")
    legs = postings_for_order("ORD-1001", total) + postings_for_capture(
        "ORD-1001", total, provider=CASH_PROVIDER, payment_id="pr_cash")
    check_balanced(legs)
    assert {a: v for (a, _c), v in balances(legs).items() if v} == {
        "cash_in_hand": 7_400, "merchant_revenue": -7_400}
    back = postings_for_order("ORD-1002", total) + postings_for_return("ORD-1002", total)
    check_balanced(back)
    assert all(v == 0 for v in balances(back).values())
    assert {p.ref for p in postings_for_return("ORD-1002", total)} == {"return:ORD-1002"}


def test_the_audit_expects_cash_in_hand_and_what_is_still_due() -> None:
    request = _cash_request()
    open_state = apply_events(request.amount, [])
    shipped = OrderBook(_order(OS.SHIPPED), (request,), {request.id: open_state}, ())
    assert shipped.cash_due == 7_400
    assert expected_balances(shipped)[Account.CUSTOMER_RECEIVABLE] == 7_400
    assert expected_balances(shipped)[Account.CASH_IN_HAND] == 0
    cash = apply_events(request.amount, [ev(PaymentEventKind.CAPTURED, 7_400, pid="cash:1",
                                            currency="BDT", provider=CASH_PROVIDER)])
    delivered = OrderBook(_order(OS.DELIVERED), (request,), {request.id: cash}, ())
    assert delivered.cash_due == 0 and delivered.cash_collected == 7_400
    assert expected_balances(delivered) == {
        Account.CUSTOMER_RECEIVABLE: 0, Account.PSP_CLEARING: 0, Account.CASH_IN_HAND: 7_400,
        Account.REFUNDS_PAYABLE: 0, Account.TIPS: 0, Account.MERCHANT_REVENUE: -7_400}
    returned = OrderBook(_order(OS.RETURNED), (request,), {request.id: open_state}, ())
    assert returned.cash_due == 0
    assert expected_balances(returned)[Account.MERCHANT_REVENUE] == 0
    assert expected_balances(returned)[Account.CUSTOMER_RECEIVABLE] == 0


# ---- what the buttons look like on WhatsApp ---------------------------------------------
def test_cod_buttons_fit_whatsapp_in_every_language() -> None:
    """At most three reply buttons, titles of at most 20 characters (docs/ARCHITECTURE.md,
    "Cash on delivery"), so no language's title is cut on Cloud API."""
    from bot.flows.cod import confirm_buttons_for
    from bot.replies import TEXTS

    shop = load_shop(Path(__file__).resolve().parents[1] / "conversations" / "shops" / "cod")
    order = _order(OS.AWAITING_CONFIRMATION)
    for language in ("en", "hi", "bn", "ar"):
        buttons = confirm_buttons_for(shop, language, order, confirmed=False)
        assert len(buttons) == 3
        assert [b.payload for b in buttons] == ["cod:confirm:1001", "cod:prepaid:1001",
                                                "cod:cancel:1001"]
        for key in ("cod_button", "cod_confirm_button", "cod_cancel_button",
                    "cod_prepaid_button"):
            assert 0 < len(TEXTS[key][language]) <= 20, (key, language)
