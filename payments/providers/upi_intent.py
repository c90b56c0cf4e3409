"""No PSP at all: a ``upi://pay`` link and its QR straight to the merchant's own UPI ID.

Nobody calls back, so there is nothing to verify (every callback is refused) and nothing to
fetch; the merchant sees the money in their bank app and confirms with ``paid ORD-7``, which
becomes a captured event through :meth:`UpiIntentProvider.manual_capture_event`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import ClassVar

import aiohttp

from catalog.money import Money
from config.plugins import Option
from payments.providers.base import (
    CollectRequest,
    LinkRequest,
    ProviderCollect,
    ProviderDeps,
    ProviderError,
    ProviderEvent,
    ProviderLink,
    ProviderRefund,
    ProviderRoute,
    Unsupported,
)
from payments.status import PaymentEventKind
from payments.upi import UpiError, UpiLink


class UpiIntentProvider:
    name: ClassVar[str] = "upi_intent"
    capabilities: ClassVar[frozenset[str]] = frozenset({"upi_link", "qr"})
    options: ClassVar[tuple[Option, ...]] = ()
    needs_payee: ClassVar[bool] = True  # its links pay the shop's own payments.upi.vpa
    card_gateway: ClassVar[str | None] = None
    currencies: ClassVar[frozenset[str] | None] = frozenset({"INR"})  # upi:// moves rupees only
    routes: ClassVar[tuple[ProviderRoute, ...]] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str], deps: ProviderDeps) -> UpiIntentProvider:
        return cls(deps.session)

    def __init__(self, session: aiohttp.ClientSession | None = None) -> None:
        self._session = session  # unused: no I/O; kept for a uniform constructor

    async def create_payment_link(self, request: LinkRequest) -> ProviderLink:
        """Build the dynamic intent link locally; ``provider_ref`` is our reference (tr)."""
        if request.payee is None:
            raise ProviderError("upi_intent needs the shop's UPI ID (payments.upi.vpa)")
        try:
            link = UpiLink.build(
                pa=request.payee.vpa, pn=request.payee.name, amount=request.amount,
                tr=request.reference, tn=request.description or None, mc=request.payee.mcc,
            )
        except UpiError as exc:
            raise ProviderError(str(exc)) from exc
        return ProviderLink(
            provider=self.name, provider_ref=request.reference, reference=request.reference,
            amount=request.amount, upi_uri=link.to_uri(), expires_at=request.expire_by,
        )

    async def create_collect(self, request: CollectRequest) -> ProviderCollect:
        raise Unsupported("upi_intent cannot send collect requests (no PSP)")

    async def refund(
        self, payment_id: str, amount: Money, *, idempotency_key: str
    ) -> ProviderRefund:
        raise Unsupported("upi_intent cannot refund: the merchant refunds from their UPI app")

    async def fetch(self, provider_ref: str) -> list[ProviderEvent]:
        raise Unsupported("upi_intent has no status API")

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False  # no PSP ever calls back: fail closed

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> list[ProviderEvent]:
        raise Unsupported("upi_intent has no callbacks")

    def manual_capture_event(
        self, provider_ref: str, amount: Money, *, utr: str | None = None,
        occurred_at: int | None = None,
    ) -> ProviderEvent:
        """The event for a merchant's "paid" confirmation.

        Deterministic ids: repeating the command for the same request (and UTR) is one
        capture, not two.
        """
        payment_id = f"manual:{provider_ref}:{utr}" if utr else f"manual:{provider_ref}"
        return ProviderEvent(
            provider=self.name,
            event_id=payment_id,
            kind=PaymentEventKind.CAPTURED,
            provider_ref=provider_ref,
            amount=amount,
            occurred_at=int(time.time()) if occurred_at is None else occurred_at,
            payment_id=payment_id,
            reference=provider_ref,
        )
