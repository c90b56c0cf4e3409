"""One contract for both outbox senders: in the event loop, and in the child process.

Each runs against the loopback fake Graph API (tests/fakes/graph_api.py), so the child
process does a real HTTP send; the process-only tests kill the child mid-send and check
that nothing is lost (the send fails as retryable) and that the next send starts a new one.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.outgoing import OutboxItem
from bot.types import Button, ChannelCapability, Reply
from config.settings import Settings
from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi, run_fake_graph_api
from webhooks.channels.base import SendError
from webhooks.channels.registry import CHANNELS, with_capability
from webhooks.sender import InlineSender, ProcessSender, Sender

REMOTE = with_capability(ChannelCapability.REST_SENDS)  # what `haat serve` sends from the child

CUSTOMER = "919830000001"


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphApi]:
    async with run_fake_graph_api() as fake:
        yield fake


def _settings(graph: FakeGraphApi) -> Settings:
    # no database file: the sender child keeps its journal beside one (webhooks/sender.py)
    return Settings(log_level="WARNING",
                    database_url="sqlite:///:memory:").with_env(
                        WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN, WHATSAPP_API_BASE_URL=graph.url,
                        HAAT_SIMULATOR_TOKEN="sim")


@pytest.fixture(params=["inline", "process"])
async def sender(request: pytest.FixtureRequest,
                 graph: FakeGraphApi) -> AsyncIterator[Sender]:
    settings = _settings(graph)
    channels = {name: build(settings) for name, build in CHANNELS.items()}
    async with aiohttp.ClientSession() as session:
        inline = InlineSender(channels, lambda: session)
        chosen: Sender = inline
        if request.param == "process":
            chosen = ProcessSender(settings, inline, REMOTE)
        try:
            yield chosen
        finally:
            await chosen.close()


def _item(n: int, reply: Reply | None = None, channel: str = "whatsapp") -> OutboxItem:
    return OutboxItem(f"out-{n}", "demo", channel, CUSTOMER, "777",
                      reply or Reply(type="text", text=f"message {n}"))


async def test_a_send_reaches_the_channel_and_returns_its_id(
        sender: Sender, graph: FakeGraphApi) -> None:
    reply = Reply(type="buttons", text="Add samosa?", buttons=(Button("y", "Yes"),))
    wamid = await sender.send(_item(1, reply))
    assert wamid == "wamid.FAKE000001"
    (request,) = graph.received
    assert request.path == "/777/messages"
    assert request.json["interactive"]["body"]["text"] == "Add samosa?"
    assert request.json["biz_opaque_callback_data"] == "out-1"


async def test_many_concurrent_sends_each_get_their_own_answer(
        sender: Sender, graph: FakeGraphApi) -> None:
    ids = await asyncio.gather(*(sender.send(_item(n)) for n in range(50)))
    assert len(set(ids)) == 50
    texts = sorted(r.json["text"]["body"] for r in graph.received)
    assert texts == sorted(f"message {n}" for n in range(50))


async def test_a_rate_limit_is_retryable_and_a_bad_request_is_not(
        sender: Sender, graph: FakeGraphApi) -> None:
    graph.fail_next(status=429, code=131056, message="pair rate limit")
    with pytest.raises(SendError) as limited:
        await sender.send(_item(1))
    assert limited.value.retryable and limited.value.status == 429
    graph.fail_next(status=400, code=131026, message="undeliverable")
    with pytest.raises(SendError) as bad:
        await sender.send(_item(2))
    assert not bad.value.retryable and bad.value.code == "131026"
    assert await sender.send(_item(3))  # and the next one goes through


async def test_an_unreachable_channel_is_a_retryable_failure(graph: FakeGraphApi) -> None:
    settings = Settings(log_level="WARNING",
                        database_url="sqlite:///:memory:").with_env(
                            WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN,
                            WHATSAPP_API_BASE_URL="http://127.0.0.1:9")
    channels = {name: build(settings) for name, build in CHANNELS.items()}
    async with aiohttp.ClientSession() as session:
        for sender in (InlineSender(channels, lambda: session),
                       ProcessSender(settings, InlineSender(channels, lambda: session), REMOTE)):
            try:
                with pytest.raises(SendError) as refused:
                    await sender.send(_item(1))
                assert refused.value.retryable
            finally:
                await sender.close()


# ---- the child process ------------------------------------------------------------------


@pytest.fixture
async def process_sender(graph: FakeGraphApi) -> AsyncIterator[ProcessSender]:
    settings = _settings(graph)
    channels = {name: build(settings) for name, build in CHANNELS.items()}
    async with aiohttp.ClientSession() as session:
        sender = ProcessSender(settings, InlineSender(channels, lambda: session), REMOTE)
        sender.restart_delay = 0.0
        try:
            yield sender
        finally:
            await sender.close()


async def test_the_simulator_never_leaves_the_server(process_sender: ProcessSender) -> None:
    await process_sender.send(_item(1, channel="simulator"))
    assert process_sender.started == 0 and process_sender.pid is None
    simulator = process_sender.inline.channels["simulator"]
    assert simulator.drain(CUSTOMER)[0]["text"] == "message 1"  # type: ignore[attr-defined]


async def test_a_killed_child_fails_its_sends_as_retryable_and_is_replaced(
        process_sender: ProcessSender, graph: FakeGraphApi) -> None:
    assert await process_sender.send(_item(1))
    first = process_sender.pid
    assert first is not None and first != os.getpid()
    graph.hang_next()
    stuck = asyncio.create_task(process_sender.send(_item(2)))
    for _ in range(500):  # until the child's request is hanging in the fake
        if graph.attempts >= 2:
            break
        await asyncio.sleep(0.01)
    os.kill(first, signal.SIGKILL)
    with pytest.raises(SendError) as lost:
        await stuck
    assert lost.value.retryable and "sender process" in str(lost.value)
    assert await process_sender.send(_item(3)) == "wamid.FAKE000002"
    assert process_sender.started == 2 and process_sender.pid not in (None, first)


async def test_close_waits_for_sends_in_flight(process_sender: ProcessSender,
                                               graph: FakeGraphApi) -> None:
    await process_sender.start()
    sends = [asyncio.create_task(process_sender.send(_item(n))) for n in range(20)]
    await asyncio.sleep(0)  # handed over, not yet answered
    await process_sender.close()
    assert all(task.done() and not task.exception() for task in sends)
    assert len(graph.received) == 20
    with pytest.raises(SendError):
        await process_sender.send(_item(99))


async def test_the_child_outlives_signals_meant_for_the_whole_group(
        process_sender: ProcessSender) -> None:
    # Ctrl-C and a service manager's SIGTERM reach every process of the group; the server
    # stops the child itself (by closing its stdin) after its own sends are handed over
    assert await process_sender.send(_item(1))
    pid = process_sender.pid
    assert pid is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        os.kill(pid, sig)
    await asyncio.sleep(0.2)
    assert await process_sender.send(_item(2))
    assert process_sender.pid == pid and process_sender.started == 1


# ---- partner fault patterns, on both senders and both REST channels ---------------------


@pytest.mark.parametrize("kind", ["inline", "process"])
@pytest.mark.parametrize("channel", sorted(REMOTE))
async def test_a_fault_pattern_costs_retries_never_a_lost_or_doubled_message(
        kind: str, channel: str) -> None:
    """Every channel that sends by REST, through its fake (tests/fakes/channel_<name>.py)."""
    from tests.fakes.graph_api import Failure, dropped, slow

    driver = importlib.import_module(f"tests.fakes.channel_{channel}")

    def faults(n: int) -> Failure | None:  # 429, 5xx, a cut connection, a slow answer
        return {1: Failure(429, driver.RATE_LIMIT_CODE, "too many"),
                2: Failure(500), 3: dropped(), 4: slow(0.2), 6: Failure(503)}.get(n % 7)

    async with driver.rest_api() as fake:
        fake.pattern(faults)
        settings = Settings(log_level="WARNING", database_url="sqlite:///:memory:").with_env(
            HAAT_SIMULATOR_TOKEN="sim", **driver.rest_env(fake))
        channels = {name: build(settings) for name, build in CHANNELS.items()}
        async with aiohttp.ClientSession() as session:
            inline = InlineSender(channels, lambda: session)
            sender: Sender = (inline if kind == "inline"
                              else ProcessSender(settings, inline, REMOTE))
            try:
                async def deliver(n: int) -> int:
                    for attempt in range(1, 8):  # what the outbox does, minus the backoff
                        try:
                            await sender.send(_item(n, channel=channel))
                            return attempt
                        except SendError as exc:
                            assert exc.retryable
                    raise AssertionError(f"message {n} never went through")

                attempts = await asyncio.gather(*(deliver(n) for n in range(30)))
            finally:
                await sender.close()
                for adapter in channels.values():
                    close = getattr(adapter, "close", None)
                    if close is not None:
                        await close()
    bodies = driver.sent_texts(fake)
    assert sorted(bodies) == sorted(f"message {n}" for n in range(30))  # each exactly once
    assert sum(attempts) > 30 and {"429", "500", "503", "drop", "slow"} <= set(fake.faults)
