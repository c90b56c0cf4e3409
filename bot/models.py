"""Conversation and message tables (sqlmodel: the schema, migrations and cold paths).

The per-message hot path writes these rows with plain statements (see bot/repository.py);
the column names here are the contract between the two.
"""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel, UniqueConstraint


class ConversationRow(SQLModel, table=True):
    __tablename__ = "conversations"

    shop_id: str = Field(primary_key=True, max_length=64)
    channel: str = Field(primary_key=True, max_length=16)
    customer: str = Field(primary_key=True, max_length=64)
    language: str = Field(default="en", max_length=8)
    language_locked: bool = False  # the shopper asked for a language explicitly
    state: str = Field(default="idle", max_length=32)
    cart: str = "{}"  # JSON {sku: qty}
    data: str = "{}"  # JSON: pending step details, address, last products shown
    business: str = Field(default="", max_length=64)  # the shop number / phone_number_id
    # unix ms, for the 24-hour customer-service window
    last_inbound_at: int = Field(default=0, sa_type=BigInteger)
    # unix ms; the bot is paused while now < handoff_until
    handoff_until: int = Field(default=0, sa_type=BigInteger)
    updated_at: int = Field(default=0, sa_type=BigInteger)
    # bumped by every save on PostgreSQL: a save from a stale read changes no row (bot/state.py)
    version: int = Field(default=0, sa_type=BigInteger)


class InboundMessageRow(SQLModel, table=True):
    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("channel", "message_id", name="uq_inbound_channel_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    message_id: str = Field(max_length=128)
    shop_id: str = Field(max_length=64, index=True)
    customer: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    body: str = ""  # the text (personal data: never logged)
    received_at: int = Field(default=0, sa_type=BigInteger)
    status: str = Field(default="processed", max_length=16)  # received | processed
    response: str = ""  # the exact HTTP answer given, replayed on redelivery


class OutboundMessageRow(SQLModel, table=True):
    """The durable outbox: one row per message haat sends through a channel's API."""

    __tablename__ = "outbound_messages"

    id: str = Field(primary_key=True, max_length=64)  # also the idempotency key
    shop_id: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=16)
    customer: str = Field(max_length=64, index=True)
    business: str = Field(default="", max_length=64)
    payload: str = ""  # Reply JSON
    status: str = Field(default="pending", max_length=16, index=True)
    attempts: int = 0
    next_attempt_at: int = Field(default=0, index=True, sa_type=BigInteger)
    channel_message_id: str | None = Field(default=None, max_length=128, index=True)
    error: str | None = None
    created_at: int = Field(default=0, sa_type=BigInteger)
    updated_at: int = Field(default=0, sa_type=BigInteger)


class ScheduledJobRow(SQLModel, table=True):
    """Durable reminders: fire once, survive restarts (unique key per logical job)."""

    __tablename__ = "scheduled_jobs"

    key: str = Field(primary_key=True, max_length=128)
    shop_id: str = Field(max_length=64)
    kind: str = Field(max_length=32)
    channel: str = Field(max_length=16)
    customer: str = Field(max_length=64)
    due_at: int = Field(index=True, sa_type=BigInteger)
    payload: str = "{}"
    status: str = Field(default="pending", max_length=16, index=True)
    created_at: int = Field(default=0, sa_type=BigInteger)


class StockLevelRow(SQLModel, table=True):
    """Units held by orders per sku; available = (merchant override or YAML stock) − held."""

    __tablename__ = "stock_levels"

    shop_id: str = Field(primary_key=True, max_length=64)
    sku: str = Field(primary_key=True, max_length=35)
    held: int = 0
    base_override: int | None = None  # set by the merchant's `stock SKU N`
    updated_at: int = Field(default=0, sa_type=BigInteger)


class MetaCatalogItemRow(SQLModel, table=True):
    """What ``haat catalog sync`` last pushed to a Meta catalog, per item: the next sync
    sends only what changed (bot/catalog_sync.py)."""

    __tablename__ = "meta_catalog_items"

    shop_id: str = Field(primary_key=True, max_length=64)
    catalog_id: str = Field(primary_key=True, max_length=32)
    retailer_id: str = Field(primary_key=True, max_length=100)
    fingerprint: str = Field(max_length=64)
    synced_at: int = Field(default=0, sa_type=BigInteger)
