"""Issue 16: several servers on one PostgreSQL start together and keep one truth."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from config.settings import Settings
from tests.e2e.cluster import empty_database, start_server
from tests.e2e.conftest import open_shop, until_ready
from tests.localhost import free_port


async def test_three_servers_started_at_once_on_a_fresh_database_all_come_up(
        tmp_path: Path, postgres_url: str, settings: Settings) -> None:
    # the migration runs in each server's start-up; without the advisory lock two of the
    # three died with a duplicate key in pg_type (issue 16)
    shop = open_shop(tmp_path, settings)
    async with empty_database(postgres_url, f"start{os.getpid()}_{free_port()}") as url:
        env = {"HAAT_DATABASE_URL": url, "HAAT_SHOP_DIR": str(shop), "HAAT_MODEL_CACHE": "",
               "HAAT_SIMULATOR_TOKEN": "start-token", "HAAT_OUTBOX_SENDER": "inline"}
        servers = [start_server(tmp_path, f"s{n}", env) for n in range(3)]
        try:
            await asyncio.gather(*(until_ready(s.url, s.proc, s.log) for s in servers))
            assert all(s.proc.poll() is None for s in servers)
        finally:
            for server in servers:
                server.kill()
