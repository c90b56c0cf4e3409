"""What one message does to the cart, decided once, purely, from the extracted items.

The cart flow (bot/flows/cart.py) and ``haat nlu eval`` both read this plan, so the cart the
evaluation scores is the cart a shopper gets. Nothing here is silent: every item either
becomes a line or lands in a list the flow answers (a question about a size, a choice
between two products, a quantity that cannot be right).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.nlu.base import ItemMention, QuantityIssue, Understanding
from bot.nlu.entities import sold_by_amount
from catalog.models import Catalog, Product

__all__ = ["DEFAULT_MAX_QUANTITY", "CartPlan", "plan_items", "planned_cart"]

DEFAULT_MAX_QUANTITY = 99  # shop.yaml ``max_quantity``; catalog.cart.MAX_QUANTITY per line


@dataclass(frozen=True, slots=True)
class CartPlan:
    lines: tuple[ItemMention, ...] = ()  # add these as they are
    ask_option: tuple[ItemMention, ...] = ()  # a product with sizes and none named
    ambiguous: tuple[ItemMention, ...] = ()  # two or more products about equally likely
    refused: tuple[tuple[ItemMention, QuantityIssue], ...] = ()  # "0", "1e9", "2.5 samosa"
    negated: tuple[ItemMention, ...] = ()  # "no samosa today"


def plan_items(items: Iterable[ItemMention], catalog: Catalog,
               max_quantity: int = DEFAULT_MAX_QUANTITY) -> CartPlan:
    """Sort a message's items into lines to add and questions to ask."""
    lines: list[ItemMention] = []
    ask: list[ItemMention] = []
    ambiguous: list[ItemMention] = []
    refused: list[tuple[ItemMention, QuantityIssue]] = []
    negated: list[ItemMention] = []
    for item in items:
        if item.negated or item.removal:  # "cancel 2 samosa" is never an add
            negated.append(item)
            continue
        if item.candidates:
            ambiguous.append(item)
            continue
        hit = catalog.find_sku(item.sku)
        if hit is None:
            continue
        if item.issue is not None:
            refused.append((item, item.issue))
            continue
        if item.quantity > max_quantity:
            refused.append((item, QuantityIssue.TOO_MANY))
            continue
        if item.quantity <= 0:
            refused.append((item, QuantityIssue.ZERO))
            continue
        product, option = hit
        if option is None and product.options and not item.sized \
                and not base_is_default(product):
            ask.append(item)
            continue
        lines.append(item)
    return CartPlan(tuple(lines), tuple(ask), tuple(ambiguous), tuple(refused), tuple(negated))


def base_is_default(product: Product) -> bool:
    """Whether a product named without an option is its base sku, not a question.

    A counted product ("Exercise Copy", unit piece) whose options all cost something else
    ("200 pages") is sold as itself; the options are other products a shopper names. One
    sold by weight or volume ("2 aloo": 2 kg or 2 × half kg?) or whose base an option
    stands for (Masala Chai at the price of "Regular") asks.
    """
    if sold_by_amount(product):
        return False
    return all(o.price != product.price for o in product.options)


def planned_cart(understanding: Understanding, catalog: Catalog,
                 max_quantity: int = DEFAULT_MAX_QUANTITY) -> dict[str, int]:
    """The cart lines a fresh conversation gets from this message (sku → quantity)."""
    if understanding.intent != "add_to_cart":
        return {}
    cart: dict[str, int] = {}
    for item in plan_items(understanding.items, catalog, max_quantity).lines:
        cart[item.sku] = cart.get(item.sku, 0) + item.quantity
    return cart
