"""The SQLAlchemy column type of every amount in minor units (schema, migrations, cold paths).

The representation on each database is explained in config/amounts.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from storage.amounts import DIGITS, LIMIT, AmountTooLarge, minor, to_sqlite


class MinorUnits(TypeDecorator[int]):
    """The column type of every amount in minor units (see the module docstring)."""

    impl = BigInteger
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(DIGITS, 0, asdecimal=True))
        return dialect.type_descriptor(BigInteger())

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return to_sqlite(value)
        if not -LIMIT < value < LIMIT:
            raise AmountTooLarge(f"{value} does not fit in {DIGITS} digits")
        return Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else minor(value)
