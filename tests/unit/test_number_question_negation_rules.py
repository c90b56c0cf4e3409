"""The general rules of issue-13k (docs/NLU.md): plural and dual forms of product names
(Arabic sound and broken plurals on both sides of a match, English -ies/-ves, romanised
Bengali -gulo, Hindi -इयाँ), product questions routed to ``product_info`` /
``product_price`` with the product named, and negation cues that add nothing. A catalog
of our own, not a corpus shop."""

from __future__ import annotations

import pytest

from bot.nlu.entities import extract
from catalog.inflection import arabic_singulars, latin_singulars
from catalog.models import Catalog
from catalog.search import ProductIndex
from catalog.tokens import normalize_token
from tests.unit.catalog_builders import catalog, product


def _shop() -> Catalog:
    return catalog(
        product("ERASER", {"en": "Eraser", "ar": "ممحاة"}, unit="piece"),
        product("FILE", {"en": "File", "ar": "ملف", "hi": "फ़ाइल"}, unit="piece"),
        product("PEN", {"en": "Ball Pen", "ar": "قلم جاف"}, unit="piece"),
        product("BAG", {"en": "School Bag", "ar": "حقيبة مدرسية"}, unit="piece"),
        product("PINS", {"en": "Stapler Pins", "ar": "دبابيس"}, unit="packet"),
        product("CHARGER", {"en": "Charger", "ar": "شاحن"}, unit="piece"),
        product("RULER", {"en": "Ruler", "ar": "مسطرة"}, unit="piece"),
        product("BATTERY", {"en": "Battery", "ar": "بطارية"}, unit="piece"),
        product("COPY", {"en": "Copy", "hi": "कॉपी", "bn": "খাতা"}, ("khata",), unit="piece"),
        product("KNIFE", {"en": "Knife"}, unit="piece"),
    )


def _items(text: str) -> list[tuple[str, int]]:
    found = extract(text, ProductIndex.build(_shop()))
    return [(i.sku, i.quantity) for i in found.items if not i.candidates and not i.negated]


@pytest.mark.parametrize(("plural", "singular"), [
    ("ملفات", "ملف"), ("برايات", "براية"), ("سماعتين", "سماعة"), ("كوبين", "كوب"),
    ("أقلام", "قلم"), ("مماحي", "ممحاة"), ("مساطر", "مسطرة"), ("شواحن", "شاحن"),
    ("حقائب", "حقيبة"), ("مفاتيح", "مفتاح"), ("أجهزة", "جهاز"), ("علب", "علبة"),
    ("دروس", "درس")])
def test_an_arabic_plural_or_dual_lists_its_singular(plural: str, singular: str) -> None:
    assert normalize_token(singular) in arabic_singulars(normalize_token(plural))


@pytest.mark.parametrize(("plural", "singular"), [
    ("batteries", "battery"), ("knives", "knife"), ("khatagulo", "khata")])
def test_a_latin_plural_lists_its_singular(plural: str, singular: str) -> None:
    assert singular in latin_singulars(plural)


@pytest.mark.parametrize(("text", "want"), [
    ("ابي ٣ مماحي", [("ERASER", 3)]),  # مفاعل of مفعلة, the message side
    ("٤ ملفات و ٢ مساطر", [("FILE", 4), ("RULER", 2)]),  # ـات, and مفاعل
    ("الملفات ٣", [("FILE", 3)]),  # with the article
    ("اريد شاحنين", [("CHARGER", 1)]),  # the dual
    ("٢ حقائب مدرسية", [("BAG", 2)]),  # فعائل of فعيلة
    ("٣ بطاريات", [("BATTERY", 3)]),
    ("٢ دبوس", [("PINS", 2)]),  # the catalog side: دبابيس holds the singular دبوس
    ("2 batteries and 3 knives", [("BATTERY", 2), ("KNIFE", 3)]),
    ("khatagulo 8ta din", [("COPY", 8)]),
    ("६ कॉपियाँ भेजना", [("COPY", 6)]),
])
def test_plural_forms_of_a_name_find_the_product(text: str, want: list[tuple[str, int]]
                                                  ) -> None:
    assert _items(text) == want
