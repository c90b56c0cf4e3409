"""Spelling, script and number rules of the extractor (issue #13, the held-out misses).

Each rule is general (a sound, a script convention, a way names carry numbers), tested on a
tiny catalog of its own, with words that are not the corpus's: the corpus measures it.
"""

from __future__ import annotations

import pytest

from bot.nlu.entities import extract, order_intent
from catalog.search import ProductIndex
from catalog.translit import romanize, skeleton, sound_key
from tests.unit.catalog_builders import catalog, product


def _items(index: ProductIndex, text: str) -> list[tuple[str, int]]:
    return [(i.sku, i.quantity) for i in extract(text, index).items if not i.candidates]


# ---- Bengali ওয় is "w"; য after a vowel is য় without its nukta ----------------------------
@pytest.mark.parametrize(("a", "b"), [
    ("ওয়াটার", "watar"),          # the glide, not o + ya
    ("হাওয়াই", "hawai"),
    ("গাওযা", "গাওয়া"),           # য typed for য়
    ("চায", "চায়"),
])
def test_bengali_glides_meet_their_latin_and_nukta_forms(a: str, b: str) -> None:
    assert sound_key(a) == sound_key(b)


def test_bengali_ya_phala_and_initial_ja_are_unchanged() -> None:
    assert romanize("যা").startswith("j")
    assert romanize("সূর্য").endswith("j")  # after a virama: ya-phala, read as before


# ---- Latin y ---------------------------------------------------------------------------
@pytest.mark.parametrize(("a", "b"), [("syrup", "sirup"), ("dry", "dri"), ("ruyi", "rui"),
                                      ("chay", "chai")])
def test_latin_y_as_a_vowel_and_before_i(a: str, b: str) -> None:
    assert sound_key(a) == sound_key(b)


def test_y_before_a_vowel_stays_a_consonant() -> None:
    assert skeleton("yogurt").startswith("y")
    assert skeleton("pyaz") == skeleton("piyaz")


def test_a_two_word_name_found_through_a_y_vowel() -> None:
    index = ProductIndex.build(catalog(
        product("GRIPE", "Gripe Water", aliases=("pet sirap",)),
        product("SYRUP", "Cough Syrup", aliases=("kashi sirap", "syrup")),
        product("DROPS", "Cough Drops", aliases=("kashi lozens",)),
    ))
    assert _items(index, "3 kashi syrup") == [("SYRUP", 3)]


# ---- z written as s ----------------------------------------------------------------------
def test_a_catalog_z_written_as_s() -> None:
    index = ProductIndex.build(catalog(
        product("ZAATAR", {"en": "Zaatar", "ar": "زعتر"}),
        product("BREAD", {"en": "Khubz", "ar": "خبز"}),
        product("SOUP", "Soup"),
    ))
    assert _items(index, "2 khubus") == [("BREAD", 2)]
    assert _items(index, "satar 1") == [("ZAATAR", 1)]
    assert _items(index, "2 sub") == []  # three letters alike are not enough


# ---- a one-word name typed as two words -----------------------------------------------------
def test_one_name_word_typed_as_two() -> None:
    index = ProductIndex.build(catalog(
        product("BREAD", {"en": "Sandwich Bread", "bn": "পাউরুটি"}, aliases=("pauruti",)),
        product("TEA", "Tea"),
    ))
    assert _items(index, "10ta pau ruti") == [("BREAD", 10)]
    assert _items(index, "pau ruti 3, tea 2") == [("BREAD", 3), ("TEA", 2)]


# ---- a number that is part of the name ------------------------------------------------------
def test_a_number_of_the_name_is_not_the_quantity() -> None:
    index = ProductIndex.build(catalog(
        product("PCM", "Paracetamol 650", aliases=("paracetamol",)),
        product("TEA", "Tea"),
    ))
    assert _items(index, "paracetamol 650 4") == [("PCM", 4)]
    assert _items(index, "2 paracetamol 650") == [("PCM", 2)]
    assert _items(index, "paracetamol 650") == [("PCM", 1)]
    assert _items(index, "paracetamol 4") == [("PCM", 4)]
    assert _items(index, "paracetamol 650 x2 and 3 tea") == [("PCM", 2), ("TEA", 3)]


# ---- a currency word ends where the word ends -----------------------------------------------
def test_a_word_that_starts_like_a_currency_is_not_money() -> None:
    index = ProductIndex.build(catalog(product("COTTON", {"en": "Cotton", "hi": "रुई"})))
    found = extract("२ रुई दो", index)
    assert [(i.sku, i.quantity) for i in found.items] == [("COTTON", 2)]
    assert not [e for e in found.entities if e.type == "amount"]
    for text in ("50 रुपये", "50 रु.", "100 টাকায়", "100 টাকা"):
        assert [e.type for e in extract(text, index).entities] == ["amount"], text


# ---- "pay" with an amount of a product and no word of paying --------------------------------
def test_an_amount_of_a_product_read_as_pay_is_an_order() -> None:
    index = ProductIndex.build(catalog(product("BALM", "Pain Balm", aliases=("baam",))))
    found = extract("baam char bhej do", index)
    assert order_intent("pay", "baam char bhej do", found) == "add_to_cart"
    paying = "4 baam ka upi bhej do"
    assert order_intent("pay", paying, extract(paying, index)) == "pay"


def test_the_plural_of_a_name_with_a_number() -> None:
    index = ProductIndex.build(catalog(product("NAPA", "Napa 500")))
    assert _items(index, "napa 500s 6") == [("NAPA", 6)]
    assert _items(index, "add napa 500s two") == [("NAPA", 2)]


# ---- words that are never a product ----------------------------------------------------------
def test_a_single_letter_of_a_name_is_not_a_mention() -> None:
    index = ProductIndex.build(catalog(product("GLUC", "Glucose-D"), product("VITC", "Vitamin C"),
                                       product("TEA", "Tea")))
    assert _items(index, "i'd like 2 tea") == [("TEA", 2)]
    assert _items(index, "tea c") == [("TEA", 1)]
    assert _items(index, "2 vitamin c") == [("VITC", 2)]  # the whole name still is


@pytest.mark.parametrize(("text", "items"), [
    ("৩ বোতল সরিষার তেল দিন", [("OIL", 3)]),   # বোতল is the bottle, not Bottle Gourd's
    ("2 बोतल सरसों तेल", [("OIL", 2)]),
    ("٣ زجاجة زيت", [("OIL", 3)]),
    ("2 বোতল লাউ", [("GOURD", 2)]),           # the gourd still is, with its count
    ("bottle gourd 2", [("GOURD", 2)]),
])
def test_a_unit_word_alone_is_not_a_longer_name(text: str, items: list[tuple[str, int]]
                                                ) -> None:
    index = ProductIndex.build(catalog(
        product("GOURD", {"en": "Bottle Gourd", "bn": "লাউ", "hi": "लौकी", "ar": "قرع"}),
        product("OIL", {"en": "Mustard Oil", "bn": "সরিষার তেল", "hi": "सरसों तेल",
                        "ar": "زيت"})))
    assert _items(index, text) == items


def test_arabic_names_are_not_hindi_or_bengali_words() -> None:
    index = ProductIndex.build(catalog(
        product("COTTON", {"en": "Cotton", "ar": "قطن", "hi": "रुई"}),
        product("TEA", {"en": "Tea", "hi": "चाय", "ar": "شاي"}),
    ))
    assert _items(index, "चाय कितने की है") == [("TEA", 1)]  # कितने (how many) is not قطن
    assert _items(index, "2 قطن") == [("COTTON", 2)]
    assert _items(index, "2 kutn") == [("COTTON", 2)]  # Latin still meets Arabic


@pytest.mark.parametrize("text", ["chai ke baare mein batao", "चाय के बारे में बताइए",
                                  "أخبرني عن الشاي"])
def test_the_words_of_a_product_question_are_not_products(text: str) -> None:
    index = ProductIndex.build(catalog(
        product("PARE", {"en": "Namak Pare", "hi": "नमक पारे", "ar": "نمك بارا"}),
        product("ORS", {"en": "Orsaline-N", "ar": "أورسالين ن"}),
        product("TEA", {"en": "Tea", "hi": "चाय", "ar": "شاي"}, aliases=("chai",)),
    ))
    assert [(i.sku, i.quantity) for i in extract(text, index).items] == [("TEA", 1)]


# ---- removal words make a removal, never an add ------------------------------------------------
@pytest.mark.parametrize("text", ["cancel 2 tea", "drop the tea", "tea hatao", "চা বাদ দিন",
                                  "cha bad dao", "احذف الشاي", "चाय हटाओ", "take out 1 tea"])
def test_a_removal_word_by_an_item_is_a_removal(text: str) -> None:
    index = ProductIndex.build(catalog(product("TEA", {"en": "Tea", "hi": "चाय", "bn": "চা",
                                                       "ar": "شاي"}, aliases=("cha",))))
    found = extract(text, index)
    assert [i.removal for i in found.items] == [True]
    for intent in ("add_to_cart", "cancel_order", "product_info"):
        assert order_intent(intent, text, found) == "remove_from_cart"


def test_a_removal_in_another_clause_leaves_the_order() -> None:
    index = ProductIndex.build(catalog(product("TEA", "Tea"), product("BUN", "Bun")))
    found = extract("2 bun, remove the tea", index)
    assert [(i.sku, i.removal) for i in found.items] == [("BUN", False), ("TEA", True)]
    assert order_intent("add_to_cart", "2 bun, remove the tea", found) == "add_to_cart"
    for text in ("2 tea baad mein", "bad tea", "cancel my order"):
        assert not any(i.removal for i in extract(text, index).items), text


# ---- an English "n't" contraction is a negation, never a name ("don't" is not "Don") -------
@pytest.mark.parametrize("text", ["i don't want nails", "i don’t want nails",
                                  "we didn't order nails", "i can't use nails"])
def test_a_negative_contraction_names_nothing_and_negates(text: str) -> None:
    index = ProductIndex.build(catalog(product("DONA", "Dona Leaf Plates", ("dona",)),
                                 product("CANE", "Cane Basket", ("cane",)),
                                 product("DIDI", "Didi Pickle", ("didi",)),
                                 product("NAILS", "Nails")))
    assert [(i.sku, i.negated) for i in extract(text, index).items] == [("NAILS", True)]
