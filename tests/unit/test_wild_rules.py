"""The general rules issue-13i took from the hand-written ``wild`` split (docs/NLU.md):
options named without one, counts beside option words, packs, glued classifiers, describing
words, loose parts of longer names and refusals. A stationery-like catalog of our own."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.nlu.base import ItemMention
from bot.nlu.cart_plan import plan_items
from bot.nlu.entities import extract
from catalog.models import Catalog
from catalog.money import Money
from catalog.search import ProductIndex
from tests.unit.catalog_builders import catalog, option, product


def _shop() -> Catalog:
    return catalog(
        product("COPY", {"en": "Exercise Copy", "bn": "খাতা", "hi": "कॉपी"}, ("copy", "khata"),
                options=(option("COPY-200P", {"en": "200 pages", "hi": "200 पेज",
                                              "bn": "২০০ পাতা"}),), unit="piece"),
        product("SCALE", {"en": "Scale", "bn": "স্কেল"}, ("ruler",),
                options=(option("SCALE-30CM", {"en": "30 cm", "bn": "৩০ সেমি"}),),
                unit="piece"),
        product("COLOURS", {"en": "Colour Pencils", "bn": "রং পেন্সিল"}, unit="box"),
        product("GEO", {"en": "Geometry Box", "bn": "জ্যামিতি বক্স"}, unit="piece"),
        product("GEL", {"en": "Gel Pen"}, ("jel pen",), unit="piece"),
        product("BALL", {"en": "Ball Pen"}, unit="piece"),
        product("STAPLER", {"en": "Stapler"}, ("stepler",), unit="piece"),
        product("CHART", {"en": "Chart Paper", "hi": "चार्ट पेपर"}, unit="piece"),
        product("GLUE", {"en": "Glue Stick"}, unit="piece"),
        product("OIL", {"en": "Mustard Oil"}, ("sarson tel", "tel"), unit="bottle"),
    )


def _items(text: str) -> list[tuple[str, int]]:
    found = extract(text, ProductIndex.build(_shop()))
    return [(i.sku, i.quantity) for i in found.items if not i.candidates and not i.negated]


def test_a_counted_product_named_without_its_option_is_its_base() -> None:
    shop = _shop()
    plan = plan_items([ItemMention("COPY", 5, True)], shop)
    assert [(i.sku, i.quantity) for i in plan.lines] == [("COPY", 5)]
    assert not plan.ask_option


@pytest.mark.parametrize("change", ["by weight", "an option at the base's price"])
def test_a_product_whose_base_is_no_choice_of_its_own_still_asks(change: str) -> None:
    shop = _shop()
    copy = shop.products[0]
    changed = replace(copy, unit="kg") if change == "by weight" else replace(
        copy, options=(replace(copy.options[0], price=Money(2000, "INR")),))
    shop = replace(shop, products=(changed, *shop.products[1:]))
    plan = plan_items([ItemMention("COPY", 2, True)], shop)
    assert not plan.lines
    assert [i.sku for i in plan.ask_option] == ["COPY"]


@pytest.mark.parametrize(("text", "items"), [
    ("5 200 page copies", [("COPY-200P", 5)]),
    ("30 cm scale 2", [("SCALE-30CM", 2)]),
    ("paanch 200 page wali copy chahiye", [("COPY-200P", 5)]),   # one word between
    ("৩০ সেমির স্কেল ২টো", [("SCALE-30CM", 2)]),
    ("200 page copy", [("COPY-200P", 1)]),                        # the option, one of it
])
def test_a_count_beside_an_options_words_counts_the_option(
        text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize(("text", "items"), [
    ("1 box colour pencils", [("COLOURS", 1)]),
    ("১ বাক্স রং পেন্সিল দিন", [("COLOURS", 1)]),
    ("রং পেন্সিল দুই বাক্স", [("COLOURS", 2)]),
    ("1 dabba colour pencil do", [("COLOURS", 1)]),
    ("2 rulers 1 compass box", [("SCALE", 2), ("GEO", 1)]),     # no product beside it
])
def test_a_pack_word_beside_a_product_is_its_pack(text: str,
                                                  items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize(("text", "items"), [
    ("dada 2to ball pen", [("BALL", 2)]),
    ("ekkhana stepler", [("STAPLER", 1)]),
    ("chart paper barota", [("CHART", 12)]),
    ("adh dojon ball pen", [("BALL", 6)]),
])
def test_romanised_bengali_classifiers_on_number_words(text: str,
                                                       items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize(("text", "items"), [
    ("char kala jel pen aur char neela ball pen", [("GEL", 4), ("BALL", 4)]),
    ("4 black gel pens", [("GEL", 4)]),
])
def test_one_describing_word_keeps_the_count(text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize(("text", "items"), [
    ("2 gel pen for office stock", [("GEL", 2)]),     # "stock" is not the Stick
    ("2 sarso ka tel", [("OIL", 2)]),                 # another word of it beside: the oil
])
def test_a_loose_part_of_a_longer_name_names_nothing_alone(
        text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items


@pytest.mark.parametrize("text", ["chart paper rehne do", "चार्ट पेपर रहने दो",
                                  "stapler ar pathaben na", "stapler thak"])
def test_a_refusal_after_an_item_negates_it(text: str) -> None:
    found = extract(text, ProductIndex.build(_shop()))
    assert found.items
    assert all(i.negated for i in found.items)


@pytest.mark.parametrize("text", ["stapler din na", "2 stapler diben na?"])
def test_a_polite_bengali_request_is_no_refusal(text: str) -> None:
    assert [i.negated for i in extract(text, ProductIndex.build(_shop())).items] == [False]
