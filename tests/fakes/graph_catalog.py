"""A loopback Graph API with a Meta catalog: ``POST /{catalog_id}/items_batch`` and
``GET /{catalog_id}/check_batch_request_status``, on top of the ``/messages`` fake.

It enforces the documented contract (Meta's items_batch and check_batch_request_status
references): a Bearer token (190), a known catalog (100), ``item_type`` PRODUCT_ITEM,
``requests`` a list of at most 5,000 ``{method, data}`` records with method CREATE, UPDATE
or DELETE and ``data.id`` (100 for the whole call otherwise). Item-level faults are Meta's
too: reported by the status endpoint in ``errors`` / ``ids_of_invalid_requests`` and not
applied (a CREATE missing a required field, a price not "<amount> <ISO code>", an
availability Meta does not know, a non-http(s) link, a CREATE of an existing id, an UPDATE
or DELETE of a missing one without upsert). A batch is ``in_progress`` for
``polls_before_done`` checks, then ``finished``.

Its ``/messages`` also refuses what needs commerce set-up, as Meta does: an
``order_details`` card while ``payments_ready`` is False (134011), product messages that
name a catalog this fake does not hold or a retailer id not in it (131009), and an
``address_message`` while ``address_ready`` is False (131009).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi, Recorded, _graph_error

CREATE_REQUIRED = ("id", "title", "description", "availability", "condition", "price",
                   "link", "image_link")
AVAILABILITY = ("in stock", "out of stock", "preorder", "available for order",
                "discontinued")
PRICE_RE = re.compile(r"^\d+(\.\d+)? [A-Z]{3}$")
MAX_REQUESTS = 5000


class FakeGraphCatalog(FakeGraphApi):
    def __init__(self, catalog_id: str = "354160437058781",
                 access_token: str = ACCESS_TOKEN) -> None:
        super().__init__(access_token)
        self.catalogs: dict[str, dict[str, dict[str, Any]]] = {catalog_id: {}}
        self.batches: dict[str, dict[str, Any]] = {}
        self.batch_calls: list[dict[str, Any]] = []
        self.status_checks = 0
        self.polls_before_done = 1
        self.payments_ready = True
        self.address_ready = True
        self.refused: list[dict[str, Any]] = []  # /messages bodies refused for set-up
        self._handles = itertools.count(1)

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_post("/{catalog_id}/items_batch", self._items_batch)
        app.router.add_post("/{version}/{catalog_id}/items_batch", self._items_batch)
        app.router.add_get("/{catalog_id}/check_batch_request_status", self._status)
        app.router.add_get("/{version}/{catalog_id}/check_batch_request_status", self._status)
        return app

    # ---- catalog ----------------------------------------------------------------------
    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.access_token}"

    async def _items_batch(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if not self._authorised(request):
            return _graph_error(401, 190, "Invalid OAuth access token.")
        failure = await self._scripted(request)
        if failure is not None:
            return _graph_error(failure.status, failure.code or 1, failure.message)
        catalog_id = request.match_info["catalog_id"]
        if catalog_id not in self.catalogs:
            return _graph_error(400, 100, f"Unsupported post request. Object with ID "
                                          f"'{catalog_id}' does not exist")
        try:
            body = await request.json()
        except ValueError:
            return _graph_error(400, 100, "Invalid parameter")
        self.batch_calls.append(body)
        if body.get("item_type") != "PRODUCT_ITEM":
            return _graph_error(400, 100, "Param item_type must be one of {PRODUCT_ITEM, ...}")
        requests = body.get("requests")
        if isinstance(requests, str):  # a form post sends it JSON-encoded
            requests = json.loads(requests)
        if not isinstance(requests, list) or not requests or len(requests) > MAX_REQUESTS:
            return _graph_error(400, 100, "Param requests must be an array of 1 to 5000 "
                                          "records")
        for record in requests:
            if (not isinstance(record, dict)
                    or record.get("method") not in ("CREATE", "UPDATE", "DELETE")
                    or not isinstance(record.get("data"), dict)
                    or not isinstance(record["data"].get("id"), str)):
                return _graph_error(400, 100, "Each request needs method "
                                              "(CREATE, UPDATE, DELETE) and data.id")
        handle = f"AcFakeHandle{next(self._handles):04d}"
        self.batches[handle] = {"catalog_id": catalog_id, "requests": requests,
                                "upsert": body.get("allow_upsert", True) is not False,
                                "checks": 0, "result": None}
        self.received.append(Recorded(request.path, dict(request.headers), json=body))
        return web.json_response({"handles": [handle], "validation_status": []})

    def _apply(self, batch: dict[str, Any]) -> dict[str, Any]:
        items = self.catalogs[batch["catalog_id"]]
        errors: list[dict[str, Any]] = []
        for line, record in enumerate(batch["requests"]):
            method, data = record["method"], record["data"]
            rid = data["id"]
            problem = None
            if method == "CREATE":
                missing = [k for k in CREATE_REQUIRED if not data.get(k)]
                if rid in items:
                    problem = f"An item with id {rid} already exists"
                elif missing:
                    problem = f"Missing required field(s): {', '.join(missing)}"
            elif rid not in items and (method == "DELETE" or not batch["upsert"]):
                problem = f"Item {rid} does not exist in the catalog"
            if problem is None and method != "DELETE":
                problem = self._field_problem(data)
            if problem is not None:
                errors.append({"line": line, "id": rid, "message": problem})
            elif method == "DELETE":
                del items[rid]
            else:
                items[rid] = {**items.get(rid, {}), **data}
        return {"status": "finished", "errors_total_count": len(errors), "errors": errors,
                "warnings": [], "warnings_total_count": 0,
                "ids_of_invalid_requests": [e["id"] for e in errors]}

    @staticmethod
    def _field_problem(data: dict[str, Any]) -> str | None:
        if "price" in data and not PRICE_RE.match(str(data["price"])):
            return f"Invalid price {data['price']!r}: use '<amount> <ISO 4217 code>'"
        if "availability" in data and data["availability"] not in AVAILABILITY:
            return f"Invalid availability {data['availability']!r}"
        for key in ("link", "image_link"):
            if key in data and not str(data[key]).startswith(("https://", "http://")):
                return f"Invalid {key}: must be an http(s) URL"
        if len(str(data.get("title", ""))) > 200:
            return "title is longer than 200 characters"
        return None

    async def _status(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _graph_error(401, 190, "Invalid OAuth access token.")
        self.status_checks += 1
        batch = self.batches.get(request.query.get("handle", ""))
        if batch is None or batch["catalog_id"] != request.match_info["catalog_id"]:
            return _graph_error(400, 100, "Invalid handle")
        batch["checks"] += 1
        if batch["checks"] <= self.polls_before_done:
            return web.json_response({"data": [{"handle": request.query["handle"],
                                                "status": "in_progress"}]})
        if batch["result"] is None:
            batch["result"] = self._apply(batch)
        return web.json_response({"data": [{"handle": request.query["handle"],
                                            **batch["result"]}]})

    # ---- messages that need commerce set-up ---------------------------------------------
    def _setup_refusal(self, payload: dict[str, Any]) -> web.Response | None:
        interactive = payload.get("interactive")
        if payload.get("type") != "interactive" or not isinstance(interactive, dict):
            return None
        kind = interactive.get("type")
        action = interactive.get("action") or {}
        if kind == "order_details" and not self.payments_ready:
            return _graph_error(400, 134011, "WhatsApp Payments terms of service have not "
                                             "been accepted")
        if kind == "address_message" and not self.address_ready:
            return _graph_error(400, 131009, "Parameter value is not valid: address "
                                             "messages are not available for this number")
        if kind in ("product", "product_list"):
            items = self.catalogs.get(str(action.get("catalog_id")))
            wanted = [action.get("product_retailer_id")] if kind == "product" else [
                p.get("product_retailer_id") for s in action.get("sections", ())
                for p in s.get("product_items", ())]
            if items is None or any(w not in items for w in wanted):
                return _graph_error(400, 131009, "Parameter value is not valid: product "
                                                 "not found in catalog")
        return None

    async def _messages(self, request: web.Request) -> web.Response:
        if self._authorised(request):
            try:
                payload = await request.json()
            except ValueError:
                payload = None
            if isinstance(payload, dict) and (refusal := self._setup_refusal(payload)):
                self.attempts += 1
                self.refused.append(payload)
                return refusal
        return await super()._messages(request)


@asynccontextmanager
async def run_fake_graph_catalog(catalog_id: str = "354160437058781",
                                 ) -> AsyncIterator[FakeGraphCatalog]:
    fake = FakeGraphCatalog(catalog_id)
    async with fake.running():
        yield fake
