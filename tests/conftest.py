"""Shared fixtures: settings with test secrets, the real app on loopback, a real PostgreSQL."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from config.clock import Clock
from config.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEMO_SHOP = ROOT / "config"
SIM_TOKEN = "test-simulator-token"
ADMIN_TOKEN = "test-admin-token"

AiohttpClient = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'haat.db'}",
        public_url="https://shop.example.test",
        shop_dir=DEMO_SHOP,
        simulator_token=SIM_TOKEN,
        admin_token=ADMIN_TOKEN,
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="twilio-test-token",
        whatsapp_app_secret="meta-app-secret",
        whatsapp_verify_token="meta-verify-token",
        whatsapp_access_token="meta-access-token",
        sandbox_secret="sandbox-secret",
        reload_interval_seconds=0.2,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """HAAT_TEST_POSTGRES_URL, or a throwaway cluster started from Debian's postgresql."""
    given = os.environ.get("HAAT_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.fail("PostgreSQL is not installed: run scripts/system-deps.sh (make test does)")
    data = Path(tempfile.mkdtemp(prefix="haat-pg-"))
    port = _free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres user
        shutil.chown(data, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    run = subprocess.run
    run([*as_user, str(bin_dir / "initdb"), "-D", str(data / "db"), "-U", "haat",
         "--auth=trust", "-E", "UTF8"], check=True, capture_output=True)
    run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-w", "-l",
         str(data / "log"), "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1 "
         "-c fsync=off -c synchronous_commit=off", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+asyncpg://haat@127.0.0.1:{port}/postgres"
    finally:
        run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate",
             "stop"], check=False, capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


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


@pytest.fixture
def fresh_postgres(postgres_url: str) -> Iterator[str]:
    """An empty database on the session's server, migrated to head (a sync fixture, so it
    can be requested from parametrized sync URL fixtures)."""
    from webhooks.migrate import upgrade

    name = f"t{os.getpid()}_{_free_port()}"
    _pg_admin(postgres_url, f'CREATE DATABASE "{name}"')
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    _pg_admin(postgres_url, f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each kind haat supports."""
    if request.param == "sqlite":
        from webhooks.migrate import upgrade

        url = f"sqlite:///{tmp_path / 'param.sqlite'}"
        upgrade(url)
        return url
    fresh: str = request.getfixturevalue("fresh_postgres")
    return fresh
