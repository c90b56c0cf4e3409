"""``/api/broadcasts``: the merchant's broadcasts, behind the admin token (bot/broadcasts.py).

``POST /api/broadcasts`` with ``{"template", "segment", "language"?, "params"?}`` (and
``?shop=`` when the server serves several) fixes the audience, starts sending and answers
201 with the broadcast's id and audience; ``GET /api/broadcasts/{id}`` reports its counts;
``GET /api/broadcasts`` lists the shop's latest; ``POST /api/broadcasts/{id}/resume`` resumes
one (a restart resumes every unfinished broadcast by itself).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.broadcasts import SegmentError
from config import wire
from webhooks import keys as k
from webhooks.payment_routes import require_admin

_MAX_PARAMS = 10
_MAX_PARAM = 1024


def _shop_id(request: web.Request) -> str:
    shops = sorted(request.app[k.SHOPS].runtimes)
    wanted = request.query.get("shop")
    if wanted is None:
        if len(shops) == 1:
            return shops[0]
        raise web.HTTPBadRequest(text=f"this server serves {len(shops)} shops: name one "
                                      f"with ?shop= ({', '.join(shops)})")
    if wanted not in shops:
        raise web.HTTPNotFound(text="no such shop")
    return wanted


def _text(data: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise web.HTTPBadRequest(text=f"{key} must be a non-empty string")
    return value


def _params(data: dict[str, Any]) -> tuple[str, ...]:
    value = data.get("params", [])
    if not isinstance(value, list) or len(value) > _MAX_PARAMS or not all(
            isinstance(p, str) and 0 < len(p) <= _MAX_PARAM for p in value):
        raise web.HTTPBadRequest(text=f"params must be a list of at most {_MAX_PARAMS} "
                                      f"non-empty strings of at most {_MAX_PARAM} characters")
    return tuple(value)


async def create_broadcast(request: web.Request) -> web.Response:
    require_admin(request)
    app = request.app
    runtime = app[k.SHOPS].get(_shop_id(request))
    assert runtime is not None  # _shop_id names a served shop
    try:
        data = wire.loads(await request.read())
    except wire.WireError as exc:
        raise web.HTTPBadRequest(text="body must be JSON") from exc
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    template = _text(data, "template", required=True)
    segment = _text(data, "segment", required=False) or "all"
    language = _text(data, "language", required=False)
    assert template is not None
    broadcaster = app[k.BROADCASTER]
    try:
        broadcast_id = await broadcaster.create(runtime.shop, template, segment=segment,
                                                language=language, params=_params(data))
    except SegmentError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    broadcaster.start(broadcast_id)
    return web.json_response(await broadcaster.report(broadcast_id), status=201)


def _id(request: web.Request) -> str:
    broadcast_id = request.match_info["broadcast"]
    if not (broadcast_id.isascii() and broadcast_id.isalnum() and len(broadcast_id) <= 32):
        raise web.HTTPNotFound(text="no such broadcast")
    return broadcast_id


async def _report(request: web.Request) -> dict[str, Any]:
    report = await request.app[k.BROADCASTER].report(_id(request))
    if report is None or report["shop"] not in request.app[k.SHOPS].runtimes:
        raise web.HTTPNotFound(text="no such broadcast")
    return report


async def broadcast_status(request: web.Request) -> web.Response:
    require_admin(request)
    return web.json_response(await _report(request))


async def resume_broadcast(request: web.Request) -> web.Response:
    require_admin(request)
    report = await _report(request)
    request.app[k.BROADCASTER].start(report["id"])
    return web.json_response(report)


async def list_broadcasts(request: web.Request) -> web.Response:
    require_admin(request)
    broadcaster = request.app[k.BROADCASTER]
    ids = await broadcaster.recent(_shop_id(request))
    return web.json_response({"broadcasts": [await broadcaster.report(i) for i in ids]})


def setup_broadcast_routes(app: web.Application) -> None:
    app.router.add_post("/api/broadcasts", create_broadcast)
    app.router.add_get("/api/broadcasts", list_broadcasts)
    app.router.add_get("/api/broadcasts/{broadcast}", broadcast_status)
    app.router.add_post("/api/broadcasts/{broadcast}/resume", resume_broadcast)
