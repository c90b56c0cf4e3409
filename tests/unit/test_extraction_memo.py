"""bot/nlu/builtin.py:Extractors remembers extractions per catalog, for the app that owns it."""

from __future__ import annotations

from dataclasses import replace

from bot.nlu.builtin import Extractors
from bot.nlu.entities import extract
from config.settings import DEFAULT_SHOP_DIR
from webhooks.plugins import load_shop

TEXTS = ("2 samosa aur ek lemon tea", "do samosa chahiye", "menu", "tip 50", "no samosa today")


def test_a_repeated_text_gives_the_extraction_it_gave_before() -> None:
    shop = load_shop(DEFAULT_SHOP_DIR)
    extractors = Extractors()
    first = [extractors.extraction(text, shop) for text in TEXTS]
    assert first[0].items  # the demo shop sells samosas
    index = extractors.for_catalog(shop.catalog).index
    for text, found in zip(TEXTS, first, strict=True):
        again = extractors.extraction(text, shop)
        assert again is found  # remembered, not extracted again
        assert again == extract(text, index, shop.currency)


def test_a_new_catalog_and_a_new_currency_are_not_served_from_memory() -> None:
    shop = load_shop(DEFAULT_SHOP_DIR)
    extractors = Extractors()
    found = extractors.extraction("2 samosa", shop)
    no_samosa = replace(shop, catalog=replace(shop.catalog, products=tuple(
        p for p in shop.catalog.products if "samosa" not in p.sku.lower()
        and "samosa" not in " ".join(p.names()).lower())))
    assert extractors.extraction("2 samosa", no_samosa).items != found.items
    assert extractors.extraction("tip 50", shop).entities != extractors.extraction(
        "tip 50", replace(shop, currency="JPY")).entities


def test_two_owners_share_no_memory() -> None:
    """Two apps (two Extractors) never serve each other's index or extractions."""
    shop = load_shop(DEFAULT_SHOP_DIR)
    one, other = Extractors(), Extractors()
    assert one.for_catalog(shop.catalog) is one.for_catalog(shop.catalog)
    assert one.for_catalog(shop.catalog) is not other.for_catalog(shop.catalog)
    assert one.extraction("2 samosa", shop) is not other.extraction("2 samosa", shop)
