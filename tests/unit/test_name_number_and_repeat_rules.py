"""The two rules of issue-13n (docs/NLU.md): a number that starts a product's name is part
of the name ("1 3 pin plug" is one plug, not three), and a product named again without a
count of its own is the same item said twice, not one more of it. A phone-accessories-like
catalog of our own, not a corpus shop."""

from __future__ import annotations

import pytest

from bot.nlu.entities import extract
from catalog.models import Catalog
from catalog.search import ProductIndex
from tests.unit.catalog_builders import catalog, product


def _shop() -> Catalog:
    return catalog(
        product("PLUG", {"en": "3 Pin Plug", "hi": "3 पिन प्लग", "bn": "৩ পিন প্লাগ"},
                unit="piece"),
        product("GUARD", {"en": "Screen Guard", "hi": "स्क्रीन गार्ड"},
                ("tempered glass", "glass"), unit="piece"),
        product("CASE", {"en": "Phone Case"}, ("case", "cover"), unit="piece"),
        product("CABLE", {"en": "USB Cable"}, unit="piece"),
    )


def _items(text: str) -> list[tuple[str, int]]:
    found = extract(text, ProductIndex.build(_shop()))
    return [(i.sku, i.quantity) for i in found.items if not i.candidates and not i.negated]


# ---- a number that starts the name -------------------------------------------------------
@pytest.mark.parametrize(("text", "items"), [
    ("1 3 pin plug", [("PLUG", 1)]),
    ("2 3 pin plug", [("PLUG", 2)]),
    ("2ta tin pin plug", [("PLUG", 2)]),                    # the name's number as a word
    ("two three pin plugs", [("PLUG", 2)]),
    ("२ तीन पिन प्लग", [("PLUG", 2)]),
    ("২টা তিন পিন প্লাগ", [("PLUG", 2)]),
    ("ek 3 pin plug aur 2 usb cable", [("PLUG", 1), ("CABLE", 2)]),
])
def test_a_number_that_starts_the_name_is_not_the_count(
        text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize(("text", "items"), [
    ("3 pin plug", [("PLUG", 1)]),       # the name alone: one of it
    ("3 pin plug 2", [("PLUG", 2)]),     # the count after the name
    ("4 pin plug", [("PLUG", 4)]),       # not the name's number: a count
])
def test_the_names_number_alone_or_another_number_before_it(
        text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


# ---- a product named again ---------------------------------------------------------------
@pytest.mark.parametrize(("text", "items"), [
    ("mera glass toot gaya, naya tempered glass 1 laga dena", [("GUARD", 1)]),
    ("2 cover, the black phone case", [("CASE", 2)]),
    ("glass toot gaya, screen guard chahiye", [("GUARD", 1)]),   # neither counted: one
])
def test_a_product_named_again_without_a_count_is_the_same_item(
        text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize(("text", "items"), [
    ("2 case and 3 case", [("CASE", 2), ("CASE", 3)]),          # counted twice: both stand
    ("2 usb cable and a phone case", [("CABLE", 2), ("CASE", 1)]),
])
def test_two_counts_or_two_products_stand(text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


def test_a_refused_mention_is_kept_beside_the_wanted_one() -> None:
    found = extract("no screen guard, 2 tempered glass", ProductIndex.build(_shop()))
    assert [(i.sku, i.quantity, i.negated) for i in found.items] == [
        ("GUARD", 1, True), ("GUARD", 2, False)]
