"""The merchant JSON API (docs/DESIGN.md §1.3 ``/api/...``): token, listing, status changes,
refunds."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from config.settings import Settings
from tests.conftest import ADMIN_TOKEN, AiohttpClient, Shopper
from tests.e2e.conftest import (
    ADMIN,
    SANDBOX_AUTH,
    account,
    ledger_by_currency,
    outbox,
    payment_reply,
    place_order,
    start_live,
    token_of,
)

A = "+919000000201"
B = "+919000000202"
ORDER_KEYS = {"id", "status", "customer", "total_minor", "currency", "lines", "payments"}


async def _orders(client: TestClient[Any, Any], **params: str) -> list[dict[str, Any]]:
    response = await client.get("/api/orders", params=params, headers=ADMIN)
    assert response.status == 200
    orders: list[dict[str, Any]] = (await response.json())["orders"]
    return orders


async def _two_orders(client: TestClient[Any, Any]) -> tuple[str, str]:
    """A: 2 samosa (ORD-1001, ₹54.00 with delivery); B: 1 samosa (ORD-1002, ₹42.00).
    Returns their payment tokens."""
    first = payment_reply(await place_order(Shopper(client, A), "2 samosa"))
    second = payment_reply(await place_order(Shopper(client, B), "1 samosa"))
    return token_of(first["link"]), token_of(second["link"])


async def _pay(client: TestClient[Any, Any], token: str) -> None:
    response = await client.post(f"/pay/{token}/sandbox", json={"outcome": "success"},
                                 headers=SANDBOX_AUTH)
    assert response.status == 200


async def _set_status(client: TestClient[Any, Any], order: str, body: Any,
                      ) -> tuple[int, Any]:
    response = await client.post(f"/api/orders/{order}/status", json=body, headers=ADMIN)
    text = await response.text()
    return response.status, text


async def test_every_route_needs_the_admin_token(live: TestClient[Any, Any]) -> None:
    await _two_orders(live)
    wrong: list[dict[str, str]] = [
        {}, {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN_TOKEN},
        {"Authorization": f"Basic {ADMIN_TOKEN}"}, {"Authorization": "Bearer "},
    ]
    for headers in wrong:
        assert (await live.get("/api/orders", headers=headers)).status == 403, headers
        response = await live.post("/api/orders/ORD-1001/status", json={"status": "cancelled"},
                                   headers=headers)
        assert response.status == 403
        response = await live.post("/api/orders/ORD-1001/refund", json={}, headers=headers)
        assert response.status == 403
    assert [o["status"] for o in await _orders(live)] == ["pending_payment"] * 2


async def test_no_admin_token_configured_fails_closed(aiohttp_client: AiohttpClient,
                                                      settings: Settings) -> None:
    client = await start_live(aiohttp_client, settings.with_(admin_token=None))
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer None"},
                    ADMIN):
        assert (await client.get("/api/orders", headers=headers)).status == 403


async def test_orders_are_listed_with_lines_and_payments_and_filtered_by_customer(
        live: TestClient[Any, Any]) -> None:
    await _two_orders(live)
    orders = await _orders(live)
    assert [o["id"] for o in orders] == ["ORD-1002", "ORD-1001"]  # newest first
    assert all(set(o) >= ORDER_KEYS for o in orders)
    first = orders[1]
    assert (first["status"], first["customer"], first["total_minor"], first["currency"]) == (
        "pending_payment", A.removeprefix("+"), 5400, "INR")
    assert [(ln["sku"], ln["quantity"], ln["unit_price_minor"]) for ln in first["lines"]] == [
        ("SAMOSA", 2, 1200)]
    (payment,) = first["payments"]
    assert (payment["method"], payment["provider"], payment["status"],
            payment["amount_minor"], payment["captured_minor"]) == (
        "upi_link", "sandbox", "issued", 5400, 0)

    for spelling in (A, A.removeprefix("+"), "+91 90000 00201", "whatsapp:+919000000201"):
        found = await _orders(live, customer=spelling)
        assert [o["id"] for o in found] == ["ORD-1001"], spelling
    assert [o["id"] for o in await _orders(live, customer=B)] == ["ORD-1002"]
    assert await _orders(live, customer="+919999999999") == []


async def test_status_changes_follow_the_order_lifecycle(live: TestClient[Any, Any]) -> None:
    paid_token, _ = await _two_orders(live)
    await _pay(live, paid_token)
    await outbox(live, A)

    status, text = await _set_status(live, "ORD-1001", {"status": "shipped"})
    assert status == 200, text
    assert (await _orders(live, customer=A))[0]["status"] == "shipped"
    assert any("ORD-1001" in str(m.get("text")) for m in await outbox(live, A))
    status, text = await _set_status(live, "ORD-1001", {"status": "delivered"})
    assert status == 200, text
    assert (await _orders(live, customer=A))[0]["status"] == "delivered"
    status, text = await _set_status(live, "ORD-1001", {"status": "shipped"})
    assert status == 409 and "delivered" in text  # never backwards

    # an unpaid order cannot ship, but can be cancelled; the shopper is told
    status, text = await _set_status(live, "ORD-1002", {"status": "shipped"})
    assert status == 409, text
    status, text = await _set_status(live, "ORD-1002", {"status": "cancelled"})
    assert status == 200, text
    assert (await _orders(live, customer=B))[0]["status"] == "cancelled"
    assert any("ORD-1002" in str(m.get("text")) for m in await outbox(live, B))
    assert all(total == 0 for total in (await ledger_by_currency(live)).values())


async def test_an_order_with_money_in_it_cannot_be_cancelled(
        live: TestClient[Any, Any]) -> None:
    paid_token, _ = await _two_orders(live)
    await _pay(live, paid_token)
    status, text = await _set_status(live, "ORD-1001", {"status": "cancelled"})
    assert status == 409, (status, text)  # refund first
    assert (await _orders(live, customer=A))[0]["status"] == "paid"


async def test_bad_status_requests_get_a_clear_4xx(live: TestClient[Any, Any]) -> None:
    await _two_orders(live)
    for body in ({"status": "teleported"}, {}, {"status": None}, {"status": 3}):
        status, text = await _set_status(live, "ORD-1001", body)
        assert status == 400 and "shipped, delivered, cancelled or returned" in text, body
    for raw in (b"{not json", b"[1, 2]", b'"shipped"'):
        response = await live.post("/api/orders/ORD-1001/status", data=raw,
                                   headers=ADMIN | {"Content-Type": "application/json"})
        assert response.status == 400, raw
    for missing in ("ORD-9999", "ORD-abc", "nothing"):
        status, _ = await _set_status(live, missing, {"status": "shipped"})
        assert status == 404, missing
    assert [o["status"] for o in await _orders(live)] == ["pending_payment"] * 2


async def test_refunds_through_the_api_are_validated_and_capped(
        live: TestClient[Any, Any]) -> None:
    paid_token, _ = await _two_orders(live)

    async def refund(order: str, body: Any) -> tuple[int, dict[str, Any]]:
        response = await live.post(f"/api/orders/{order}/refund", json=body, headers=ADMIN)
        data = await response.json() if response.content_type == "application/json" else {}
        return response.status, data

    status, data = await refund("ORD-1001", {})
    assert (status, data.get("error")) == (409, "nothing_to_refund")  # not paid yet
    await _pay(live, paid_token)
    for bad in ("10", 10.5, True, None, [1000]):
        status, data = await refund("ORD-1001", {"amount_minor": bad})
        assert status == 400 and "integer" in data["error"], bad
    for hopeless in (0, -100):
        status, data = await refund("ORD-1001", {"amount_minor": hopeless})
        assert 400 <= status < 500 and data.get("error"), hopeless
    status, _ = await refund("ORD-9999", {"amount_minor": 100})
    assert status == 404

    status, data = await refund("ORD-1001", {"amount_minor": 1000})
    assert status == 200 and data["refunded_minor"] == 1000
    assert data["order"]["payments"][0]["refunded_minor"] == 1000
    status, data = await refund("ORD-1001", {"amount_minor": 4401})
    assert (status, data.get("error")) == (409, "refund_too_large")
    status, data = await refund("ORD-1001", {})  # the rest
    assert status == 200 and data["refunded_minor"] == 4400
    assert data["order"]["status"] == "refunded"
    assert [(p["captured_minor"], p["refunded_minor"]) for p in data["order"]["payments"]] == [
        (5400, 5400)]
    status, data = await refund("ORD-1001", {"amount_minor": 100})
    assert status == 409
    assert await account(live, "psp_clearing:sandbox") == 0
    assert all(total == 0 for total in (await ledger_by_currency(live)).values())


async def test_an_amount_written_as_thousands_of_digits_is_a_clear_400(
        live: TestClient[Any, Any]) -> None:
    """``?amounts=string`` takes digit strings; one past what a money column holds (or past
    Python's int() limit of 4,300 digits) is refused, never a 500."""
    paid_token, _ = await _two_orders(live)
    await _pay(live, paid_token)
    for digits in ("9" * 5000, "1" + "0" * 31):
        response = await live.post("/api/orders/ORD-1001/refund", params={"amounts": "string"},
                                   json={"amount_minor": digits}, headers=ADMIN)
        assert response.status == 400, (len(digits), response.status)
