"""The services a turn's handlers may use, typed and built once by ``create_app``.

A handler asks for one by parameter name (``async def handle(turn, payments)``, see
``bot/router.py``; the merchant's commands the same way, through ``call_injected``) and
hands it to the helpers it calls. Only display helpers that also work without services
read ``turn.services`` (``bot/flows/common.py:available``, the synced Meta catalog of
``browse._catalog_items`` and ``checkout._order_details``). No flow reaches through a
service into its repository, and none calls back into the engine that dispatched it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from bot.replies import text_for
from bot.router import Outgoing
from bot.state import ConversationState, StateStore
from bot.types import Reply
from catalog.models import Shop
from storage.database import Conflict, Database, WriteSet

if TYPE_CHECKING:
    from bot.catalog_sync import MetaCatalogs
    from bot.consent import ConsentService
    from bot.flows.payment_updates import PaymentNotifier
    from bot.inventory import Inventory
    from payments.service import PaymentService


class Conversations:
    """What the merchant flows need of other conversations: a customer's last texts and
    taking a conversation back from a human."""

    def __init__(self, db: Database, store: StateStore) -> None:
        self._db = db
        self._store = store

    async def recent_messages(self, shop_id: str, channel: str, customer: str,
                              limit: int) -> list[str]:
        """The customer's last texts, oldest first (for the owner's handoff alert)."""
        from bot.engine import recent_texts  # the inbound_messages owner imports this module

        return await recent_texts(self._db, shop_id, channel, customer, limit)

    async def resume(self, shop: Shop, customer: str) -> list[Outgoing]:
        """``resume PHONE``: hand every paused conversation of that customer to the bot.

        Returns the "I'm back" messages for the merchant's turn to send: they go out with
        that turn's outbox (at once), not as rows only the background poll would find.
        """
        messages: list[Outgoing] = []
        for conversation in await self._store.find(shop.id, customer):
            if conversation.handoff_until or conversation.state is ConversationState.HANDOFF:
                async with self._store.lock(conversation.key):
                    for _attempt in range(3):  # another server may save it meanwhile
                        fresh = await self._store.load(conversation.key)
                        text = text_for(shop, "handoff_resumed",
                                        shop.language_for(fresh.language))
                        try:
                            await self._store.save(fresh.with_(
                                handoff_until=0, state=ConversationState.IDLE), WriteSet())
                        except Conflict:
                            continue
                        # "I'm back" only for a conversation that was handed back
                        messages.append(Outgoing(customer=customer, channel=fresh.key.channel,
                                                 reply=Reply(type="text", text=text),
                                                 event=None, language=fresh.language))
                        break
        return messages


@dataclass(frozen=True, slots=True)
class Services:
    payments: PaymentService
    inventory: Inventory
    payment_notify: PaymentNotifier
    conversations: Conversations
    consent: ConsentService
    catalogs: MetaCatalogs | None = None  # the shops' synced Meta catalogs


SERVICE_NAMES = frozenset(f.name for f in fields(Services))
