"""Issue 16: what a SIGKILL does to sends on PostgreSQL, counted at the fake Graph API.

A reply is at least once across a kill, never lost, and sent twice only when the channel
took it but the dead server never learned so. Server A handles a first wave of shoppers and
records every send; then the fake Graph API holds its answers (each request is received
and processed, its answer delayed), a second wave comes in, and A is SIGKILLed while those
sends are on the wire. Server B starts on the same database; the rows A claimed are taken
over when their lease ends. At the fake: every row of the first wave exactly once, every
row of the second wave exactly twice (the in-doubt window, which no API without an
idempotency key can close), and nothing else (docs/RELIABILITY.md, "Sends across a
SIGKILL on PostgreSQL").
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from pathlib import Path

import aiohttp
import asyncpg

from config.settings import Settings
from tests.e2e.cluster import empty_database, ready, start_server
from tests.e2e.conftest import open_shop
from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi, run_fake_graph_api, slow
from tests.localhost import free_port
from tests.sim import cloud_text, signed_cloud_request

APP_SECRET = "kill-app-secret"
LEASE_SECONDS = 2
FIRST, SECOND = 8, 5  # shoppers in each wave


async def _post(session: aiohttp.ClientSession, url: str, n: int) -> int:
    body, headers = signed_cloud_request(APP_SECRET, cloud_text(
        "hi", message_id=f"wamid.kill{n}", from_=f"91930000{n:04d}"))
    try:
        async with session.post(f"{url}/webhooks/whatsapp", data=body,
                                headers=headers) as response:
            return response.status
    except aiohttp.ClientError:
        return 0


async def _until(predicate: object, what: str, seconds: float = 40.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if await predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _keys(graph: FakeGraphApi) -> Counter[str]:
    return Counter(str(r.json.get("biz_opaque_callback_data")) for r in graph.received
                   if r.json)


async def test_a_send_on_the_wire_at_a_sigkill_comes_twice_and_nothing_else_does(
        tmp_path: Path, postgres_url: str, settings: Settings) -> None:
    shop = open_shop(tmp_path, settings)
    async with run_fake_graph_api() as graph, empty_database(
            postgres_url, f"kill{os.getpid()}_{free_port()}") as url, \
            aiohttp.ClientSession() as session:
        env = {"HAAT_DATABASE_URL": url, "HAAT_SHOP_DIR": str(shop),
               "HAAT_MODEL_CACHE": str(tmp_path / "models"), "HAAT_PUBLIC_URL": "http://x",
               "WHATSAPP_APP_SECRET": APP_SECRET, "WHATSAPP_ACCESS_TOKEN": ACCESS_TOKEN,
               "WHATSAPP_API_BASE_URL": graph.url, "HAAT_OUTBOX_SENDER": "inline",
               "HAAT_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS), "HAAT_LOG_LEVEL": "INFO",
               "HAAT_ALLOW_SANDBOX_WITH_LIVE_CHANNEL": "1"}
        a = start_server(tmp_path, "a", env)
        b = None
        db = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await ready(a.url, a.proc, a.log)

            async def rows() -> dict[str, str]:
                found = await db.fetch("SELECT id, status FROM outbound_messages")
                return {r["id"]: r["status"] for r in found}

            # the first wave: answered, sent and recorded
            assert [await _post(session, a.url, n) for n in range(FIRST)] == [200] * FIRST

            async def all_sent() -> bool:
                now = await rows()
                return bool(now) and set(now.values()) == {"sent"}

            await _until(all_sent, "the first wave's sends recorded")
            first = set(await rows())
            # the second wave: the channel takes each send but holds its answer
            graph.takes_abandoned = True
            graph.pattern(lambda n: slow(3.0))
            assert [await _post(session, a.url, FIRST + n)
                    for n in range(SECOND)] == [200] * SECOND
            second = set(await rows()) - first
            assert second

            async def on_the_wire() -> bool:
                return graph.attempts >= len(first) + len(second)

            await _until(on_the_wire, "the second wave's sends at the channel")
            a.kill()
            graph.pattern(None)

            async def all_received() -> bool:  # the held answers finish after the kill
                return len(graph.received) >= len(first) + len(second)

            await _until(all_received, "the held sends processed")
            assert {k for k, v in (await rows()).items() if v != "sent"} == second
            b = start_server(tmp_path, "b", env)
            await ready(b.url, b.proc, b.log)
            await _until(all_sent, "the dead server's claims taken over after the lease")
            seen = _keys(graph)
            assert set(seen) == first | second
            assert {k: seen[k] for k in first} == dict.fromkeys(first, 1)
            assert {k: seen[k] for k in second} == dict.fromkeys(second, 2)
        finally:
            await db.close()
            a.kill()
            if b is not None:
                b.kill()


async def test_a_send_the_channel_answered_but_not_yet_recorded_is_not_sent_again(
        tmp_path: Path, postgres_url: str, settings: Settings) -> None:
    """The window between the channel's answer and the row's record: the answer is in the
    dead server's journal, and the next server on the host records it from there before
    the lease runs out. The record is held back from outside: the test locks the rows."""
    shop = open_shop(tmp_path, settings)
    journals = tmp_path / "journals"
    async with run_fake_graph_api() as graph, empty_database(
            postgres_url, f"killrec{os.getpid()}_{free_port()}") as url, \
            aiohttp.ClientSession() as session:
        env = {"HAAT_DATABASE_URL": url, "HAAT_SHOP_DIR": str(shop),
               "HAAT_MODEL_CACHE": str(tmp_path / "models"), "HAAT_PUBLIC_URL": "http://x",
               "WHATSAPP_APP_SECRET": APP_SECRET, "WHATSAPP_ACCESS_TOKEN": ACCESS_TOKEN,
               "WHATSAPP_API_BASE_URL": graph.url, "HAAT_OUTBOX_SENDER": "inline",
               "HAAT_OUTBOX_LEASE_SECONDS": "8", "HAAT_LOG_LEVEL": "INFO",
               "HAAT_ALLOW_SANDBOX_WITH_LIVE_CHANNEL": "1",
               "HAAT_SENT_JOURNAL_DIR": str(journals)}
        a = start_server(tmp_path, "a", env)
        b = None
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        db = await asyncpg.connect(dsn)
        locker = await asyncpg.connect(dsn)
        try:
            await ready(a.url, a.proc, a.log)

            async def unsent() -> set[str]:
                found = await db.fetch(
                    "SELECT id FROM outbound_messages WHERE status <> 'sent'")
                return {r["id"] for r in found}

            graph.takes_abandoned = True
            graph.pattern(lambda n: slow(1.5))  # time to lock the rows before the answers
            assert [await _post(session, a.url, n) for n in range(SECOND)] == [200] * SECOND
            lock = locker.transaction()
            await lock.start()
            held = {r["id"] for r in await locker.fetch(
                "SELECT id FROM outbound_messages WHERE status <> 'sent' FOR UPDATE")}
            assert held

            async def journaled() -> bool:  # the answers are in, their records blocked
                lines = "".join(p.read_text() for p in journals.glob("*.sent"))
                return all(row in lines for row in held)

            await _until(journaled, "the channel's answers in the journal")
            a.kill()
            await lock.rollback()
            assert await unsent() >= held  # none of them recorded by the dead server
            graph.pattern(None)
            b = start_server(tmp_path, "b", env)
            await ready(b.url, b.proc, b.log)

            async def recorded() -> bool:
                return not await unsent()

            await _until(recorded, "the dead server's journal recorded")
            seen = _keys(graph)
            assert set(seen) >= held
            assert set(seen.values()) == {1}, seen  # nothing sent twice
        finally:
            await locker.close()
            await db.close()
            a.kill()
            if b is not None:
                b.kill()
