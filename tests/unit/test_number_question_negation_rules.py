"""The general rules of issue-13k (docs/NLU.md): plural and dual forms of product names
(Arabic sound and broken plurals on both sides of a match, English -ies/-ves, romanised
Bengali -gulo, Hindi -इयाँ), product questions routed to ``product_info`` /
``product_price`` with the product named, and negation cues that add nothing. A catalog
of our own, not a corpus shop."""

from __future__ import annotations

import pytest

from bot.nlu.entities import extract, order_intent
from bot.nlu.evaluate import FORMS
from catalog.inflection import arabic_singulars, latin_singulars
from catalog.models import Catalog
from catalog.search import ProductIndex
from catalog.tokens import normalize_token
from tests.nlu.extraction.variants import variant_report
from tests.unit.catalog_builders import catalog, option, product


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


# ---- product questions --------------------------------------------------------------------
def _intent(read_as: str, text: str) -> str:
    return order_intent(read_as, text, extract(text, ProductIndex.build(_shop())))


@pytest.mark.parametrize("text", [
    "tell me about the stapler pins", "what's in the school bag?", "charger details please",
    "which brand is the charger?", "ruler ke baare mein batao", "ruler ki details do",
    "ruler kya hai?", "charger kaunsi company ka hai", "कॉपी के बारे में बताओ",
    "कॉपी की जानकारी चाहिए", "খাতা সম্পর্কে বলুন", "খাতা এর ব্যাপারে জানতে চাই",
    "khata somporke bolun", "ما هو الشاحن؟", "اخبرني عن المسطرة", "ابي تفاصيل الملف"])
@pytest.mark.parametrize("read_as", ["add_to_cart", "search_product", "product_info"])
def test_a_question_about_a_named_product_is_product_info(text: str, read_as: str) -> None:
    assert _intent(read_as, text) == "product_info"


@pytest.mark.parametrize("text", [
    "what's the price of the charger", "charger ka price kya hai", "ruler kitne ka hai?",
    "कॉपी का दाम क्या है", "খাতা এর দাম কত?", "khata koto taka", "كم سعر الشاحن؟",
    "بكم المسطرة"])
@pytest.mark.parametrize("read_as", ["add_to_cart", "search_product", "product_info"])
def test_a_price_question_is_product_price(text: str, read_as: str) -> None:
    assert _intent(read_as, text) == "product_price"


@pytest.mark.parametrize(("read_as", "text"), [
    ("add_to_cart", "2 charger, what is the price"),  # a count: an order
    ("add_to_cart", "add the charger, and what's in the school bag"),  # its own clause
    ("add_to_cart", "charger dena, total kya hai"),  # the cue is in another clause
    ("add_to_cart", "send the ruler, details later"),  # a verb of adding
    ("remove_from_cart", "remove the charger, what is it"),  # removals keep their intent
    ("greet", "hello, what is your price list"),  # no product named
])
def test_a_cue_without_a_product_question_keeps_the_intent(read_as: str, text: str) -> None:
    assert _intent(read_as, text) == read_as


# ---- refusals -----------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "no charger please", "i don't want the charger", "skip the ruler", "I do not need a ruler",
    "charger nahi chahiye", "mujhe nahi chahiye charger", "ruler ki zarurat nahi hai",
    "ruler mat bhejo", "कॉपी नहीं चाहिए", "कॉपी की ज़रूरत नहीं", "कॉपी न भेजें",
    "খাতা লাগবে না", "খাতা দেবেন না", "খাতা নেব না", "khata diben na", "khata dorkar nei",
    "ما ابي شاحن", "مابي شاحن اليوم", "لا أريد المسطرة", "المسطرة ما نحتاجها", "بدون ملف"])
def test_a_refused_product_adds_nothing_and_reads_as_deny(text: str) -> None:
    found = extract(text, ProductIndex.build(_shop()))
    assert found.items and all(i.negated for i in found.items), found.items
    assert order_intent("add_to_cart", text, found) == "deny"


@pytest.mark.parametrize(("text", "want"), [
    ("ما هو الشاحن", [("CHARGER", 1)]),  # "ما" asking, not refusing
    ("ما سعر المسطرة", [("RULER", 1)]),
    ("3 charger but no ruler", [("CHARGER", 3)]),
    ("2 ملف بس ما ابي مسطرة", [("FILE", 2)]),
    ("nahi, 2 charger do", [("CHARGER", 2)]),  # a refusal, then an order in a new clause
])
def test_negation_governs_its_own_item_only(text: str, want: list[tuple[str, int]]) -> None:
    assert _items(text) == want


@pytest.mark.parametrize(("read_as", "text"), [
    ("product_info", "٥ ملف، المسطرة ما نحتاجها"), ("search_product", "3 charger, no ruler")])
def test_an_amount_of_one_item_beside_a_refused_one_is_an_order(read_as: str, text: str) -> None:
    assert _intent(read_as, text) == "add_to_cart"


def test_colloquial_arabic_number_words_count() -> None:
    assert _items("بدي ثنتين مسطرة") == [("RULER", 2)]
    # "one school bag" is an amount, so a message of a name and it is an order
    assert _intent("product_info", "حقيبة مدرسية وحدة") == "add_to_cart"


# ---- measured: the variants of every tuned shop (tests/nlu/extraction/variants.py) ---------
async def test_variants_of_every_tuned_shop_keep_their_figures() -> None:
    """docs/NLU.md (issue-13k): questions, refusals, "X but not Y" and plural names over
    every product of every tuned shop, in the six forms; held at the measured figures."""
    report = await variant_report()
    assert {f.form for f in report.per_form} == set(FORMS)
    for form in report.per_form:
        assert form.cart_exact >= 0.99, form
        assert form.precision >= 0.98, form
    assert report.overall.n > 1500


def test_romanised_bengali_want_after_an_infinitive_is_no_tea() -> None:
    shop = catalog(product("TEA", {"en": "Tea"}, ("chai",), unit="cup"),
                   product("CHARGER", {"en": "Charger"}, unit="piece"))
    found = extract("charger er byapare jante chai", ProductIndex.build(shop))
    assert [i.sku for i in found.items] == ["CHARGER"]
    assert [i.sku for i in extract("2 chai", ProductIndex.build(shop)).items] == ["TEA"]


@pytest.mark.parametrize(("text", "want"), [
    ("can i get 6 Cup Hooks", [("HOOKS", 6)]), ("ছটা কাপ হুক চাই", [("HOOKS", 6)]),
    ("3ta glass cliner dao", [("CLEANER", 3)]), ("char cup huk daal do", [("HOOKS", 4)]),
    ("2 cup glass cleaner", [("CLEANER", 2)]),  # the unit, then a name: still two
])
def test_a_unit_word_that_starts_a_name_leaves_the_count_to_it(
        text: str, want: list[tuple[str, int]]) -> None:
    shop = catalog(product("HOOKS", {"en": "Cup Hooks", "bn": "কাপ হুক"}, unit="packet"),
                   product("CLEANER", {"en": "Glass Cleaner"}, unit="bottle"))
    found = extract(text, ProductIndex.build(shop))
    assert [(i.sku, i.quantity) for i in found.items] == want


def test_a_short_arabic_word_is_no_loose_spelling_of_a_latin_name() -> None:
    shop = catalog(product("SCREWS", {"en": "Wood Screws"}, ("skru", "screw"), unit="packet"),
                   product("PAINT", {"en": "Wall Paint", "ar": "دهان جدران"}, unit="piece"))
    found = extract("أريد 10 دهان جدران و سكر", ProductIndex.build(shop))
    assert [(i.sku, i.quantity) for i in found.items] == [("PAINT", 10)]
    assert found.unmatched == ("سكر",)  # named back to the shopper, not guessed


@pytest.mark.parametrize(("text", "want"), [
    ("is the charger fast or slow?", "product_info"),  # which kind: a product question
    ("charger fast hai ya slow?", "product_info"),
    ("charger or ruler?", "search_product"),  # which product: not a question about one
    ("charger fast or slow", "search_product"),  # no question mark
])
def test_an_alternative_between_words_that_are_no_products_asks_what_kind(
        text: str, want: str) -> None:
    assert _intent("search_product", text) == want


def test_an_options_own_number_is_no_amount_asked_for() -> None:
    shop = catalog(product("COPY", {"en": "Copy"}, options=(
        option("COPY-200P", {"en": "200 pages"}),), unit="piece"))
    text = "tell me about the 200 pages copy"
    assert order_intent("add_to_cart", text, extract(text, ProductIndex.build(shop))) \
        == "product_info"
