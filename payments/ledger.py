"""Double-entry postings in integer minor units (pure; storage is the repository's job).

Accounts (``psp_clearing`` is suffixed with the provider, e.g. ``psp_clearing:razorpay``):

- ``customer_receivable`` asset: what shoppers owe. Debited when an order is placed, credited by
  captures; a credit balance means we hold a shopper's money (overpayment, payment after
  cancel) and owe it back.
- ``psp_clearing:<p>`` asset: money held by the provider for us until settlement. A manual
  transfer has no provider holding it: the money is already in the merchant's own wallet or
  bank account, one account per method (``psp_clearing:manual:bkash``,
  ``…:manual:upi_transfer``; ``PaymentService.account_of``), posted only when the merchant
  confirms it (``paid ORD-…``), never when the shopper says they sent it. It keeps the
  ``psp_clearing`` prefix so ``haat reconcile``'s audit (payments/audit.py) reads it as the
  clearing side of the order, and a refund sent back by hand credits the same account.
- ``cash_in_hand`` asset: cash collected at the door for cash-on-delivery orders (the
  "provider" ``cash``): debited when ``deliver``/``paid`` records it, against the
  shopper's ``customer_receivable``.
- ``merchant_revenue`` income, ``tips`` income, ``fees`` expense (provider fees incl. GST).
- ``refunds_payable`` liability: refunds promised and not yet processed.

Every function returns a balanced list (Σ debits = Σ credits per currency); the lead's
repository stores one list per commit and can assert :func:`check_balanced` before committing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from catalog.money import Money
from payments.status import RefundStatus


class Account(StrEnum):
    CUSTOMER_RECEIVABLE = "customer_receivable"
    PSP_CLEARING = "psp_clearing"
    CASH_IN_HAND = "cash_in_hand"
    MERCHANT_REVENUE = "merchant_revenue"
    TIPS = "tips"
    FEES = "fees"
    REFUNDS_PAYABLE = "refunds_payable"


class LedgerError(ValueError):
    """Postings that do not balance or are malformed."""


# the pseudo-provider of cash-on-delivery requests (method ``cod``): no PSP, the money is
# the cash the shop's rider collected
CASH_PROVIDER = "cash"


def clearing(provider: str) -> str:
    """Where one provider's money sits: ``psp_clearing:razorpay``, or ``cash_in_hand`` for
    cash collected on delivery."""
    if provider == CASH_PROVIDER:
        return Account.CASH_IN_HAND
    return f"{Account.PSP_CLEARING}:{provider}"


@dataclass(frozen=True, slots=True)
class Posting:
    """One leg: exactly one of ``debit``/``credit`` is positive; ``ref`` ties legs to a fact
    (order id, payment id, refund id) so a replay can be recognised."""

    account: str
    debit: int
    credit: int
    currency: str
    ref: str

    def __post_init__(self) -> None:
        if type(self.debit) is not int or type(self.credit) is not int:
            raise LedgerError("posting amounts must be int minor units")
        if self.debit < 0 or self.credit < 0 or (self.debit > 0) == (self.credit > 0):
            raise LedgerError("a posting is either a positive debit or a positive credit")

    @property
    def signed(self) -> int:
        """Debit positive, credit negative."""
        return self.debit - self.credit


def _pair(debit_acct: str, credit_acct: str, amount: Money, ref: str) -> list[Posting]:
    if amount.minor <= 0:
        return []
    return [
        Posting(debit_acct, amount.minor, 0, amount.currency, ref),
        Posting(credit_acct, 0, amount.minor, amount.currency, ref),
    ]


def postings_for_order(order_id: str, total: Money) -> list[Posting]:
    """Order placed: the shopper owes the total; the sale is the merchant's revenue."""
    return _pair(Account.CUSTOMER_RECEIVABLE, Account.MERCHANT_REVENUE, total, f"order:{order_id}")


def postings_for_cancel(order_id: str, total: Money) -> list[Posting]:
    """Unpaid order cancelled: the sale and the debt are reversed."""
    return _pair(Account.MERCHANT_REVENUE, Account.CUSTOMER_RECEIVABLE, total,
                 f"cancel:{order_id}")


def postings_for_return(order_id: str, total: Money) -> list[Posting]:
    """A cash-on-delivery order came back unpaid (refused at the door): as a cancel, the sale
    and the debt are reversed, under its own reference."""
    return _pair(Account.MERCHANT_REVENUE, Account.CUSTOMER_RECEIVABLE, total,
                 f"return:{order_id}")


def postings_for_capture(
    order_id: str, amount: Money, fee: Money | None = None, *, provider: str = "sandbox",
    payment_id: str | None = None,
) -> list[Posting]:
    """Money captured by the provider settles the shopper's debt; its fee is our expense."""
    ref = f"capture:{order_id}:{payment_id}" if payment_id else f"capture:{order_id}"
    legs = _pair(clearing(provider), Account.CUSTOMER_RECEIVABLE, amount, ref)
    if fee is not None and fee.minor:
        if fee.currency != amount.currency:
            raise LedgerError("a fee must be in the payment's currency")
        legs += _pair(Account.FEES, clearing(provider), fee, ref)
    return legs


def postings_for_tip(
    order_id: str, amount: Money, fee: Money | None = None, *, provider: str = "sandbox",
    payment_id: str | None = None,
) -> list[Posting]:
    """A tip is income that nobody owed: clearing up, tips up (fee as for a capture)."""
    ref = f"tip:{order_id}:{payment_id}" if payment_id else f"tip:{order_id}"
    legs = _pair(clearing(provider), Account.TIPS, amount, ref)
    if fee is not None and fee.minor:
        legs += _pair(Account.FEES, clearing(provider), fee, ref)
    return legs


def postings_for_refund(
    order_id: str, amount: Money, *, provider: str = "sandbox", refund_id: str | None = None,
    stage: RefundStatus = RefundStatus.PROCESSED, against: str = Account.MERCHANT_REVENUE,
) -> list[Posting]:
    """Refunds in two steps. ``requested``: the revenue (or, for money received after a
    cancel, the shopper's credit: ``against=customer_receivable``) becomes a refund liability.
    ``processed``: the provider pays it out of clearing. A failed refund posts nothing: the
    liability stays open until a retry is processed."""
    ref = f"refund:{order_id}:{refund_id}" if refund_id else f"refund:{order_id}"
    if stage == RefundStatus.REQUESTED:
        return _pair(against, Account.REFUNDS_PAYABLE, amount, ref)
    if stage == RefundStatus.PROCESSED:
        return _pair(Account.REFUNDS_PAYABLE, clearing(provider), amount, ref)
    raise LedgerError(f"unknown refund stage {stage!r}")


def totals_by_currency(postings: Iterable[Posting]) -> dict[str, int]:
    """Σ(debit − credit) per currency: all zeros when balanced."""
    sums: dict[str, int] = defaultdict(int)
    for posting in postings:
        sums[posting.currency] += posting.signed
    return dict(sums)


def is_balanced(postings: Iterable[Posting]) -> bool:
    return all(v == 0 for v in totals_by_currency(postings).values())


def check_balanced(postings: Iterable[Posting]) -> None:
    """Raise LedgerError unless debits equal credits in every currency."""
    off = {c: v for c, v in totals_by_currency(postings).items() if v}
    if off:
        raise LedgerError(f"postings do not balance: {off}")


def balances(postings: Iterable[Posting]) -> Mapping[tuple[str, str], int]:
    """Signed balance (debit − credit) per (account, currency)."""
    result: dict[tuple[str, str], int] = defaultdict(int)
    for posting in postings:
        result[(posting.account, posting.currency)] += posting.signed
    return dict(result)
