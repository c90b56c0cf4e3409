"""An in-process PSP for the order-money tests: links it can cancel, captures the test
declares, and refunds that answer the way it is told (processed, pending then late,
failed, or an error), enforcing what a real PSP enforces: a refund never exceeds what its
payment captured, and one idempotency key is one refund."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import ClassVar

from catalog.money import Money
from payments.providers.base import (
    CollectRequest,
    LinkRequest,
    ProviderCollect,
    ProviderError,
    ProviderEvent,
    ProviderLink,
    ProviderRefund,
    Unsupported,
)

NAME = "scripted"
_ACCOUNTS = itertools.count(1)


@dataclass
class ScriptedPsp:
    name: ClassVar[str] = NAME
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"upi_link", "payment_link", "qr", "refund", "cancel"})

    refund_mode: str = "processed"  # processed | pending | failed | error
    captured: dict[str, int] = field(default_factory=dict)  # payment id → amount
    refunded: dict[str, int] = field(default_factory=dict)  # payment id → paid back
    refunds: dict[str, ProviderRefund] = field(default_factory=dict)
    by_key: dict[str, ProviderRefund] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)
    rejected: int = 0  # refunds the PSP itself had to refuse (haat should never cause one)
    # run once, first, inside the next refund (another process acting meanwhile)
    before_refund: Callable[[], Awaitable[object]] | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # a real PSP's refund ids are unique across all its accounts; tests that make many
    # fakes on one database (one per Hypothesis example) give each its own prefix
    refund_prefix: str = "srf"

    @classmethod
    def unique(cls) -> ScriptedPsp:
        """A fake whose refund ids no other fake of this process makes."""
        return cls(refund_prefix=f"srf{next(_ACCOUNTS)}")

    def capture(self, payment_id: str, amount: int) -> None:
        self.captured[payment_id] = amount

    def paid_out(self) -> int:
        return sum(self.refunded.values())

    async def create_payment_link(self, request: LinkRequest) -> ProviderLink:
        return ProviderLink(provider=NAME, provider_ref=f"sl_{request.reference}",
                            reference=request.reference, amount=request.amount,
                            upi_uri=f"upi://pay?pa=shop@okaxis&tr={request.reference}"
                                    f"&am={request.amount.to_decimal_string()}&cu=INR")

    async def create_collect(self, request: CollectRequest) -> ProviderCollect:
        raise Unsupported("no collect")

    async def cancel_link(self, provider_ref: str) -> None:
        self.cancelled.append(provider_ref)

    async def refund(self, payment_id: str, amount: Money, *, idempotency_key: str
                     ) -> ProviderRefund:
        look, self.before_refund = self.before_refund, None
        if look is not None:
            await look()
        if idempotency_key in self.by_key:
            return self.by_key[idempotency_key]
        if self.refund_mode == "error":
            raise ProviderError("HTTP 500 (scripted)")
        if payment_id not in self.captured:
            self.rejected += 1
            raise ProviderError("no captured payment with that id")
        room = self.captured[payment_id] - self.refunded.get(payment_id, 0)
        if amount.minor > room:
            self.rejected += 1
            raise ProviderError("The refund amount provided is greater than amount captured.")
        refund_id = f"{self.refund_prefix}_{next(self._ids)}"
        status = self.refund_mode if self.refund_mode in ("pending", "failed") else "processed"
        result = ProviderRefund(NAME, refund_id, payment_id, amount, status)
        if status != "failed":
            self.refunded[payment_id] = self.refunded.get(payment_id, 0) + amount.minor
            self.by_key[idempotency_key] = result
        self.refunds[refund_id] = result
        return result

    def finish(self, refund_id: str, status: str) -> None:
        """A pending refund ends later: processed ("late") or failed."""
        refund = self.refunds[refund_id]
        if status == "failed":
            self.refunded[refund.payment_id] -= refund.amount.minor
        self.refunds[refund_id] = replace(refund, status="failed" if status == "failed"
                                          else "processed")

    async def fetch_refund(self, payment_id: str, refund_id: str) -> ProviderRefund:
        """A refund's status now (pending until :meth:`finish`), as a PSP's fetch answers."""
        refund = self.refunds.get(refund_id)
        if refund is None or refund.payment_id != payment_id:
            raise ProviderError("no such refund")
        return refund

    async def fetch(self, provider_ref: str) -> list[ProviderEvent]:
        raise Unsupported("no fetch")

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> list[ProviderEvent]:
        raise Unsupported("no callbacks")


@dataclass
class HandRefundPsp(ScriptedPsp):
    """A provider with no refund API (as ``upi_intent``): every refund is the merchant's,
    made by hand from their UPI app and then recorded with ``refunded``."""

    capabilities: ClassVar[frozenset[str]] = frozenset({"upi_link", "qr"})
    reason: str = "no refund API: the merchant refunds from their UPI app"

    async def refund(self, payment_id: str, amount: Money, *, idempotency_key: str
                     ) -> ProviderRefund:
        raise Unsupported(self.reason)
