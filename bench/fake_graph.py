"""A lean loopback Graph API for the benchmark: answers ``POST /{id}/messages`` with a wamid.

tests/fakes/graph_api.py records every body (memory grows over a long run); this one only
checks the token and counts, so the outbox's Cloud API sends cost the server what they
would in production. Run: ``python -m bench.fake_graph --port P --token T``.
"""

from __future__ import annotations

import argparse
import itertools

from aiohttp import web


def make_app(token: str) -> web.Application:
    ids = itertools.count(1)
    counts = {"ok": 0, "rejected": 0}

    async def messages(request: web.Request) -> web.Response:
        await request.read()
        if request.headers.get("Authorization") != f"Bearer {token}":
            counts["rejected"] += 1
            return web.json_response({"error": {"code": 190, "message": "bad token"}},
                                     status=401)
        counts["ok"] += 1
        return web.json_response({"messaging_product": "whatsapp",
                                  "messages": [{"id": f"wamid.BENCHOUT{next(ids)}"}]})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(counts)

    app = web.Application()
    app.router.add_post("/{number_id}/messages", messages)
    app.router.add_post("/{version}/{number_id}/messages", messages)
    app.router.add_get("/stats", stats)
    app.router.add_get("/readyz", stats)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    web.run_app(make_app(args.token), host="127.0.0.1", port=args.port, access_log=None,
                print=None)


if __name__ == "__main__":
    main()
