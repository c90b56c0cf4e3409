"""One contract for every conversation store: memory, SQL on SQLite, SQL on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.state import (
    Conversation,
    ConversationKey,
    ConversationState,
    MemoryStateStore,
    SqlStateStore,
    StateStore,
)
from storage.database import Conflict, Database, WriteSet, open_database

KEY = ConversationKey("shop", "simulator", "919000000001")


@pytest.fixture(params=["memory", "sql", "sql-shared"])
async def store(request: pytest.FixtureRequest,
                database_url: str) -> AsyncIterator[tuple[StateStore, Database]]:
    db = open_database(database_url)
    await db.start()
    made: StateStore = MemoryStateStore(db) if request.param == "memory" else SqlStateStore(
        db, shared=request.param == "sql-shared")
    yield made, db
    await db.close()


async def test_an_unknown_conversation_loads_as_new_and_idle(
        store: tuple[StateStore, Database]) -> None:
    conversation = await store[0].load(KEY)
    assert conversation.is_new and conversation.state is ConversationState.IDLE
    assert dict(conversation.cart) == {}


async def test_saved_state_round_trips(store: tuple[StateStore, Database]) -> None:
    states, _ = store
    changed = (await states.load(KEY)).with_(
        language="bn", language_locked=True, state=ConversationState.AWAITING_ADDRESS,
        cart={"SAMOSA": 2, "MASALA-CHAI-L": 1}, business="+919800000000",
        last_inbound_at=1_700_000_000_000, handoff_until=5).with_data(address="Salt Lake ১২")
    await states.save(changed)
    loaded = await states.load(KEY)
    assert not loaded.is_new
    assert (loaded.language, loaded.language_locked, loaded.state) == (
        "bn", True, ConversationState.AWAITING_ADDRESS)
    assert dict(loaded.cart) == {"SAMOSA": 2, "MASALA-CHAI-L": 1}
    assert loaded.data["address"] == "Salt Lake ১২"
    assert (loaded.business, loaded.last_inbound_at, loaded.handoff_until) == (
        "+919800000000", 1_700_000_000_000, 5)
    assert [c.key for c in await states.find("shop", "919000000001")] == [KEY]


async def test_state_and_extra_writes_commit_together(
        store: tuple[StateStore, Database]) -> None:
    states, db = store
    writes = WriteSet()
    writes.add("INSERT INTO inbound_messages (channel, message_id, shop_id, customer, kind, body, "
               "received_at, status, response) VALUES ('simulator', 'm1', 'shop', 'c', 'text', "
               "'', 0, 'processed', 'r')")
    await states.save(Conversation(KEY).with_(cart={"SAMOSA": 1}), writes)
    assert await db.fetchone("SELECT response FROM inbound_messages WHERE message_id = 'm1'") \
        == ("r",)


async def test_the_lock_serialises_one_conversation(store: tuple[StateStore, Database]) -> None:
    states, _ = store
    order: list[str] = []

    async def worker(name: str) -> None:
        async with states.lock(KEY):
            order.append(f"{name}-in")
            await asyncio.sleep(0.01)
            order.append(f"{name}-out")

    await asyncio.gather(worker("a"), worker("b"), worker("c"))
    assert all(order[i].split("-")[0] == order[i + 1].split("-")[0]
               for i in range(0, len(order), 2))


async def test_sql_store_survives_a_new_process(database_url: str) -> None:
    db = open_database(database_url)
    await db.start()
    try:
        await SqlStateStore(db).save(Conversation(KEY).with_(cart={"LASSI": 3}))
        fresh = SqlStateStore(db)  # an empty cache: as after a restart
        assert dict((await fresh.load(KEY)).cart) == {"LASSI": 3}
    finally:
        await db.close()


async def test_a_save_from_a_stale_read_conflicts_in_shared_mode(database_url: str) -> None:
    """Two servers (two stores, no shared memory) read the same version; the second save
    changes no row and raises Conflict, so nothing of its stale turn is stored (issue 16)."""
    db = open_database(database_url)
    await db.start()
    try:
        first, second = SqlStateStore(db, shared=True), SqlStateStore(db, shared=True)
        await first.save(Conversation(KEY).with_(cart={"SAMOSA": 1}))
        a, b = await first.load(KEY), await second.load(KEY)
        await first.save(a.with_(cart={"SAMOSA": 2}))
        writes = WriteSet()
        writes.add("INSERT INTO inbound_messages (channel, message_id, shop_id, customer, "
                   "kind, body, received_at, status, response) VALUES ('simulator', 'stale', "
                   "'shop', 'c', 'text', '', 0, 'processed', 'r')")
        with pytest.raises(Conflict):
            await second.save(b.with_(cart={"KACHORI": 1}), writes)
        assert dict((await second.load(KEY)).cart) == {"SAMOSA": 2}
        assert await db.fetchone(
            "SELECT 1 FROM inbound_messages WHERE message_id = 'stale'") is None
        with pytest.raises(Conflict):  # two servers creating one new conversation
            await second.save(Conversation(KEY).with_(cart={"KACHORI": 1}))
    finally:
        await db.close()


async def test_a_shared_store_decodes_only_rows_another_server_changed(
        database_url: str) -> None:
    """The shared store keeps what it last read or wrote, checked against the row read in
    every load: its own last save reads back without decoding, and a change made through
    another server between two of its turns is seen (issue 16: no turn on a stale copy)."""
    db, other_db = open_database(database_url), open_database(database_url)
    await db.start()
    await other_db.start()  # its own pool: nothing shared with the first but the database
    try:
        first, second = SqlStateStore(db, shared=True), SqlStateStore(other_db, shared=True)
        await first.save((await first.load(KEY)).with_(cart={"SAMOSA": 1}))
        mine = await first.load(KEY)
        assert (dict(mine.cart), mine.version, first.decoded) == ({"SAMOSA": 1}, 1, 0)
        await first.save(mine.with_(state=ConversationState.AWAITING_ADDRESS))
        again = await first.load(KEY)
        assert (again.state, again.version, first.decoded) == (
            ConversationState.AWAITING_ADDRESS, 2, 0)

        theirs = await second.load(KEY)  # the other server's turn, between two of mine
        await second.save(theirs.with_(cart={"SAMOSA": 1, "KACHORI": 2}))

        seen = await first.load(KEY)
        assert (dict(seen.cart), seen.version, first.decoded) == (
            {"SAMOSA": 1, "KACHORI": 2}, 3, 1)
        assert [dict(c.cart) for c in await first.find("shop", KEY.customer)] == [
            {"SAMOSA": 1, "KACHORI": 2}]
        # a save from the copy known before the other server's change still fails closed
        with pytest.raises(Conflict):
            await first.save(again.with_(cart={}))
        assert dict((await first.load(KEY)).cart) == {"SAMOSA": 1, "KACHORI": 2}
    finally:
        await other_db.close()
        await db.close()


@pytest.mark.parametrize("shared", [False, True], ids=["sql", "sql-shared"])
async def test_an_unchanged_cart_is_stored_as_the_same_text(database_url: str,
                                                              shared: bool) -> None:
    """A save reuses the JSON text of a cart or data it did not change; what is stored is
    still exactly what the conversation holds."""
    db = open_database(database_url)
    await db.start()
    try:
        await _reuse_text(SqlStateStore(db, shared=shared), db)
    finally:
        await db.close()


async def _reuse_text(states: SqlStateStore, db: Database) -> None:
    await states.save((await states.load(KEY)).with_(cart={"SAMOSA": 2}).with_data(a="১"))
    loaded = await states.load(KEY)
    await states.save(loaded.with_(state=ConversationState.AWAITING_ADDRESS))
    await states.save((await states.load(KEY)).with_data(b=1))
    assert await db.fetchone("SELECT cart, data, state FROM conversations WHERE customer = ?",
                             (KEY.customer,)) == ('{"SAMOSA":2}', '{"a":"১","b":1}',
                                                  "awaiting_address")
    assert dict((await SqlStateStore(db).load(KEY)).data) == {"a": "১", "b": 1}
