"""Small helpers shared by the flows: product names, price text, list rows."""

from __future__ import annotations

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


def product_row(turn: Turn, product: Product) -> Button:
    """A list row: tapping it adds one (or asks for the option)."""
    description = price_text(product) + unit_text(product)
    if product.sold_out:
        description += " · " + turn.t("sold_out", name="").strip(" *,.")
    return Button(payload=f"add:{product.sku}", title=product_name(turn, product),
                  description=description)


def options_text(turn: Turn, product: Product) -> str:
    return ", ".join(
        f"{o.name.get(turn.language, turn.shop.default_language)} {o.price.format()}"
        for o in product.options
    )
