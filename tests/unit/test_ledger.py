"""Double-entry postings: every helper balances, amounts are int minor units."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.money import Money
from payments.ledger import (
    Account,
    LedgerError,
    Posting,
    balances,
    check_balanced,
    clearing,
    is_balanced,
    postings_for_cancel,
    postings_for_capture,
    postings_for_order,
    postings_for_refund,
    postings_for_tip,
    totals_by_currency,
)
from payments.status import RefundStatus

INR = "INR"


def rs(minor: int) -> Money:
    return Money(minor, INR)


def test_capture_of_the_reference_sample() -> None:
    # payment_link.paid sample: 1000 paise captured, fee 24 (GST 4 included)
    legs = postings_for_capture("ORD-1", rs(1000), rs(24), provider="razorpay",
                                payment_id="pay_Qfldmt5StKZFCB")
    check_balanced(legs)
    bal = balances(legs)
    assert bal[("psp_clearing:razorpay", INR)] == 976
    assert bal[(Account.CUSTOMER_RECEIVABLE.value, INR)] == -1000
    assert bal[(Account.FEES.value, INR)] == 24
    assert {p.ref for p in legs} == {"capture:ORD-1:pay_Qfldmt5StKZFCB"}


def test_full_order_life_nets_to_zero_except_fees() -> None:
    legs = [
        *postings_for_order("ORD-7", rs(14950)),
        *postings_for_capture("ORD-7", rs(14950), rs(300), payment_id="p1"),
        *postings_for_refund("ORD-7", rs(14950), refund_id="r1", stage=RefundStatus.REQUESTED),
        *postings_for_refund("ORD-7", rs(14950), refund_id="r1", stage=RefundStatus.PROCESSED),
    ]
    check_balanced(legs)
    bal = balances(legs)
    assert bal[(Account.CUSTOMER_RECEIVABLE.value, INR)] == 0
    assert bal[(Account.MERCHANT_REVENUE.value, INR)] == 0
    assert bal[(Account.REFUNDS_PAYABLE.value, INR)] == 0
    assert bal[(clearing("sandbox"), INR)] == -300
    assert bal[(Account.FEES.value, INR)] == 300


def test_money_after_cancel_is_owed_back_to_the_shopper() -> None:
    legs = [
        *postings_for_order("ORD-8", rs(5000)),
        *postings_for_cancel("ORD-8", rs(5000)),
        *postings_for_capture("ORD-8", rs(5000)),
    ]
    assert balances(legs)[(Account.CUSTOMER_RECEIVABLE.value, INR)] == -5000  # we owe it
    legs += postings_for_refund("ORD-8", rs(5000), stage=RefundStatus.REQUESTED,
                                against=Account.CUSTOMER_RECEIVABLE)
    legs += postings_for_refund("ORD-8", rs(5000), stage=RefundStatus.PROCESSED)
    check_balanced(legs)
    assert balances(legs)[(Account.CUSTOMER_RECEIVABLE.value, INR)] == 0
    assert balances(legs)[(Account.MERCHANT_REVENUE.value, INR)] == 0


def test_tip_is_income() -> None:
    legs = postings_for_tip("ORD-9", rs(5000), rs(50), provider="razorpay")
    check_balanced(legs)
    assert balances(legs)[(Account.TIPS.value, INR)] == -5000


def test_zero_amounts_post_nothing() -> None:
    assert postings_for_capture("O", rs(0)) == []
    assert postings_for_tip("O", rs(0)) == []
    assert postings_for_capture("O", rs(100), rs(0)) == postings_for_capture("O", rs(100))


def test_unbalanced_and_malformed_postings_are_refused() -> None:
    legs = [Posting("a", 100, 0, INR, "x"), Posting("b", 0, 99, INR, "x")]
    assert not is_balanced(legs)
    with pytest.raises(LedgerError, match="INR"):
        check_balanced(legs)
    # balanced in total but not per currency
    mixed = [Posting("a", 100, 0, INR, "x"), Posting("b", 0, 100, "USD", "x")]
    assert totals_by_currency(mixed) == {INR: 100, "USD": -100}
    with pytest.raises(LedgerError):
        check_balanced(mixed)
    for debit, credit in ((0, 0), (5, 5), (-1, 0)):
        with pytest.raises(LedgerError):
            Posting("a", debit, credit, INR, "x")
    with pytest.raises(LedgerError, match="int"):
        Posting("a", 1.5, 0, INR, "x")  # type: ignore[arg-type]
    with pytest.raises(LedgerError, match="stage"):
        postings_for_refund("O", rs(1), stage="settled")  # type: ignore[arg-type]
    with pytest.raises(LedgerError, match="currency"):
        postings_for_capture("O", rs(100), Money(1, "USD"))


@given(
    amounts=st.lists(st.integers(0, 10**12), min_size=1, max_size=20),
    currency=st.sampled_from(["INR", "JPY", "KWD", "ETH/18"]),
)
def test_every_helper_balances_in_any_currency(amounts: list[int], currency: str) -> None:
    legs: list[Posting] = []
    for i, minor in enumerate(amounts):
        m = Money(minor, currency)
        fee = Money(minor // 50, currency)
        legs += postings_for_order(f"O{i}", m)
        legs += postings_for_capture(f"O{i}", m, fee, provider="razorpay")
        legs += postings_for_tip(f"O{i}", m)
        legs += postings_for_refund(f"O{i}", m, stage=RefundStatus.REQUESTED)
        legs += postings_for_refund(f"O{i}", m, stage=RefundStatus.PROCESSED, provider="razorpay")
        legs += postings_for_cancel(f"O{i}", m)
    check_balanced(legs)
    assert all(type(p.debit) is int and type(p.credit) is int for p in legs)
    assert sum(balances(legs).values()) == 0


# Found by `make mutants` (docs/TESTING.md): every leg of a tip, the refs that let a replay
# be recognised, and the refusals' reasons.
def _legs(postings: list[Posting]) -> list[tuple[str, int, int, str]]:
    return [(p.account, p.debit, p.credit, p.ref) for p in postings]


def test_a_tip_with_a_fee_posts_exactly_these_legs() -> None:
    assert _legs(postings_for_tip("ORD-9", rs(5000), rs(50), provider="razorpay",
                                  payment_id="pay_1")) == [
        ("psp_clearing:razorpay", 5000, 0, "tip:ORD-9:pay_1"),
        ("tips", 0, 5000, "tip:ORD-9:pay_1"),
        ("fees", 50, 0, "tip:ORD-9:pay_1"),
        ("psp_clearing:razorpay", 0, 50, "tip:ORD-9:pay_1"),
    ]
    # without a provider or payment id: the sandbox's clearing account, the order's ref
    assert {(p.account, p.ref) for p in postings_for_tip("ORD-9", rs(10))} == {
        ("psp_clearing:sandbox", "tip:ORD-9"), ("tips", "tip:ORD-9")}


def test_refs_carry_the_payment_or_refund_id_only_when_there_is_one() -> None:
    assert {p.ref for p in postings_for_capture("O", rs(100))} == {"capture:O"}
    assert {p.ref for p in postings_for_refund("O", rs(100))} == {"refund:O"}
    assert {p.ref for p in postings_for_refund("O", rs(100), refund_id="rf_1")} == {
        "refund:O:rf_1"}


def test_malformed_postings_say_why() -> None:
    with pytest.raises(LedgerError, match=r"^posting amounts must be int minor units$"):
        Posting("a", 1.0, 0, INR, "x")  # type: ignore[arg-type]
    for debit, credit in ((-1, 5), (5, -1), (-1, 0), (5, 5), (0, 0)):
        with pytest.raises(LedgerError,
                           match=r"^a posting is either a positive debit or a positive credit$"):
            Posting("a", debit, credit, INR, "x")
    with pytest.raises(LedgerError, match=r"^a fee must be in the payment's currency$"):
        postings_for_capture("O", rs(100), Money(1, "USD"))
