"""Rows for the durable outbox, built inside a turn or a payment update."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.types import Reply
from storage.database import WriteSet


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: str
    shop_id: str
    channel: str
    customer: str
    business: str
    reply: Reply


_INSERT_OUTBOX = (
    "INSERT INTO outbound_messages (id, shop_id, channel, customer, business, payload, status, "
    "attempts, next_attempt_at, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)"
)


def outbox_statement(writes: WriteSet, item: OutboxItem, now_ms: int) -> None:
    writes.add(_INSERT_OUTBOX, (
        item.id, item.shop_id, item.channel, item.customer, item.business,
        json.dumps(item.reply.to_json(), ensure_ascii=False), now_ms, now_ms, now_ms))
