"""Things on this machine that tests and benchmarks start: free loopback ports, and a
throwaway PostgreSQL cluster from Debian's packages."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@contextmanager
def throwaway_cluster(*settings: str, prefix: str = "haat-pg-") -> Iterator[str]:
    """Start a cluster on a free loopback port; yields an asyncpg SQLAlchemy URL.

    ``settings`` are extra ``-c name=value`` server options. The cluster and its files go
    away on exit. As root, the cluster runs as the ``postgres`` user (initdb refuses root).
    """
    bin_dir = pg_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed: run scripts/system-deps.sh")
    data = Path(tempfile.mkdtemp(prefix=prefix))
    port = free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    options = " ".join(f"-c {s}" for s in ("listen_addresses=127.0.0.1", *settings))
    run = subprocess.run
    run([*as_user, str(bin_dir / "initdb"), "-D", str(data / "db"), "-U", "haat",
         "--auth=trust", "-E", "UTF8"], check=True, capture_output=True)
    run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-w", "-l",
         str(data / "log"), "-o", f"-p {port} -k {data} {options}", "start"],
        check=True, capture_output=True)
    try:
        yield f"postgresql+asyncpg://haat@127.0.0.1:{port}/postgres"
    finally:
        run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate",
             "stop"], check=False, capture_output=True)
        shutil.rmtree(data, ignore_errors=True)
