"""``haat broadcast``: send, resume and report broadcasts (bot/broadcasts.py).

Without ``--server`` the command runs the app in this process (the same composition root
as ``haat serve``, without a listening socket), sends the broadcast through the outbox and
waits until every recipient's message has left. A running ``haat serve`` owns its SQLite
file: pass ``--server http://…`` (with ``HAAT_ADMIN_TOKEN``) and the server sends it, paced
beside its own traffic, and receives the status callbacks the counts come from.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from config.settings import Settings


class BroadcastCommandError(RuntimeError):
    """What the merchant did wrong (printed, exit code 2)."""


def format_report(report: dict[str, Any]) -> str:
    keys = ("id", "status", "segment", "template", "recipients", "skipped", "pending", "sent",
            "delivered", "read", "failed")
    return " ".join(f"{key}={report.get(key)}" for key in keys)


async def _local(settings: Settings, action: str, body: dict[str, Any],
                 broadcast_id: str | None, shop_id: str | None) -> list[dict[str, Any]]:
    from aiohttp import web

    from bot.broadcasts import SegmentError
    from webhooks.app import create_app
    from webhooks.keys import BROADCASTER, OUTBOX, SHOPS

    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()  # the resources (and any unfinished broadcast resumes), no socket
    try:
        broadcaster = app[BROADCASTER]
        runtimes = app[SHOPS].runtimes
        if shop_id is None and len(runtimes) != 1:
            raise BroadcastCommandError(f"name the shop with --shop-id ({', '.join(runtimes)})")
        runtime = runtimes.get(shop_id) if shop_id else next(iter(runtimes.values()))
        if runtime is None:
            raise BroadcastCommandError(f"no shop {shop_id!r}")
        if action == "list":
            return [r for i in await broadcaster.recent(runtime.shop.id)
                    if (r := await broadcaster.report(i)) is not None]
        if action == "send":
            try:
                broadcast_id = await broadcaster.create(
                    runtime.shop, body["template"], segment=body.get("segment") or "all",
                    language=body.get("language"), params=tuple(body.get("params") or ()))
            except SegmentError as exc:
                raise BroadcastCommandError(str(exc)) from exc
        assert broadcast_id is not None
        report = await broadcaster.report(broadcast_id)
        if report is None:
            raise BroadcastCommandError(f"no broadcast {broadcast_id}")
        if action in ("send", "resume"):
            broadcaster.start(broadcast_id)
            await broadcaster.wait(broadcast_id)
            outbox = app[OUTBOX]
            while True:  # every queued message has left (or failed for good)
                await outbox.drain()
                report = await broadcaster.report(broadcast_id)
                if report is None or not report["pending"]:
                    break
                await asyncio.sleep(0.5)  # retries are due later: the outbox poll sends them
        return [report] if report is not None else []
    finally:
        await runner.cleanup()


async def _remote(server: str, token: str, action: str, body: dict[str, Any],
                  broadcast_id: str | None, shop_id: str | None) -> list[dict[str, Any]]:
    base = server.rstrip("/") + "/api/broadcasts"
    query = {"shop": shop_id} if shop_id else {}
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        if action == "send":
            request = session.post(base, params=query, data=json.dumps(body))
        elif action == "resume":
            request = session.post(f"{base}/{broadcast_id}/resume", params=query)
        elif action == "list":
            request = session.get(base, params=query)
        else:
            request = session.get(f"{base}/{broadcast_id}", params=query)
        async with request as response:
            text = await response.text()
            if response.status >= 400:
                raise BroadcastCommandError(f"{response.status}: {text[:300]}")
            data = json.loads(text)
    return list(data["broadcasts"]) if action == "list" else [data]


def run(settings: Settings, action: str, *, body: dict[str, Any] | None = None,
        broadcast_id: str | None = None, shop_id: str | None = None,
        server: str | None = None) -> list[dict[str, Any]]:
    """One ``haat broadcast`` action: ``send``, ``resume``, ``status`` or ``list``."""
    body = body or {}
    if server:
        if not settings.admin_token:
            raise BroadcastCommandError("--server needs HAAT_ADMIN_TOKEN (the server's)")
        return asyncio.run(_remote(server, settings.admin_token, action, body, broadcast_id,
                                   shop_id))
    return asyncio.run(_local(settings, action, body, broadcast_id, shop_id))
