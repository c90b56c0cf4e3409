"""The one error middleware every route runs under (webhooks/inbound.py), with the server's
storage refusals (webhooks/routes.py), over real HTTP: refused storage is a 503 with
Retry-After, an unstorable write a 400, anything else a counted JSON 500."""

from __future__ import annotations

from aiohttp import web

from storage.database import StorageUnavailable, UnstorableWrite
from tests.conftest import AiohttpClient
from webhooks.inbound import error_middleware
from webhooks.routes import STORAGE_REFUSALS, refuse_storage


def _app(errors: list[str]) -> web.Application:
    async def locked(request: web.Request) -> web.Response:
        raise StorageUnavailable("sqlite: SQLITE_BUSY")

    async def unstorable(request: web.Request) -> web.Response:
        raise UnstorableWrite("write set not storable: ValueError")

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    async def missing(request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    app = web.Application(middlewares=[error_middleware(
        lambda request: errors.append(request.path), refusals=STORAGE_REFUSALS,
        refuse=refuse_storage)])
    app.router.add_get("/locked", locked)
    app.router.add_get("/unstorable", unstorable)
    app.router.add_get("/broken", broken)
    app.router.add_get("/missing", missing)
    return app


async def test_storage_refusals_and_errors_in_one_middleware(
        aiohttp_client: AiohttpClient) -> None:
    errors: list[str] = []
    client = await aiohttp_client(_app(errors))
    locked = await client.get("/locked")
    assert locked.status == 503 and locked.headers["Retry-After"] == "2"
    assert "storage unavailable" in (await locked.json())["error"]
    unstorable = await client.get("/unstorable")
    assert unstorable.status == 400 and "Retry-After" not in unstorable.headers
    assert errors == []  # a refusal is not an error
    broken = await client.get("/broken")
    assert broken.status == 500 and await broken.json() == {"error": "internal error"}
    assert errors == ["/broken"]
    assert (await client.get("/missing")).status == 404
