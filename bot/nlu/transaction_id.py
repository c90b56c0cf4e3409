"""The transaction id in a shopper's reply to manual-transfer instructions (an entity).

The lengths per method are the provider's knowledge
(payments/providers/manual.py:TRANSACTION_ID_LENGTHS); reading them out of free text, in any
script, is the bot's.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from catalog.digits import DIGITS
from payments.providers.manual import TRANSACTION_ID_LENGTHS

# words that announce an id: "TrxID", "TxnID", "UTR", "Ref", "transaction id", and the
# Bengali, Hindi and Arabic for transaction
_KEYWORDS = ("TRXID", "TRANSACTIONID", "TXNID", "TRNXID", "TRANID", "TRX", "TXN", "TRNX",
             "UTR", "RRN", "REFNO", "REF", "REFERENCE", "TRANSACTION", "ID")
_KEYWORD_TEXT = re.compile(
    r"(?i)\b(?:trx|txn|trnx|utr|rrn|transaction|tran\s*id|ref(?:erence)?)(?:id|no)?\b|"
    r"ট্রানজেকশন|"
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
