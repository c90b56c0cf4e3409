"""The cart: immutable changes, limits, storage and pricing against the demo catalog."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.cart import (
    MAX_QUANTITY,
    OVER_STOCK,
    SOLD_OUT,
    UNKNOWN,
    Cart,
    CartError,
    CartLine,
    PricedCart,
    delivery_fee,
    price_cart,
)
from catalog.models import Catalog, Category, Delivery, Option, Product, Shop, Text
from catalog.money import Money
from config.settings import DEFAULT_SHOP_DIR
from webhooks.plugins import load_shop

DEMO: Shop = load_shop(DEFAULT_SHOP_DIR)
CATALOG: Catalog = DEMO.catalog


def inr(rupees: int) -> Money:
    return Money(rupees * 100, "INR")


# --------------------------------------------------------------------------------------
# changes


def test_add_appends_and_increments_in_order() -> None:
    cart = Cart().add("SAMOSA", 2).add("MASALA-CHAI").add("SAMOSA", 3)
    assert cart.lines == (CartLine("SAMOSA", 5), CartLine("MASALA-CHAI", 1))
    assert cart.item_count == 6
    assert len(cart) == 2
    assert "SAMOSA" in cart and "JALEBI" not in cart
    assert cart.quantity_of("SAMOSA") == 5 and cart.quantity_of("JALEBI") == 0


def test_changes_return_new_carts() -> None:
    empty = Cart()
    one = empty.add("SAMOSA")
    assert empty.is_empty and not one.is_empty
    two = one.set_quantity("SAMOSA", 4)
    assert one.quantity_of("SAMOSA") == 1 and two.quantity_of("SAMOSA") == 4
    with pytest.raises(AttributeError):
        one.lines = ()  # type: ignore[misc]


def test_set_quantity() -> None:
    cart = Cart().add("SAMOSA").add("ROSOGOLLA", 2)
    assert cart.set_quantity("ROSOGOLLA", 7).to_dict() == {"SAMOSA": 1, "ROSOGOLLA": 7}
    assert cart.set_quantity("SAMOSA", 0).to_dict() == {"ROSOGOLLA": 2}
    assert cart.set_quantity("JALEBI", 2).to_dict() == {"SAMOSA": 1, "ROSOGOLLA": 2, "JALEBI": 2}


def test_remove_whole_or_part() -> None:
    cart = Cart().add("SAMOSA", 3).add("ROSOGOLLA")
    assert cart.remove("SAMOSA").to_dict() == {"ROSOGOLLA": 1}
    assert cart.remove("SAMOSA", 1).to_dict() == {"SAMOSA": 2, "ROSOGOLLA": 1}
    assert cart.remove("SAMOSA", 5).to_dict() == {"ROSOGOLLA": 1}
    with pytest.raises(CartError) as info:
        cart.remove("JALEBI")
    assert info.value.code == "not_in_cart"
    with pytest.raises(CartError):
        cart.remove("SAMOSA", 0)
    assert cart.clear().is_empty


@pytest.mark.parametrize("bad", [0, -1])
def test_bad_quantities(bad: int) -> None:
    with pytest.raises(CartError) as info:
        Cart().add("SAMOSA", bad)
    assert info.value.code == "bad_quantity"


def test_non_int_quantity_rejected() -> None:
    with pytest.raises(CartError):
        Cart().add("SAMOSA", 1.5)  # type: ignore[arg-type]
    with pytest.raises(CartError):
        Cart().add("SAMOSA", True)


def test_max_quantity_per_line() -> None:
    cart = Cart().add("SAMOSA", MAX_QUANTITY)
    assert cart.quantity_of("SAMOSA") == MAX_QUANTITY
    with pytest.raises(CartError) as info:
        cart.add("SAMOSA")
    assert info.value.code == "max_quantity" and info.value.limit == 0
    with pytest.raises(CartError) as info:
        Cart().add("SAMOSA", 90).add("SAMOSA", 10)
    assert info.value.limit == MAX_QUANTITY - 90
    with pytest.raises(CartError):
        Cart().set_quantity("SAMOSA", MAX_QUANTITY + 1)


# --------------------------------------------------------------------------------------
# storage


def test_dict_round_trip() -> None:
    cart = Cart().add("MASALA-CHAI-L", 2).add("SAMOSA", 4)
    data = cart.to_dict()
    assert data == {"MASALA-CHAI-L": 2, "SAMOSA": 4}
    assert list(data) == ["MASALA-CHAI-L", "SAMOSA"]
    assert Cart.from_dict(data) == cart


def test_from_dict_is_lenient_with_stored_junk() -> None:
    stored: dict[str, object] = {"SAMOSA": 2, "BAD": "x", "": 3, "ZERO": 0, "HUGE": 1000}
    assert Cart.from_dict(stored).to_dict() == {"SAMOSA": 2, "HUGE": MAX_QUANTITY}
    assert Cart.from_dict(None) == Cart() == Cart.from_dict({})


@given(st.dictionaries(st.text(min_size=1, max_size=10), st.integers(1, MAX_QUANTITY)))
def test_round_trip_property(data: dict[str, int]) -> None:
    assert Cart.from_dict(data).to_dict() == data


# --------------------------------------------------------------------------------------
# pricing


def test_price_lines_and_totals_with_delivery_fee() -> None:
    cart = Cart().add("MASALA-CHAI-L", 2).add("SAMOSA", 3)
    priced = price_cart(cart, CATALOG, DEMO.delivery, "INR")
    assert [(p.sku, p.unit_price, p.quantity, p.line_total) for p in priced.lines] == [
        ("MASALA-CHAI-L", inr(30), 2, inr(60)),
        ("SAMOSA", inr(12), 3, inr(36)),
    ]
    assert priced.lines[0].name.get("en") == "Masala Chai (Large)"
    assert priced.lines[0].name.get("bn") == "মশলা চা (বড়)"
    assert priced.subtotal == inr(96)
    assert priced.delivery_fee == inr(30)
    assert priced.total == inr(126)
    assert priced.problems == () and priced.ok
    assert priced.item_count == 5


def test_free_delivery_at_threshold() -> None:
    # exactly ₹500: 20 kulhad chai at ₹25
    priced = price_cart(Cart().add("KULHAD-CHAI", 20), CATALOG, DEMO.delivery, "INR")
    assert priced.subtotal == inr(500)
    assert priced.delivery_fee == Money.zero("INR")
    assert priced.total == inr(500)
    below = price_cart(Cart().add("KULHAD-CHAI", 19), CATALOG, DEMO.delivery, "INR")
    assert below.delivery_fee == inr(30)


def test_no_delivery_config_means_no_fee() -> None:
    priced = price_cart(Cart().add("SAMOSA"), CATALOG, None, "INR")
    assert priced.delivery_fee == Money.zero("INR") and priced.total == inr(12)


def test_empty_cart_costs_nothing() -> None:
    priced = price_cart(Cart(), CATALOG, DEMO.delivery, "INR")
    assert priced.is_empty and not priced.ok
    assert priced.total == Money.zero("INR")


def test_unknown_sku_is_a_problem_not_a_crash() -> None:
    priced = price_cart(Cart().add("GONE").add("SAMOSA"), CATALOG, None, "INR")
    assert [p.sku for p in priced.lines] == ["SAMOSA"]
    assert [(p.sku, p.kind, p.wanted) for p in priced.problems] == [("GONE", UNKNOWN, 1)]
    assert not priced.ok


def test_sold_out_is_left_out_of_totals() -> None:
    priced = price_cart(Cart().add("JALEBI", 2).add("SAMOSA"), CATALOG, None, "INR")
    assert priced.subtotal == inr(12)
    assert [(p.sku, p.kind, p.available) for p in priced.problems] == [("JALEBI", SOLD_OUT, 0)]
    assert priced.problems[0].name is not None
    assert priced.problems[0].name.get("en") == "Jalebi"


def test_over_stock_is_flagged_with_what_is_left() -> None:
    priced = price_cart(Cart().add("NOLEN-GUR", 5), CATALOG, None, "INR")  # stock 3
    assert priced.lines[0].quantity == 5
    assert [(p.kind, p.wanted, p.available) for p in priced.problems] == [(OVER_STOCK, 5, 3)]


def test_option_stock_and_shared_product_stock() -> None:
    # ILISH-500G has its own stock of 6
    assert price_cart(Cart().add("ILISH-500G", 6), CATALOG, None, "INR").ok
    assert not price_cart(Cart().add("ILISH-500G", 7), CATALOG, None, "INR").ok
    # options without their own stock share the product's: two lines drawing on one pool
    shop_catalog = Catalog(
        categories=CATALOG.categories,
        products=tuple(
            p if p.sku != "MASALA-CHAI" else replace(p, stock=5)
            for p in CATALOG.products
        ),
    )
    cart = Cart().add("MASALA-CHAI-R", 3).add("MASALA-CHAI-L", 3)
    problems = price_cart(cart, shop_catalog, None, "INR").problems
    assert [(p.sku, p.kind, p.available) for p in problems] == [("MASALA-CHAI-L", OVER_STOCK, 2)]


def _stocked(stock: int | None, *options: tuple[str, int | None]) -> Catalog:
    """One product ``BARFI`` (₹20) with its ``stock``, and options (₹30) with their own."""
    return Catalog((Category("sweets", Text.of("Sweets")),), (Product(
        sku="BARFI", category="sweets", name=Text.of("Barfi"), price=inr(20), stock=stock,
        options=tuple(Option(sku, Text.of(sku), inr(30), own) for sku, own in options)),))


Answer = tuple[list[tuple[str, int]], list[tuple[str, str, int, int | None]], Money]


def _answer(priced: PricedCart) -> Answer:
    """What price_cart answers: lines priced (sku, qty), problems (sku, kind, wanted,
    available), subtotal."""
    return ([(ln.sku, ln.quantity) for ln in priced.lines],
            [(p.sku, p.kind, p.wanted, p.available) for p in priced.problems], priced.subtotal)


def test_catalog_stock_without_live_counts_sold_out_and_the_last_one() -> None:
    """Found by `make mutants`: the YAML ``stock`` path (no live counts)."""
    def price(catalog: Catalog, sku: str, quantity: int) -> PricedCart:
        return price_cart(Cart().add(sku, quantity), catalog, None, "INR")

    # the last one in stock is for sale, not sold out
    assert _answer(price(_stocked(1), "BARFI", 1)) == ([("BARFI", 1)], [], inr(20))
    # an option whose own stock is 0 is sold out, though its product is not
    sold_out_option = _stocked(None, ("BARFI-1KG", 0), ("BARFI-500G", 4))
    assert _answer(price(sold_out_option, "BARFI-1KG", 2)) == (
        [], [("BARFI-1KG", SOLD_OUT, 2, 0)], inr(0))
    assert _answer(price(sold_out_option, "BARFI-500G", 2)) == (
        [("BARFI-500G", 2)], [], inr(60))
    # a product at stock 0 is sold out in every option, even one still counting its own
    sold_out_product = _stocked(0, ("BARFI-1KG", 5))
    assert _answer(price(sold_out_product, "BARFI-1KG", 1)) == (
        [], [("BARFI-1KG", SOLD_OUT, 1, 0)], inr(0))
    assert _answer(price(sold_out_product, "BARFI", 1)) == (
        [], [("BARFI", SOLD_OUT, 1, 0)], inr(0))


def test_three_lines_on_one_shared_stock_pool() -> None:
    """Found by `make mutants`: every line on a pool takes from what the earlier ones left,
    and a line with nothing left says 0 available."""
    shared = _stocked(5, ("BARFI-S", None), ("BARFI-M", None), ("BARFI-L", None))

    def price(*lines: tuple[str, int]) -> PricedCart:
        cart = Cart()
        for sku, quantity in lines:
            cart = cart.add(sku, quantity)
        return price_cart(cart, shared, None, "INR")

    # 2 + 2 leave 1 for the third line's 2
    assert _answer(price(("BARFI-S", 2), ("BARFI-M", 2), ("BARFI-L", 2))) == (
        [("BARFI-S", 2), ("BARFI-M", 2), ("BARFI-L", 2)],
        [("BARFI-L", OVER_STOCK, 2, 1)], inr(180))
    # the product's own sku draws on the same pool as its options
    assert _answer(price(("BARFI", 1), ("BARFI-S", 2), ("BARFI-M", 2))) == (
        [("BARFI", 1), ("BARFI-S", 2), ("BARFI-M", 2)], [], inr(140))
    # the first line takes all 5: the next has 0 left, and one after an over-stock too
    assert _answer(price(("BARFI-S", 5), ("BARFI-M", 1))) == (
        [("BARFI-S", 5), ("BARFI-M", 1)], [("BARFI-M", OVER_STOCK, 1, 0)], inr(180))
    assert _answer(price(("BARFI-S", 3), ("BARFI-M", 3), ("BARFI-L", 1))) == (
        [("BARFI-S", 3), ("BARFI-M", 3), ("BARFI-L", 1)],
        [("BARFI-M", OVER_STOCK, 3, 2), ("BARFI-L", OVER_STOCK, 1, 0)], inr(210))


def test_delivery_fee_function() -> None:
    delivery = Delivery(fee=inr(30), free_above=inr(500))
    assert delivery_fee(inr(499), delivery, "INR") == inr(30)
    assert delivery_fee(inr(500), delivery, "INR") == Money.zero("INR")
    assert delivery_fee(inr(10), Delivery(fee=inr(40)), "INR") == inr(40)
    assert delivery_fee(inr(0), delivery, "INR", has_items=False) == Money.zero("INR")


# Found by `make mutants` (docs/TESTING.md): live stock counts, taking a whole line off,
# and the codes and messages the bot's replies are chosen by.
def test_live_stock_counts_decide_sold_out_and_over_stock() -> None:
    cart = Cart().add("SAMOSA", 3)
    sold_out = price_cart(cart, CATALOG, None, "INR", available={"SAMOSA": 0}.get)
    assert [(p.sku, p.kind, p.wanted, p.available) for p in sold_out.problems] == [
        ("SAMOSA", SOLD_OUT, 3, 0)]
    assert sold_out.lines == ()
    one_left = price_cart(cart, CATALOG, None, "INR", available=lambda sku: 1)
    assert [(p.kind, p.wanted, p.available) for p in one_left.problems] == [(OVER_STOCK, 3, 1)]
    assert one_left.problems[0].name is not None
    assert [ln.quantity for ln in one_left.lines] == [3]  # priced as wanted, flagged
    exact = price_cart(Cart().add("SAMOSA", 1), CATALOG, None, "INR", available=lambda sku: 1)
    assert exact.problems == () and exact.subtotal == inr(12)
    assert price_cart(cart, CATALOG, None, "INR", available=lambda sku: None).problems == ()


def test_taking_off_the_whole_quantity_removes_the_line() -> None:
    assert Cart().add("SAMOSA", 2).remove("SAMOSA", 2).is_empty
    assert Cart().add("SAMOSA", 2).remove("SAMOSA", 5).is_empty


@pytest.mark.parametrize(("change", "code", "message", "limit"), [
    (lambda: Cart().add("SAMOSA", 0), "bad_quantity",
     "quantity must be a whole number ≥ 1, got 0", None),
    (lambda: Cart().add("SAMOSA", MAX_QUANTITY + 1), "max_quantity",
     f"at most {MAX_QUANTITY} of one item", MAX_QUANTITY),
    (lambda: Cart().add("SAMOSA", MAX_QUANTITY).add("SAMOSA"), "max_quantity",
     f"at most {MAX_QUANTITY} of one item (already {MAX_QUANTITY} in the cart)", 0),
    (lambda: Cart().remove("SAMOSA"), "not_in_cart", "SAMOSA is not in the cart", None),
    (lambda: Cart().add("SAMOSA").remove("SAMOSA", 0), "bad_quantity",
     "quantity must be ≥ 1, got 0", None),
])
def test_refused_changes_carry_their_code_and_message(
        change: Callable[[], object], code: str, message: str, limit: int | None) -> None:
    with pytest.raises(CartError) as refused:
        change()
    assert (refused.value.code, str(refused.value), refused.value.limit) == (code, message, limit)
