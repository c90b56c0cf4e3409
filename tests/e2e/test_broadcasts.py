"""Broadcasts from outside: opted-in shoppers over signed Cloud webhooks, ``/api/broadcasts``
with the admin token, what the fake Graph API received, and its status callbacks.

The fake answers like Meta (tests/fakes/graph_api.py): scripted 130429 (throughput) and
131049 (Meta's per-shopper marketing limit) errors exercise the pacing's back-off.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.clock import Clock
from config.settings import Settings
from storage.database import Database, Params, Row, WriteSet
from tests.conftest import ADMIN_TOKEN, SIM_TOKEN, AiohttpClient, Shopper
from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi
from tests.sim import cloud_status, cloud_text, signed_cloud_request

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def _app(aiohttp_client: AiohttpClient, settings: Settings, graph: FakeGraphApi,
               clock: Clock, throughput: str = "80") -> TestClient[Any, Any]:
    from webhooks.app import create_app

    return await aiohttp_client(create_app(settings.with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN,
        WHATSAPP_THROUGHPUT=throughput), clock=clock))


@pytest.fixture
async def cloud(aiohttp_client: AiohttpClient, settings: Settings, graph: FakeGraphApi,
                clock: Clock) -> TestClient[Any, Any]:
    return await _app(aiohttp_client, settings, graph, clock)


async def _say(client: TestClient[Any, Any], settings: Settings, phone: str,
               text: str) -> None:
    body, headers = signed_cloud_request(settings.env["WHATSAPP_APP_SECRET"],
                                         cloud_text(text, from_=phone))
    response = await client.post("/webhooks/whatsapp", data=body, headers=headers)
    assert response.status == 200


async def _status_callback(client: TestClient[Any, Any], settings: Settings, wamid: str,
                           status: str, phone: str, error_code: int | None = None) -> None:
    body, headers = signed_cloud_request(settings.env["WHATSAPP_APP_SECRET"], cloud_status(
        wamid, status, recipient=phone, error_code=error_code))
    response = await client.post("/webhooks/whatsapp", data=body, headers=headers)
    assert response.status == 200


async def _settled(client: TestClient[Any, Any]) -> None:
    from webhooks.keys import OUTBOX

    await client.app[OUTBOX].drain()


async def _broadcast(client: TestClient[Any, Any], **body: Any) -> dict[str, Any]:
    response = await client.post("/api/broadcasts", json=body, headers=ADMIN)
    assert response.status == 201, await response.text()
    report: dict[str, Any] = await response.json()
    return report


async def _finished(client: TestClient[Any, Any], broadcast_id: str) -> dict[str, Any]:
    """Every recipient queued and every message out of the outbox (retries included)."""
    from webhooks.keys import BROADCASTER, OUTBOX

    await client.app[BROADCASTER].wait(broadcast_id)
    for _ in range(600):
        await client.app[OUTBOX].drain()
        response = await client.get(f"/api/broadcasts/{broadcast_id}", headers=ADMIN)
        report: dict[str, Any] = await response.json()
        if report["status"] == "queued" and not report["pending"]:
            return report
        await asyncio.sleep(0.1)  # a retry is due later: the outbox's poll sends it
    raise AssertionError(f"broadcast never finished: {report}")


def _templates(graph: FakeGraphApi) -> list[tuple[int, dict[str, Any]]]:
    """(index, body) of every template the fake accepted; its n-th answer was FAKE{n+1}."""
    return [(i, r.json) for i, r in enumerate(graph.received)
            if r.json and r.json.get("type") == "template"]


async def test_a_broadcast_reaches_each_opted_in_shopper_once_and_counts_the_callbacks(
        cloud: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi) -> None:
    opted = ["919600000001", "919600000002", "919600000003"]
    for phone in opted:
        await _say(cloud, settings, phone, "START")
    await _say(cloud, settings, "919600000004", "hello")  # never opted in
    await _say(cloud, settings, "919600000005", "START")
    await _say(cloud, settings, "919600000005", "STOP")  # opted out again
    await _settled(cloud)
    created = await _broadcast(cloud, template="diwali_offer", params=["20%"])
    assert (created["recipients"], created["segment"]) == (3, "all")
    report = await _finished(cloud, created["id"])
    assert (report["sent"], report["failed"], report["skipped"]) == (3, 0, 0)
    sent = _templates(graph)
    assert Counter(body["to"] for _, body in sent) == Counter(opted)  # once each
    _, first = sent[0]
    assert first["template"] == {"name": "diwali_offer", "language": {"code": "en"},
                                 "components": [{"type": "body", "parameters": [
                                     {"type": "text", "text": "20%"}]}]}
    # the status callbacks Meta sends move the counts
    wamids = {body["to"]: f"wamid.FAKE{i + 1:06d}" for i, body in sent}
    await _status_callback(cloud, settings, wamids[opted[0]], "delivered", opted[0])
    await _status_callback(cloud, settings, wamids[opted[1]], "read", opted[1])
    await _status_callback(cloud, settings, wamids[opted[2]], "failed", opted[2],
                           error_code=131049)
    response = await cloud.get(f"/api/broadcasts/{created['id']}", headers=ADMIN)
    counts = await response.json()
    assert {key: counts[key] for key in ("sent", "delivered", "read", "failed")} == {
        "sent": 2, "delivered": 2, "read": 1, "failed": 1}
    # resuming a finished broadcast sends nothing again
    response = await cloud.post(f"/api/broadcasts/{created['id']}/resume", headers=ADMIN)
    assert response.status == 200
    await _finished(cloud, created["id"])
    assert len(_templates(graph)) == 3
    listed = await (await cloud.get("/api/broadcasts", headers=ADMIN)).json()
    assert [b["id"] for b in listed["broadcasts"]] == [created["id"]]


async def test_a_shopper_who_says_stop_after_the_broadcast_began_is_skipped(
        cloud: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi) -> None:
    from webhooks.keys import BROADCASTER, SHOPS

    for phone in ("919600000011", "919600000012"):
        await _say(cloud, settings, phone, "START")
    broadcaster = cloud.app[BROADCASTER]
    shop = next(iter(cloud.app[SHOPS].runtimes.values())).shop
    broadcast_id = await broadcaster.create(shop, "weekend_offer", segment="all")
    await _say(cloud, settings, "919600000012", "बंद करो")  # before its turn came
    broadcaster.start(broadcast_id)
    report = await _finished(cloud, broadcast_id)
    assert (report["recipients"], report["sent"], report["skipped"]) == (2, 1, 1)
    assert [body["to"] for _, body in _templates(graph)] == ["919600000011"]


class _ConsentReads:
    """The app's database, counting the statements that read ``marketing_consent``: a
    broadcast's work bound (its Broadcaster is given this database, nothing is patched)."""

    def __init__(self, db: Database) -> None:
        self.db, self.dialect, self.count = db, db.dialect, 0

    def _seen(self, sql: str) -> None:
        self.count += "marketing_consent" in sql

    async def start(self) -> None:
        await self.db.start()

    async def close(self) -> None:
        await self.db.close()

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        self._seen(sql)
        return await self.db.fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        self._seen(sql)
        return await self.db.fetchall(sql, params)

    async def write(self, writes: WriteSet) -> None:
        await self.db.write(writes)

    async def ping(self) -> bool:
        return await self.db.ping()


async def test_consent_is_read_once_per_page_not_once_per_recipient(
        aiohttp_client: AiohttpClient, settings: Settings, graph: FakeGraphApi,
        clock: Clock) -> None:
    from webhooks.keys import BROADCASTER, DB, OUTBOX, SHOPS

    client = await _app(aiohttp_client, settings, graph, clock, throughput="4")
    phones = [f"9196000002{i:02d}" for i in range(10)]
    for phone in phones:
        await _say(client, settings, phone, "START")
    reads = _ConsentReads(client.app[DB])

    async def pace(_: float) -> None:  # a page is done when the outbox has sent it
        await client.app[OUTBOX].drain()

    broadcaster = replace(client.app[BROADCASTER], db=reads, pace=pace, batches=[])
    shop = next(iter(client.app[SHOPS].runtimes.values())).shop
    broadcast_id = await broadcaster.create(shop, "new_menu", segment="all")
    for phone in phones[3:5]:  # opted out after the audience was fixed: skipped
        await _say(client, settings, phone, "STOP")
    reads.count = 0
    await broadcaster.run(broadcast_id)
    report = await _finished(client, broadcast_id)
    assert (report["recipients"], report["sent"], report["skipped"]) == (10, 8, 2)
    assert broadcaster.batches == [3, 3, 2]  # pages of 4, 4, 2 less the STOPs (3rd, 4th)
    assert reads.count == 3  # one consent read per page
    assert sorted(body["to"] for _, body in _templates(graph)) == \
        sorted(phones[:3] + phones[5:])


async def test_sends_are_paced_to_the_throughput_and_back_off_on_130429_and_131049(
        aiohttp_client: AiohttpClient, settings: Settings, graph: FakeGraphApi,
        clock: Clock) -> None:
    from webhooks.keys import BROADCASTER

    client = await _app(aiohttp_client, settings, graph, clock, throughput="4")
    phones = [f"9196000001{i:02d}" for i in range(16)]
    for phone in phones:
        await _say(client, settings, phone, "START")
    await _settled(client)
    batches = client.app[BROADCASTER].batches
    clean = await _broadcast(client, template="new_menu")
    await _finished(client, clean["id"])
    assert batches == [4, 4, 4, 4]  # a second's throughput a tick, no more
    del batches[:]
    # now the first sends hit the number's throughput and one shopper is capped by Meta
    graph.fail_next(2, status=400, code=130429, message="Rate limit hit")
    graph.fail_next(1, status=400, code=131049,
                    message="This message was not delivered to maintain healthy ecosystem "
                            "engagement.")
    created = await _broadcast(client, template="weekend_menu")
    report = await _finished(client, created["id"])
    assert max(batches) <= 4 and sum(batches) == 16
    assert min(batches[:-1]) < 4  # backed off after the errors, before the last batch
    assert (report["sent"], report["failed"]) == (15, 1)  # 131049 is not retried at once
    received = Counter(body["to"] for _, body in _templates(graph)
                       if body["template"]["name"] == "weekend_menu")
    assert len(received) == 15 and set(received.values()) == {1}  # none twice


async def test_segments_recent_buyers_and_buyers_of_a_product(
        client: TestClient[Any, Any], clock: Clock) -> None:
    async def order(shopper: Shopper, item: str) -> None:
        await shopper.send("START")
        await shopper.send(item)
        await shopper.send("checkout")
        await shopper.send("4 Park Street")
        await shopper.send("confirm")

    samosa, tea = Shopper(client, "+919600000201"), Shopper(client, "+919600000202")
    await order(samosa, "2 samosa")
    clock.advance(minutes=3 * 24 * 60)
    await order(tea, "1 lemon tea")
    await Shopper(client, "+919600000203").send("START")  # opted in, never ordered
    recent = await _broadcast(client, template="thanks_offer", segment="recent:2")
    product = await _broadcast(client, template="samosa_day", segment="product:SAMOSA")
    everyone = await _broadcast(client, template="festival", segment="all")
    assert (recent["recipients"], product["recipients"], everyone["recipients"]) == (1, 1, 3)
    for created in (recent, product, everyone):
        report = await _finished(client, created["id"])
        assert report["sent"] == report["recipients"]

    async def templates_to(phone: str) -> list[str]:
        response = await client.get("/webhooks/simulator/outbox", params={"to": phone},
                                    headers={"Authorization": f"Bearer {SIM_TOKEN}"})
        return [m["template"] for m in (await response.json())["messages"]
                if m["type"] == "template"]

    assert sorted(await templates_to("+919600000201")) == ["festival", "samosa_day"]
    assert sorted(await templates_to("+919600000202")) == ["festival", "thanks_offer"]
    assert await templates_to("+919600000203") == ["festival"]


@pytest.mark.parametrize(("body", "status", "says"), [
    ({"template": "x", "segment": "recent:zero"}, 400, "recent:N"),
    ({"template": "x", "segment": "product:NOPE"}, 400, "no such sku"),
    ({"template": "x", "segment": "everyone"}, 400, "segment must be"),
    ({"segment": "all"}, 400, "template must be"),
    ({"template": "Has Spaces"}, 400, "approved name"),
    ({"template": "x", "language": "english"}, 400, "language must be"),
    ({"template": "x", "params": [1]}, 400, "params must be"),
    ({"template": "x", "params": "20%"}, 400, "params must be"),
    ({"template": "x", "params": ["a" * 2000]}, 400, "params must be"),
    ({"template": "x" * 600}, 400, "approved name"),
    ({"template": ["x"]}, 400, "template must be"),
    ({"template": "x", "segment": 5}, 400, "segment must be"),
    ({"template": "x", "segment": "recent:" + "9" * 5000}, 400, "recent:N"),
    ({"template": "x", "segment": "recent:٣"}, 400, "recent:N"),
    ({"template": "x", "language": 7}, 400, "language must be"),
    ([], 400, "JSON object"),
])
async def test_a_bad_broadcast_is_a_clear_400(cloud: TestClient[Any, Any], body: Any,
                                              status: int, says: str) -> None:
    response = await cloud.post("/api/broadcasts", json=body, headers=ADMIN)
    assert response.status == status
    assert says in await response.text()


async def test_broadcasts_need_the_admin_token(cloud: TestClient[Any, Any]) -> None:
    response = await cloud.post("/api/broadcasts", json={"template": "x"})
    assert response.status == 403
    response = await cloud.get("/api/broadcasts/abc", headers={"Authorization": "Bearer no"})
    assert response.status == 403
    response = await cloud.get("/api/broadcasts/abc", headers=ADMIN)
    assert response.status == 404
    response = await cloud.post("/api/broadcasts", data=b"{not json", headers=ADMIN)
    assert response.status == 400
    response = await cloud.post("/api/broadcasts?shop=nope", json={"template": "x"},
                                headers=ADMIN)
    assert response.status == 404
    response = await cloud.get("/api/broadcasts/" + "a" * 40, headers=ADMIN)
    assert response.status == 404


async def test_two_servers_on_one_postgresql_send_a_broadcast_once(
        aiohttp_client: AiohttpClient, settings: Settings, graph: FakeGraphApi, clock: Clock,
        fresh_postgres: str) -> None:
    """Every server resumes unfinished broadcasts; both run this one, each shopper gets one."""
    from webhooks.keys import BROADCASTER, SHOPS

    shared = settings.with_(database_url=fresh_postgres)
    first = await _app(aiohttp_client, shared, graph, clock, throughput="3")
    second = await _app(aiohttp_client, shared, graph, clock, throughput="3")
    phones = [f"9196000003{i:02d}" for i in range(10)]
    for i, phone in enumerate(phones):
        await _say(first if i % 2 else second, shared, phone, "START")
    await _settled(first)
    await _settled(second)
    shop = next(iter(first.app[SHOPS].runtimes.values())).shop
    broadcast_id = await first.app[BROADCASTER].create(shop, "pg_offer", segment="all")
    first.app[BROADCASTER].start(broadcast_id)
    second.app[BROADCASTER].start(broadcast_id)  # as a second server's start-up would
    await second.app[BROADCASTER].wait(broadcast_id)
    report = await _finished(first, broadcast_id)
    await _settled(second)
    assert (report["recipients"], report["sent"]) == (10, 10)
    received = Counter(body["to"] for _, body in _templates(graph))
    assert set(received) == set(phones) and set(received.values()) == {1}
