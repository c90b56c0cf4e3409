"""Channel reliability: outbox retries and dead letters, crash after 200, the 24-hour window,
Twilio's REST sends and status callbacks, and no personal data in INFO logs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from config.clock import Clock
from config.settings import Settings
from tests.conftest import ROOT, AiohttpClient, Shopper
from tests.e2e.conftest import open_shop, until_ready
from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi, run_fake_twilio_api
from tests.faults_report import ROUNDS, report
from tests.localhost import free_port
from tests.sim import (
    cloud_status,
    cloud_text,
    signed_cloud_request,
    signed_twilio_request,
    twilio_status,
    twilio_text,
)

SHOPPER = "919000000042"


@pytest.fixture
async def cloud(aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
                graph: FakeGraphApi) -> TestClient[Any, Any]:
    from webhooks.app import create_app

    return await aiohttp_client(create_app(settings.with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN), clock=clock))


async def _say(client: TestClient[Any, Any], settings: Settings, text: str, message_id: str,
               sender: str = SHOPPER) -> None:
    body, headers = signed_cloud_request(settings.env.get("WHATSAPP_APP_SECRET") or "",
                                         cloud_text(text, message_id=message_id, from_=sender))
    response = await client.post("/webhooks/whatsapp", data=body, headers=headers)
    assert response.status == 200


async def _settle(client: TestClient[Any, Any]) -> None:
    from webhooks.keys import OUTBOX

    await client.app[OUTBOX].drain()


async def _outbound(client: TestClient[Any, Any]) -> list[tuple[Any, ...]]:
    from webhooks.keys import DB

    rows: list[tuple[Any, ...]] = await client.app[DB].fetchall(
        "SELECT status, attempts, error FROM outbound_messages ORDER BY created_at")
    return rows


async def test_a_5xx_and_a_429_are_retried_and_the_message_sent_once(
        cloud: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi,
        clock: Clock) -> None:
    from webhooks.keys import OUTBOX

    graph.fail_next(1, status=500)
    graph.fail_next(1, status=429, code=130429)
    await _say(cloud, settings, "hello", "wamid.retry")
    await _settle(cloud)
    assert [r[0] for r in await _outbound(cloud)] == ["pending"]
    for _ in range(2):
        clock.advance(minutes=10)  # past the backoff
        await cloud.app[OUTBOX].run_due()
        await _settle(cloud)
    rows = await _outbound(cloud)
    assert rows[0][0] == "sent" and rows[0][1] == 3
    delivered = [r for r in graph.received if r.json is not None]
    assert len(delivered) == 1  # two refusals, then exactly one message


async def test_a_permanent_error_is_not_retried(cloud: TestClient[Any, Any],
                                                settings: Settings, graph: FakeGraphApi,
                                                clock: Clock) -> None:
    from webhooks.keys import OUTBOX

    graph.fail_next(1, status=400, code=131009)
    await _say(cloud, settings, "hello", "wamid.perm")
    await _settle(cloud)
    clock.advance(minutes=30)
    await cloud.app[OUTBOX].run_due()
    await _settle(cloud)
    rows = await _outbound(cloud)
    assert rows[0][0] == "failed" and rows[0][1] == 1 and "131009" in rows[0][2]
    assert [r for r in graph.received if r.json is not None] == []


async def test_after_the_last_try_a_message_is_dead_lettered_with_a_warning(
        cloud: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi, clock: Clock,
        caplog: pytest.LogCaptureFixture) -> None:
    from webhooks.keys import OUTBOX

    outbox = cloud.app[OUTBOX]
    graph.fail_next(outbox.max_attempts, status=503)
    await _say(cloud, settings, "hello", "wamid.dead")
    await _settle(cloud)
    with caplog.at_level(logging.WARNING):
        for _ in range(outbox.max_attempts):
            clock.advance(minutes=10)
            await outbox.run_due()
            await _settle(cloud)
    rows = await _outbound(cloud)
    assert rows[0][0] == "dead" and rows[0][1] == outbox.max_attempts
    assert any("dead" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


async def test_outside_the_24_hour_window_only_a_template_is_sent(
        cloud: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi,
        clock: Clock) -> None:
    owner = "919811111111"
    await _say(cloud, settings, "2 samosa", "wamid.w1")
    await _say(cloud, settings, "checkout", "wamid.w2")
    await _say(cloud, settings, "5 Park Street, Kolkata", "wamid.w3")
    await _say(cloud, settings, "yes", "wamid.w4")
    await _settle(cloud)
    from webhooks.keys import DB

    row = await cloud.app[DB].fetchone("SELECT number, status FROM orders")
    assert row is not None and row[1] == "pending_payment"
    await _say(cloud, settings, "paid ORD-" + str(row[0]), "wamid.o1", sender=owner)
    clock.advance(minutes=25 * 60)  # the shopper has been silent for a day and more
    await _say(cloud, settings, "ship ORD-" + str(row[0]), "wamid.o2", sender=owner)
    await _settle(cloud)
    to_shopper = [r.json for r in graph.received if r.json and r.json.get("to") == SHOPPER]
    last = to_shopper[-1]
    assert last["type"] == "template"
    assert last["template"]["name"] == "haat_order_shipped"
    assert last["template"]["language"] == {"code": "en"}
    assert last["template"]["components"] == [{"type": "body", "parameters": [
        {"type": "text", "parameter_name": "order", "text": f"ORD-{row[0]}"},
        {"type": "text", "parameter_name": "shop", "text": "Mitra Tea House"}]}]


async def test_cloud_delivery_receipts_and_the_same_id_twice_in_one_batch(
        cloud: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi) -> None:
    await _say(cloud, settings, "hi", "wamid.r1")
    await _settle(cloud)
    from webhooks.keys import DB

    row = await cloud.app[DB].fetchone("SELECT channel_message_id FROM outbound_messages")
    assert row is not None
    envelope = cloud_status(row[0], "delivered", recipient=SHOPPER)
    body, headers = signed_cloud_request(settings.env.get("WHATSAPP_APP_SECRET") or "", envelope)
    assert (await cloud.post("/webhooks/whatsapp", data=body, headers=headers)).status == 200
    status = await cloud.app[DB].fetchone(
        "SELECT status FROM outbound_messages WHERE channel_message_id = ?", (row[0],))
    assert status == ("delivered",)


@pytest.fixture
async def twilio_fake() -> AsyncIterator[FakeTwilioApi]:
    async with run_fake_twilio_api() as fake:
        yield fake


async def test_twilio_proactive_messages_go_through_the_rest_api_and_statuses_are_stored(
        aiohttp_client: AiohttpClient, settings: Settings, twilio_fake: FakeTwilioApi) -> None:
    from webhooks.app import create_app
    from webhooks.keys import DB, OUTBOX

    settings = settings.with_env(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_API_BASE_URL=twilio_fake.url)
    client = await aiohttp_client(create_app(settings))
    url = "https://shop.example.test/webhooks/twilio"

    async def say(text: str, sid: str, sender: str = SHOPPER) -> str:
        body, headers = signed_twilio_request(url, AUTH_TOKEN,
                                              twilio_text(text, sid=sid, from_=sender))
        response = await client.post("/webhooks/twilio", data=body, headers=headers)
        assert response.status == 200
        return await response.text()

    await say("orders", "SM" + "e" * 32, sender="919811111111")  # the owner's window opens
    await say("2 samosa", "SM" + "a" * 32)
    await say("checkout", "SM" + "b" * 32)
    await say("5 Park Street", "SM" + "c" * 32)
    twiml = await say("yes", "SM" + "d" * 32)
    assert "ORD-1001" in twiml
    await client.app[OUTBOX].drain()
    # the owner's new-order alert is proactive: it went through Twilio's REST API
    alerts = [r for r in twilio_fake.received if r.form.get("To") == ["whatsapp:+919811111111"]]
    assert alerts and "ORD-1001" in alerts[0].form["Body"][0]
    sid = (await client.app[DB].fetchone(
        "SELECT channel_message_id FROM outbound_messages WHERE customer = '919811111111'"))
    assert sid is not None and sid[0]
    body, headers = signed_twilio_request(url, AUTH_TOKEN, twilio_status(sid[0], "read"))
    assert (await client.post("/webhooks/twilio", data=body, headers=headers)).status == 200
    body, headers = signed_twilio_request(url, AUTH_TOKEN, twilio_status(sid[0], "delivered"))
    assert (await client.post("/webhooks/twilio", data=body, headers=headers)).status == 200
    status = await client.app[DB].fetchone(
        "SELECT status FROM outbound_messages WHERE channel_message_id = ?", (sid[0],))
    assert status == ("read",)  # never downgraded by the late "delivered"


async def test_phone_numbers_and_message_text_never_reach_info_logs(
        shopper: Shopper, caplog: pytest.LogCaptureFixture) -> None:
    secret_text = "my secret address 221B Baker Street"
    with caplog.at_level(logging.DEBUG):
        await shopper.send("hello")
        await shopper.send("2 samosa")
        await shopper.send(secret_text)
        await shopper.send("checkout")
    info = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    digits = "".join(ch for ch in shopper.phone if ch.isdigit())
    assert not any(digits in line or "Baker" in line for line in info)


# ---- a real crash: kill -9 after the 200, restart, nothing lost -----------------------




async def _start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(  # noqa: ASYNC220, S603 - a real separate server process
        [sys.executable, "-m", "webhooks", "serve", "--port", str(port)], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    await until_ready(f"http://127.0.0.1:{port}", proc)
    return proc


async def test_a_crash_after_the_200_loses_nothing(tmp_path: Path, graph: FakeGraphApi,
                                                   settings: Settings) -> None:
    port = free_port()
    shop = open_shop(tmp_path, settings)  # one reply, whatever time it runs
    env = dict(os.environ, HAAT_DATABASE_URL=f"sqlite:///{tmp_path / 'crash.db'}",
               HAAT_SHOP_DIR=str(shop), HAAT_MODEL_CACHE="", HAAT_PUBLIC_URL=f"http://127.0.0.1:{port}",
               WHATSAPP_APP_SECRET="crash-secret", WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN,
               WHATSAPP_API_BASE_URL=graph.url, HAAT_LOG_LEVEL="WARNING",
               HAAT_ALLOW_SANDBOX_WITH_LIVE_CHANNEL="1")  # the fake Graph API is no live user
    graph.hang_next(1)  # the reply is stuck in flight when the process dies
    server = await _start_server(env, port)
    try:
        body, headers = signed_cloud_request("crash-secret", cloud_text(
            "hello", message_id="wamid.crash", from_=SHOPPER))
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{port}/webhooks/whatsapp", data=body,
                                    headers=headers) as response:
                assert response.status == 200
            for _ in range(100):  # until the stuck send has reached the fake
                if graph.attempts:
                    break
                await asyncio.sleep(0.05)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    assert [r for r in graph.received if r.json] == []  # nothing was delivered before the crash
    server = await _start_server(env, port)
    try:
        for _ in range(100):
            if [r for r in graph.received if r.json]:
                break
            await asyncio.sleep(0.1)
        sent = [r.json for r in graph.received if r.json]
        assert len(sent) == 1 and sent[0]["to"] == SHOPPER
        assert "Mitra Tea House" in sent[0]["interactive"]["body"]["text"]
        # and a redelivery of the same message after the restart changes nothing
        async with aiohttp.ClientSession() as session, session.post(
                f"http://127.0.0.1:{port}/webhooks/whatsapp", data=body,
                headers=headers) as response:
            assert response.status == 200
        await asyncio.sleep(0.5)
        assert len([r for r in graph.received if r.json]) == 1
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()


# ---- a real server under load: SIGKILL, SIGSTOP/SIGCONT -------------------------------
# Counted from outside: the answers, the rows in the database file, and what the fake
# Graph API accepted (each send carries its outbox row id as biz_opaque_callback_data).


def _serve_env(tmp_path: Path, settings: Settings, graph: FakeGraphApi, port: int,
               name: str) -> dict[str, str]:
    shop = open_shop(tmp_path, settings)
    # trained weights kept across the restarts, so each restart is quick
    return dict(os.environ, HAAT_DATABASE_URL=f"sqlite:///{tmp_path / name}",
                HAAT_SHOP_DIR=str(shop), HAAT_MODEL_CACHE=str(tmp_path / "models"),
                HAAT_PUBLIC_URL=f"http://127.0.0.1:{port}", WHATSAPP_APP_SECRET="load-secret",
                WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN, WHATSAPP_API_BASE_URL=graph.url,
                HAAT_LOG_LEVEL="WARNING",
                HAAT_ALLOW_SANDBOX_WITH_LIVE_CHANNEL="1")  # the fake Graph API is no live user


async def _start_loaded(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """A real ``haat serve``, given up to 60 s to be ready (the machine may be busy)."""
    proc = subprocess.Popen(  # noqa: ASYNC220, S603 - a real separate server process
        [sys.executable, "-m", "webhooks", "serve", "--port", str(port)], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                    if response.status == 200:
                        return proc
            await asyncio.sleep(0.1)
    proc.kill()
    proc.wait()
    raise AssertionError("haat serve did not become ready in 60 s")


def _file_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _accepted(graph: FakeGraphApi) -> Counter[str]:
    return Counter(r.json["biz_opaque_callback_data"] for r in graph.received if r.json)


async def _deliver(session: aiohttp.ClientSession, url: str, body: bytes,
                   headers: dict[str, str], wait: float = 10.0) -> int:
    """One delivery attempt as a channel makes it: the status, or 0 if no answer came."""
    try:
        async with session.post(url, data=body, headers=headers,
                                timeout=aiohttp.ClientTimeout(total=wait)) as response:
            await response.read()
            return response.status
    except (aiohttp.ClientError, TimeoutError):
        return 0


async def _until(predicate: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return bool(predicate())


async def test_sigkill_under_load_loses_nothing_and_resends_only_unrecorded_sends(
        tmp_path: Path, graph: FakeGraphApi, settings: Settings) -> None:
    port = free_port()
    env = _serve_env(tmp_path, settings, graph, port, "kill.db")
    db_file = tmp_path / "kill.db"
    url = f"http://127.0.0.1:{port}/webhooks/whatsapp"
    per_round = 150
    bodies = [signed_cloud_request("load-secret", cloud_text(
        "hello", message_id=f"wamid.load{i}", from_=f"9197{i:07d}"))
        for i in range(per_round * ROUNDS)]
    answers: dict[int, int] = {}
    recorded: set[str] = set()  # rows the database had recorded as sent at some kill
    doubtful: set[str] = set()  # sends the partner accepted that were not recorded at a kill
    for r in range(ROUNDS):
        server = await _start_loaded(env, port)
        try:
            async with aiohttp.ClientSession() as session:
                # the channel delivers again whatever got no 200 (Meta retries non-200s)
                again = [i for i, status in answers.items() if status != 200]
                for i, status in zip(again, await asyncio.gather(*(
                        _deliver(session, url, *bodies[i]) for i in again)), strict=True):
                    answers[i] = status

                third = asyncio.Event()
                fresh = range(r * per_round, (r + 1) * per_round)

                async def one(i: int, session: aiohttp.ClientSession = session,
                              fresh: range = fresh, third: asyncio.Event = third) -> None:
                    await asyncio.sleep((i - fresh[0]) * 0.01)  # a stream, not one burst
                    answers[i] = await _deliver(session, url, *bodies[i])
                    if sum(1 for j in fresh if answers.get(j) == 200) >= per_round // 3:
                        third.set()

                tasks = [asyncio.create_task(one(i)) for i in fresh]
                sent_before = len(graph.received)
                await _until(lambda sent_before=sent_before, third=third: third.is_set()
                             and len(graph.received) >= sent_before + 10, 20)
                server.send_signal(signal.SIGKILL)  # mid-load: requests and sends in flight
                server.wait()
                await asyncio.gather(*tasks)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
        await asyncio.sleep(1.0)  # the sender child finishes the sends it held, then exits
        acknowledged = {f"wamid.load{i}" for i, s in answers.items() if s == 200}
        stored = {r[0] for r in _file_rows(db_file, "SELECT message_id FROM inbound_messages")}
        assert acknowledged <= stored  # 0 lost: every 200 was durable
        now_recorded = {r[0] for r in _file_rows(
            db_file, "SELECT id FROM outbound_messages WHERE status = 'sent'")}
        doubtful |= set(_accepted(graph)) - now_recorded  # accepted; the record died with it
        recorded |= now_recorded
        report("sigkill_under_load", requests=per_round, answered_200=sum(
            1 for i in fresh if answers.get(i) == 200), lost=len(acknowledged - stored),
            in_doubt_sends=len(set(_accepted(graph)) - now_recorded))
    server = await _start_loaded(env, port)
    try:
        async with aiohttp.ClientSession() as session:
            again = [i for i, status in answers.items() if status != 200]
            assert set(await asyncio.gather(*(_deliver(session, url, *bodies[i])
                                              for i in again))) <= {200}
        rows = {r[0] for r in _file_rows(db_file, "SELECT id FROM outbound_messages")}
        assert await _until(lambda: rows <= set(_accepted(graph)), 20)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
    inbound = Counter(r[0] for r in _file_rows(
        db_file, "SELECT message_id FROM inbound_messages"))
    total = per_round * ROUNDS
    assert len(inbound) == total and set(inbound.values()) == {1}  # 0 lost, 0 doubled
    per_customer = Counter(r[0] for r in _file_rows(
        db_file, "SELECT customer FROM outbound_messages"))
    assert len(per_customer) == total and set(per_customer.values()) == {1}  # one reply each
    accepted = _accepted(graph)
    doubled = {row for row, n in accepted.items() if n > 1}
    report("sigkill_under_load_total", messages=total, lost=total - len(inbound),
           doubled_inbound=sum(n - 1 for n in inbound.values()),
           resent_recorded=sum(accepted[row] - 1 for row in recorded - doubtful),
           repeated_in_doubt=len(doubled), in_doubt=len(doubtful))
    assert all(accepted[row] == 1 for row in recorded - doubtful)  # recorded: never resent
    # and the sends in doubt at each kill (accepted, not yet recorded) are not resent either:
    # the sender child journaled them and the next server recorded them from the journal
    assert not doubled  # (the soak reports how many were in doubt: 471 in 10 kills)
    assert set(_file_rows(db_file, "SELECT DISTINCT status FROM outbound_messages")) == {
        ("sent",)}


async def test_sigstop_and_sigcont_mid_load_lose_nothing_and_send_nothing_twice(
        tmp_path: Path, graph: FakeGraphApi, settings: Settings) -> None:
    port = free_port()
    env = _serve_env(tmp_path, settings, graph, port, "stop.db")
    db_file = tmp_path / "stop.db"
    url = f"http://127.0.0.1:{port}/webhooks/whatsapp"
    bodies = [signed_cloud_request("load-secret", cloud_text(
        "hello", message_id=f"wamid.stop{i}", from_=f"9198{i:07d}"))
        for i in range(40 * ROUNDS)]
    server = await _start_loaded(env, port)
    statuses: Counter[int] = Counter()
    try:
        async with aiohttp.ClientSession() as session:
            async def channel(i: int) -> None:
                await asyncio.sleep(i % 40 * 0.03)  # a stream over 1.2 s, not one burst
                for _ in range(10):  # retried after a timeout or a refusal, as a channel does
                    status = await _deliver(session, url, *bodies[i], wait=2.0)
                    statuses[status] += 1
                    if status == 200:
                        return
                    await asyncio.sleep(0.5)

            for r in range(ROUNDS):
                tasks = [asyncio.create_task(channel(i)) for i in range(40 * r, 40 * (r + 1))]
                await asyncio.sleep(0.3)
                server.send_signal(signal.SIGSTOP)
                await asyncio.sleep(3.0)  # stopped past the channel's timeout
                server.send_signal(signal.SIGCONT)
                await asyncio.gather(*tasks)
        rows = {r[0] for r in _file_rows(db_file, "SELECT id FROM outbound_messages")}
        assert await _until(lambda: len(rows) == 40 * ROUNDS
                            and rows <= set(_accepted(graph)), 20)
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGCONT)
            server.send_signal(signal.SIGTERM)
            server.wait()
    inbound = Counter(r[0] for r in _file_rows(
        db_file, "SELECT message_id FROM inbound_messages"))
    accepted = _accepted(graph)
    report("sigstop_sigcont", messages=40 * ROUNDS, attempts=sum(statuses.values()),
           timeouts=statuses[0], refused_503=statuses[503],
           answers_5xx_other=sum(n for s, n in statuses.items() if s >= 500 and s != 503),
           lost=40 * ROUNDS - len(inbound), doubled=sum(n - 1 for n in accepted.values()))
    assert set(statuses) <= {0, 200, 503} and statuses[200] == 40 * ROUNDS
    assert len(inbound) == 40 * ROUNDS and set(inbound.values()) == {1}
    assert set(accepted) == rows and set(accepted.values()) == {1}  # 0 lost, 0 doubled


async def test_retries_back_off_exponentially_with_jitter_and_say_why(
        cloud: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi,
        clock: Clock) -> None:
    """The outbox's defaults: 1 s, doubled per try, jittered into its upper half."""
    from webhooks.keys import DB, OUTBOX

    graph.fail_next(1, status=500)
    graph.fail_next(1, status=429, code=130429)
    await _say(cloud, settings, "hello", "wamid.backoff")
    await _settle(cloud)

    async def _pending() -> tuple[int, int, str]:
        row = await cloud.app[DB].fetchone(
            "SELECT next_attempt_at, attempts, error FROM outbound_messages")
        assert row is not None
        return int(row[0]) - clock.now_ms(), int(row[1]), str(row[2])

    wait, attempts, error = await _pending()
    assert attempts == 1 and 500 <= wait <= 1000, wait
    assert error.startswith("500 ") and "130429" not in error
    clock.advance(seconds=1)
    await cloud.app[OUTBOX].run_due()
    await _settle(cloud)
    wait, attempts, error = await _pending()
    assert attempts == 2 and 1000 <= wait <= 2000, wait
    assert error.startswith("429 130429 ")
