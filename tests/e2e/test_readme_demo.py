"""Issue 14: the README's two-minute tour completes, payment included, against a real
``haat serve`` started with exactly the environment ``make serve`` gives it.

The curl commands are read out of README.md and replayed in order (the server listens on a
free port instead of 8080, and TOKEN is the payment link's token from the confirmation), so
the tour and this test cannot drift apart.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import ROOT
from tests.e2e.conftest import until_ready
from tests.localhost import free_port


def make_serve_env() -> dict[str, str]:
    """The ``VAR=$${VAR:-default}`` assignments of the Makefile's ``serve`` recipe."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nserve:", 1)[1].split("\n\n", 1)[0]
    found = dict(re.findall(r"(\w+)=\$\$\{\w+:-([^}]*)\}", recipe))
    assert "HAAT_SIMULATOR_TOKEN" in found, recipe
    return found


def readme_curls() -> list[list[str]]:
    """Every curl command of the README's tour, as argument lists."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = readme.split("## Two-minute tour", 1)[1].split("\n## ", 1)[0]
    commands: list[list[str]] = []
    for block in re.findall(r"```bash\n(.*?)```", tour, re.S):
        for command in block.replace("\\\n", " ").splitlines():
            if command.strip().startswith("curl "):
                commands.append(shlex.split(command))
    return commands


def _request(args: list[str], base: str, token: str | None) -> tuple[str, str, dict[str, str],
                                                                      str | None]:
    method, headers, data, url = "GET", {}, None, ""
    rest = iter(args[1:])
    for arg in rest:
        if arg == "-s":
            continue
        if arg == "-X":
            method = next(rest)
        elif arg == "-H":
            name, _, value = next(rest).partition(":")
            headers[name.strip()] = value.strip()
        elif arg == "-d":
            data, method = next(rest), "POST" if method == "GET" else method
        else:
            url = arg
    if "TOKEN" in url:
        assert token is not None, "the README uses TOKEN before a payment link was given"
        url = url.replace("TOKEN", token)
    return method, url.replace("localhost:8080", base), headers, data


async def test_the_readme_tour_pays_an_order_with_make_serves_environment(
        tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TWILIO_", "WHATSAPP_", "HAAT_", "RAZORPAY_"))}
    env.update(make_serve_env())
    # the one difference from `make serve`: a free port (and its public URL) for 8080, and
    # a database of this test's own
    env.update(HAAT_PORT=str(port), HAAT_PUBLIC_URL=base, HAAT_MODEL_CACHE="",
               HAAT_DATABASE_URL=f"sqlite:///{tmp_path / 'haat.db'}")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(  # noqa: ASYNC220 - what `make serve` runs
            [sys.executable, "-m", "webhooks", "serve", "--shop", "config"], cwd=ROOT,
            env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        await until_ready(base, server, log)
        answers: list[tuple[str, Any]] = []
        token: str | None = None
        async with aiohttp.ClientSession() as session:
            for args in readme_curls():
                method, url, headers, data = _request(args, base, token)
                async with session.request(method, url, headers=headers,
                                           data=data.encode() if data else None) as response:
                    body = await response.text()
                    assert response.status == 200, (url, response.status, body)
                    answers.append((url, await response.json(content_type=None)))
                found = re.search(r"/pay/([A-Za-z0-9_-]{20,64})", body)
                if found and token is None:
                    token = found.group(1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert token is not None, answers
    by_path = {url.split(base, 1)[1].split("?", 1)[0]: answer for url, answer in answers}
    assert by_path[f"/pay/{token}/sandbox"] == {"delivered": 1}
    receipts = [m.get("text", "") for m in by_path["/webhooks/simulator/outbox"]["messages"]]
    assert any("₹84.00" in text for text in receipts), receipts
    (order,) = by_path["/api/orders"]["orders"]
    assert (order["id"], order["status"], order["total_minor"]) == ("ORD-1001", "paid", 8400)
