"""HTTP routes (docs/DESIGN.md §1.3): thin, paranoid edges over the engine.

Every inbound webhook does the same five things: read the raw bytes (size-capped), verify
the signature on those bytes (fail closed), parse into frozen types, hand each message to the
engine (which dedupes and stores before it returns), answer.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot import consent
from bot.consent import ConsentSource, ConsentStatus
from bot.nlu.base import Understanding
from bot.types import ChannelCapability, MarketingPreference, PreferenceUpdate, Reply
from storage.database import StorageUnavailable, UnstorableWrite, WriteSet
from webhooks import keys as k
from webhooks.channels.base import ChannelAdapter, Delivery, webhook_path
from webhooks.inbound import Answer, error_answer, verified_delivery

if TYPE_CHECKING:
    from bot.engine import ShopRuntime

log = logging.getLogger(__name__)

SIMULATOR_DRAIN_SECONDS = 0.5


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    checks: dict[str, bool] = {"started": app[k.READY].is_set()}
    if checks["started"]:
        checks["database"] = await app[k.DB].ping()
        checks["shops"] = bool(app[k.SHOPS].runtimes)
    ok = all(checks.values())
    return web.json_response({"ready": ok, "checks": checks}, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text format (webhooks/metrics.py)."""
    return web.Response(body=request.app[k.METRICS].exposition(),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


async def receive(request: web.Request, channel_name: str) -> web.Response:
    """The one inbound pipeline every channel shares."""
    app = request.app
    channel: ChannelAdapter | None = app[k.CHANNEL_ADAPTERS].get(channel_name)
    if channel is None:
        raise web.HTTPNotFound()
    delivery = await verified_delivery(request, channel, app[k.SETTINGS].public_base)
    if isinstance(delivery, Answer):
        app[k.METRICS].rejected += 1
        return delivery.response()
    return (await handle_delivery(app, channel, delivery)).response()


def storage_answer(exc: StorageUnavailable | UnstorableWrite) -> Answer:
    """A storage failure as an answer: unavailable storage is a fast, retryable 503 (with
    ``Retry-After``, see :meth:`Answer.response`); a write set that cannot be stored is a 400."""
    if isinstance(exc, StorageUnavailable):
        return error_answer(503, "storage unavailable; try again")
    return error_answer(400, "message could not be stored")


STORAGE_REFUSALS: tuple[type[Exception], ...] = (StorageUnavailable, UnstorableWrite)


def refuse_storage(request: web.Request, exc: Exception) -> web.StreamResponse:
    """Every route: locked, full or unreachable storage is a 503 with Retry-After, not a 500
    (the error middleware calls this for :data:`STORAGE_REFUSALS`)."""
    assert isinstance(exc, StorageUnavailable | UnstorableWrite)
    log.warning("%s refused: %s", request.method, exc)
    return storage_answer(exc).response()


async def handle_delivery(app: web.Application, channel: ChannelAdapter,
                          delivery: Delivery) -> Answer:
    """Store receipts, run each new message through the engine, and answer.

    The engine has stored every message (and its reply) when this returns, so the answer
    may be a 200.
    When storage refuses, the answer is a 503 (the channel delivers again later; what was
    stored meanwhile is deduplicated) or a 400 for a message that cannot be stored.
    """
    try:
        return await _handle_delivery(app, channel, delivery)
    except (StorageUnavailable, UnstorableWrite) as exc:
        log.warning("%s delivery refused: %s", channel.name, exc)
        return storage_answer(exc)


async def _handle_delivery(app: web.Application, channel: ChannelAdapter,
                           delivery: Delivery) -> Answer:
    channel_name = channel.name
    now = app[k.CLOCK].now_ms()
    for status in delivery.statuses:
        await app[k.OUTBOX].record_status(channel_name, status.message_id,
                                          status.status.value, status.error_code, now)
    engine = app[k.ENGINE]
    shops = app[k.SHOPS]
    outbox = app[k.OUTBOX]
    if delivery.preferences:
        await record_preferences(app, delivery.preferences, now)
    response_text = ""
    seen: set[str] = set()

    render_turn = getattr(channel, "render_turn", None)

    def render(replies: list[Reply], understanding: Understanding | None) -> str:
        if render_turn is not None:
            return str(render_turn(replies, understanding))
        return channel.render_response(replies).body.decode()

    for message in delivery.messages:
        if message.message_id in seen:
            continue  # the same id twice in one batch is one message
        seen.add(message.message_id)
        runtime: ShopRuntime | None = shops.for_business(message.business)
        if runtime is None:
            log.warning("%s: no shop serves the number this message was sent to", channel_name)
            if ChannelCapability.REFUSES_UNSERVED in channel.capabilities:
                return error_answer(404, "no shop has that 'to' number")
            continue
        started = time.perf_counter()
        result = await engine.handle(runtime, message, render=render,
                                     direct=channel.direct_replies)
        metrics = app[k.METRICS]
        elapsed = time.perf_counter() - started
        metrics.handled_seconds += elapsed
        metrics.turn_seconds.observe(elapsed)
        metrics.inbound += 1
        if result.duplicate:
            metrics.duplicates += 1
        outbox.submit(result.outbox, claimed=result.claimed)
        response_text = result.response
    if channel.direct_replies:
        if not response_text:
            response_text = render([], None)
        return Answer(200, response_text.encode(), channel.response_content_type)
    return Answer(200, b"", "text/plain")


async def record_preferences(app: web.Application, preferences: Sequence[PreferenceUpdate],
                             now_ms: int) -> None:
    """WhatsApp's "stop promotions" / "resume": stored before the 200 (Meta redelivers
    otherwise); the newest choice wins, so a redelivery or a late webhook changes nothing."""
    writes = WriteSet()
    for preference in preferences:
        runtime = app[k.SHOPS].for_business(preference.business)
        if runtime is None:
            log.warning("%s: no shop serves the number of a preference change",
                        preference.channel)
            continue
        stop = preference.preference is MarketingPreference.STOP
        # when it was made, never later than now: a clock ahead of ours must not outrank
        # a START the shopper writes a moment later
        at = min(preference.timestamp * 1000, now_ms) if preference.timestamp else now_ms
        consent.record(writes, runtime.shop.id, preference.channel, preference.customer,
                       ConsentStatus.OPTED_OUT if stop else ConsentStatus.OPTED_IN,
                       ConsentSource.WHATSAPP, at)
    if writes.statements:
        await app[k.DB].write(writes)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    for name, channel in app[k.CHANNEL_ADAPTERS].items():  # the mounted channels
        app.router.add_post(webhook_path(name), functools.partial(receive, channel_name=name))
        for extra in channel.extra_routes():
            app.router.add_route(extra.method, extra.path, extra.handler)
