"""Lean loopback stand-ins for the benchmark's outbound APIs.

The Graph API's ``POST /{id}/messages`` answers a wamid (every Cloud API reply goes there);
Twilio's ``POST /2010-04-01/Accounts/{sid}/Messages.json`` answers a MessageSid (owner
alerts for orders placed over Twilio go there: Twilio shoppers' replies travel as TwiML).
tests/fakes/ record every body (memory grows over a long run); these only check the
credentials and count, so the outbox's sends cost the server what they would in
production. Run: ``python -m bench.fake_graph --port P --token T [--twilio SID:TOKEN]``.
"""

from __future__ import annotations

import argparse
import base64
import itertools

from aiohttp import web


def make_app(token: str, twilio: str = "") -> web.Application:
    ids = itertools.count(1)
    counts = {"ok": 0, "rejected": 0, "twilio_ok": 0}
    twilio_sid = twilio.split(":", 1)[0]
    twilio_auth = "Basic " + base64.b64encode(twilio.encode()).decode() if twilio else None

    async def twilio_messages(request: web.Request) -> web.Response:
        await request.read()
        if (twilio_auth is None or request.match_info["sid"] != twilio_sid
                or request.headers.get("Authorization") != twilio_auth):
            counts["rejected"] += 1
            return web.json_response({"code": 20003, "message": "Authenticate",
                                      "status": 401}, status=401)
        counts["twilio_ok"] += 1
        sid = f"SM{next(ids):032x}"
        return web.json_response({"sid": sid, "status": "queued",
                                  "api_version": "2010-04-01"}, status=201)

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
    app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", twilio_messages)
    app.router.add_get("/stats", stats)
    app.router.add_get("/readyz", stats)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--twilio", default="", help="ACCOUNT_SID:AUTH_TOKEN to accept")
    args = parser.parse_args()
    # uvloop, as haat runs: the fake shares the 2 cores with the server under test
    import uvloop

    web.run_app(make_app(args.token, args.twilio), host="127.0.0.1", port=args.port,
                access_log=None, print=None, loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
