"""Several real ``haat serve`` processes on one PostgreSQL, for the scale-out tests (#16)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg

from tests.conftest import ROOT
from tests.localhost import free_port


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL the whole process group (the server and its children)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


async def _admin(postgres_url: str, sql: str) -> None:
    conn = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def empty_database(postgres_url: str, name: str) -> AsyncIterator[str]:
    """A new, empty (not migrated) database on the session's PostgreSQL server."""
    await _admin(postgres_url, f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await _admin(postgres_url, f'DROP DATABASE "{name}" WITH (FORCE)')


def start_server(tmp_path: Path, name: str, env: Mapping[str, str], *args: str,
                 port: int | None = None) -> Server:
    """``haat serve`` in its own process group, logging to ``tmp_path/name.log``."""
    port = port or free_port()
    log = tmp_path / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - a real separate server process
            [sys.executable, "-m", "webhooks", "serve", "--port", str(port), *args],
            env=dict(os.environ, **env), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    return Server(proc, port, log)


async def ready(url: str, proc: subprocess.Popen[bytes], log: Path | None = None,
                seconds: float = 90.0) -> None:
    """Poll ``url``/readyz until it answers 200. Several servers starting at once each train
    their intent model and migrate in turn, on a shared 2-core box: allow more than the
    15 s one server gets (tests/e2e/conftest.py:until_ready)."""
    async with aiohttp.ClientSession() as session:
        for _ in range(int(seconds / 0.1)):
            if proc.poll() is not None:
                break
            try:
                async with session.get(f"{url}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not become ready: {_tail(log)}")


def _tail(log: Path | None) -> str:
    return log.read_text(errors="replace")[-4000:] if log is not None else ""
