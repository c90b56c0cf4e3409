"""Manual transfers: the shopper sends money to the merchant's own bKash, Nagad or Rocket
wallet, UPI ID or bank account, and replies with the transaction id; the merchant checks
their app and confirms with ``paid ORD-…``.

No PSP is involved, so there is nothing to call and nothing calls back (every callback is
refused: fail closed). The events are made here so that their ids are deterministic: the
shopper's claim ``claim:<request>:<trx>`` is ``authorized`` (informational, the books do not
move), the merchant's confirmation ``manual:<request>[:<trx>]`` is the one ``captured``
event, so repeating either is one event, not two. A real wallet API (bKash tokenized
checkout, Nagad's merchant API) is a different provider module: docs/ARCHITECTURE.md
"A wallet API as a provider".
"""

from __future__ import annotations

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
    ProviderEvent,
    ProviderLink,
    ProviderRefund,
    ProviderRoute,
    ProviderTransfer,
    TransferRequest,
    Unsupported,
)
from payments.status import PaymentEventKind

# what each method's transaction id looks like (read from the shopper's reply by
# bot/nlu/transaction_id.py):
# bKash TrxID 10 letters/digits (8N7A6D5EE7), Nagad 8-10 (7A6B5C4D), Rocket 10 digits,
# UPI the 12-digit UTR, a bank reference 6-30 letters/digits
TRANSACTION_ID_LENGTHS: Mapping[str, tuple[int, int]] = {
    "bkash": (8, 10), "nagad": (8, 10), "rocket": (8, 12), "upi_transfer": (12, 12),
    "bank_transfer": (6, 30),
}

class ManualTransferProvider:
    name: ClassVar[str] = "manual"
    capabilities: ClassVar[frozenset[str]] = frozenset({"transfer"})
    options: ClassVar[tuple[Option, ...]] = ()
    needs_payee: ClassVar[bool] = False  # its accounts are payments.<method>, not payments.upi
    card_gateway: ClassVar[str | None] = None
    currencies: ClassVar[frozenset[str] | None] = None
    routes: ClassVar[tuple[ProviderRoute, ...]] = ()
    methods: ClassVar[frozenset[str]] = frozenset(TRANSACTION_ID_LENGTHS)

    @classmethod
    def from_env(cls, env: Mapping[str, str], deps: ProviderDeps) -> ManualTransferProvider:
        return cls(deps.session)

    def __init__(self, session: aiohttp.ClientSession | None = None) -> None:
        self._session = session  # unused: no I/O; kept for a uniform constructor

    async def create_transfer(self, request: TransferRequest) -> ProviderTransfer:
        """The instructions are the request itself: our id is the provider's reference."""
        if request.payee.method not in self.methods:
            raise Unsupported(f"manual transfers do not cover {request.payee.method}")
        return ProviderTransfer(provider=self.name, provider_ref=request.request_id,
                                reference=request.reference, amount=request.amount,
                                payee=request.payee, expires_at=request.expire_by)

    def claim_event(self, request_id: str, amount: Money, transaction_id: str, *,
                    occurred_at: int) -> ProviderEvent:
        """The shopper says they sent ``amount`` under ``transaction_id``: informational."""
        return ProviderEvent(provider=self.name, event_id=f"claim:{request_id}:{transaction_id}",
                             kind=PaymentEventKind.AUTHORIZED, provider_ref=request_id,
                             amount=amount, occurred_at=occurred_at,
                             payment_id=f"claim:{transaction_id}", reference=request_id,
                             refs=(request_id,))

    @staticmethod
    def shown_reference(payment_id: str) -> str | None:
        """What a receipt shows for a payment id: a manual confirmation's transaction id
        (``manual:<request>:<trx>`` gives ``<trx>``, ``manual:<request>`` nothing: the
        request id is haat's own), any other provider's id as it is."""
        if not payment_id.startswith("manual:"):
            return payment_id or None
        parts = payment_id.split(":", 2)
        return parts[2] if len(parts) == 3 and parts[2] else None

    def confirm_event(self, request_id: str, amount: Money, transaction_id: str | None, *,
                      occurred_at: int) -> ProviderEvent:
        """The merchant saw the money in their own app: the capture."""
        payment_id = f"manual:{request_id}:{transaction_id}" if transaction_id \
            else f"manual:{request_id}"
        return ProviderEvent(provider=self.name, event_id=payment_id,
                             kind=PaymentEventKind.CAPTURED, provider_ref=request_id,
                             amount=amount, occurred_at=occurred_at, payment_id=payment_id,
                             reference=request_id, refs=(request_id,))

    async def create_payment_link(self, request: LinkRequest) -> ProviderLink:
        raise Unsupported("manual transfers have no payment link")

    async def create_collect(self, request: CollectRequest) -> ProviderCollect:
        raise Unsupported("manual transfers cannot send collect requests")

    async def refund(self, payment_id: str, amount: Money, *,
                     idempotency_key: str) -> ProviderRefund:
        raise Unsupported("a manual transfer is refunded by the merchant from their own app")

    async def fetch(self, provider_ref: str) -> list[ProviderEvent]:
        raise Unsupported("manual transfers have no status API")

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False  # nobody calls back: fail closed

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> list[ProviderEvent]:
        raise Unsupported("manual transfers have no callbacks")
