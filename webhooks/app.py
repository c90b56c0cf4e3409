"""The composition root: ``create_app(settings)`` builds every shared object exactly once.

Shared objects live under typed ``web.AppKey``s; resources (database, HTTP session, shop
reloader, outbox poller) are opened and closed in ``cleanup_ctx``. Nothing else in haat
constructs singletons.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.broadcasts import Broadcaster
from bot.catalog_sync import MetaCatalogs
from bot.consent import ConsentService
from bot.engine import Engine, ShopRuntime
from bot.flows.payment_updates import PaymentNotifier
from bot.flows.support import FaqIndex
from bot.inventory import Inventory
from bot.nlu.base import IntentBackend
from bot.nlu.builtin import Extractors
from bot.nlu.registry import BackendOptions
from bot.nlu.registry import build_backend as build_nlu_backend
from bot.receipts import Receipts
from bot.reminders import Reminders
from bot.services import Conversations, Services
from bot.state import SqlStateStore
from bot.types import ChannelCapability
from catalog.models import Shop
from config.clock import Clock
from config.settings import Settings
from payments.providers.base import ProviderDeps
from payments.providers.registry import create_providers
from payments.service import PaymentService
from storage.database import open_database
from webhooks.broadcast_routes import setup_broadcast_routes
from webhooks.channels.registry import (
    CHANNEL_CLASSES,
    CHANNELS,
    build_channel_states,
    build_channels,
    with_capability,
)
from webhooks.channels.whatsapp_cloud import throughput
from webhooks.inbound import MAX_BODY_BYTES, error_middleware
from webhooks.keys import (
    BROADCASTER,
    CATALOG_JOBS,
    CHANNEL_ADAPTERS,
    CHANNEL_STATES,
    CLOCK,
    DB,
    ENGINE,
    EXTRACTORS,
    HTTP,
    INVENTORY,
    INVOICE_RECORDS,
    LOOP_WATCH,
    METRICS,
    NOTIFIER,
    OUTBOX,
    PAYMENT_RECORDS,
    PAYMENTS,
    PROVIDERS,
    READY,
    SCHEDULER,
    SETTINGS,
    SHOPS,
    Shops,
)
from webhooks.meta_catalog import CatalogJobs
from webhooks.metrics import Metrics, Reading
from webhooks.outbox import Outbox
from webhooks.payment_routes import setup_payment_routes
from webhooks.plugins import shop_source
from webhooks.receipt_routes import RECEIPTS, setup_receipt_routes
from webhooks.redaction import install_redaction, secrets_of
from webhooks.routes import STORAGE_REFUSALS, refuse_storage, setup_routes
from webhooks.scheduler import Scheduler
from webhooks.sender import InlineSender, ProcessSender, Sender, journal_for
from webhooks.timing import LoopWatch, server_timing

log = logging.getLogger(__name__)


def build_backend(settings: Settings, shop: Shop, extractors: Extractors,
                  session: aiohttp.ClientSession | None) -> IntentBackend:
    """The configured intent engine for one shop (HAAT_NLU_BACKEND)."""
    return build_nlu_backend(settings.nlu_backend, shop,
                             BackendOptions(session=session,
                                            model_cache=settings.model_cache_dir,
                                            extractors=extractors),
                             settings.env)


def build_runtime(shop: Shop, settings: Settings, session: aiohttp.ClientSession | None,
                  extractors: Extractors) -> ShopRuntime:
    index = extractors.for_catalog(shop.catalog).index  # one per catalog, shared with the NLU
    return ShopRuntime(shop=shop, index=index,
                       nlu=build_backend(settings, shop, extractors, session), faq=FaqIndex(shop))


def build_runtimes(shops: dict[str, Shop], settings: Settings,
                   session: aiohttp.ClientSession | None,
                   extractors: Extractors) -> dict[str, ShopRuntime]:
    return {shop_id: build_runtime(shop, settings, session, extractors)
            for shop_id, shop in shops.items()}


def create_app(settings: Settings, *, clock: Clock | None = None,
               run_migrations: bool = True) -> web.Application:
    install_redaction(secrets_of(settings))  # before anything can log (redaction.py)
    middlewares = [error_middleware(_count_error, refusals=STORAGE_REFUSALS,
                                    refuse=refuse_storage)]
    if settings.server_timing:  # outermost, so refusals and errors are timed too
        middlewares.insert(0, server_timing(lambda: app.get(LOOP_WATCH)))
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=middlewares)
    app[SETTINGS] = settings
    app[CLOCK] = clock or Clock(int(settings.clock_offset_seconds * 1000))
    app[METRICS] = Metrics()
    app[EXTRACTORS] = Extractors()
    app[READY] = asyncio.Event()
    # adapters are configuration; what they learn or open is app-owned state, closed below
    app[CHANNEL_STATES] = states = build_channel_states(settings)
    app[CHANNEL_ADAPTERS] = build_channels(settings, states)
    app.cleanup_ctx.append(_database(run_migrations))
    app.cleanup_ctx.append(_http_session)
    app.cleanup_ctx.append(_shops)
    app.cleanup_ctx.append(_engine)
    app.cleanup_ctx.append(_loop_watch)
    setup_routes(app)
    setup_payment_routes(app)
    setup_receipt_routes(app)
    setup_broadcast_routes(app)
    return app


def _database(run_migrations: bool):  # type: ignore[no-untyped-def]
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        if run_migrations:
            from webhooks.migrate import upgrade

            await asyncio.to_thread(upgrade, settings.database_url)
        db = open_database(settings.database_url,
                           sqlite_synchronous=settings.sqlite_synchronous,
                           sqlite_max_pages=settings.sqlite_max_pages,
                           pg_group_commit=settings.env.get("HAAT_PG_GROUP_COMMIT", "1") != "0",
                           observe_commit=app[METRICS].commit_seconds.observe)
        await db.start()
        app[DB] = db
        yield
        await db.close()

    return ctx


async def _http_session(app: web.Application) -> AsyncIterator[None]:
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
    app[HTTP] = session
    yield
    for state in app[CHANNEL_STATES].values():  # the Twilio client's own session
        await state.close()
    await session.close()


async def _shops(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    source = shop_source(Path(settings.shop_dir))
    shops = Shops(source=source)
    shops.runtimes = build_runtimes(source.shops, settings, app[HTTP], app[EXTRACTORS])
    shops.loaded_at = time.time()
    app[SHOPS] = shops
    task = asyncio.create_task(_reload_forever(app))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _reload_forever(app: web.Application) -> None:
    """Poll the YAML every few seconds; a bad edit is logged and the last good shop stays."""
    interval = app[SETTINGS].reload_interval_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            await reload_shops(app)
        except Exception:
            log.exception("shop reload failed; keeping the last good shops")


async def reload_shops(app: web.Application) -> bool:
    """Reload changed YAML now; True when new shops are being served.

    A shop whose edit is broken keeps its last good version (its errors are logged); the
    other shops' good edits are served all the same.
    """
    shops = app[SHOPS]
    before = shops.source.shops
    errors = await asyncio.to_thread(shops.source.poll)
    if errors:
        shops.last_errors = list(errors)
        for error in errors:
            log.error("shop reload rejected: %s", error)
    elif errors is not None:
        shops.last_errors = []
    if shops.source.shops is before:
        return False
    runtimes = await asyncio.to_thread(build_runtimes, shops.source.shops, app[SETTINGS],
                                       app[HTTP], app[EXTRACTORS])
    shops.runtimes = runtimes
    shops.loaded_at = time.time()
    log.info("shops reloaded: %s", ", ".join(sorted(runtimes)))
    await _sync_catalogs(app, before, shops.source.shops)
    return True


async def _sync_catalogs(app: web.Application, before: dict[str, Shop],
                         after: dict[str, Shop]) -> None:
    """shop.yaml ``whatsapp_commerce.sync_on_reload``: a reload that changed a shop's
    catalog (or its Meta settings) leaves a job that pushes it to Meta in the background,
    retried until Meta takes it (webhooks/meta_catalog.py: CatalogJobs); the reload never
    waits on Meta."""
    changed = [shop for shop_id, shop in after.items()
               if shop.whatsapp.sync_on_reload and shop.whatsapp.catalog_id
               and (shop_id not in before or before[shop_id].catalog != shop.catalog
                    or before[shop_id].whatsapp != shop.whatsapp)]
    if not changed:
        return
    catalog_jobs = app.get(CATALOG_JOBS)
    if catalog_jobs is None:  # a reload before the engine started: nothing to run it
        log.warning("catalog sync after reload not scheduled: the app is not started")
        return
    try:
        await catalog_jobs.schedule(changed)
    except Exception:  # the reload itself stands; the next reload that changes it retries
        log.exception("catalog sync after reload not scheduled")


async def _engine(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    db = app[DB]
    clock = app[CLOCK]
    # several servers may share a PostgreSQL: no conversation cache, no trusted stock counts
    shared = db.dialect == "postgresql"
    store = SqlStateStore(db, shared=shared)
    providers = create_providers(settings.env, ProviderDeps(
        session=app[HTTP], clock=lambda: clock.now_ms() / 1000, db=db))
    app[PROVIDERS] = providers
    def excess_policy(shop_id: str, order_status: str) -> str:
        """shop.yaml: ``late_payment`` for a cancelled order, ``overpayment`` otherwise."""
        runtime = app[SHOPS].get(shop_id)
        if runtime is None:
            return "refund"
        rules = runtime.shop.payments
        chosen = rules.late_payment if order_status == "cancelled" else rules.overpayment
        return "refund" if chosen == "refund" else "hold"

    payments = PaymentService(db, providers, public_url=settings.public_base,
                              now_ms=clock.now_ms, excess_policy=excess_policy)
    app[PAYMENTS] = payments
    app[PAYMENT_RECORDS] = payments.repo  # the routes read through this, never the service
    inventory = Inventory(db, shared=shared)
    await inventory.load()
    app[INVENTORY] = inventory

    def shop_for(shop_id: str) -> Shop | None:
        runtime = app[SHOPS].get(shop_id)
        return runtime.shop if runtime else None

    windowed = with_capability(ChannelCapability.SERVICE_WINDOW)
    receipts = Receipts(db, shop_for=shop_for, lines=payments.lines,
                        public_url=settings.public_base)
    app[RECEIPTS] = receipts
    app[INVOICE_RECORDS] = receipts.repo
    notifier = PaymentNotifier(shop_for=shop_for, store=store, inventory=inventory,
                               payments=payments, now_ms=clock.now_ms,
                               windowed_channels=windowed, receipts=receipts)
    app[NOTIFIER] = notifier
    engine = Engine(db=db, store=store, clock=clock, untrusted_channels=frozenset(
        () if settings.simulator_owner else with_capability(
            ChannelCapability.UNTRUSTED_SENDERS)), windowed_channels=windowed,
        channel_capabilities={cls.name: cls.capabilities for cls in CHANNEL_CLASSES},
        observe_nlu=app[METRICS].nlu_seconds.observe,
        outbox_lease_ms=int(settings.outbox_lease_seconds * 1000) if shared else None)
    await engine.load_recent()
    engine.services = Services(payments=payments, inventory=inventory,
                               payment_notify=notifier,
                               conversations=Conversations(db, store),
                               consent=ConsentService(db), catalogs=MetaCatalogs(db))
    app[ENGINE] = engine
    journal = journal_for(settings)
    inline = InlineSender(app[CHANNEL_ADAPTERS], lambda: app[HTTP], journal)
    sender: Sender = inline
    if settings.outbox_sender == "process":
        remote = with_capability(ChannelCapability.REST_SENDS)
        sender = process_sender = ProcessSender(settings, inline, remote)
        if any(CHANNELS[name].live(settings) for name in remote):
            process_sender.prestart()
    outbox = Outbox(db=db, channels=app[CHANNEL_ADAPTERS], sender=sender, clock=clock,
                    journal=journal, lease_ms=int(settings.outbox_lease_seconds * 1000),
                    send_seconds=app[METRICS].send_seconds)
    app[OUTBOX] = outbox
    app[METRICS].readings.append(lambda: [
        Reading("counter", "haat_db_commits", "Group commits (PostgreSQL: transactions)",
                getattr(db, "commits", 0)),
        Reading("counter", "haat_db_write_sets", "Write sets committed",
                getattr(db, "batched", 0)),
        Reading("counter", "haat_db_round_trips",
                "Write statements' round trips to PostgreSQL (a pipelined group is one)",
                getattr(db, "round_trips", 0)),
        Reading("counter", "haat_db_read_round_trips",
                "Point reads' round trips to PostgreSQL (one SQL's reads of a tick are one)",
                getattr(db, "read_round_trips", 0)),
        Reading("counter", "haat_outbox_sent", "Outbox messages sent", outbox.sent_count),
        Reading("counter", "haat_outbox_dead", "Outbox messages given up", outbox.dead_count),
        Reading("gauge", "haat_shops", "Shops served", len(app[SHOPS].runtimes)),
    ])
    reminders = Reminders(db=db, store=store, shop_for=shop_for, now_ms=clock.now_ms,
                          windowed_channels=windowed, payments=payments, inventory=inventory)
    catalog_jobs = CatalogJobs(settings=settings, db=db, session=app[HTTP], shop_for=shop_for,
                               now_ms=clock.now_ms)
    app[CATALOG_JOBS] = catalog_jobs
    scheduler = Scheduler(payments=payments, notifier=notifier, reminders=reminders,
                          outbox=outbox, catalog=catalog_jobs)
    app[SCHEDULER] = scheduler
    broadcaster = Broadcaster(
        db=db, store=store, shop_for=shop_for, now_ms=clock.now_ms, submit=outbox.submit,
        template_channels=with_capability(ChannelCapability.TEMPLATES),
        rate=throughput(settings))
    app[BROADCASTER] = broadcaster
    await outbox.recover()
    await outbox.run_due()  # whatever a crash left unsent
    await broadcaster.resume_all()  # a broadcast a stopped process left unfinished
    tasks = [asyncio.create_task(outbox.poll_forever()),
             asyncio.create_task(scheduler.run_forever())]
    gc.collect()
    gc.freeze()  # start-up garbage is permanent: keep it out of every later collection
    app[READY].set()
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await broadcaster.close()
    await catalog_jobs.close()
    await outbox.close()
    await sender.close()


async def _loop_watch(app: web.Application) -> AsyncIterator[None]:
    """How late the event loop runs, in all and by its own doing (webhooks/timing.py).

    Made here, on the loop's thread: the watch reads that thread's run-queue wait.
    """
    watch = LoopWatch()
    app[LOOP_WATCH] = watch
    app[METRICS].readings.append(lambda: [
        Reading("gauge", "haat_loop_lag_max_seconds",
                "The event loop's worst lateness, whoever caused it", watch.lag_max),
        Reading("gauge", "haat_loop_own_lag_max_seconds",
                "The event loop's worst lateness not explained by CPU starvation",
                watch.own_lag_max),
        Reading("gauge", "haat_loop_busy_max_seconds",
                "The most CPU the process used in one 0.1 s tick", watch.busy_max)])
    task = asyncio.create_task(watch.run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    watch.delay.close()


def _count_error(request: web.Request) -> None:
    request.app[METRICS].errors += 1
