"""Small helpers shared by the flows: product names, price text, list rows."""

from __future__ import annotations

from bot.inventory import stock_pool
from bot.router import Turn
from bot.types import Button
from catalog.models import Option, Product


def product_name(turn: Turn, product: Product, option: Option | None = None) -> str:
    name = product.name.get(turn.language, turn.shop.default_language)
    if option is not None:
        return f"{name} ({option.name.get(turn.language, turn.shop.default_language)})"
    return name


def unit_text(product: Product) -> str:
    return f" / {product.unit}" if product.unit else ""


def price_text(product: Product, option: Option | None = None) -> str:
    return (option.price if option is not None else product.price).format()


def available(turn: Turn, sku: str) -> int | None:
    """Units that can still be ordered (None = unlimited): the merchant's ``stock`` count
    (else catalog.yaml's) minus what open orders hold. A display helper of every list and
    card, so it reads the inventory from ``turn.services`` and falls back to the YAML
    without them (tests of the router alone)."""
    if turn.services is not None:
        return turn.services.inventory.available(turn.shop.id, turn.shop.catalog, sku)
    hit = turn.shop.catalog.find_sku(sku)
    return 0 if hit is None else stock_pool(*hit)[1]


def sold_out(turn: Turn, product: Product, option: Option | None = None) -> bool:
    return available(turn, option.sku if option is not None else product.sku) == 0


def product_row(turn: Turn, product: Product) -> Button:
    """A list row: tapping it adds one (or asks for the option)."""
    description = price_text(product) + unit_text(product)
    if sold_out(turn, product):
        description += " · " + turn.t("sold_out", name="").strip(" *,.")
    return Button(payload=f"add:{product.sku}", title=product_name(turn, product),
                  description=description)


def options_text(turn: Turn, product: Product) -> str:
    return ", ".join(
        f"{o.name.get(turn.language, turn.shop.default_language)} {o.price.format()}"
        for o in product.options
    )
