"""Tiny catalogs for search and entity tests: one category, prices that do not matter."""

from __future__ import annotations

from catalog.models import Catalog, Category, Option, Product, Text
from catalog.money import Money


def product(
    sku: str,
    name: str | dict[str, str],
    aliases: tuple[str, ...] = (),
    options: tuple[Option, ...] = (),
    unit: str | None = None,
) -> Product:
    return Product(sku=sku, category="all", name=Text.of(name), price=Money(2000, "INR"),
                   aliases=aliases, options=options, unit=unit)


def option(sku: str, name: str | dict[str, str]) -> Option:
    return Option(sku, Text.of(name), Money(3000, "INR"))


def catalog(*products: Product) -> Catalog:
    return Catalog((Category("all", Text.of("All")),), products)
