"""State machines, the event reducer, and its order/duplicate independence (Hypothesis)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.money import Money
from payments.ledger import (
    check_balanced,
    postings_for_capture,
    postings_for_order,
    postings_for_refund,
)
from payments.providers.base import ProviderEvent
from payments.providers.sandbox import SIGNATURE_HEADER, SandboxProvider
from payments.status import (
    ORDER_ALLOWED,
    PAYMENT_ALLOWED,
    REFUND_ALLOWED,
    WHATSAPP_ORDER_STATUS,
    InvalidTransition,
    OrderEvent,
    OrderStatus,
    PaymentEventKind,
    PaymentState,
    PaymentStatus,
    RefundEvent,
    RefundStatus,
    apply_events,
    canonical_key,
    order_transition,
    refund_transition,
    status_moved_forward,
    transition,
)

K = PaymentEventKind
P = PaymentStatus
PAYMENTS_DIR = Path(__file__).parents[2] / "payments"
A = Money(10_000, "INR")


def ev(
    kind: PaymentEventKind, amount: int = 0, at: int = 0, *, pid: str | None = None,
    rid: str | None = None, eid: str | None = None, currency: str = "INR",
    provider: str = "sandbox",
) -> ProviderEvent:
    return ProviderEvent(
        provider=provider, event_id=eid or f"{kind}:{pid}:{rid}:{at}:{amount}", kind=kind,
        provider_ref="slink_1", amount=Money(amount, currency), occurred_at=at,
        payment_id=pid, refund_id=rid,
    )


# --- order machine ---------------------------------------------------------------------
def test_order_happy_path() -> None:
    status = OrderStatus.PENDING_PAYMENT
    for event, expected in [
        (OrderEvent.PAYMENT_RECEIVED, OrderStatus.PAID),
        (OrderEvent.SHIP, OrderStatus.SHIPPED),
        (OrderEvent.DELIVER, OrderStatus.DELIVERED),
        (OrderEvent.REFUND_REQUESTED, OrderStatus.REFUND_PENDING),
        (OrderEvent.REFUND_FAILED, OrderStatus.REFUND_PENDING),
        (OrderEvent.REFUND_COMPLETED, OrderStatus.REFUNDED),
    ]:
        status = order_transition(status, event)
        assert status is expected


def test_order_cancel_only_without_payment_in_flight() -> None:
    assert order_transition(OrderStatus.PENDING_PAYMENT, OrderEvent.CANCEL) is (
        OrderStatus.CANCELLED
    )
    with pytest.raises(InvalidTransition):
        order_transition(OrderStatus.PENDING_PAYMENT, OrderEvent.CANCEL, payment_in_flight=True)
    for status in (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED):
        with pytest.raises(InvalidTransition):
            order_transition(status, OrderEvent.CANCEL)


@pytest.mark.parametrize(
    ("status", "event"),
    [
        (OrderStatus.DELIVERED, OrderEvent.SHIP),
        (OrderStatus.SHIPPED, OrderEvent.CANCEL),
        (OrderStatus.PENDING_PAYMENT, OrderEvent.SHIP),
        (OrderStatus.REFUNDED, OrderEvent.REFUND_REQUESTED),
        (OrderStatus.CANCELLED, OrderEvent.PAYMENT_RECEIVED),
        (OrderStatus.PENDING_PAYMENT, OrderEvent.REFUND_COMPLETED),
    ],
)
def test_order_rejects_backwards_and_skips(status: OrderStatus, event: OrderEvent) -> None:
    with pytest.raises(InvalidTransition) as info:
        order_transition(status, event)
    assert info.value.current == status


def test_order_repeats_are_idempotent() -> None:
    assert order_transition(OrderStatus.SHIPPED, OrderEvent.PAYMENT_RECEIVED) is (
        OrderStatus.SHIPPED
    )
    assert order_transition(OrderStatus.CANCELLED, OrderEvent.CANCEL) is OrderStatus.CANCELLED


def test_every_order_status_maps_to_whatsapp() -> None:
    assert set(WHATSAPP_ORDER_STATUS) == set(OrderStatus)
    assert set(WHATSAPP_ORDER_STATUS.values()) <= {
        "pending", "processing", "partially-shipped", "shipped", "completed", "canceled"
    }


# --- payment machine -------------------------------------------------------------------
def test_payment_transition_table_basics() -> None:
    assert transition(P.ISSUED, K.CAPTURED, complete=True) is P.PAID
    assert transition(P.ISSUED, K.CAPTURED) is P.PARTIALLY_PAID
    assert transition(P.ISSUED, K.FAILED) is P.ISSUED
    assert transition(P.EXPIRED, K.CAPTURED, complete=True) is P.PAID_AFTER_CLOSE
    assert transition(P.PAID, K.EXPIRED) is P.PAID
    with pytest.raises(InvalidTransition):
        transition(P.ISSUED, K.REFUNDED)
    with pytest.raises(InvalidTransition):
        transition(P.REFUNDED, K.REFUNDED, complete=False)


def test_statuses_never_move_backwards() -> None:
    assert status_moved_forward(P.ISSUED, P.PAID)
    assert status_moved_forward(P.EXPIRED, P.REFUNDED)
    assert not status_moved_forward(P.PAID, P.ISSUED)
    assert not status_moved_forward(P.PAID, P.PARTIALLY_PAID)
    assert not status_moved_forward(P.EXPIRED, P.ISSUED)
    assert not status_moved_forward(P.PAID, P.EXPIRED)
    # from every status, issued is unreachable except from itself
    for status in P:
        assert status_moved_forward(status, P.ISSUED) is (status is P.ISSUED)


def _diagram_edges(name: str) -> set[tuple[str, str]]:
    text = (PAYMENTS_DIR / name).read_text(encoding="utf-8")
    return {(a, b) for a, b in re.findall(r"^\s*(\w+) --> (\w+)", text, re.M)}


def test_mermaid_diagrams_match_the_tables() -> None:
    payment = {(s.value, t.value) for (s, _k, _c), t in PAYMENT_ALLOWED.items() if s != t}
    order = {(s.value, t.value) for (s, _e), t in ORDER_ALLOWED.items() if s != t}
    assert _diagram_edges("status_payment.mmd") == payment
    assert _diagram_edges("status_order.mmd") == order
    refund = {(s.value, t.value) for (s, _e), t in REFUND_ALLOWED.items() if s != t}
    assert _diagram_edges("status_refund.mmd") == refund


# --- reducer: examples -----------------------------------------------------------------
def test_single_capture_is_paid() -> None:
    state = apply_events(A, [ev(K.CAPTURED, 10_000, 5, pid="pay_1")])
    assert state.status is P.PAID
    assert state.captured == A and state.outstanding == Money(0, "INR")
    assert state.payment_ids == frozenset({"pay_1"})
    assert not state.is_open


def test_webhook_and_fetch_of_one_payment_count_once() -> None:
    state = apply_events(A, [
        ev(K.CAPTURED, 10_000, 5, pid="pay_1", eid="evt_a"),
        ev(K.CAPTURED, 10_000, 7, pid="pay_1", eid="fetch:pay_1:captured"),
        ev(K.CAPTURED, 10_000, 5, pid="pay_1", eid="evt_a"),
    ])
    assert state.captured == A
    assert state.status is P.PAID
    assert "overpaid" not in state.anomalies


@pytest.mark.parametrize("order", [0, 1])
def test_upi_retry_failed_then_captured(order: int) -> None:
    events = [ev(K.FAILED, 10_000, 5, pid="pay_1"), ev(K.CAPTURED, 10_000, 6, pid="pay_1")]
    state = apply_events(A, events if order == 0 else events[::-1])
    assert state.status is P.PAID
    assert state.failed_attempts == 1


def test_failed_attempt_leaves_request_open() -> None:
    state = apply_events(A, [ev(K.FAILED, 10_000, 5, pid="pay_1"),
                             ev(K.AUTHORIZED, 10_000, 6, pid="pay_2")])
    assert state.status is P.ISSUED
    assert state.is_open
    assert state.captured == Money(0, "INR")


def test_capture_after_expiry_is_paid_after_close() -> None:
    state = apply_events(A, [ev(K.CAPTURED, 10_000, 20, pid="pay_1"), ev(K.EXPIRED, 0, 10)])
    assert state.status is P.PAID_AFTER_CLOSE
    assert state.captured == A
    assert state.captured_after_close == A
    assert state.closed_at == 10


def test_capture_in_the_same_second_as_expiry_counts_in_time() -> None:
    state = apply_events(A, [ev(K.EXPIRED, 0, 10), ev(K.CAPTURED, 10_000, 10, pid="pay_1")])
    assert state.status is P.PAID
    assert state.captured_after_close == Money(0, "INR")


def test_expiry_after_payment_is_a_no_op() -> None:
    state = apply_events(A, [ev(K.CAPTURED, 10_000, 5, pid="p"), ev(K.EXPIRED, 0, 9),
                             ev(K.CANCELLED, 0, 11)])
    assert state.status is P.PAID
    assert state.closed_at is None


def test_partial_payments_then_expiry_keeps_the_money() -> None:
    state = apply_events(A, [ev(K.CAPTURED, 4_000, 1, pid="p1"), ev(K.EXPIRED, 0, 5)])
    assert state.status is P.EXPIRED
    assert state.captured == Money(4_000, "INR")
    assert state.refundable == Money(4_000, "INR")
    state = apply_events(A, [ev(K.CAPTURED, 4_000, 1, pid="p1"),
                             ev(K.CAPTURED, 6_000, 2, pid="p2")])
    assert state.status is P.PAID


def test_refunds_partial_full_and_capped() -> None:
    paid = [ev(K.CAPTURED, 10_000, 1, pid="p1")]
    state = apply_events(A, [*paid, ev(K.REFUNDED, 3_000, 5, pid="p1", rid="r1")])
    assert state.status is P.PARTIALLY_REFUNDED
    assert state.refundable == Money(7_000, "INR")
    state = apply_events(A, [*paid, ev(K.REFUNDED, 3_000, 5, pid="p1", rid="r1"),
                             ev(K.REFUNDED, 7_000, 6, pid="p1", rid="r2")])
    assert state.status is P.REFUNDED
    state = apply_events(A, [*paid, ev(K.REFUNDED, 12_000, 5, pid="p1", rid="r1")])
    assert state.refunded == A
    assert any(a.startswith("refund_exceeds_capture") for a in state.anomalies)


def test_refund_without_capture_is_an_anomaly_not_a_status() -> None:
    state = apply_events(A, [ev(K.REFUNDED, 100, 5, pid="p1", rid="r1")])
    assert state.status is P.ISSUED
    assert state.refunded == Money(0, "INR")
    assert any(a.startswith("refund_without_capture") for a in state.anomalies)


def test_refund_failed_is_recorded_without_moving_money() -> None:
    state = apply_events(A, [ev(K.CAPTURED, 10_000, 1, pid="p1"),
                             ev(K.REFUND_FAILED, 5_000, 3, pid="p1", rid="r1")])
    assert state.status is P.PAID
    assert state.refunded == Money(0, "INR")
    assert "refund_failed:sandbox:r1" in state.anomalies


def test_new_money_after_full_refund_is_refundable_again() -> None:
    state = apply_events(A, [ev(K.CAPTURED, 10_000, 1, pid="p1"),
                             ev(K.REFUNDED, 10_000, 2, pid="p1", rid="r1"),
                             ev(K.CAPTURED, 10_000, 3, pid="p2")])
    assert state.status is P.PARTIALLY_REFUNDED
    assert state.refundable == A


def test_currency_mismatch_and_conflicting_amounts() -> None:
    state = apply_events(A, [ev(K.CAPTURED, 10_000, 1, pid="p1", currency="USD", eid="e1")])
    assert state.status is P.ISSUED
    assert "currency_mismatch:sandbox:e1" in state.anomalies
    state = apply_events(A, [ev(K.CAPTURED, 6_000, 1, pid="p1"),
                             ev(K.CAPTURED, 10_000, 2, pid="p1")])
    assert state.captured == A  # the larger report wins: money is never under-counted
    assert "amount_conflict:sandbox:p1" in state.anomalies


def test_overpayment_is_kept_and_flagged() -> None:
    state = apply_events(A, [ev(K.CAPTURED, 10_000, 1, pid="p1"),
                             ev(K.CAPTURED, 10_000, 2, pid="p2")])
    assert state.status is P.PAID
    assert state.overpaid == A
    assert "overpaid" in state.anomalies


def test_empty_events() -> None:
    state = apply_events(A, [])
    assert state.status is P.ISSUED
    assert state.captured == Money(0, "INR")
    assert state.outstanding == A


# --- reducer: properties ---------------------------------------------------------------
@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Money, list[ProviderEvent], dict[str, tuple[int, int]]]:
    """A request amount, the distinct facts about it, and the captured payments
    (id → (amount, earliest time))."""
    amount = Money(draw(st.integers(1, 50_000)), "INR")
    events: list[ProviderEvent] = []
    captures: dict[str, tuple[int, int]] = {}
    for i in range(draw(st.integers(0, 4))):
        pid = f"pay_{i}"
        paid = draw(st.integers(1, amount.minor))
        at = draw(st.integers(0, 100))
        if draw(st.booleans()):
            events.append(ev(K.FAILED, paid, at - draw(st.integers(0, 3)), pid=pid))
        if draw(st.booleans()):
            events.append(ev(K.AUTHORIZED, paid, at, pid=pid))
        events.append(ev(K.CAPTURED, paid, at, pid=pid, eid=f"wh_{i}"))
        if draw(st.booleans()):  # the same capture seen again by reconciliation
            events.append(ev(K.CAPTURED, paid, at + draw(st.integers(0, 9)), pid=pid,
                             eid=f"fetch_{i}"))
        captures[pid] = (paid, at)
        for j in range(draw(st.integers(0, 2))):
            events.append(ev(K.REFUNDED, draw(st.integers(1, paid)),
                             at + draw(st.integers(1, 50)), pid=pid, rid=f"rf_{i}_{j}"))
            if draw(st.booleans()):
                events.append(ev(K.REFUND_FAILED, 1, at + 60, pid=pid, rid=f"rx_{i}_{j}"))
    for kind in (K.EXPIRED, K.CANCELLED):
        for source in ("sandbox", "haat"):
            if draw(st.integers(0, 3)) == 0:
                events.append(ev(kind, 0, draw(st.integers(0, 100)), provider=source))
    return amount, events, captures


@settings(max_examples=300, deadline=None)
@given(data=st.data(), scenario=scenarios())
def test_any_permutation_with_duplicates_gives_the_same_state(
    data: st.DataObject, scenario: tuple[Money, list[ProviderEvent], dict[str, tuple[int, int]]]
) -> None:
    amount, events, _ = scenario
    baseline = apply_events(amount, events)
    shuffled = data.draw(st.permutations(events))
    extra = data.draw(st.lists(st.sampled_from(events), max_size=8)) if events else []
    replayed = data.draw(st.permutations(shuffled + extra))
    assert apply_events(amount, shuffled) == baseline
    assert apply_events(amount, replayed) == baseline
    assert apply_events(amount, [*events, *events]) == baseline


@settings(max_examples=300, deadline=None)
@given(scenario=scenarios())
def test_money_invariants(
    scenario: tuple[Money, list[ProviderEvent], dict[str, tuple[int, int]]]
) -> None:
    amount, events, captures = scenario
    state = apply_events(amount, events)
    # captured money is never lost: every distinct payment counts exactly once
    assert state.captured.minor == sum(paid for paid, _ in captures.values())
    assert state.payment_ids == frozenset(captures)
    # refunds never exceed captures
    assert 0 <= state.refunded.minor <= state.captured.minor
    # a closed-for-sale status never hides late money
    if state.status in (P.EXPIRED, P.CANCELLED):
        assert state.captured_after_close.minor == 0
        assert state.captured.minor < amount.minor
    if state.status in (P.ISSUED, P.PARTIALLY_PAID):
        assert state.captured.minor < amount.minor and state.is_open
    if state.status is P.PAID:
        assert state.captured.minor >= amount.minor and state.refunded.minor == 0
    if state.status is P.REFUNDED:
        assert state.refunded == state.captured


@settings(max_examples=200, deadline=None)
@given(scenario=scenarios())
def test_late_money_lands_in_paid_after_close(
    scenario: tuple[Money, list[ProviderEvent], dict[str, tuple[int, int]]]
) -> None:
    amount, events, captures = scenario
    events = [e for e in events if e.kind not in (K.REFUNDED, K.REFUND_FAILED)]
    closes = [e.occurred_at for e in events if e.kind in (K.EXPIRED, K.CANCELLED)]
    state = apply_events(amount, events)
    if not closes:
        assert state.captured_after_close.minor == 0
        return
    t_close = min(closes)
    in_time = sum(paid for paid, at in captures.values() if at <= t_close)
    late = sum(paid for paid, at in captures.values() if at > t_close)
    if in_time < amount.minor and late:
        assert state.status is P.PAID_AFTER_CLOSE
        assert state.captured_after_close.minor == late
    elif in_time < amount.minor:
        assert state.status in (P.EXPIRED, P.CANCELLED)
    else:
        assert state.status is P.PAID


@settings(max_examples=200, deadline=None)
@given(scenario=scenarios())
def test_arrival_in_time_order_only_moves_forward(
    scenario: tuple[Money, list[ProviderEvent], dict[str, tuple[int, int]]]
) -> None:
    amount, events, _ = scenario
    ordered = sorted(events, key=canonical_key)
    previous: PaymentState | None = None
    for n in range(len(ordered) + 1):
        state = apply_events(amount, ordered[:n])
        if previous is not None:
            assert status_moved_forward(previous.status, state.status), (
                previous.status, state.status)
            assert state.captured.minor >= previous.captured.minor
        previous = state


@settings(max_examples=200, deadline=None)
@given(scenario=scenarios(), fee_percent=st.integers(0, 3))
def test_ledger_for_any_state_balances(
    scenario: tuple[Money, list[ProviderEvent], dict[str, tuple[int, int]]], fee_percent: int
) -> None:
    amount, events, captures = scenario
    state = apply_events(amount, events)
    postings = postings_for_order("ORD-1", amount)
    for pid, (paid, _) in sorted(captures.items()):
        fee = Money(paid * fee_percent // 100, "INR")
        postings += postings_for_capture("ORD-1", Money(paid, "INR"), fee, payment_id=pid)
    postings += postings_for_refund("ORD-1", state.refunded, stage=RefundStatus.REQUESTED)
    postings += postings_for_refund("ORD-1", state.refunded, stage=RefundStatus.PROCESSED)
    check_balanced(postings)
    clearing = sum(p.signed for p in postings if p.account == "psp_clearing:sandbox")
    fees = sum(p.signed for p in postings if p.account == "fees")
    assert clearing == state.captured.minor - state.refunded.minor - fees


# Found by `make mutants` (docs/TESTING.md): a refused transition says which machine, which
# event and which status (the merchant API and the logs show it).
@pytest.mark.parametrize(("refuse", "machine", "current", "event"), [
    (lambda: order_transition(OrderStatus.CANCELLED, OrderEvent.SHIP), "order",
     OrderStatus.CANCELLED, OrderEvent.SHIP),
    (lambda: order_transition(OrderStatus.PENDING_PAYMENT, OrderEvent.CANCEL,
                              payment_in_flight=True), "order",
     OrderStatus.PENDING_PAYMENT, OrderEvent.CANCEL),
    (lambda: refund_transition(RefundStatus.PROCESSED, RefundEvent.RETRY), "refund",
     RefundStatus.PROCESSED, RefundEvent.RETRY),
    (lambda: transition(PaymentStatus.ISSUED, PaymentEventKind.REFUNDED), "payment",
     PaymentStatus.ISSUED, PaymentEventKind.REFUNDED),
])
def test_a_refused_transition_names_its_machine_event_and_status(
        refuse: Callable[[], object], machine: str, current: str, event: str) -> None:
    with pytest.raises(InvalidTransition) as refused:
        refuse()
    assert (refused.value.current, refused.value.event) == (current, event)
    text = str(refused.value)
    assert text.startswith(f"{machine}: ")
    assert f"'{event}'" in text and f"'{current}'" in text


def test_edges_of_the_event_fold() -> None:
    """Found by `make mutants`: exact refunds, skipped bad events, counted failures."""
    amount = Money(100, "INR")
    c, r, f, e = (PaymentEventKind.CAPTURED, PaymentEventKind.REFUNDED,
                  PaymentEventKind.FAILED, PaymentEventKind.EXPIRED)
    # a bad event is skipped, not the end of the fold
    for bad in (ev(c, 100, 1, pid="p0", currency="USD"), ev(c, -5, 1, pid="p0")):
        state = apply_events(amount, [bad, ev(c, 100, 2, pid="p1")])
        assert state.captured == amount
    negative = apply_events(amount, [ev(c, -5, 1, pid="p0", eid="e-neg")])
    assert negative.anomalies == frozenset({"negative_amount:sandbox:e-neg"})
    # one capture, then refunds to the last paisa: no anomaly at all
    exact = apply_events(amount, [ev(c, 100, 1, pid="p1"), ev(r, 99, 2, pid="p1", rid="r1"),
                                  ev(r, 1, 3, pid="p1", rid="r2")])
    assert exact.refunded == amount and exact.anomalies == frozenset()
    assert exact.refund_ids == frozenset({"r1", "r2"})
    whole = apply_events(amount, [ev(c, 100, 1, pid="p1"), ev(r, 100, 2, pid="p1", rid="r1")])
    assert whole.anomalies == frozenset()
    # two expiry reports that differ in amount are one close, not a conflict
    closed = apply_events(amount, [ev(e, 0, 5, eid="x1"), ev(e, 100, 6, eid="x2")])
    assert not any(a.startswith("amount_conflict") for a in closed.anomalies)
    # two failed attempts before a UPI retry succeeds are both counted
    failed = apply_events(amount, [ev(f, 0, 1, pid="a1"), ev(f, 0, 2, pid="a2"),
                                   ev(c, 100, 3, pid="a3")])
    assert failed.failed_attempts == 2


def test_one_refund_reported_twice_counts_once_and_captures_without_ids_each_count() -> None:
    """Found by `make mutants`: the business key of refunds and of id-less captures."""
    amount = Money(100, "INR")
    c, r = PaymentEventKind.CAPTURED, PaymentEventKind.REFUNDED
    # refund.processed by webhook and the same refund seen by a poll: other event ids
    twice = apply_events(amount, [ev(c, 100, 1, pid="p1"),
                                  ev(r, 30, 2, pid="p1", rid="rfnd_1", eid="webhook-1"),
                                  ev(r, 30, 3, pid="p1", rid="rfnd_1", eid="poll-1")])
    assert twice.refunded == Money(30, "INR")
    # two captures a provider reports without payment ids are two payments
    two = apply_events(amount, [ev(c, 50, 1, eid="cap-a"), ev(c, 50, 2, eid="cap-b")])
    assert two.captured == amount


def test_a_callback_naming_a_refund_it_is_not_about_is_grouped_by_its_payment_or_itself() -> None:
    """Found by `make mutants` (``_business_key``): the refund id groups refund events only.

    Razorpay and Stripe set ``refund_id`` only on refund events, but the sandbox's callback
    format takes ``refund_id`` (and ``payment_id``) on any event type, so a payment event
    can arrive naming a refund, and a refund event naming none."""
    sandbox = SandboxProvider(None, "whsec_unit")

    def callback(eid: str, kind: str, at: int, amount: int, *, pid: str | None = None,
                 rid: str | None = None) -> ProviderEvent:
        body = json.dumps({
            "id": eid, "type": kind, "created_at": at, "ref": "slink_1",
            "reference": "ORD-7-1", "payment_id": pid, "refund_id": rid, "amount": amount,
            "currency": "INR"}, separators=(",", ":"), sort_keys=True).encode()
        headers = {SIGNATURE_HEADER: sandbox.sign(body)}
        assert sandbox.verify_callback(headers, body)
        [event] = sandbox.parse_callback(headers, body)
        return event

    amount = Money(100, "INR")
    # with its payment id, a capture naming a refund is that payment's capture: once
    once = apply_events(amount, [
        callback("sevt_1", "payment.captured", 1, 100, pid="spay_1", rid="srfnd_1"),
        callback("sevt_2", "payment.captured", 2, 100, pid="spay_1")])
    assert (once.captured, once.payment_ids) == (amount, frozenset({"spay_1"}))
    # without one, each capture or failure is its own fact, whatever refund they name
    captures = apply_events(amount, [
        callback("sevt_3", "payment.captured", 1, 50, rid="srfnd_1"),
        callback("sevt_4", "payment.captured", 2, 50, rid="srfnd_1")])
    assert (captures.status, captures.captured) == (P.PAID, amount)
    failures = apply_events(amount, [
        callback("sevt_5", "payment.failed", 1, 100, rid="srfnd_1"),
        callback("sevt_6", "payment.failed", 2, 100, rid="srfnd_1")])
    assert (failures.status, failures.failed_attempts) == (P.ISSUED, 2)
    # and two refunds that name no refund id are two refunds, not one
    refunds = apply_events(amount, [
        callback("sevt_7", "payment.captured", 1, 100, pid="spay_1"),
        callback("sevt_8", "refund.processed", 2, 30, pid="spay_1"),
        callback("sevt_9", "refund.processed", 3, 30, pid="spay_1")])
    assert (refunds.status, refunds.refunded, refunds.refund_ids) == (
        P.PARTIALLY_REFUNDED, Money(60, "INR"), frozenset())


# Issue 20: PaymentService._ledger_for reverses a capture (":rev" refs) when the captured
# amount goes down from the state before an event to the state after it. The state after
# is the state before with one more event (a redelivery stores nothing, a rejected event is
# left out), so this proves that branch is never reached: no arrival order, no duplicate
# (the same capture seen again, with another amount) lowers what a request has captured.
@settings(max_examples=300, deadline=None)
@given(data=st.data(), scenario=scenarios())
def test_one_more_event_never_lowers_the_captured_amount(
    data: st.DataObject, scenario: tuple[Money, list[ProviderEvent], dict[str, tuple[int, int]]]
) -> None:
    amount, events, captures = scenario
    for pid in data.draw(st.lists(st.sampled_from(sorted(captures)), max_size=3)
                         if captures else st.just([])):
        # the same payment reported again with another amount (an amount conflict)
        events.append(ev(K.CAPTURED, data.draw(st.integers(0, amount.minor)),
                         data.draw(st.integers(0, 100)), pid=pid,
                         eid=f"again_{pid}_{len(events)}"))
    arrived = data.draw(st.permutations(events))
    for n in range(len(arrived)):
        before = apply_events(amount, arrived[:n])
        after = apply_events(amount, arrived[:n + 1])
        assert after.captured.minor >= before.captured.minor


# --- a refund gives back from its own payment --------------------------------------------
def test_a_refund_counts_against_its_own_payment_only_and_after_its_capture() -> None:
    # the provider's refund of B is dated before B's capture and before A's
    events = [ev(K.REFUNDED, 1_500, 10, pid="B", rid="rB"), ev(K.CAPTURED, 6_000, 20, pid="A")]
    assert apply_events(A, events).refunded == Money(0, "INR")  # A gives nothing back
    both = apply_events(A, [*events, ev(K.CAPTURED, 4_000, 30, pid="B")])
    assert (both.captured, both.refunded) == (A, Money(1_500, "INR"))
    # never more than its payment took, even when the request holds more
    over = apply_events(A, [ev(K.CAPTURED, 6_000, 1, pid="A"), ev(K.CAPTURED, 4_000, 2, pid="B"),
                            ev(K.REFUNDED, 5_000, 3, pid="B", rid="rB")])
    assert over.refunded == Money(4_000, "INR")
    assert any(a.startswith("refund_exceeds_capture") for a in over.anomalies)


def test_a_refund_of_a_capture_without_a_payment_id_counts_against_the_request() -> None:
    state = apply_events(A, [ev(K.CAPTURED, A.minor, 1, eid="cap"),
                             ev(K.REFUNDED, 2_000, 2, pid="pay_x", rid="r1")])
    assert state.refunded == Money(2_000, "INR")


def test_a_second_late_payment_is_late_after_the_first_went_back() -> None:
    closed = [ev(K.EXPIRED, 0, 100), ev(K.CAPTURED, 2_500, 101, pid="late1"),
              ev(K.REFUNDED, 2_500, 102, pid="late1", rid="r1")]
    assert apply_events(Money(2_500, "INR"), closed).status is P.REFUNDED
    state = apply_events(Money(2_500, "INR"), [*closed, ev(K.CAPTURED, 2_500, 103, pid="late2")])
    assert state.captured_after_close == Money(5_000, "INR")


def test_a_payment_in_flight_blocks_only_cancel_and_return() -> None:
    # the money that is in flight may still arrive and move the order on
    assert order_transition(OrderStatus.PENDING_PAYMENT, OrderEvent.PAYMENT_RECEIVED,
                            payment_in_flight=True) is OrderStatus.PAID
    assert order_transition(OrderStatus.AWAITING_CONFIRMATION, OrderEvent.CONFIRM,
                            payment_in_flight=True) is OrderStatus.CONFIRMED


def test_a_refund_of_a_payment_never_captured_counts_nothing_beside_another_capture() -> None:
    state = apply_events(A, [ev(K.CAPTURED, 6_000, 1, pid="A"),
                             ev(K.REFUNDED, 2_000, 2, pid="ghost", rid="r1")])
    assert state.refunded == Money(0, "INR")
    assert any(a.startswith("refund_without_capture") for a in state.anomalies)


@pytest.mark.parametrize("first", [1, 3_000])
def test_refunds_of_one_payment_together_never_give_back_more_than_it_took(first: int) -> None:
    # the request holds 10,000 (A and B), B took 4,000: B's refunds stop at 4,000
    state = apply_events(A, [ev(K.CAPTURED, 6_000, 1, pid="A"), ev(K.CAPTURED, 4_000, 2, pid="B"),
                             ev(K.REFUNDED, first, 3, pid="B", rid="rB1"),
                             ev(K.REFUNDED, 4_000, 4, pid="B", rid="rB2")])
    assert state.refunded == Money(4_000, "INR")
    assert any(a.startswith("refund_exceeds_capture") for a in state.anomalies)
    # and A's own money is still all there to give back
    more = apply_events(A, [*[ev(K.CAPTURED, 6_000, 1, pid="A"), ev(K.CAPTURED, 4_000, 2, pid="B"),
                              ev(K.REFUNDED, first, 3, pid="B", rid="rB1"),
                              ev(K.REFUNDED, 4_000, 4, pid="B", rid="rB2")],
                            ev(K.REFUNDED, 6_000, 5, pid="A", rid="rA")])
    assert more.refunded == A and more.status is P.REFUNDED


@pytest.mark.parametrize("pid", ["A", None])
def test_refunds_that_name_no_payment_stop_at_what_is_left_to_give_back(pid: str | None) -> None:
    state = apply_events(A, [ev(K.CAPTURED, A.minor, 1, pid=pid, eid="cap"),
                             ev(K.REFUNDED, 6_000, 2, rid="r1"),
                             ev(K.REFUNDED, 6_000, 3, rid="r2")])
    assert state.refunded == A
    assert any(a.startswith("refund_exceeds_capture") for a in state.anomalies)
