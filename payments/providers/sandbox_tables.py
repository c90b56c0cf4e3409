"""The sandbox PSP's own tables (schema only; payments/providers/sandbox.py owns the SQL).

A real PSP keeps its links, payments and refunds on its side and answers ``fetch`` after any
restart of ours; the simulator does the same by keeping them in haat's database, so that
``haat reconcile`` works across restarts. Nothing outside the sandbox reads these tables.
"""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from storage.sqltypes import MinorUnits


class SandboxRequestRow(SQLModel, table=True):
    """A link (``slink_…``) or collect (``scol_…``) the simulator issued."""

    __tablename__ = "sandbox_requests"

    ref: str = Field(primary_key=True, max_length=32)
    reference: str = Field(max_length=64)
    amount_minor: int = Field(sa_type=MinorUnits)
    currency: str = Field(max_length=8)
    expires_at: int | None = Field(default=None, sa_type=BigInteger)
    created_at: int = Field(default=0, sa_type=BigInteger)


class SandboxEventRow(SQLModel, table=True):
    """Every event the simulator produced, as its signed callback's JSON body."""

    __tablename__ = "sandbox_events"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=32, unique=True)
    ref: str = Field(max_length=32, index=True)
    payment_id: str | None = Field(default=None, max_length=32, index=True)
    body: str = ""


class SandboxRefundRow(SQLModel, table=True):
    """A refund by its idempotency key: a retry with the same key gets the same answer."""

    __tablename__ = "sandbox_refunds"

    idempotency_key: str = Field(primary_key=True, max_length=64)
    payment_id: str = Field(max_length=32)
    amount_minor: int = Field(sa_type=MinorUnits)
    currency: str = Field(max_length=8)
    refund_id: str = Field(max_length=32)
