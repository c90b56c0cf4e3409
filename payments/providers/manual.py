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

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import ClassVar

import aiohttp

from catalog.digits import DIGITS
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
    ProviderTransfer,
    TransferRequest,
    Unsupported,
)
from payments.status import PaymentEventKind

# what each method's transaction id looks like, for the shopper's reply and the guide:
# bKash TrxID 10 letters/digits (8N7A6D5EE7), Nagad 8-10 (7A6B5C4D), Rocket 10 digits,
# UPI the 12-digit UTR, a bank reference 6-30 letters/digits
TRANSACTION_ID_LENGTHS: Mapping[str, tuple[int, int]] = {
    "bkash": (8, 10), "nagad": (8, 10), "rocket": (8, 12), "upi_transfer": (12, 12),
    "bank_transfer": (6, 30),
}

# words that announce an id: "TrxID", "TxnID", "UTR", "Ref", "transaction id", and the
# Bengali, Hindi and Arabic for transaction
_KEYWORDS = ("TRXID", "TRANSACTIONID", "TXNID", "TRNXID", "TRANID", "TRX", "TXN", "TRNX",
             "UTR", "RRN", "REFNO", "REF", "REFERENCE", "TRANSACTION", "ID")
_KEYWORD_TEXT = re.compile(
    r"(?i)\b(?:trx|txn|trnx|utr|rrn|transaction|tran\s*id|ref(?:erence)?)|ট্রানজেকশন|"
    r"ট্রানজ্যাকশন|লেনদেন|ট্রাঞ্জেকশন|आईडी|ट्रांजैक्शन|लेनदेन|معاملة|المعاملة|رقم العملية")
_TOKEN = re.compile(r"[A-Z0-9]+")
_BD_MOBILE = re.compile(r"^(?:880|0)?1[3-9]\d{8}\d?$")


@dataclass(frozen=True, slots=True)
class FoundId:
    """What a shopper's message says about a transaction id: ``id`` when exactly one fits
    (or one follows a keyword such as ``TrxID``), ``asked`` when the message speaks of one
    (a keyword) but none fits: the bot then asks for just the id."""

    id: str | None
    asked: bool = False


def find_transaction_id(text: str, method: str, *, exclude: Collection[str] = ()) -> FoundId:
    """The transaction id in a free-text reply: liberal in what surrounds it (a pasted
    bKash SMS, "trx id: 8n7a6d5ee7", Bengali digits), exact in what it takes: a run of
    letters and digits of the method's length (``TRANSACTION_ID_LENGTHS``) with a digit in
    it, upper-cased, never a phone number, the order number or an ``exclude``d account."""
    low, high = TRANSACTION_ID_LENGTHS.get(method, (6, 30))
    plain = text.translate(DIGITS).upper()
    asked = _KEYWORD_TEXT.search(text) is not None
    skip = {_digits(x) for x in exclude if x} | {x.upper() for x in exclude if x}
    marked: list[str] = []
    loose: list[str] = []
    previous = ""
    for match in _TOKEN.finditer(plain):
        token = match.group(0)
        keyword = next((k for k in _KEYWORDS if token.startswith(k) and len(token) > len(k)
                        and _fits(token[len(k):], low, high, method, skip)), None)
        if keyword is not None:  # "TrxID8N7A6D5EE7", "UTR412345678901"
            marked.append(token[len(keyword):])
        elif _fits(token, low, high, method, skip):
            (marked if previous in _KEYWORDS else loose).append(token)
        previous = token
    for found in (marked, loose):
        distinct = list(dict.fromkeys(found))
        if len(distinct) == 1:
            return FoundId(distinct[0], asked=True)
        if len(distinct) > 1:
            return FoundId(None, asked=True)  # two candidates: ask for the one
    return FoundId(None, asked=asked)


def _digits(text: str) -> str:
    return "".join(ch for ch in text.translate(DIGITS) if ch.isascii() and ch.isdigit())


def _fits(token: str, low: int, high: int, method: str, skip: set[str]) -> bool:
    if not low <= len(token) <= high or not any(ch.isdigit() for ch in token):
        return False
    if method == "upi_transfer" and not token.isdigit():
        return False  # a UTR is 12 digits
    if token in skip or token.lstrip("0") in {s.lstrip("0") for s in skip if s}:
        return False
    if token.isdigit() and _BD_MOBILE.match(token) and method != "upi_transfer":
        return False  # a Bangladeshi mobile number (the wallet's or the shopper's)
    return not (token.isdigit() and method != "upi_transfer" and len(token) == 12
                and token.startswith("91"))  # an Indian phone number with its country code


class ManualTransferProvider:
    name: ClassVar[str] = "manual"
    capabilities: ClassVar[frozenset[str]] = frozenset({"transfer"})
    options: ClassVar[tuple[Option, ...]] = ()
    needs_payee: ClassVar[bool] = False  # its accounts are payments.<method>, not payments.upi
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
