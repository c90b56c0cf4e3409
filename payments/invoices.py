"""Invoice numbers and stored receipts: the only SQL on ``invoices`` and
``invoice_counters``.

A number is unique and consecutive per shop and financial year, at most 16 characters
(GST rule 46(b): letters, digits, ``-`` and ``/``): ``MTH/2627/000123``. It is allocated in
the database, inside the write set that issues the receipt, so it holds across servers
sharing one PostgreSQL and leaves no gap when that write set rolls back:

1. the counter row for (shop, year) is created at 0 if missing;
2. it is bumped, unless the order already has an invoice (the bump locks the row: a second
   issuer waits for the first to commit);
3. the invoice row takes the counter's value; an order that has one keeps it
   (``ON CONFLICT (order_id) DO NOTHING``).

On PostgreSQL step 3 is a guard: two processes issuing for the same order at once would
otherwise both bump (step 2 re-checks the row, not the subquery, after the wait); the
loser's whole write set rolls back with its bump and it reads the winner's invoice. SQLite
has one writer, so step 2 already sees every earlier statement (and a lone guard there
would run first, before the bump: storage/database.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from storage.database import Database, WriteSet

MAX_NUMBER = 16  # characters, GST rule 46(b)
_COLUMNS = "order_id, shop_id, fy, seq, prefix, token, kind, issued_at, document"


class ReceiptKind(StrEnum):
    """What the document is: GST's tax invoice (a GSTIN), its bill of supply (an Indian
    shop not registered), or a plain receipt (elsewhere)."""

    TAX_INVOICE = "tax_invoice"
    BILL_OF_SUPPLY = "bill_of_supply"
    RECEIPT = "receipt"


class InvoiceNumberError(ValueError):
    """The number would not fit in 16 characters (a million invoices with a long prefix)."""


def financial_year(day: date, start_month: int = 4) -> int:
    """The calendar year the financial year of ``day`` starts in (India: April–March, so
    31 March 2027 is in 2026 and 1 April 2027 in 2027)."""
    return day.year if day.month >= start_month else day.year - 1


def year_label(fy: int, start_month: int = 4) -> str:
    """``2026`` → ``2627`` (2026-27); a calendar financial year is its year, ``2026``."""
    return str(fy) if start_month == 1 else f"{fy % 100:02d}{(fy + 1) % 100:02d}"


def invoice_number(prefix: str, fy: int, seq: int, start_month: int = 4, *,
                   strict: bool = True) -> str:
    """``MTH/2627/000123``: six digits at least, more when the year needs them, never over
    16 characters (``strict``; an invoice already issued is shown as it is)."""
    number = f"{prefix}/{year_label(fy, start_month)}/{seq:06d}"
    if strict and len(number) > MAX_NUMBER:
        raise InvoiceNumberError(f"invoice number {number} is over {MAX_NUMBER} characters: "
                                 "use a shorter invoice.prefix")
    return number


@dataclass(frozen=True, slots=True)
class StoredInvoice:
    order_id: str
    shop_id: str
    fy: int
    seq: int
    prefix: str
    token: str
    kind: ReceiptKind
    issued_at: int
    document: str


def _invoice(row: Sequence[Any]) -> StoredInvoice:
    order_id, shop_id, fy, seq, prefix, token, kind, issued_at, document = row
    return StoredInvoice(str(order_id), str(shop_id), int(fy), int(seq), str(prefix),
                         str(token), ReceiptKind(kind), int(issued_at), str(document))


class InvoiceRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def for_order(self, order_id: str) -> StoredInvoice | None:
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM invoices WHERE order_id = ?",
                                     (order_id,))
        return None if row is None else _invoice(row)

    async def by_token(self, token: str) -> StoredInvoice | None:
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM invoices WHERE token = ?",
                                     (token,))
        return None if row is None else _invoice(row)

    async def last_number(self, shop_id: str, fy: int) -> int:
        """The shop's last invoice number of the year (0 before the first)."""
        row = await self.db.fetchone(
            "SELECT last FROM invoice_counters WHERE shop_id = ? AND fy = ?", (shop_id, fy))
        return int(row[0]) if row else 0

    async def for_shop(self, shop_id: str, fy: int) -> list[StoredInvoice]:
        """The shop's invoices of one financial year, in number order."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM invoices WHERE shop_id = ? AND fy = ? ORDER BY seq",
            (shop_id, fy))
        return [_invoice(r) for r in rows]

    def issue(self, writes: WriteSet, *, order_id: str, shop_id: str, fy: int, prefix: str,
              token: str, kind: ReceiptKind, issued_at: int, document: str) -> None:
        """The statements that give ``order_id`` the next number, or nothing new when it
        already has one (see the module docstring)."""
        writes.add("INSERT INTO invoice_counters (shop_id, fy, last) VALUES (?, ?, 0) "
                   "ON CONFLICT (shop_id, fy) DO NOTHING", (shop_id, fy))
        writes.add("UPDATE invoice_counters SET last = last + 1 WHERE shop_id = ? AND fy = ? "
                   "AND NOT EXISTS (SELECT 1 FROM invoices WHERE order_id = ?)",
                   (shop_id, fy, order_id))
        writes.add(f"INSERT INTO invoices ({_COLUMNS}) SELECT ?, ?, ?, last, ?, ?, ?, ?, ? "
                   "FROM invoice_counters WHERE shop_id = ? AND fy = ? "
                   "ON CONFLICT (order_id) DO NOTHING",
                   (order_id, shop_id, fy, prefix, token, kind, issued_at, document,
                    shop_id, fy),
                   must_change=self.db.dialect == "postgresql")
