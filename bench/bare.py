"""The ceiling: a bare aiohttp server that reads each body and answers 200, nothing else.

Same interpreter, same aiohttp, same requests as haat, so haat's throughput divided by this
one's is the cost of everything haat does. Run: ``python -m bench.bare --port P``.
"""

from __future__ import annotations

import argparse
import gc

from aiohttp import web


async def handle(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(text="")


async def ready(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    app.router.add_get("/readyz", ready)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    gc.collect()
    gc.freeze()  # as haat does after start-up, so the comparison is fair
    web.run_app(make_app(), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
