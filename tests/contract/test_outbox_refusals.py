"""How the outbox ends a send the channel refused, in process on real SQLite against the
loopback fake Graph API (tests/fakes/graph_api.py): each refusal's row (status, attempts,
error text, when it is due again), the counters, and the exact log lines.

The end-to-end tests (tests/e2e/test_reliability.py, test_templates_and_failures.py) show
the same plans through a running app; these pin the numbers and words of each one.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot import outgoing
from bot.outgoing import OutboxItem
from bot.templates import with_fallback
from bot.types import Reply
from storage.database import WriteSet
from tests.contract.test_outbox_recovery import CUSTOMER, Rig, rig, until
from tests.fakes.graph_api import Failure, FakeGraphApi, dropped, run_fake_graph_api
from webhooks.migrate import upgrade
from webhooks.outbox import Outbox
from webhooks.redaction import Redactor

RETRY_LOG = "outbox: send failed ({}), retry {} in {} ms"
REFUSED_500 = "500 131000 Graph API 500: (#131000) scripted failure"
said = Redactor().redact


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphApi]:
    async with run_fake_graph_api() as fake:
        yield fake


@pytest.fixture
async def r(tmp_path: Path, graph: FakeGraphApi) -> AsyncIterator[Rig]:
    url = f"sqlite:///{tmp_path / 'refusals.sqlite'}"
    upgrade(url)
    async with rig(url, graph, None) as made:
        yield made


def text(row_id: str, *, event: str | None = None, fallback: Reply | None = None,
         to: str = CUSTOMER) -> OutboxItem:
    """A row's message: a shopper's text, or with ``event`` an alert (merchant_alert: the
    owner's), with ``fallback`` the template that goes if the window is closed."""
    reply = Reply(type="text", text=f"message {row_id}",
                  extra={"event": event} if event else {})
    return OutboxItem(row_id, "demo", "whatsapp", to, "777", with_fallback(reply, fallback))


def order_template() -> Reply:
    return Reply(type="template", text="your order", template="order_update",
                 params=("ORD-1",), extra={"event": "order_update", "language": "en",
                                           "param_names": ["order"]})


async def store(r: Rig, *items: OutboxItem, attempts: int = 0) -> None:
    """Rows as a turn commits them; ``attempts``: tries a previous send already made."""
    writes = WriteSet()
    for item in items:
        outgoing.outbox_statement(writes, item, r.clock.now_ms())
    await r.db.write(writes)
    if attempts:
        fix = WriteSet()
        for item in items:
            fix.add("UPDATE outbound_messages SET attempts = ? WHERE id = ?",
                    (attempts, item.id))
        await r.db.write(fix)


async def rows(r: Rig) -> dict[str, dict[str, Any]]:
    names = ("status", "attempts", "next_attempt_at", "error", "updated_at",
             "channel_message_id", "payload", "shop_id", "channel", "customer", "business")
    found = await r.db.fetchall(f"SELECT id, {', '.join(names)} FROM outbound_messages")
    return {str(row[0]): dict(zip(names, row[1:], strict=True)) for row in found}


async def send_due(r: Rig, outbox: Outbox) -> None:
    await outbox.run_due()
    await outbox.drain()


async def send_due_logged(r: Rig, outbox: Outbox, caplog: pytest.LogCaptureFixture
                          ) -> tuple[int, int, dict[str, dict[str, Any]]]:
    """One send of what is due, its log lines captured: the clock before and after, and
    the rows then."""
    before = r.clock.now_ms()
    with caplog.at_level(logging.INFO, logger="webhooks.outbox"):
        await send_due(r, outbox)
    return before, r.clock.now_ms(), await rows(r)


def same_person(row: dict[str, Any]) -> bool:
    """The row goes to the shopper of :func:`text`, on its shop, channel and number."""
    return (row["shop_id"], row["channel"], row["customer"], row["business"]) == (
        "demo", "whatsapp", CUSTOMER, "777")


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The outbox's log lines, sorted, as the log redaction leaves them (once an app has
    been made in this process, webhooks/redaction.py masks every long number)."""
    return sorted(said(rec.getMessage()) for rec in caplog.records
                  if rec.name == "webhooks.outbox")


def lines(*expected: str) -> list[str]:
    return sorted(said(line) for line in expected)


async def test_a_retried_send_backs_off_exponentially_with_jitter_and_says_why(
        r: Rig, graph: FakeGraphApi, caplog: pytest.LogCaptureFixture) -> None:
    outbox = r.outbox(base_delay_ms=1000, max_delay_ms=60_000, max_attempts=20)
    first = [text(f"first-{i}") for i in range(40)]  # attempts 0: 1 s, jittered
    fourth = [text(f"fourth-{i}") for i in range(4)]  # attempts 3: 8 s
    capped = [text(f"capped-{i}") for i in range(4)]  # attempts 10: 1024 s, capped at 60 s
    await store(r, *first)
    await store(r, *fourth, attempts=3)
    await store(r, *capped, attempts=10)
    graph.fail_next(48, status=500)
    before, after, found = await send_due_logged(r, outbox, caplog)
    expected_logs = []
    factors: dict[str, list[float]] = {"first": [], "fourth": [], "capped": []}
    for group, items, attempts, full in (("first", first, 0, 1000), ("fourth", fourth, 3, 8000),
                                         ("capped", capped, 10, 60_000)):
        for item in items:
            row = found[item.id]
            assert row["status"] == "pending" and row["attempts"] == attempts + 1
            assert row["error"] == REFUSED_500 and row["channel_message_id"] is None
            assert before <= row["updated_at"] <= after
            delay = row["next_attempt_at"] - row["updated_at"]
            factors[group].append(delay / full)
            expected_logs.append(RETRY_LOG.format(REFUSED_500, attempts + 1, delay))
    assert logged(caplog) == lines(*expected_logs)
    every = [f for group in factors.values() for f in group]
    assert all(0.5 <= f < 1.0 for f in every), factors
    # the jitter spreads over the whole half-to-full range (40 draws: fails ~1 in 10**6)
    assert max(factors["first"]) >= 0.84 and min(factors["first"]) < 0.66, factors
    assert outbox.dead_count == 0 and outbox.sent_count == 0
    await outbox.close()


async def test_the_last_retryable_failure_ends_the_row_dead_or_held_and_warns(
        r: Rig, graph: FakeGraphApi, caplog: pytest.LogCaptureFixture) -> None:
    outbox = r.outbox(max_attempts=3)
    shopper, alert = text("shopper"), text("alert", event="merchant_alert")
    again = text("again")
    await store(r, shopper, alert, attempts=2)  # this is the third and last try
    await store(r, again, attempts=1)  # the second of three: retried
    graph.fail_next(3, status=500)
    before, after, found = await send_due_logged(r, outbox, caplog)
    assert found["shopper"]["status"] == "dead" and found["alert"]["status"] == "held"
    assert found["again"]["status"] == "pending" and found["again"]["attempts"] == 2
    for row_id in ("shopper", "alert"):
        row = found[row_id]
        assert row["attempts"] == 3 and row["error"] == REFUSED_500
        assert before <= row["updated_at"] <= after
    assert outbox.dead_count == 2
    warned = [m for m in logged(caplog) if "attempts" in m]
    assert warned == lines(f"outbox: message alert held after 3 attempts: {REFUSED_500}",
                           f"outbox: message shopper dead after 3 attempts: {REFUSED_500}")
    assert graph.received == []
    await outbox.close()


@pytest.mark.parametrize(("code", "shopper_end", "alert_end"), [
    (131026, "undeliverable", "held"),  # the person cannot get it
    (132001, "failed", "held"),  # a known refusal: the shop's set-up
    (135999, "unknown_error", "held"),  # a code haat does not know
])
async def test_a_refusal_ends_the_row_at_once_by_what_its_code_means(
        r: Rig, graph: FakeGraphApi, caplog: pytest.LogCaptureFixture, code: int,
        shopper_end: str, alert_end: str) -> None:
    outbox = r.outbox()
    await store(r, text("shopper"), text("alert", event="merchant_alert"))
    graph.fail_next(2, status=400, code=code, message="refused")
    with caplog.at_level(logging.INFO, logger="webhooks.outbox"):
        await send_due(r, outbox)
    found = await rows(r)
    error = f"400 {code} Graph API 400: (#{code}) refused"
    assert (found["shopper"]["status"], found["alert"]["status"]) == (shopper_end, alert_end)
    assert all(row["attempts"] == 1 and row["error"] == error for row in found.values())
    assert logged(caplog) == lines(
        f"outbox: message alert {alert_end} after 1 attempts: {error}",
        f"outbox: message shopper {shopper_end} after 1 attempts: {error}")
    assert outbox.dead_count == 2 and graph.attempts == 2  # not tried again
    await outbox.close()


async def test_an_error_without_a_status_or_a_code_leaves_no_placeholder(
        r: Rig, graph: FakeGraphApi) -> None:
    outbox = r.outbox()
    await store(r, text("dropped"))
    graph.pattern(lambda n: dropped() if n == 1 else None)
    await send_due(r, outbox)
    graph.pattern(None)
    await store(r, text("proxied"))
    graph.proxy_error_next(502)  # a proxy's HTML page: a status, no Graph error code
    await outbox.run_due()
    await outbox.drain()
    found = await rows(r)
    # no HTTP status: the channel's own code first
    assert found["dropped"]["error"].startswith("timeout Graph API call failed: ")
    assert found["proxied"]["error"] == "502  Graph API 502:"  # no code: nothing between
    assert {row["status"] for row in found.values()} == {"pending"}
    await outbox.close()


async def test_a_closed_window_without_a_template_ends_the_row_and_warns(
        r: Rig, graph: FakeGraphApi, caplog: pytest.LogCaptureFixture) -> None:
    outbox = r.outbox()
    graph.closed.add(CUSTOMER)
    await store(r, text("shopper"), text("alert", event="merchant_alert"))
    before, after, found = await send_due_logged(r, outbox, caplog)
    error = ("400 131047 Graph API 400: (#131047) Re-engagement message "
             "(and no approved template for it in shop.yaml)")
    assert found["shopper"]["status"] == "undeliverable" and found["alert"]["status"] == "held"
    for row in found.values():
        assert row["error"] == error and row["attempts"] == 1
        assert before <= row["updated_at"] <= after
    assert logged(caplog) == lines(
        "outbox: message alert held: the window was closed",
        "outbox: message shopper undeliverable: the window was closed")
    assert outbox.templated_count == 0 and outbox.dead_count == 0 and graph.received == []
    await outbox.close()


async def test_a_closed_window_sends_the_template_in_a_new_row_once(
        r: Rig, graph: FakeGraphApi, caplog: pytest.LogCaptureFixture) -> None:
    outbox = r.outbox()
    graph.closed.add(CUSTOMER)
    await store(r, text("update", fallback=order_template()))
    twilio_only = Reply(type="template", text="your order", extra={
        "event": "order_update", "content_sid": "HXfeedface"})  # no Cloud API name
    await store(r, text("twilio", fallback=twilio_only))
    with caplog.at_level(logging.INFO, logger="webhooks.outbox"):
        await send_due(r, outbox)
        await outbox.drain()
    found = await rows(r)
    old = found.pop("update")
    assert old["status"] == "templated" and old["attempts"] == 1
    assert old["error"] == "400 131047 Graph API 400: (#131047) Re-engagement message"
    assert found.pop("twilio")["status"] == "templated"
    by_status = {row["status"]: row for row in found.values()}
    new = by_status["sent"]
    assert same_person(new) and graph.received[0].json["to"] == CUSTOMER
    assert json.loads(new["payload"])["template"] == "order_update"
    assert [rec.json["type"] for rec in graph.received] == ["template"]
    assert graph.received[0].json["biz_opaque_callback_data"] in {
        row_id for row_id, row in (await rows(r)).items() if row["status"] == "sent"}
    assert by_status["undeliverable"]["error"].startswith("no_template_name")
    assert outbox.templated_count == 2
    assert [m for m in logged(caplog) if "goes again" in m] == lines(
        "outbox: the window was closed; message twilio goes again as template HXfeedface",
        "outbox: the window was closed; message update goes again as template order_update")
    await outbox.close()


async def test_a_template_refused_for_the_window_is_not_replaced_by_a_template(
        r: Rig, graph: FakeGraphApi) -> None:
    outbox = r.outbox()
    already = Reply(type="template", text="your order", template="order_update",
                    params=("ORD-1",), extra={"event": "order_update", "language": "en",
                                              "fallback": order_template().to_json()})
    await store(r, OutboxItem("tpl", "demo", "whatsapp", CUSTOMER, "777", already))
    graph.fail_next(1, status=400, code=131047, message="Re-engagement message")
    await send_due(r, outbox)
    found = await rows(r)
    assert list(found) == ["tpl"] and found["tpl"]["status"] == "undeliverable"
    assert graph.received == [] and outbox.templated_count == 0
    await outbox.close()


async def test_a_failed_receipt_for_the_window_sends_the_template_once(
        r: Rig, graph: FakeGraphApi, caplog: pytest.LogCaptureFixture) -> None:
    outbox = r.outbox()
    graph.closed.add(CUSTOMER)
    graph.window_receipts = True  # accepted, then reported failed (as Meta does)
    await store(r, text("update", fallback=order_template()), text("plain"))
    await send_due(r, outbox)
    wamids = {rec.json["biz_opaque_callback_data"]: wamid
              for rec, (wamid, _, _) in zip(graph.received, graph.failed_statuses, strict=True)}
    with caplog.at_level(logging.INFO, logger="webhooks.outbox"):
        for _ in range(2):  # Meta redelivers: one end, one template
            for row_id in ("update", "plain"):
                await outbox.record_status("whatsapp", wamids[row_id], "failed", "131047",
                                           r.clock.now_ms())
            await outbox.drain()
    found = await rows(r)
    assert found["update"]["status"] == "templated"
    assert found["update"]["error"] == "receipt 131047"
    assert found["plain"]["status"] == "undeliverable"
    assert found["plain"]["error"] == \
        "receipt 131047 (and no approved template for it in shop.yaml)"
    templated = [row for row_id, row in found.items() if row_id not in {"update", "plain"}]
    assert len(templated) == 1 and templated[0]["status"] == "sent"
    assert same_person(templated[0]) and graph.received[-1].json["to"] == CUSTOMER
    assert outbox.templated_count == 1
    assert logged(caplog) == lines(
        "outbox: message plain undeliverable: the window was closed",
        "outbox: the window was closed; message update goes again as template order_update")
    await outbox.close()


@pytest.mark.parametrize(("code", "shopper_end", "alert_end"), [
    ("131026", "undeliverable", "held"),
    ("135999", "unknown_error", "held"),
    ("132001", "failed", "held"),  # a known refusal stays failed for the merchant to see
])
async def test_a_failed_receipt_settles_the_row_once_by_its_code(
        r: Rig, graph: FakeGraphApi, code: str, shopper_end: str, alert_end: str) -> None:
    outbox = r.outbox()
    await store(r, text("shopper"), text("alert", event="merchant_alert"))
    await send_due(r, outbox)
    sent = await rows(r)
    before = r.clock.now_ms()
    for _ in range(2):
        for row_id in ("shopper", "alert"):
            await outbox.record_status("whatsapp", sent[row_id]["channel_message_id"],
                                       "failed", code, r.clock.now_ms())
    after = r.clock.now_ms()
    found = await rows(r)
    assert (found["shopper"]["status"], found["alert"]["status"]) == (shopper_end, alert_end)
    assert len(found) == 2 and len(graph.received) == 2  # nothing sent again
    for row_id in ("shopper", "alert"):
        assert found[row_id]["error"] == (code if found[row_id]["status"] == "failed"
                                          else f"receipt {code}")
        assert before <= found[row_id]["updated_at"] <= after
    await outbox.close()


async def test_a_late_receipt_that_is_no_failure_leaves_a_failed_row_as_it_is(
        r: Rig, graph: FakeGraphApi) -> None:
    outbox = r.outbox()
    await store(r, text("refused"))
    await send_due(r, outbox)
    wamid = (await rows(r))["refused"]["channel_message_id"]
    await outbox.record_status("whatsapp", wamid, "failed", "132001", r.clock.now_ms())
    settled = await rows(r)
    assert settled["refused"]["status"] == "failed"  # a known refusal: for the merchant
    # a "read" under it (out of order) with an error code: not a failure, no plan runs
    await outbox.record_status("whatsapp", wamid, "read", "131047", r.clock.now_ms())
    await outbox.drain()
    assert await rows(r) == settled
    assert len(graph.received) == 1 and outbox.templated_count == 0
    await outbox.close()

async def test_a_failed_order_card_goes_again_without_the_card_once(
        r: Rig, graph: FakeGraphApi, caplog: pytest.LogCaptureFixture) -> None:
    outbox = r.outbox()
    card = Reply(type="payment", text="Pay for ORD-1", link="https://pay.example/1",
                 extra={"order_details": {"reference_id": "ORD-1", "total_minor": 50000,
                                          "currency": "INR", "items": []}})
    await store(r, OutboxItem("card", "demo", "whatsapp", CUSTOMER, "777", card))
    await send_due(r, outbox)
    wamid = (await rows(r))["card"]["channel_message_id"]
    with caplog.at_level(logging.INFO, logger="webhooks.outbox"):
        for _ in range(2):
            await outbox.record_status("whatsapp", wamid, "failed", "131009",
                                       r.clock.now_ms())
            await outbox.drain()
    found = await rows(r)
    old = found.pop("card")
    assert old["status"] == "replaced" and old["error"] == "receipt 131009"
    (plain,) = found.values()
    assert plain["status"] == "sent" and same_person(plain)
    assert graph.received[-1].json["to"] == CUSTOMER
    assert json.loads(plain["payload"]).get("extra", {}).get("order_details") is None
    assert len(graph.received) == 2
    assert logged(caplog) == lines(
        "outbox: order card card failed (receipt 131009); sent again without the card")
    await outbox.close()


async def test_a_window_refusal_for_a_row_ended_meanwhile_sends_no_template(
        r: Rig, graph: FakeGraphApi) -> None:
    """While the refusal is on its way, the row's end is recorded elsewhere (on PostgreSQL:
    another server took the row over when the lease ran out, and sent it): the refusal
    then changes nothing, and no template goes as well."""
    outbox = r.outbox()
    await store(r, text("update", fallback=order_template()))
    graph.pattern(lambda n: Failure(400, 131047, "Re-engagement message", delay=0.5)
                  if n == 1 else None)
    await outbox.run_due()
    await until(lambda: graph.attempts == 1, "the refused send is at the channel")
    done = WriteSet()
    outgoing.mark_sent(done, "update", "wamid.OTHER", r.clock.now_ms())
    await r.db.write(done)
    await outbox.drain()
    found = await rows(r)
    assert list(found) == ["update"] and found["update"]["status"] == "sent"
    assert graph.received == [] and outbox.templated_count == 0
    await outbox.close()


async def test_two_failed_receipts_at_once_send_the_template_once(
        r: Rig, graph: FakeGraphApi) -> None:
    """Meta's redelivery can arrive while the first is being handled: both read the row
    failed, and only one may end it and send the template."""
    outbox = r.outbox()
    graph.closed.add(CUSTOMER)
    graph.window_receipts = True
    await store(r, text("update", fallback=order_template()))
    await send_due(r, outbox)
    ((wamid, _, _),) = graph.failed_statuses
    await asyncio.gather(*(outbox.record_status("whatsapp", wamid, "failed", "131047",
                                                r.clock.now_ms()) for _ in range(3)))
    await outbox.drain()
    found = await rows(r)
    assert found.pop("update")["status"] == "templated"
    assert len(found) == 1 and outbox.templated_count == 1 and len(graph.received) == 2
    await outbox.close()
