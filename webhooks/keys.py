"""Typed keys for everything the app shares, and the small holders they point to."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from bot.broadcasts import Broadcaster
from bot.engine import Engine, ShopRuntime
from bot.flows.payment_updates import PaymentNotifier
from bot.inventory import Inventory
from bot.nlu.builtin import Extractors
from catalog.loader import LoadError, ShopSource
from config.clock import Clock
from config.settings import Settings
from payments.invoices import InvoiceRepository
from payments.providers.base import PaymentProvider
from payments.repository import PaymentsRepository
from payments.service import PaymentService
from storage.database import Database
from webhooks.channels.base import ChannelAdapter, ChannelState
from webhooks.meta_catalog import CatalogJobs
from webhooks.metrics import Metrics
from webhooks.outbox import Outbox
from webhooks.scheduler import Scheduler
from webhooks.timing import LoopWatch


@dataclass
class Shops:
    """The shops being served, swapped whole on a good reload (readers never see a mix)."""

    source: ShopSource
    runtimes: dict[str, ShopRuntime] = field(default_factory=dict)
    last_errors: list[LoadError] = field(default_factory=list)
    loaded_at: float = 0.0

    def for_business(self, business: str) -> ShopRuntime | None:
        """The shop whose phone is the number the message was sent to."""
        if len(self.runtimes) == 1:
            return next(iter(self.runtimes.values()))
        digits = "".join(ch for ch in business if ch.isdigit())
        for runtime in self.runtimes.values():
            if digits and "".join(ch for ch in runtime.shop.phone if ch.isdigit()) == digits:
                return runtime
        return None

    def get(self, shop_id: str) -> ShopRuntime | None:
        return self.runtimes.get(shop_id)


SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
DB = web.AppKey("db", Database)
SHOPS = web.AppKey("shops", Shops)
ENGINE = web.AppKey("engine", Engine)
CHANNEL_ADAPTERS = web.AppKey("channels", Mapping[str, ChannelAdapter])
# what each channel learns or opens at run time; closed when the app stops
CHANNEL_STATES = web.AppKey("channel_states", Mapping[str, ChannelState])
OUTBOX = web.AppKey("outbox", Outbox)
HTTP = web.AppKey("http", aiohttp.ClientSession)
# each catalog's product index and extraction memory, kept across reloads (bot/nlu/builtin.py)
EXTRACTORS = web.AppKey("extractors", Extractors)
METRICS = web.AppKey("metrics", Metrics)
# the event loop's lateness, own and starved (webhooks/timing.py); set once the loop runs
LOOP_WATCH = web.AppKey("loop_watch", LoopWatch)
READY = web.AppKey("ready", asyncio.Event)
PROVIDERS = web.AppKey("providers", dict[str, PaymentProvider])
PAYMENTS = web.AppKey("payments", PaymentService)
# the payment tables' reads for routes and reports; every write goes through PAYMENTS
PAYMENT_RECORDS = web.AppKey("payment_records", PaymentsRepository)
# the invoice table's reads for the receipt routes; Receipts (receipt_routes.RECEIPTS) writes
INVOICE_RECORDS = web.AppKey("invoice_records", InvoiceRepository)
NOTIFIER = web.AppKey("notifier", PaymentNotifier)
INVENTORY = web.AppKey("inventory", Inventory)
SCHEDULER = web.AppKey("scheduler", Scheduler)
BROADCASTER = web.AppKey("broadcaster", Broadcaster)
CATALOG_JOBS = web.AppKey("catalog_jobs", CatalogJobs)
