"""``haat catalog sync`` against a fake Graph API that enforces Meta's items_batch and
check_batch_request_status contract: creates, then only the difference, per-item refusals
reported and sent again, whole-call errors reported, and the sync after a reload."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from config.clock import Clock
from config.settings import Settings
from tests.fakes.graph_api import ACCESS_TOKEN
from tests.fakes.graph_catalog import FakeGraphCatalog, run_fake_graph_catalog
from webhooks.meta_catalog import run_cli_sync
from webhooks.plugins import check_shop_with_warnings

SHOP = Path(__file__).resolve().parent.parent / "fixtures" / "shops" / "commerce"
CATALOG_ID = "354160437058781"


@pytest.fixture
async def meta() -> AsyncIterator[FakeGraphCatalog]:
    async with run_fake_graph_catalog(CATALOG_ID) as fake:
        yield fake


@pytest.fixture
def shop_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "commerce"
    shutil.copytree(SHOP, folder)
    return folder


def _settings(settings: Settings, meta: FakeGraphCatalog, shop_dir: Path) -> Settings:
    return settings.with_(shop_dir=shop_dir).with_env(
        WHATSAPP_API_BASE_URL=meta.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN,
        HAAT_CATALOG_POLL_SECONDS="0")


def _methods(meta: FakeGraphCatalog) -> dict[str, str]:
    last = meta.batch_calls[-1]
    return {r["data"]["id"]: r["method"] for r in last["requests"]}


async def test_first_sync_creates_every_item_as_meta_expects_it(
        settings: Settings, meta: FakeGraphCatalog, shop_dir: Path) -> None:
    [report] = await run_cli_sync(_settings(settings, meta, shop_dir))
    items = meta.catalogs[CATALOG_ID]
    assert sorted(items) == ["CHAI-L", "CHAI-S", "KACHORI", "SAMOSA"]
    assert (report.created, report.updated, report.deleted, report.errors) == (4, 0, 0, {})
    assert report.warnings == ["JALEBI: no image (Meta requires image_link)"]
    assert meta.batch_calls[0]["item_type"] == "PRODUCT_ITEM"
    assert set(_methods(meta).values()) == {"CREATE"}
    # options are an item group under the product's sku; stock 0 is out of stock
    assert items["CHAI-L"]["item_group_id"] == "CHAI"
    assert items["CHAI-L"]["availability"] == "out of stock"
    assert items["SAMOSA"]["price"] == "12.50 INR"
    assert items["SAMOSA"]["link"] == "https://commerce.example.test/p/SAMOSA"
    assert items["SAMOSA"]["image_link"] == "https://img.example.test/samosa.jpg"
    assert meta.status_checks >= 2  # in progress first: the sync waited for finished


async def test_a_second_sync_sends_only_what_changed(
        settings: Settings, meta: FakeGraphCatalog, shop_dir: Path) -> None:
    configured = _settings(settings, meta, shop_dir)
    await run_cli_sync(configured)
    [again] = await run_cli_sync(configured)
    assert len(meta.batch_calls) == 1 and again.unchanged == 4
    catalog = shop_dir / "catalog.yaml"
    text = catalog.read_text().replace('price: "12.50"', 'price: "14.00"')
    text = text[:text.index("  - sku: KACHORI")] + text[text.index("  - sku: JALEBI"):]
    catalog.write_text(text)
    [report] = await run_cli_sync(configured)
    assert _methods(meta) == {"SAMOSA": "UPDATE", "KACHORI": "DELETE"}
    assert (report.created, report.updated, report.deleted) == (0, 1, 1)
    assert sorted(meta.catalogs[CATALOG_ID]) == ["CHAI-L", "CHAI-S", "SAMOSA"]
    assert meta.catalogs[CATALOG_ID]["SAMOSA"]["price"] == "14.00 INR"


async def test_an_item_meta_refuses_is_reported_and_sent_again(
        settings: Settings, meta: FakeGraphCatalog, shop_dir: Path) -> None:
    meta.catalogs[CATALOG_ID]["SAMOSA"] = {"id": "SAMOSA"}  # made by hand in Commerce Manager
    configured = _settings(settings, meta, shop_dir)
    [report] = await run_cli_sync(configured)
    assert list(report.errors) == ["SAMOSA"]
    assert "already exists" in report.errors["SAMOSA"]
    assert report.created == 3
    assert any("refused SAMOSA" in line for line in report.lines())
    # sent again as an UPDATE (upsert): Meta applies it whether or not it holds the item
    [retry] = await run_cli_sync(configured)
    assert _methods(meta) == {"SAMOSA": "UPDATE"} and retry.errors == {}
    assert meta.catalogs[CATALOG_ID]["SAMOSA"]["price"] == "12.50 INR"
    [quiet] = await run_cli_sync(configured)
    assert quiet.unchanged == 4 and len(meta.batch_calls) == 2


async def test_an_item_removed_by_hand_in_commerce_manager_comes_back(
        settings: Settings, meta: FakeGraphCatalog, shop_dir: Path) -> None:
    configured = _settings(settings, meta, shop_dir)
    await run_cli_sync(configured)
    del meta.catalogs[CATALOG_ID]["SAMOSA"]
    catalog = shop_dir / "catalog.yaml"
    catalog.write_text(catalog.read_text().replace('price: "12.50"', 'price: "13.00"'))
    [report] = await run_cli_sync(configured)
    assert _methods(meta) == {"SAMOSA": "UPDATE"} and report.errors == {}
    assert meta.catalogs[CATALOG_ID]["SAMOSA"]["price"] == "13.00 INR"


async def test_whole_call_errors_are_reported_and_nothing_is_recorded(
        settings: Settings, meta: FakeGraphCatalog, shop_dir: Path) -> None:
    configured = _settings(settings, meta, shop_dir)
    meta.fail_next(1, status=400, code=80014, message="There have been too many calls")
    [limited] = await run_cli_sync(configured)
    assert "80014" in limited.errors["*"]
    [wrong_token] = await run_cli_sync(configured.with_env(WHATSAPP_ACCESS_TOKEN="nope"))
    assert "190" in wrong_token.errors["*"]
    [report] = await run_cli_sync(configured)  # nothing was remembered: all created now
    assert report.created == 4


async def test_an_unknown_catalog_id_is_meta_s_error_100(
        settings: Settings, meta: FakeGraphCatalog, shop_dir: Path) -> None:
    shop_yaml = shop_dir / "shop.yaml"
    shop_yaml.write_text(shop_yaml.read_text().replace(CATALOG_ID, "999"))
    [report] = await run_cli_sync(_settings(settings, meta, shop_dir))
    assert "code 100" in report.errors["*"]


@asynccontextmanager
async def _serving(settings: Settings, meta: FakeGraphCatalog, shop_dir: Path,
                   clock: Clock) -> AsyncIterator[web.Application]:
    """``haat serve`` on a shop that opted in to ``sync_on_reload``, its KACHORI edited to
    16.00 on disk (the next reload sees it)."""
    from webhooks.app import create_app

    shop_yaml = shop_dir / "shop.yaml"
    shop_yaml.write_text(shop_yaml.read_text().replace(
        'whatsapp_commerce:\n', 'whatsapp_commerce:\n  sync_on_reload: true\n'))
    app = create_app(_settings(settings, meta, shop_dir).with_(reload_interval_seconds=3600),
                     clock=clock)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        catalog = shop_dir / "catalog.yaml"
        catalog.write_text(catalog.read_text().replace('price: "15.00"', 'price: "16.00"'))
        yield app
    finally:
        await runner.cleanup()


def _served_price(app: web.Application, sku: str) -> str:
    from webhooks.keys import SHOPS

    runtime = next(iter(app[SHOPS].runtimes.values()))
    return next(p.price.format() for p in runtime.shop.catalog.products if p.sku == sku)


async def test_serve_syncs_after_a_reload_when_the_shop_opts_in(
        settings: Settings, meta: FakeGraphCatalog, shop_dir: Path, clock: Clock) -> None:
    from webhooks.app import reload_shops
    from webhooks.keys import CATALOG_JOBS

    async with _serving(settings, meta, shop_dir, clock) as app:
        assert await reload_shops(app)
        await app[CATALOG_JOBS].drain()  # the sync runs in the background
        assert set(_methods(meta).values()) == {"CREATE"}  # never synced before: all of it
        assert meta.catalogs[CATALOG_ID]["KACHORI"]["price"] == "16.00 INR"


async def test_a_reload_does_not_wait_for_a_slow_meta(
        settings: Settings, meta: FakeGraphCatalog, shop_dir: Path, clock: Clock) -> None:
    from webhooks.app import reload_shops
    from webhooks.keys import CATALOG_JOBS

    meta.hold_next(1)  # items_batch answers only when released, after the reload returned
    async with _serving(settings, meta, shop_dir, clock) as app:
        # a reload that waited on Meta would never return here (the bound only reports it)
        assert await asyncio.wait_for(reload_shops(app), timeout=60)
        assert _served_price(app, "KACHORI") == "₹16.00"  # the edit is served already
        assert meta.catalogs[CATALOG_ID] == {}  # while Meta has not answered
        meta.release()
        await app[CATALOG_JOBS].drain()
        assert meta.catalogs[CATALOG_ID]["KACHORI"]["price"] == "16.00 INR"


async def test_a_failing_meta_neither_fails_the_reload_nor_loses_the_sync(
        settings: Settings, meta: FakeGraphCatalog, shop_dir: Path, clock: Clock) -> None:
    from webhooks.app import reload_shops
    from webhooks.keys import CATALOG_JOBS, SCHEDULER

    # Graph's code 2: "Service temporarily unavailable" (a transient error: retry later)
    meta.fail_next(1, status=503, code=2, message="Service temporarily unavailable")
    async with _serving(settings, meta, shop_dir, clock) as app:
        jobs = app[CATALOG_JOBS]
        assert await reload_shops(app)
        await jobs.drain()
        assert _served_price(app, "KACHORI") == "₹16.00"
        assert meta.catalogs[CATALOG_ID] == {} and meta.attempts == 1
        await app[SCHEDULER].run_due()  # not due yet: the retry waits a minute
        await jobs.drain()
        assert meta.attempts == 1
        clock.advance(minutes=1)
        await app[SCHEDULER].run_due()
        await jobs.drain()
        assert meta.catalogs[CATALOG_ID]["KACHORI"]["price"] == "16.00 INR"
        attempts = meta.attempts
        clock.advance(minutes=10)  # done: nothing is sent again
        await app[SCHEDULER].run_due()
        await jobs.drain()
        assert meta.attempts == attempts


@pytest.mark.parametrize(("yaml", "message"), [
    ('  catalog_id: "12ab"\n', "catalog_id must be the catalog's numeric id"),
    ('  card_payment: payment_gateway\n', "payment_gateway needs gateway"),
    ('  goods_type: groceries\n', "goods_type must be one of physical-goods, digital-goods"),
    ('  product_url: "http://x.test/p"\n', "product_url must be an https:// URL"),
    ('  catalogue_id: "1"\n', "unknown key 'catalogue_id'"),
    ('  business_address: {address_line1: x, city: y, zone_code: wb, postal_code: "1"}\n',
     "zone_code must be the state's two-letter code"),
    ('  business_address: {address_line1: x, city: y, zone_code: WB, postal_code: "1"}\n',
     "postal_code must be a 6-digit PIN code"),
    ('  business_address: {city: y, zone_code: WB, postal_code: "700091"}\n',
     "missing required key 'address_line1'"),
])
def test_haat_check_explains_a_bad_whatsapp_commerce_block(
        shop_dir: Path, yaml: str, message: str) -> None:
    shop_yaml = shop_dir / "shop.yaml"
    text = shop_yaml.read_text().replace(f'  catalog_id: "{CATALOG_ID}"\n', "")
    shop_yaml.write_text(text.replace("whatsapp_commerce:\n", "whatsapp_commerce:\n" + yaml))
    errors, _warnings = check_shop_with_warnings(shop_dir)
    assert any(message in str(e) for e in errors), errors


async def test_what_was_synced_is_remembered_on_each_database(
        settings: Settings, meta: FakeGraphCatalog, shop_dir: Path, database_url: str) -> None:
    configured = _settings(settings, meta, shop_dir).with_(database_url=database_url)
    [first] = await run_cli_sync(configured)
    [second] = await run_cli_sync(configured)
    assert (first.created, second.created, second.unchanged) == (4, 0, 4)
    assert len(meta.batch_calls) == 1


def test_haat_check_warns_of_products_the_sync_leaves_out(
        shop_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from webhooks.cli import main

    assert main(["check", str(shop_dir)]) == 0
    out = capsys.readouterr().out
    assert "warning: not synced to the Meta catalog: JALEBI: no image" in out


async def test_availability_follows_the_live_stock(
        settings: Settings, meta: FakeGraphCatalog, shop_dir: Path) -> None:
    """The merchant's ``stock SAMOSA 0`` (what bot/inventory.py stores for it) makes the
    next sync mark the item out of stock, with nothing else sent."""
    from bot.inventory import Inventory
    from storage.database import WriteSet, open_database

    configured = _settings(settings, meta, shop_dir)
    await run_cli_sync(configured)
    db = open_database(configured.database_url)
    await db.start()
    try:
        writes = WriteSet()
        Inventory(db).set_stock(shop_dir.name, "SAMOSA", 0, writes, 1)
        await db.write(writes)
    finally:
        await db.close()
    [report] = await run_cli_sync(configured)
    assert _methods(meta) == {"SAMOSA": "UPDATE"} and report.updated == 1
    assert meta.catalogs[CATALOG_ID]["SAMOSA"]["availability"] == "out of stock"
