"""bot/nlu/builtin.py:extraction_for_shop remembers extractions per catalog index."""

from __future__ import annotations

from dataclasses import replace

from bot.nlu.builtin import extraction_for_shop, product_index
from bot.nlu.entities import extract
from config.settings import DEFAULT_SHOP_DIR
from webhooks.plugins import load_shop

TEXTS = ("2 samosa aur ek lemon tea", "do samosa chahiye", "menu", "tip 50", "no samosa today")


def test_a_repeated_text_gives_the_extraction_it_gave_before() -> None:
    shop = load_shop(DEFAULT_SHOP_DIR)
    first = [extraction_for_shop(text, shop) for text in TEXTS]
    assert first[0].items  # the demo shop sells samosas
    for text, found in zip(TEXTS, first, strict=True):
        again = extraction_for_shop(text, shop)
        assert again is found  # remembered, not extracted again
        assert again == extract(text, product_index(shop.catalog), shop.currency)


def test_a_new_catalog_and_a_new_currency_are_not_served_from_memory() -> None:
    shop = load_shop(DEFAULT_SHOP_DIR)
    found = extraction_for_shop("2 samosa", shop)
    no_samosa = replace(shop, catalog=replace(shop.catalog, products=tuple(
        p for p in shop.catalog.products if "samosa" not in p.sku.lower()
        and "samosa" not in " ".join(p.names()).lower())))
    assert extraction_for_shop("2 samosa", no_samosa).items != found.items
    assert extraction_for_shop("tip 50", shop).entities != extraction_for_shop(
        "tip 50", replace(shop, currency="JPY")).entities
