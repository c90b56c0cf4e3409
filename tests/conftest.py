"""Shared fixtures: settings with test secrets, the real app on loopback, a real PostgreSQL."""

from __future__ import annotations

import faulthandler
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any, TextIO

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from config.clock import Clock
from config.settings import Settings
from tests.localhost import free_port, pg_bin, throwaway_cluster

ROOT = Path(__file__).resolve().parent.parent
DEMO_SHOP = ROOT / "config"
SIM_TOKEN = "test-simulator-token"
ADMIN_TOKEN = "test-admin-token"

AiohttpClient = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


# Monday 2026-11-23 10:00 in Kolkata: the demo shop is open, so no test depends on when
# it happens to run (outside hours every first answer starts with the away message)
OPEN_HOURS_MS = 1_795_408_200_000


def selected_backend() -> str:
    """The backend the ``settings`` fixture gives every test: ``HAAT_TEST_DATABASE``
    (``sqlite``, the default, or ``postgres``); scripts/test.sh runs the database-touching
    tests once on each."""
    backend = os.environ.get("HAAT_TEST_DATABASE", "sqlite").strip().lower()
    if backend in ("postgres", "postgresql", "pg"):
        return "postgresql"
    if backend != "sqlite":
        raise pytest.UsageError(f"HAAT_TEST_DATABASE must be sqlite or postgres: {backend!r}")
    return "sqlite"


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Test settings on SQLite, or (``HAAT_TEST_DATABASE=postgres``) on an empty, migrated
    database of the session's throwaway PostgreSQL server."""
    url = f"sqlite:///{tmp_path / 'haat.db'}"
    if selected_backend() == "postgresql":
        url = str(request.getfixturevalue("fresh_postgres"))
    return Settings(database_url=url,
        public_url="https://shop.example.test",
        shop_dir=DEMO_SHOP,
        admin_token=ADMIN_TOKEN,
        reload_interval_seconds=0.2,
        outbox_sender="inline",  # tests/e2e/test_outbox_sender.py runs the child process
        clock_offset_seconds=(OPEN_HOURS_MS - time.time() * 1000) / 1000,
        env={  # the plugins' own keys (config/plugins.py)
            "HAAT_SIMULATOR_TOKEN": SIM_TOKEN,
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "TWILIO_AUTH_TOKEN": "twilio-test-token",
            "WHATSAPP_APP_SECRET": "meta-app-secret",
            "WHATSAPP_VERIFY_TOKEN": "meta-verify-token",
            "WHATSAPP_ACCESS_TOKEN": "meta-access-token",
            "HAAT_SANDBOX_SECRET": "sandbox-secret",
        },
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the PostgreSQL pass, only the tests that store through ``settings`` run again:
    the others do not touch the database, or choose their backends themselves (the
    ``database_url`` fixture runs both on every pass, the scale-out tests take
    ``postgres_url``), and ``sqlite_only`` tests inject faults into SQLite's own file
    (another process's write lock, a page cap)."""
    if selected_backend() != "postgresql":
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        names = getattr(item, "fixturenames", ())
        again = (("settings" in names or "backend_url" in names)
                 and "postgres_url" not in names
                 and item.get_closest_marker("sqlite_only") is None)
        (keep if again else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


HANG_STDERR = pytest.StashKey[TextIO]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """With ``HAAT_TEST_HANG_SECONDS`` set (scripts/mutants.py sets it), a test whose setup,
    call and teardown take longer than that ends its whole process with exit status 1,
    printing its name and every thread's traceback. A mutant that hangs a test (a retry that
    never ends, a future never answered) then fails in that time instead of waiting out
    mutmut's timeout for all its tests, which is what made the slow modules' runs long."""
    seconds = float(os.environ.get("HAAT_TEST_HANG_SECONDS", "0") or 0)
    if seconds > 0:
        if HANG_STDERR not in item.config.stash:  # the terminal's, before capture takes fd 2
            item.config.stash[HANG_STDERR] = os.fdopen(os.dup(2), "w", encoding="utf-8")
        out = item.config.stash[HANG_STDERR]
        print(f"hang limit {seconds:g} s: {item.nodeid}", file=out, flush=True)
        faulthandler.dump_traceback_later(seconds, exit=True, file=out)
    try:
        yield
    finally:
        if seconds > 0:
            faulthandler.cancel_dump_traceback_later()


def pytest_unconfigure(config: pytest.Config) -> None:
    if HANG_STDERR in config.stash:
        config.stash[HANG_STDERR].close()


@pytest.fixture
def clock() -> Clock:
    return Clock.starting_at(OPEN_HOURS_MS)


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, settings: Settings,
                 clock: Clock) -> TestClient[Any, Any]:
    from webhooks.app import create_app

    return await aiohttp_client(create_app(settings, clock=clock))


class Shopper:
    """Talks to the simulator route like a phone would; every message gets a fresh id."""

    def __init__(self, client: TestClient[Any, Any], phone: str = "+919000000001") -> None:
        self.client = client
        self.phone = phone
        self.count = 0

    async def send(self, text: str | None = None, *, button: str | None = None,
                   order: list[dict[str, Any]] | None = None,
                   message_id: str | None = None) -> list[dict[str, Any]]:
        self.count += 1
        body: dict[str, Any] = {"from": self.phone,
                                "id": message_id or f"{self.phone}-{self.count}"}
        if text is not None:
            body["text"] = text
        if button is not None:
            body["button"] = button
        if order is not None:
            body["order"] = order
        response = await self.client.post("/webhooks/simulator", json=body,
                                          headers={"Authorization": f"Bearer {SIM_TOKEN}"})
        assert response.status == 200, await response.text()
        replies: list[dict[str, Any]] = (await response.json())["replies"]
        return replies

    async def text_of(self, text: str | None = None, **kwargs: Any) -> str:
        replies = await self.send(text, **kwargs)
        return "\n".join(r["text"] for r in replies)


@pytest.fixture
def shopper(client: TestClient[Any, Any]) -> Shopper:
    return Shopper(client)


# ---- a real PostgreSQL server ---------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """HAAT_TEST_POSTGRES_URL, or a throwaway cluster started from Debian's postgresql."""
    given = os.environ.get("HAAT_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    if pg_bin() is None:
        pytest.fail("PostgreSQL is not installed: run scripts/system-deps.sh (make test does)")
    # fsync off: tests need a real server, not durability across a power cut
    with throwaway_cluster("fsync=off", "synchronous_commit=off") as url:
        yield url


def _pg_admin(postgres_url: str, sql: str) -> None:
    import asyncio

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://",
                                                          "postgresql://"))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(scope="session")
def postgres_template(postgres_url: str) -> Iterator[str]:
    """A database migrated to head once per test process, that each test's database is
    created from (``CREATE DATABASE … TEMPLATE``: a copy of files, where a migration costs
    about half a second a test). Nothing connects to it after the migration (NullPool)."""
    from webhooks.migrate import upgrade

    name = f"tpl{os.getpid()}_{free_port()}"
    _pg_admin(postgres_url, f'CREATE DATABASE "{name}"')
    upgrade(postgres_url.rsplit("/", 1)[0] + f"/{name}")
    yield name
    _pg_admin(postgres_url, f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_postgres(postgres_url: str, postgres_template: str) -> Iterator[str]:
    """An empty database on the session's server, migrated to head (a sync fixture, so it
    can be requested from parametrized sync URL fixtures)."""
    name = f"t{os.getpid()}_{free_port()}"
    _pg_admin(postgres_url, f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    yield url
    _pg_admin(postgres_url, f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per test process; each test's database is a
    copy of it (sqlite3's backup: a few milliseconds, where a migration costs about half a
    second a test)."""
    from webhooks.migrate import upgrade

    path = tmp_path_factory.mktemp("template") / "head.sqlite"
    upgrade(f"sqlite:///{path}")
    return path


def migrated_sqlite(template: Path, path: Path) -> str:
    """A copy of the migrated template at ``path``, as a database URL."""
    with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(path)) as copy:
        source.backup(copy)
    return f"sqlite:///{path}"


@pytest.fixture
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of this pass's backend (``HAAT_TEST_DATABASE``)."""
    if selected_backend() == "postgresql":
        fresh: str = request.getfixturevalue("fresh_postgres")
        return fresh
    template: Path = request.getfixturevalue("sqlite_template")
    return migrated_sqlite(template, tmp_path / "backend.sqlite")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each kind haat supports."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        return migrated_sqlite(template, tmp_path / "param.sqlite")
    fresh: str = request.getfixturevalue("fresh_postgres")
    return fresh
