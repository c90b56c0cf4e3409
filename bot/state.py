"""Conversation state: explicit states, a store with a per-conversation lock.

A conversation is ``(shop, channel, customer)`` → language, state, cart, pending step data,
last inbound time (the 24-hour window) and the handoff pause. The store is an extension
point with two implementations sharing one contract suite: ``MemoryStateStore`` (tests,
``haat chat`` scratch runs) and ``SqlStateStore`` (production: write-through cache over the
``conversations`` table, saved in the same transaction as the message that changed it).
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol

from storage.database import Database, WriteSet


class ConversationState(StrEnum):
    """Where the shopper is in a flow; see the .mmd diagrams in bot/flows/."""

    IDLE = "idle"
    CHOOSING_OPTION = "choosing_option"  # "small or large?"
    AWAITING_ADDRESS = "awaiting_address"
    CONFIRMING_ORDER = "confirming_order"
    AWAITING_PAYMENT = "awaiting_payment"
    AWAITING_VPA = "awaiting_vpa"
    HANDOFF = "handoff"

    @classmethod
    def _missing_(cls, value: object) -> ConversationState:
        return cls.IDLE


@dataclass(frozen=True, slots=True)
class ConversationKey:
    shop_id: str
    channel: str
    customer: str


@dataclass(frozen=True, slots=True)
class Conversation:
    key: ConversationKey
    language: str = "en"
    language_locked: bool = False
    state: ConversationState = ConversationState.IDLE
    cart: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    data: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    business: str = ""
    last_inbound_at: int = 0
    handoff_until: int = 0
    updated_at: int = 0
    is_new: bool = True  # never stored: True until the first save
    version: int = 0  # the row's version when it was read (compare-and-set on PostgreSQL)

    def with_(self, **changes: Any) -> Conversation:
        """A changed copy (several per message: built directly, dataclasses.replace is slow)."""
        get = changes.get
        cart = get("cart", self.cart)
        data = get("data", self.data)
        return Conversation(
            self.key, get("language", self.language),
            get("language_locked", self.language_locked), get("state", self.state),
            MappingProxyType(dict(cart)) if "cart" in changes else cart,
            MappingProxyType(dict(data)) if "data" in changes else data,
            get("business", self.business), get("last_inbound_at", self.last_inbound_at),
            get("handoff_until", self.handoff_until), get("updated_at", self.updated_at),
            get("is_new", self.is_new), get("version", self.version))

    def with_data(self, **values: Any) -> Conversation:
        data = dict(self.data)
        for name, value in values.items():
            if value is None:
                data.pop(name, None)
            else:
                data[name] = value
        return self.with_(data=data)

    def in_window(self, now_ms: int) -> bool:
        """Inside WhatsApp's 24-hour customer-service window (free-form messages allowed)."""
        return self.last_inbound_at > 0 and now_ms - self.last_inbound_at < 24 * 3600 * 1000

    def paused(self, now_ms: int) -> bool:
        return now_ms < self.handoff_until


class StateStore(Protocol):
    def lock(self, key: ConversationKey) -> Any:
        """An async context manager serialising work on one conversation."""
        ...

    async def load(self, key: ConversationKey) -> Conversation: ...

    async def save(self, conversation: Conversation, writes: WriteSet | None = None) -> None:
        """Store the conversation together with ``writes`` in one transaction."""
        ...

    async def find(self, shop_id: str, customer: str) -> list[Conversation]:
        """Every conversation of a customer in a shop (any channel): merchant commands."""
        ...

    def forget(self, key: ConversationKey) -> None:
        """Drop a cached copy so the next load reads the database."""
        ...


class _Locks:
    """One asyncio.Lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[ConversationKey, tuple[asyncio.Lock, int]] = {}

    def __call__(self, key: ConversationKey) -> _Held:
        return _Held(self._locks, key)


class _Held:
    """``async with locks(key)``: a plain class, as it runs for every message (a generator
    based context manager costs several times more)."""

    __slots__ = ("_key", "_lock", "_locks")

    def __init__(self, locks: dict[ConversationKey, tuple[asyncio.Lock, int]],
                 key: ConversationKey) -> None:
        self._locks = locks
        self._key = key
        self._lock: asyncio.Lock | None = None

    async def __aenter__(self) -> None:
        lock, users = self._locks.get(self._key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[self._key] = (lock, users + 1)
        try:
            await lock.acquire()
        except BaseException:
            self._release_user()
            raise
        self._lock = lock

    async def __aexit__(self, *exc: object) -> None:
        assert self._lock is not None
        self._lock.release()
        self._release_user()

    def _release_user(self) -> None:
        lock_now, users_now = self._locks[self._key]
        if users_now <= 1:
            del self._locks[self._key]
        else:
            self._locks[self._key] = (lock_now, users_now - 1)


class MemoryStateStore:
    """Conversations in a dict; extra writes are applied to the given database if any."""

    def __init__(self, database: Database | None = None) -> None:
        self._rows: dict[ConversationKey, Conversation] = {}
        self._db = database
        self.lock = _Locks()

    async def load(self, key: ConversationKey) -> Conversation:
        return self._rows.get(key) or Conversation(key)

    async def save(self, conversation: Conversation, writes: WriteSet | None = None) -> None:
        if writes and self._db is not None:
            await self._db.write(writes)
        self._rows[conversation.key] = conversation.with_(is_new=False)

    async def find(self, shop_id: str, customer: str) -> list[Conversation]:
        return [c for k, c in self._rows.items()
                if k.shop_id == shop_id and k.customer == customer]

    def forget(self, key: ConversationKey) -> None:
        """Memory is the store itself: nothing to drop."""


_COLUMNS = ("language", "language_locked", "state", "cart", "data", "business",
            "last_inbound_at", "handoff_until", "updated_at")

_UPSERT = (
    "INSERT INTO conversations (shop_id, channel, customer, "
    + ", ".join(_COLUMNS)
    + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (shop_id, channel, customer) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS)
)
# every read carries the row's version; in shared mode (several servers on one PostgreSQL)
# every save is a compare-and-set on it, so a save made from a stale read changes no row
_SELECT = ("SELECT " + ", ".join(_COLUMNS) + ", version"
           " FROM conversations WHERE shop_id = ? AND channel = ? AND customer = ?")
_SELECT_CUSTOMER = ("SELECT channel, " + ", ".join(_COLUMNS) + ", version"
                    " FROM conversations WHERE shop_id = ? AND customer = ?")
_INSERT_NEW = (
    "INSERT INTO conversations (shop_id, channel, customer, " + ", ".join(_COLUMNS)
    + ", version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) "
    "ON CONFLICT (shop_id, channel, customer) DO NOTHING")
_UPDATE_IF = (
    "UPDATE conversations SET " + ", ".join(f"{c} = ?" for c in _COLUMNS)
    + ", version = version + 1 WHERE shop_id = ? AND channel = ? AND customer = ? "
    "AND version = ?")


def _from_row(key: ConversationKey, row: tuple[Any, ...]) -> Conversation:
    (language, locked, state, cart, data, business, last_in, handoff, updated) = row[:9]
    return Conversation(
        key=key, language=language, language_locked=bool(locked),
        state=ConversationState(state),
        cart=MappingProxyType(json.loads(cart)), data=MappingProxyType(json.loads(data)),
        business=business, last_inbound_at=last_in, handoff_until=handoff,
        updated_at=updated, is_new=False, version=int(row[9]),
    )


def _cart_text(cart: Mapping[str, int]) -> str:
    return json.dumps(dict(cart), separators=(",", ":"))


def _data_text(data: Mapping[str, Any]) -> str:
    return json.dumps(dict(data), separators=(",", ":"), ensure_ascii=False)


class _Known:
    """A conversation and its row exactly as stored (the 9 columns, then the version):
    a read that returns this row again is this conversation, without decoding it, and a
    save whose cart or data is the same read-only mapping writes the same JSON text.
    ``row`` is None for a conversation not stored yet."""

    __slots__ = ("conversation", "row")

    def __init__(self, conversation: Conversation, row: tuple[Any, ...] | None) -> None:
        self.conversation = conversation
        self.row = row


class SqlStateStore:
    """The ``conversations`` table behind a bounded write-through cache.

    The cache is only updated after the transaction that stored a change has committed,
    so a failed write never leaves memory ahead of the database.

    ``shared=True`` (PostgreSQL, where several servers may share the table) never answers
    a load from memory: every load reads the row and its version under this process's
    conversation lock, and every save is a guarded compare-and-set on that version. A turn
    that another server changed meanwhile fails with :class:`~storage.database.Conflict`
    and nothing of it is stored; the engine reads again and runs the turn again. What
    memory saves there is the decoding: a row read back exactly as this process last
    read or wrote it (every column, and the version every save bumps) is the conversation
    already known, and an unchanged cart or data is not serialised again.
    """

    def __init__(self, database: Database, *, cache_size: int = 50_000,
                 shared: bool = False) -> None:
        self._db = database
        # an OrderedDict, not functools.lru_cache: a conflicting save must drop one key
        self._cache: OrderedDict[ConversationKey, _Known] = OrderedDict()
        self._cache_size = cache_size
        self.shared = shared
        self.lock = _Locks()
        self.decoded = 0  # rows decoded (tests: a row read back unchanged is not)

    async def load(self, key: ConversationKey) -> Conversation:
        known = self._cache.get(key)
        if known is not None and not self.shared:
            self._cache.move_to_end(key)
            return known.conversation
        row = await self._db.fetchone(_SELECT, (key.shop_id, key.channel, key.customer))
        if row is None:
            new = Conversation(key)
            if self.shared:
                self._cache.pop(key, None)  # no row (any more): nothing known of it holds
            else:
                self._remember(new, None)
            return new
        return self._decoded(key, row, known)

    def _decoded(self, key: ConversationKey, row: tuple[Any, ...],
                 known: _Known | None) -> Conversation:
        if known is not None and known.row == row:
            self._cache.move_to_end(key)
            return known.conversation
        self.decoded += 1
        conversation = _from_row(key, row)
        self._remember(conversation, tuple(row))
        return conversation

    def _values(self, c: Conversation) -> tuple[Any, ...]:
        known = self._cache.get(c.key)
        row = known.row if known is not None else None
        was = known.conversation if known is not None else None
        # the mappings are read-only views over copies (Conversation.with_, _from_row):
        # the same object is the same content, so its stored text is still right
        cart = row[3] if row is not None and was is not None and c.cart is was.cart \
            and type(c.cart) is MappingProxyType else _cart_text(c.cart)
        data = row[4] if row is not None and was is not None and c.data is was.data \
            and type(c.data) is MappingProxyType else _data_text(c.data)
        return (c.language, c.language_locked, c.state.value, cart, data,
                c.business, c.last_inbound_at, c.handoff_until, c.updated_at)

    def _statement(self, c: Conversation, writes: WriteSet, values: tuple[Any, ...]) -> None:
        if self.shared:
            if c.is_new:
                writes.add(_INSERT_NEW, (c.key.shop_id, c.key.channel, c.key.customer,
                                         *values), must_change=True)
            else:
                writes.add(_UPDATE_IF, (*values, c.key.shop_id, c.key.channel,
                                        c.key.customer, c.version), must_change=True)
            return
        writes.add(_UPSERT, (c.key.shop_id, c.key.channel, c.key.customer, *values))

    async def save(self, conversation: Conversation, writes: WriteSet | None = None) -> None:
        batch = WriteSet()
        if writes:
            batch.extend(writes)
        values = self._values(conversation)
        self._statement(conversation, batch, values)
        try:
            await self._db.write(batch)
        except BaseException:
            self._cache.pop(conversation.key, None)  # what is stored is not known now
            raise
        # the version the row has now: a compare-and-set bumps it, an insert starts it at 1
        version = conversation.version if not self.shared else (
            1 if conversation.is_new else conversation.version + 1)
        stored = conversation if not conversation.is_new and version == conversation.version \
            else conversation.with_(is_new=False, version=version)  # a copy only if it differs
        self._remember(stored, (*values, version))

    async def find(self, shop_id: str, customer: str) -> list[Conversation]:
        rows = await self._db.fetchall(_SELECT_CUSTOMER, (shop_id, customer))
        found = []
        for row in rows:
            key = ConversationKey(shop_id, row[0], customer)
            known = self._cache.get(key)
            if known is not None and not self.shared:
                found.append(known.conversation)
            else:
                found.append(self._decoded(key, row[1:], known))
        return found

    def forget(self, key: ConversationKey) -> None:
        self._cache.pop(key, None)

    def _remember(self, conversation: Conversation, row: tuple[Any, ...] | None) -> None:
        self._cache[conversation.key] = _Known(conversation, row)
        self._cache.move_to_end(conversation.key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
