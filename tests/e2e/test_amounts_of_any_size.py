"""Issue 14: an order of any size goes through exactly, on SQLite and on PostgreSQL.

A 10 ETH order (10^19 wei: beyond 64 bits) and a ₹50 crore order (5 × 10^10 paise: beyond
the 32 bits the ledger once had) are placed through the simulator, paid through the sandbox
PSP's signed callback, and read back from the merchant API and the ledger, digit for digit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config.clock import Clock
from config.settings import Settings
from storage.amounts import minor
from tests.conftest import AiohttpClient, Shopper
from tests.e2e.conftest import ADMIN, SANDBOX_AUTH, outbox, payment_reply, start_live, token_of
from webhooks import keys as k


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """These tests play the merchant on the simulator, which needs HAAT_SIMULATOR_OWNER."""
    return settings.with_(simulator_owner=True)

OWNER = "+919811111177"
ETH_SHOP = """\
name: Ether Art
phone: "+919800000077"
currency: ETH
assets: {ETH: {exponent: 18}}
timezone: Asia/Kolkata
languages: [en]
hours: {daily: "00:00-23:59"}
owners: ["+919811111177"]
payments:
  methods: [payment_link]
  provider: sandbox
"""
INR_SHOP = """\
name: Sona Bullion
phone: "+919800000078"
currency: INR
timezone: Asia/Kolkata
languages: [en]
hours: {daily: "00:00-23:59"}
owners: ["+919811111177"]
payments:
  methods: [upi_link]
  provider: sandbox
  upi: {vpa: sona@okaxis, payee_name: Sona Bullion}
"""
CATALOG = """\
categories:
  - {id: art, name: Art}
products:
  - {sku: PIECE, category: art, name: Masterpiece, price: "%s"}
"""


def _shop(tmp_path: Path, shop_yaml: str, price: str) -> Path:
    folder = tmp_path / "bigshop"
    folder.mkdir()
    (folder / "shop.yaml").write_text(shop_yaml, encoding="utf-8")
    (folder / "catalog.yaml").write_text(CATALOG % price, encoding="utf-8")
    return folder


async def _buy(shopper: Shopper) -> list[dict[str, Any]]:
    await shopper.send("1 masterpiece")
    replies = await shopper.send("checkout")
    payloads = [b["payload"] for r in replies for b in r.get("buttons", [])]
    assert "confirm" in payloads, replies  # no delivery: straight to the summary
    return await shopper.send(button="confirm")


@pytest.mark.parametrize(("shop_yaml", "price", "total", "shown", "code", "places"), [
    (ETH_SHOP, "10", 10**19, "ETH 10.000000000000000000", "ETH", 18),
    (INR_SHOP, "500000000.00", 50_000_000_000, "₹500,000,000.00", "INR", 2),
], ids=["10-ETH", "50-crore-INR"])
async def test_a_huge_order_is_placed_paid_and_booked_exactly(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock, tmp_path: Path,
        database_url: str, shop_yaml: str, price: str, total: int, shown: str, code: str,
        places: int) -> None:
    live = await start_live(aiohttp_client, settings.with_(
        shop_dir=_shop(tmp_path, shop_yaml, price), database_url=database_url), clock)
    shopper = Shopper(live, "+919000000177")
    replies = await _buy(shopper)
    text = "\n".join(r.get("text", "") for r in replies)
    assert "ORD-1001" in text and shown in text, text
    token = token_of(payment_reply(replies)["link"])
    page = await live.get(f"/pay/{token}")
    assert page.status == 200 and shown in await page.text()

    paid = await live.post(f"/pay/{token}/sandbox", json={"outcome": "success"},
                           headers=SANDBOX_AUTH)
    assert paid.status == 200, await paid.text()
    receipts = [m["text"] for m in await outbox(live, shopper.phone)]
    assert any(shown in t for t in receipts), receipts

    # the merchant API: exact JSON integers by default, decimal strings on request
    (order,) = (await (await live.get("/api/orders", headers=ADMIN)).json())["orders"]
    assert order["status"] == "paid" and order["total_minor"] == total
    # what people read: the asset's symbol and its decimals, never the internal ETH/18
    assert (order["currency"], order["exponent"]) == (code, places)
    assert order["total"] == shown.rsplit(" ", maxsplit=1)[-1].lstrip("₹").replace(",", "")
    state = await (await live.get(f"/pay/{token}/status")).json()
    assert (state["currency"], state["exponent"]) == (code, places)
    merchant = Shopper(live, OWNER)
    for command in ("orders", "order ORD-1001"):
        text = await merchant.text_of(command)
        assert shown in text and "/18" not in text, text
    assert order["lines"][0]["unit_price_minor"] == total
    (payment,) = order["payments"]
    assert payment["amount_minor"] == payment["captured_minor"] == total
    as_text = (await (await live.get("/api/orders?amounts=string", headers=ADMIN)).json())
    assert as_text["orders"][0]["total_minor"] == str(total)
    assert as_text["orders"][0]["payments"][0]["captured_minor"] == str(total)

    # the books: every posting is the exact amount, and they balance to zero
    db = live.app[k.DB]
    amounts = [minor(a) for (a,) in await db.fetchall("SELECT amount_minor FROM ledger_entries")]
    assert amounts and {abs(a) for a in amounts} == {total} and sum(amounts) == 0
    (currency, balance), = await db.fetchall(
        "SELECT currency, SUM(amount_minor) FROM ledger_entries GROUP BY currency")
    assert minor(balance) == 0 and currency == live.app[k.SHOPS].runtimes["bigshop"].shop.currency
    assert await live.app[k.PAYMENTS].ledger_balanced()
    receivable = await live.app[k.PAYMENTS].repo.account_balance("bigshop",
                                                                 "customer_receivable")
    assert receivable == {currency: 0}


async def test_sqlite_keeps_order_and_exact_sums_beyond_64_bits(database_url: str) -> None:
    """Straight through the storage engine: wide amounts sort, compare and sum exactly."""
    from storage.database import WriteSet, open_database

    db = open_database(database_url)
    await db.start()
    try:
        values = [10**30, -(10**30), 2**63, 2**63 - 1, -(2**63), -(2**63) - 1, 0, 7, -7,
                  10**19, 9 * 10**29]
        writes = WriteSet()
        for n, value in enumerate(values):
            writes.add("INSERT INTO ledger_entries (shop_id, ref, account, amount_minor, "
                       "currency, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                       ("s", f"r{n}", "a", value, "ETH/18", n))
        await db.write(writes)
        rows = await db.fetchall("SELECT amount_minor FROM ledger_entries ORDER BY created_at")
        assert [minor(v) for (v,) in rows] == values  # every digit back
        (total,) = await db.fetchone("SELECT SUM(amount_minor) FROM ledger_entries") or (None,)
        assert minor(total) == sum(values)
        # amounts that are never negative (every column but the ledger's signed one) sort
        # exactly; config/amounts.py says why a wide *negative* one cannot, on SQLite
        refs = [f"r{n}" for n, v in enumerate(values) if v >= 0]
        positive = await db.fetchall(
            "SELECT amount_minor FROM ledger_entries WHERE ref IN (" +
            ", ".join("?" for _ in refs) + ") ORDER BY amount_minor", refs)
        assert [minor(v) for (v,) in positive] == sorted(v for v in values if v >= 0)
        big = await db.fetchall("SELECT ref FROM ledger_entries WHERE amount_minor > ? "
                                "ORDER BY amount_minor DESC", (2**63,))
        assert [r for (r,) in big] == ["r0", "r10", "r9"]
        (only,) = await db.fetchone("SELECT SUM(amount_minor) FROM ledger_entries "
                                    "WHERE ref = ?", ("r0",)) or (None,)
        assert minor(only) == 10**30
    finally:
        await db.close()
