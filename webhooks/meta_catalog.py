"""``haat catalog sync``: push a shop's YAML catalog to its Meta catalog and wait for Meta's
verdict on every item.

One sync: read what was pushed last (bot/catalog_sync.py's table), send only the
difference to ``POST /{catalog_id}/items_batch`` (item_type ``PRODUCT_ITEM``, records of
``{method, data}``), then poll ``GET /{catalog_id}/check_batch_request_status?handle=…``
until Meta says ``finished``. Items Meta refused (``errors`` / ``ids_of_invalid_requests``)
are reported and remembered as refused, so the next sync sends them again (as an upsert
UPDATE); the others are recorded. Sources: Meta's "Catalog Batch API" guide and the
``items_batch`` and ``check_batch_request_status`` references (see docs/CHANNELS.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp

from bot import catalog_sync
from bot.catalog_sync import BatchRequest
from bot.inventory import Inventory
from catalog.models import Shop
from config.plugins import load
from config.settings import Settings
from storage import jobs
from storage.database import Conflict, Database, WriteSet
from webhooks.channels.whatsapp_cloud import WhatsAppConfig
from webhooks.partner_json import call_json

log = logging.getLogger(__name__)

DONE_STATUSES: Final = frozenset({"finished", "error", "failed"})
CATALOG_SYNC: Final = "catalog_sync"  # the scheduled_jobs kind (storage/jobs.py)
RETRY_FIRST_MS: Final = 60_000  # then doubled per failed attempt, up to RETRY_MAX_MS
RETRY_MAX_MS: Final = 3_600_000
MAX_ATTEMPTS: Final = 10  # about 6 hours of retries; then `haat catalog sync` by hand


class CatalogSyncError(Exception):
    """The sync could not run or Meta refused the whole batch; nothing was recorded."""


@dataclass
class SyncReport:
    shop_id: str
    catalog_id: str
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    # retailer id → Meta's message(s) for the items it refused (or that never went out)
    errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    handles: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        head = (f"{self.shop_id}: catalog {self.catalog_id}: {self.created} created, "
                f"{self.updated} updated, {self.deleted} deleted, {self.unchanged} unchanged, "
                f"{len(self.errors)} refused")
        return [head, *(f"  refused {rid}: {why}" for rid, why in sorted(self.errors.items())),
                *(f"  warning: {w}" for w in self.warnings)]


class GraphCatalogClient:
    """The two Graph calls of a sync, with Meta's error envelope turned into exceptions."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}

    async def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        try:
            status, data = await call_json(self._session, method, f"{self._base}/{path}",
                                           headers=self._headers, **kw)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise CatalogSyncError(f"Graph API unreachable: {exc.__class__.__name__}") from exc
        if 200 <= status < 300 and isinstance(data, dict):
            return data
        err = data.get("error") if isinstance(data, dict) else None
        code = err.get("code") if isinstance(err, dict) else None
        message = str(err.get("message", "")) if isinstance(err, dict) else ""
        raise CatalogSyncError(f"Graph API {status} (code {code}): {message}"[:300])

    async def items_batch(self, catalog_id: str,
                          requests: Sequence[BatchRequest]) -> dict[str, Any]:
        return await self._call("POST", f"{catalog_id}/items_batch", json={
            "item_type": catalog_sync.ITEM_TYPE, "allow_upsert": True,
            "requests": [r.to_json() for r in requests]})

    async def batch_status(self, catalog_id: str, handle: str) -> dict[str, Any]:
        data = await self._call("GET", f"{catalog_id}/check_batch_request_status",
                                params={"handle": handle})
        rows = data.get("data")
        if isinstance(rows, list) and rows and isinstance(rows[0], dict):
            return rows[0]
        raise CatalogSyncError("check_batch_request_status answered without a status")


def _refusals(status: dict[str, Any], sent: Sequence[BatchRequest]) -> dict[str, str]:
    """retailer id → why, from a finished batch's ``errors`` and ``ids_of_invalid_requests``
    (an error names its item by ``id`` or by its ``line`` in the request, from 0)."""
    out: dict[str, str] = {}
    for error in status.get("errors") or ():
        if not isinstance(error, dict):
            continue
        rid = error.get("id") or error.get("retailer_id")
        line = error.get("line")
        if not rid and isinstance(line, int) and 0 <= line < len(sent):
            rid = sent[line].retailer_id
        if rid:
            message = str(error.get("message") or "refused")
            out[str(rid)] = f"{out[str(rid)]}; {message}" if str(rid) in out else message
    for rid in status.get("ids_of_invalid_requests") or ():
        out.setdefault(str(rid), "refused")
    return out


async def sync_shop(db: Database, client: GraphCatalogClient, shop: Shop, *, now_ms: int,
                    poll_interval: float = 2.0, max_polls: int = 60) -> SyncReport:
    """Push the difference since the last sync, wait for Meta's verdict, record it."""
    catalog_id = shop.whatsapp.catalog_id
    if catalog_id is None:
        raise CatalogSyncError(f"{shop.id}: shop.yaml has no whatsapp_commerce.catalog_id")
    report = SyncReport(shop.id, catalog_id)
    inventory = Inventory(db)  # availability from what is left, not the YAML alone
    await inventory.load()
    desired, problems = catalog_sync.catalog_items(
        shop, lambda sku: inventory.available(shop.id, shop.catalog, sku))
    report.warnings.extend(problems)
    before = await catalog_sync.previous(db, shop.id, catalog_id)
    requests = catalog_sync.plan(desired, before)
    report.unchanged = len(desired) - sum(r.method is not catalog_sync.BatchMethod.DELETE
                                          for r in requests)
    for chunk in catalog_sync.chunks(requests):
        answer = await client.items_batch(catalog_id, chunk)
        refused = _validation_refusals(answer)
        handles = [str(h) for h in answer.get("handles") or ()]
        report.handles.extend(handles)
        for handle in handles:
            status = await _finished(client, catalog_id, handle, poll_interval, max_polls)
            refused.update(_refusals(status, chunk))
        if not handles and not refused:
            raise CatalogSyncError("items_batch answered without a handle")
        accepted = [r for r in chunk if r.retailer_id not in refused] if handles else []
        turned_down = [r for r in chunk if r.retailer_id in refused]
        for r in chunk:
            if r.retailer_id in refused or not handles:
                report.errors[r.retailer_id] = refused.get(r.retailer_id, "not ingested")
        writes = WriteSet()
        catalog_sync.record(writes, shop.id, catalog_id, accepted, turned_down, now_ms)
        await db.write(writes)
        for r in accepted:
            if r.method is catalog_sync.BatchMethod.CREATE:
                report.created += 1
            elif r.method is catalog_sync.BatchMethod.UPDATE:
                report.updated += 1
            else:
                report.deleted += 1
    return report


def _validation_refusals(answer: dict[str, Any]) -> dict[str, str]:
    """retailer id → why, from an ``items_batch`` answer's own ``validation_status``."""
    refused: dict[str, str] = {}
    for row in answer.get("validation_status") or ():
        if isinstance(row, dict) and row.get("errors"):
            refused[str(row.get("retailer_id"))] = "; ".join(
                str(e.get("message", "")) for e in row["errors"] if isinstance(e, dict))
    return refused


async def _finished(client: GraphCatalogClient, catalog_id: str, handle: str,
                    poll_interval: float, max_polls: int) -> dict[str, Any]:
    """A batch's status once Meta has finished it (at most ``max_polls`` checks)."""
    status: dict[str, Any] = {}
    for attempt in range(max_polls):
        status = await client.batch_status(catalog_id, handle)
        if str(status.get("status", "")).lower() in DONE_STATUSES:
            return status
        if attempt + 1 < max_polls:
            await asyncio.sleep(poll_interval)
    raise CatalogSyncError(f"batch {handle} still {status.get('status')!r} after "
                           f"{max_polls} checks; run the sync again later")


def graph_client(settings: Settings, session: aiohttp.ClientSession) -> GraphCatalogClient:
    """The catalog client from the WhatsApp channel's own settings (same token and base)."""
    config = load(WhatsAppConfig, settings.env)
    if not config.access_token:
        raise CatalogSyncError("WHATSAPP_ACCESS_TOKEN is not set (it needs "
                               "catalog_management on the catalog)")
    return GraphCatalogClient(session, config.api_base_url, config.access_token)


def _poll_interval(settings: Settings) -> float:
    raw = settings.env.get("HAAT_CATALOG_POLL_SECONDS", "2")
    try:
        return max(0.0, float(raw))
    except ValueError:
        return 2.0


async def sync_shops(settings: Settings, shops: Sequence[Shop], *,
                     db: Database, session: aiohttp.ClientSession,
                     now_ms: int) -> list[SyncReport]:
    """Sync every shop that has a ``catalog_id``; a shop whose sync fails is reported
    with its error and the others go on."""
    client = graph_client(settings, session)
    reports: list[SyncReport] = []
    for shop in shops:
        if shop.whatsapp.catalog_id is None:
            continue
        try:
            reports.append(await sync_shop(db, client, shop, now_ms=now_ms,
                                           poll_interval=_poll_interval(settings)))
        except CatalogSyncError as exc:
            failed = SyncReport(shop.id, shop.whatsapp.catalog_id)
            failed.errors["*"] = str(exc)
            reports.append(failed)
    return reports


async def run_cli_sync(settings: Settings, shop_id: str | None = None) -> list[SyncReport]:
    """``haat catalog sync``: migrate, open the database, sync, close."""
    import time

    from storage.database import open_database
    from webhooks.migrate import upgrade
    from webhooks.plugins import load_shops

    shops = [s for s in load_shops(settings.shop_dir).values()
             if shop_id is None or s.id == shop_id]
    await asyncio.to_thread(upgrade, settings.database_url)
    db = open_database(settings.database_url)
    await db.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            return await sync_shops(settings, shops, db=db, session=session,
                                    now_ms=int(time.time() * 1000))
    finally:
        await db.close()


@dataclass
class CatalogJobs:
    """shop.yaml ``whatsapp_commerce.sync_on_reload`` as durable background jobs.

    A reload that changed a shop's catalog only writes a ``catalog_sync`` job
    (storage/jobs.py) and returns: it never waits on Meta. The job runs at once in the
    background (one sync at a time); a sync Meta fails (unreachable, a 5xx, an error for
    the whole batch) is tried again with backoff, from the scheduler's tick
    (webhooks/scheduler.py), and survives a restart. Items Meta refuses one by one are its
    verdict, not a failure: the next sync sends them again (see :func:`sync_shop`)."""

    settings: Settings
    db: Database
    session: aiohttp.ClientSession
    shop_for: Callable[[str], Shop | None]
    now_ms: Callable[[], int]
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _queued: bool = False  # a background run waits for the lock (at most one does)

    async def schedule(self, shops: Sequence[Shop]) -> None:
        """A due job per shop (a pending one is moved to now, its attempts reset), then
        :meth:`kick`."""
        now = self.now_ms()
        writes = WriteSet()
        for shop in shops:
            jobs.schedule(writes, _job_key(shop.id), shop_id=shop.id, kind=CATALOG_SYNC,
                          due_at=now, payload=json.dumps({"attempt": 0}), now_ms=now)
        await self.db.write(writes)
        self.kick()

    def kick(self) -> None:
        """Run the due jobs in the background: after the run under way, if there is one
        (one run waits at most; it reads what is due when its turn comes)."""
        if self._queued:
            return
        self._queued = True
        task = asyncio.create_task(self._guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self) -> None:
        try:
            async with self._lock:
                self._queued = False
                await self._due_now()
        except asyncio.CancelledError:
            raise
        except Exception:  # the jobs stay pending: the scheduler's next tick retries them
            log.exception("catalog sync jobs stopped; they are retried")

    async def run_due(self) -> int:
        """Run every due catalog sync, one at a time; how many finished."""
        async with self._lock:
            return await self._due_now()

    async def _due_now(self) -> int:
        done = 0
        for key, shop_id, *_rest, payload in await jobs.due(
                self.db, (CATALOG_SYNC,), self.now_ms(), 50):
            done += await self._run(str(key), str(shop_id), str(payload))
        return done

    async def _run(self, key: str, shop_id: str, payload: str) -> bool:
        shop = self.shop_for(shop_id)
        writes = WriteSet()
        if shop is None or not shop.whatsapp.sync_on_reload or not shop.whatsapp.catalog_id:
            jobs.finish(writes, key, jobs.JobStatus.CANCELLED)  # no longer served or wanted
            return await self._write(writes) and False
        attempt = int(json.loads(payload).get("attempt", 0)) + 1
        try:
            [report] = await sync_shops(self.settings, [shop], db=self.db,
                                        session=self.session, now_ms=self.now_ms())
            error = report.errors.get("*")
            for line in report.lines():
                (log.warning if report.errors else log.info)("catalog sync: %s", line)
        except CatalogSyncError as exc:  # not configured (no access token)
            error = str(exc)
        except Exception as exc:  # anything else: backed off too, never retried every tick
            log.exception("catalog sync of %s failed", shop_id)
            error = type(exc).__name__
        if self.shop_for(shop_id) is not shop:
            return False  # edited meanwhile: the reload re-armed the job for the new one
        if error is None:
            jobs.finish(writes, key)
        elif attempt >= MAX_ATTEMPTS:
            log.error("catalog sync of %s failed %d times, not retried (run `haat catalog "
                      "sync`): %s", shop_id, attempt, error)
            jobs.finish(writes, key, jobs.JobStatus.CANCELLED)
        else:
            wait = min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (attempt - 1))
            log.warning("catalog sync of %s failed (attempt %d), retried in %d s: %s",
                        shop_id, attempt, wait // 1000, error)
            now = self.now_ms()
            jobs.schedule(writes, key, shop_id=shop_id, kind=CATALOG_SYNC, due_at=now + wait,
                          payload=json.dumps({"attempt": attempt}), now_ms=now)
        return await self._write(writes) and error is None

    async def _write(self, writes: WriteSet) -> bool:
        try:
            await self.db.write(writes)
        except Conflict:
            return False  # another server finished it meanwhile
        return True

    async def drain(self) -> None:
        """Wait for the background runs (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.drain()


def _job_key(shop_id: str) -> str:
    return f"{CATALOG_SYNC}:{shop_id}"
