"""Order and payment tables. Amounts are integer minor units plus a currency code.

Every amount column is :class:`storage.sqltypes.MinorUnits`: exact at any size up to 10^40
on both databases (NUMERIC(40,0) on PostgreSQL; see config/amounts.py for SQLite).
"""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel, UniqueConstraint

from storage.sqltypes import MinorUnits


class OrderRow(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("shop_id", "number", name="uq_order_number"),)

    id: str = Field(primary_key=True, max_length=96)  # "{shop_id}/ORD-1042": numbers are per shop
    shop_id: str = Field(max_length=64)
    number: int
    channel: str = Field(max_length=16)
    customer: str = Field(max_length=64, index=True)
    status: str = Field(default="pending_payment", max_length=24, index=True)
    currency: str = Field(max_length=8)
    subtotal_minor: int = Field(default=0, sa_type=MinorUnits)
    delivery_minor: int = Field(default=0, sa_type=MinorUnits)
    tip_minor: int = Field(default=0, sa_type=MinorUnits)
    total_minor: int = Field(default=0, sa_type=MinorUnits)
    address: str = ""
    language: str = Field(default="en", max_length=8)
    created_at: int = Field(default=0, sa_type=BigInteger)
    updated_at: int = Field(default=0, sa_type=BigInteger)
    # bumped by every write that moves the order's money: a compare-and-set across processes
    money_version: int = Field(default=0, sa_type=BigInteger)


class OrderCounterRow(SQLModel, table=True):
    """The last order number given out per shop, for servers that share one PostgreSQL."""

    __tablename__ = "order_counters"

    shop_id: str = Field(primary_key=True, max_length=64)
    last: int = Field(sa_type=BigInteger)


class OrderLineRow(SQLModel, table=True):
    __tablename__ = "order_lines"

    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(foreign_key="orders.id", index=True, max_length=96)
    sku: str = Field(max_length=35)
    name: str = ""
    quantity: int
    unit_price_minor: int = Field(sa_type=MinorUnits)
    line_total_minor: int = Field(sa_type=MinorUnits)


class PaymentRequestRow(SQLModel, table=True):
    __tablename__ = "payment_requests"

    id: str = Field(primary_key=True, max_length=64)
    order_id: str = Field(foreign_key="orders.id", index=True, max_length=96)
    shop_id: str = Field(max_length=64)
    method: str = Field(max_length=16)  # upi_link | payment_link | collect | tip
    provider: str = Field(max_length=16)
    provider_ref: str | None = Field(default=None, max_length=128, index=True)
    token: str = Field(max_length=64, unique=True)  # /pay/{token}: ≥128 random bits
    status: str = Field(default="issued", max_length=24)
    amount_minor: int = Field(sa_type=MinorUnits)
    currency: str = Field(max_length=8)
    captured_minor: int = Field(default=0, sa_type=MinorUnits)
    refunded_minor: int = Field(default=0, sa_type=MinorUnits)
    upi_link: str = ""
    link_url: str = ""
    vpa: str | None = None
    expires_at: int = Field(default=0, sa_type=BigInteger)
    created_at: int = Field(default=0, sa_type=BigInteger)
    updated_at: int = Field(default=0, sa_type=BigInteger)


class ProviderEventRow(SQLModel, table=True):
    """Every provider callback, stored once before it is applied."""

    __tablename__ = "provider_events"
    __table_args__ = (UniqueConstraint("provider", "event_id", name="uq_provider_event"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=16)
    event_id: str = Field(max_length=128)
    provider_ref: str = Field(max_length=128, index=True)
    kind: str = Field(max_length=24)
    amount_minor: int = Field(default=0, sa_type=MinorUnits)
    currency: str = Field(max_length=8)
    payment_id: str | None = Field(default=None, max_length=128)
    occurred_at: int = Field(default=0, sa_type=BigInteger)
    received_at: int = Field(default=0, sa_type=BigInteger)
    payload: str = ""
    # why it was not applied ("" = applied): a currency or amount its request never asked for
    rejected: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})


class RefundRow(SQLModel, table=True):
    __tablename__ = "refunds"

    id: str = Field(primary_key=True, max_length=64)
    payment_request_id: str = Field(foreign_key="payment_requests.id", index=True,
                                    max_length=64)
    amount_minor: int = Field(sa_type=MinorUnits)
    currency: str = Field(max_length=8)
    status: str = Field(default="pending", max_length=16)
    provider_ref: str | None = Field(default=None, max_length=128)
    reason: str = ""
    created_at: int = Field(default=0, sa_type=BigInteger)
    # order-level bookkeeping (payments/service.py, "Money invariants" in ARCHITECTURE.md)
    order_id: str = Field(default="", max_length=96, index=True)
    payment_id: str = Field(default="", max_length=128)  # the provider payment it returns
    against: str = Field(default="merchant_revenue", max_length=48)  # ledger account debited
    attempts: int = Field(default=0)
    attempt_key: str = Field(default="", max_length=80)  # idempotency key of the last try
    next_attempt_at: int = Field(default=0, sa_type=BigInteger)  # 0: nothing scheduled
    last_error: str = Field(default="", max_length=200)
    updated_at: int = Field(default=0, sa_type=BigInteger)


class LedgerEntryRow(SQLModel, table=True):
    """Double entry: every posting has a debit and credit side; sums to zero per currency."""

    __tablename__ = "ledger_entries"

    id: int | None = Field(default=None, primary_key=True)
    shop_id: str = Field(max_length=64, index=True)
    ref: str = Field(max_length=128, index=True)
    account: str = Field(max_length=48)
    amount_minor: int = Field(sa_type=MinorUnits)  # positive debit, negative credit
    currency: str = Field(max_length=8)
    created_at: int = Field(default=0, sa_type=BigInteger)


class InvoiceRow(SQLModel, table=True):
    """One receipt per order, numbered per shop and financial year (payments/invoices.py).

    ``document`` is the receipt as issued (JSON): a later catalog or shop.yaml edit never
    changes an invoice already given to a shopper."""

    __tablename__ = "invoices"
    __table_args__ = (UniqueConstraint("shop_id", "fy", "seq", name="uq_invoice_seq"),)

    order_id: str = Field(primary_key=True, foreign_key="orders.id", max_length=96)
    shop_id: str = Field(max_length=64)
    fy: int  # the calendar year the financial year starts in: 2026 for 2026-27
    seq: int = Field(sa_type=BigInteger)
    prefix: str = Field(max_length=4)
    token: str = Field(max_length=64, unique=True)  # /receipt/{token}: 192 random bits
    kind: str = Field(max_length=16)  # tax_invoice | bill_of_supply
    issued_at: int = Field(sa_type=BigInteger)
    document: str = ""


class InvoiceCounterRow(SQLModel, table=True):
    """The last invoice number given out per shop and financial year."""

    __tablename__ = "invoice_counters"

    shop_id: str = Field(primary_key=True, max_length=64)
    fy: int = Field(primary_key=True)
    last: int = Field(sa_type=BigInteger)
