"""Amounts beyond 64 bits in SQL: the wide-text form, its exact SUM, and reading back.

Pure (no SQLAlchemy): the storage engine imports it on the hot path. The column type built
on it is config/sqltypes.py.

* PostgreSQL: ``NUMERIC(40,0)``. asyncpg hands back :class:`~decimal.Decimal`; the storage
  engine (storage/database.py) turns integral decimals back into ``int`` on every read, so
  ``SUM``, comparisons and ``ORDER BY`` stay plain SQL.
* SQLite: an ``INTEGER`` column while the value fits 64 bits (every fiat amount up to
  9.2 × 10^16 rupees: the hot path is exactly what it was), and a guarded fallback beyond:
  sqlite3 refuses such an int (``OverflowError``), and the storage engine then binds it as
  *wide text*, ``P`` (positive) or ``N`` (negative) and 40 digits, negatives as the
  complement to 10^40, so wide values sort among themselves by plain text comparison. The
  letter keeps the text from looking like a number: SQLite's INTEGER affinity would turn a
  numeric-looking text beyond 64 bits into a REAL. SQLite's NUMERIC affinity
  would silently turn them into REAL: never used. ``SUM`` on haat's SQLite connections is
  :class:`ExactSum`, which reads both forms and is exact at any size.

Ordering across the two SQLite forms: an INTEGER always sorts before TEXT, which is right
for every value ≥ −2^63 and wrong only for a wide *negative* value (a ledger credit below
−9.2 × 10^18 minor units), which SQL never orders or compares in haat.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

DIGITS = 40  # NUMERIC(40,0): 10^40 − 1 is the largest amount either database keeps
LIMIT = 10**DIGITS
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class AmountTooLarge(ValueError):
    """An amount of 10^40 minor units or more: no money column can hold it."""


def wide(value: int) -> str:
    """The SQLite text form of an int beyond 64 bits (order-preserving within its sign)."""
    if not -LIMIT < value < LIMIT:
        raise AmountTooLarge(f"{value} does not fit in {DIGITS} digits")
    if value >= 0:
        return "P" + str(value).rjust(DIGITS, "0")
    return "N" + str(LIMIT + value).rjust(DIGITS, "0")


def from_wide(text: str) -> int:
    sign, digits = text[:1], text[1:]
    if len(digits) != DIGITS or not digits.isdigit() or sign not in ("P", "N"):
        raise ValueError(f"not a wide amount: {text[:8]!r}…")
    return int(digits) if sign == "P" else int(digits) - LIMIT


def to_sqlite(value: Any) -> Any:
    """An SQLite parameter: ints beyond 64 bits become wide text, everything else is as is."""
    if type(value) is int and not INT64_MIN <= value <= INT64_MAX:
        return wide(value)
    return value


def minor(value: Any) -> int:
    """A money column's value as read from either database (int, Decimal or wide text)."""
    if type(value) is int:
        return value
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise ValueError("a money column held a fraction")
        return int(value)
    if isinstance(value, str):
        return from_wide(value)
    if value is None:
        return 0
    raise TypeError(f"not an amount: {type(value).__name__}")


class ExactSum:
    """``SUM`` for haat's SQLite connections: exact over INTEGER and wide-text values.

    Registered under the name ``sum`` (storage/database.py), so every ``SUM(amount_minor)``
    written for PostgreSQL is exact on SQLite too. The result is an int when it fits 64 bits,
    else wide text (read with :func:`minor`); NULL when there were no rows, like SQL's SUM.
    """

    def __init__(self) -> None:
        self.total = 0
        self.rows = 0

    def step(self, value: Any) -> None:
        if value is None:
            return
        self.rows += 1
        if type(value) is int:
            self.total += value
        elif isinstance(value, str):
            self.total += from_wide(value)
        else:
            raise TypeError("haat's SUM is for amounts in minor units (int or wide text)")

    def finalize(self) -> Any:
        if not self.rows:
            return None
        return to_sqlite(self.total)
