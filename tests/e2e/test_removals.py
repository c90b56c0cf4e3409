"""Taking things out of the cart by text, through the simulator (issue #13: a removal must
never add).

"cancel 2 samosa" was read as an order for two more. A removal word in the clause of an item
(bot/nlu/entities.py ``_removal_clauses``) makes it a removal whatever the intent engine
says; in "2 chai, remove the samosa" only the samosa goes and the chai is added.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import Shopper


async def _cart(client: TestClient[Any, Any], phone: str) -> dict[str, int]:
    from webhooks.keys import ENGINE, SHOPS

    runtime = next(iter(client.app[SHOPS].runtimes.values()))
    found = await client.app[ENGINE].store.find(runtime.shop.id, phone.lstrip("+"))
    return next((dict(c.cart) for c in found if c.key.channel == "simulator"), {})


@pytest.mark.parametrize(("k", "text", "left"), [
    (0, "cancel 2 samosa", 3),
    (1, "remove samosa", 0),
    (2, "samosa hatao", 0),
    (3, "২টা সিঙ্গারা বাদ দিন", 3),
    (4, "সিঙাড়া সরান", 0),
    (5, "احذف ٢ سمبوسة", 3),
    (6, "أزل السمبوسة", 0),
    (7, "समोसा हटा दो", 0),
    (8, "take out 1 samosa", 4),
    (9, "singara bad din", 0),
])
async def test_a_removal_takes_out_and_never_adds(client: TestClient[Any, Any], k: int,
                                                  text: str, left: int) -> None:
    phone = f"+91900000077{k}"
    shopper = Shopper(client, phone)
    await shopper.send("5 samosa")
    assert await _cart(client, phone) == {"SAMOSA": 5}
    await shopper.send(text)
    assert (await _cart(client, phone)).get("SAMOSA", 0) == left, text


@pytest.mark.parametrize("text", ["cancel 2 samosa", "২টা সিঙ্গারা বাদ দিন", "احذف سمبوسة"])
async def test_a_removal_from_an_empty_cart_adds_nothing(client: TestClient[Any, Any],
                                                         text: str) -> None:
    phone = "+919000000790"
    replies = await Shopper(client, phone).send(text)
    assert await _cart(client, phone) == {}
    assert replies  # an answer ("not in your cart"), not silence


async def test_an_order_and_a_removal_in_one_message(client: TestClient[Any, Any]) -> None:
    phone = "+919000000791"
    shopper = Shopper(client, phone)
    await shopper.send("3 samosa")
    text = await shopper.text_of("2 kachori, remove the samosa")
    assert await _cart(client, phone) == {"KACHORI": 2}
    assert "Samosa" in text and "Kachori" in text
