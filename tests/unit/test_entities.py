"""Numbers in every script and word form, and entity/item extraction from real messages."""

from __future__ import annotations

import time
from fractions import Fraction

import pytest

from bot.nlu.base import ENTITY_TYPES, Entity
from bot.nlu.entities import extract_entities, quantity_of
from bot.nlu.numbers import find_numbers, parse_number, to_ascii_digits
from catalog.models import Catalog, Category, Text
from catalog.search import ProductIndex
from tests.unit.catalog_builders import option, product

SHOP = Catalog(
    (Category("all", Text.of("All")),),
    (
        product("MASALA-CHAI", {"en": "Masala Chai", "hi": "मसाला चाय", "bn": "মশলা চা"},
                ("masala tea",), (option("MASALA-CHAI-L", "Large"),)),
        product("CHAI", {"en": "Tea", "hi": "चाय", "bn": "চা", "ar": "شاي"}, ("chai",)),
        product("SAMOSA", {"en": "Samosa", "hi": "समोसा", "bn": "সিঙ্গারা"}, ("samose",)),
        product("ALOO", {"en": "Potato", "hi": "आलू", "bn": "আলু"}, ("aloo",),
                (option("ALOO-500", "Half kg"), option("ALOO-1KG", "1 kg")), unit="kg"),
        product("ONION", {"en": "Onion", "hi": "प्याज"}, ("pyaz",), unit="kg"),
        product("RICE", {"en": "Basmati rice", "bn": "বাসমতী চাল"}, unit="500 g"),
        product("COFFEE", {"en": "Coffee", "ar": "قهوة"}),
        product("EGG", {"en": "Egg", "bn": "ডিম"}, ("anda",)),
    ),
)


@pytest.fixture(scope="module")
def index() -> ProductIndex:
    return ProductIndex.build(SHOP)


def items(text: str, index: ProductIndex) -> list[tuple[str, int, bool]]:
    _, found = extract_entities(text, index)
    return [(i.sku, i.quantity, i.quantity_given) for i in found]


def entity(text: str, index: ProductIndex, kind: str, currency: str = "INR") -> list[str]:
    found, _ = extract_entities(text, index, currency)
    return [e.value for e in found if e.type == kind]


# ---- numbers ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("word", "value"),
    [
        ("7", 7), ("१२", 12), ("৩", 3), ("٣", 3), ("۴", 4), ("1.5", Fraction(3, 2)),
        ("½", Fraction(1, 2)), ("1/2", Fraction(1, 2)),
        ("two", 2), ("Twelve", 12), ("half", Fraction(1, 2)), ("dozen", None),
        ("ek", 1), ("teen", 3), ("char", 4), ("paanch", 5), ("chhe", 6), ("saat", 7),
        ("aath", 8), ("nau", 9), ("das", 10), ("aadha", Fraction(1, 2)),
        ("dedh", Fraction(3, 2)), ("dhai", Fraction(5, 2)),
        ("एक", 1), ("दो", 2), ("तीन", 3), ("चार", 4), ("पांच", 5), ("पाँच", 5),
        ("आधा", Fraction(1, 2)), ("डेढ़", Fraction(3, 2)), ("ढाई", Fraction(5, 2)),
        ("এক", 1), ("একটা", 1), ("দুই", 2), ("দুটো", 2), ("দুটি", 2), ("তিন", 3),
        ("তিনটে", 3), ("চার", 4), ("পাঁচটা", 5), ("দেড়", Fraction(3, 2)),
        ("আড়াই", Fraction(5, 2)),
        ("واحد", 1), ("اثنين", 2), ("اثنان", 2), ("إثنين", 2), ("ثلاثة", 3), ("أربعة", 4),
        ("خمسة", 5), ("عشرة", 10),
        ("do", 2), ("a", 1),  # weak words still have a value
        ("samosa", None), ("", None),
    ],
)
def test_parse_number(word: str, value: int | Fraction | None) -> None:
    if value is None:
        assert parse_number(word) is None
    else:
        assert parse_number(word) == Fraction(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 kg", [(2, "kg", "2 kg")]),
        ("2kg aloo", [(2, "kg", "2kg")]),
        ("half kg", [(Fraction(1, 2), "kg", "half kg")]),
        ("500 g", [(500, "g", "500 g")]),
        ("2 cups", [(2, "cup", "2 cups")]),
        ("দুই কেজি", [(2, "kg", "দুই কেজি")]),
        ("dedh kilo", [(Fraction(3, 2), "kg", "dedh kilo")]),
        ("٢٫٥ كيلو", [(Fraction(5, 2), "kg", "٢٫٥ كيلو")]),
        ("২টা মশলা চা", [(2, None, "২টা")]),
        ("৩ টি ডিম", [(3, None, "৩ টি")]),
        ("a dozen eggs", [(12, None, "a dozen")]),
        ("half dozen", [(6, None, "half dozen")]),
        ("2 dozen", [(24, None, "2 dozen")]),
        ("a couple of samosas", [(2, None, "a couple")]),
        ("one and a half kg", [(Fraction(3, 2), "kg", "one and a half kg")]),
        ("teen plate samose", [(3, "plate", "teen plate")]),
        ("no numbers here", []),
    ],
)
def test_find_numbers(text: str, expected: list[tuple[int | Fraction, str | None, str]]) -> None:
    spans = find_numbers(text)
    assert [(s.value, s.unit, s.text) for s in spans] == [
        (Fraction(v), u, t) for v, u, t in expected
    ]
    for s in spans:
        assert text[s.start : s.end] == s.text


def test_weak_number_words_are_flagged() -> None:
    (do,) = find_numbers("do you have chai")
    assert do.weak
    (kilo,) = find_numbers("do kilo")
    assert not kilo.weak and kilo.value == 2 and kilo.unit == "kg"
    assert find_numbers("500 g")[0].base_amount == 500
    assert find_numbers("half kg")[0].base_amount == 500
    assert find_numbers("2 cups")[0].base_amount is None


def test_ascii_digits_and_quantity_of() -> None:
    assert to_ascii_digits("১২৩ १२३ ١٢٣ ۱۲۳") == "123 123 123 123"
    assert quantity_of("৩") == 3
    assert quantity_of("do") == 2
    assert quantity_of("half") is None
    assert quantity_of("99999") is None


# ---- items: quantity paired with product, per language ---------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # en
        ("2 samosa and 1 masala chai", [("SAMOSA", 2, True), ("MASALA-CHAI", 1, True)]),
        ("two samosas, three chai", [("SAMOSA", 2, True), ("CHAI", 3, True)]),
        ("samosa 2", [("SAMOSA", 2, True)]),
        ("samosa 2, chai 3", [("SAMOSA", 2, True), ("CHAI", 3, True)]),
        ("samosa x2", [("SAMOSA", 2, True)]),
        ("samosa, 2 chai", [("SAMOSA", 1, False), ("CHAI", 2, True)]),
        ("a samosa", [("SAMOSA", 1, True)]),
        ("a dozen eggs", [("EGG", 12, True)]),
        ("2 large masala chai", [("MASALA-CHAI-L", 2, True)]),
        ("2 cups of masala chai", [("MASALA-CHAI", 2, True)]),
        ("masla chai", [("MASALA-CHAI", 1, False)]),
        ("do you have samosa", [("SAMOSA", 1, False)]),
        ("order 2 samosa", [("SAMOSA", 2, True)]),
        # romanised hi
        ("do samose aur ek chai", [("SAMOSA", 2, True), ("CHAI", 1, True)]),
        ("mujhe teen plate samose chahiye", [("SAMOSA", 3, True)]),
        ("do kilo aloo", [("ALOO-1KG", 2, True)]),
        ("aadha kilo aloo", [("ALOO-500", 1, True)]),
        ("dedh kilo aloo", [("ALOO-500", 3, True)]),
        # hi
        ("मुझे दो समोसा और एक चाय चाहिए", [("SAMOSA", 2, True), ("CHAI", 1, True)]),
        ("३ मसाला चाय", [("MASALA-CHAI", 3, True)]),
        ("पाँच किलो प्याज", [("ONION", 5, True)]),
        # bn
        ("২টা মশলা চা", [("MASALA-CHAI", 2, True)]),
        ("দুটো সিঙ্গারা আর একটা চা", [("SAMOSA", 2, True), ("CHAI", 1, True)]),
        ("দুই কেজি আলু", [("ALOO-1KG", 2, True)]),
        ("৬টা ডিম", [("EGG", 6, True)]),
        # ar (logical order; displayed right to left)
        ("أريد ٣ شاي", [("CHAI", 3, True)]),
        ("أريد اثنين قهوة", [("COFFEE", 2, True)]),
        ("شاي ٢ و قهوة ١", [("CHAI", 2, True), ("COFFEE", 1, True)]),
        # units and options
        ("half kg aloo", [("ALOO-500", 1, True)]),
        ("500 g aloo", [("ALOO-500", 1, True)]),
        ("1 kg aloo", [("ALOO-1KG", 1, True)]),
        ("2 kg onion", [("ONION", 2, True)]),
        ("half kg onion", [("ONION", 0, True)]),  # no such size: asked (QuantityIssue)
        ("1 kg basmati rice", [("RICE", 2, True)]),  # sold in 500 g packs
        ("half samosa", [("SAMOSA", 0, True)]),  # a countable item: asked
        # emoji and typos
        ("2 🥟 samosaa pls 🙏", [("SAMOSA", 2, True)]),
        ("hello", []),
    ],
)
def test_items(index: ProductIndex, text: str, expected: list[tuple[str, int, bool]]) -> None:
    assert items(text, index) == expected


# ---- other entities --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("status of ORD-1042", ["ORD-1042"]),
        ("ord1042", ["ORD-1042"]),
        ("where is order 1042?", ["ORD-1042"]),
        ("order no. 77 kahan hai", ["ORD-77"]),
        ("#1042", ["ORD-1042"]),
        ("আমার অর্ডার ১০৪২ কোথায়", ["ORD-1042"]),
        ("ऑर्डर १०४२ कहाँ है", ["ORD-1042"]),
        ("أين الطلب ١٠٤٢", ["ORD-1042"]),
        ("2 samosa", []),
    ],
)
def test_order_id(index: ProductIndex, text: str, value: list[str]) -> None:
    assert entity(text, index, "order_id") == value


def test_order_id_digit_is_not_a_quantity(index: ProductIndex) -> None:
    found, its = extract_entities("cancel ORD-2 please", index)
    assert [e.type for e in found] == ["order_id"]
    assert its == ()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("pay to ravi.kumar@okaxis", ["ravi.kumar@okaxis"]),
        ("my upi is Shop-2@ybl", ["shop-2@ybl"]),
        ("9876543210@paytm", ["9876543210@paytm"]),
        ("mail me at a@gmail.com", []),
        ("hello @ybl", []),
    ],
)
def test_vpa(index: ProductIndex, text: str, value: list[str]) -> None:
    assert entity(text, index, "vpa") == value


def test_vpa_digits_are_not_quantities(index: ProductIndex) -> None:
    found, its = extract_entities("collect from chai2@okaxis", index)
    assert [(e.type, e.value) for e in found] == [("vpa", "chai2@okaxis")]
    assert its == ()


@pytest.mark.parametrize(
    ("text", "currency", "value"),
    [
        ("tip 50", "INR", ["5000"]),
        ("tip of ₹20.50", "INR", ["2050"]),
        ("₹50", "INR", ["5000"]),
        ("Rs. 1,200", "INR", ["120000"]),
        ("50 rupees", "INR", ["5000"]),
        ("50 रुपये टिप", "INR", ["5000"]),
        ("৫০ টাকা", "BDT", ["5000"]),
        ("tip 5", "KWD", ["5000"]),
        ("tip 500", "JPY", ["500"]),
        ("tip 1.234", "INR", []),  # more decimals than INR allows
        ("2 samosa", "INR", []),
    ],
)
def test_amount(index: ProductIndex, text: str, currency: str, value: list[str]) -> None:
    assert entity(text, index, "amount", currency) == value


def test_amount_is_not_a_quantity(index: ProductIndex) -> None:
    found, _ = extract_entities("tip 50 for the chai", index)
    kinds = [(e.type, e.value) for e in found]
    assert ("amount", "5000") in kinds
    assert not any(k == "quantity" for k, _ in kinds)


def test_language_entity(index: ProductIndex) -> None:
    assert entity("in hindi please", index, "language") == ["hi"]
    assert entity("বাংলা", index, "language") == ["bn"]
    assert entity("2 chai", index, "language") == []


def test_entities_have_offsets_and_known_types(index: ProductIndex) -> None:
    text = "2 samosa, tip ₹20 and pay ravi@okaxis for ORD-7 🙂"
    found, its = extract_entities(text, index)
    assert {e.type for e in found} <= set(ENTITY_TYPES)
    assert {e.type for e in found} == {"quantity", "product", "amount", "vpa", "order_id"}
    for e in found:
        assert isinstance(e, Entity)
        assert text[e.start : e.end] == e.text
    assert [(i.sku, i.quantity) for i in its] == [("SAMOSA", 2)]
    assert [e.start for e in found] == sorted(e.start for e in found)


def test_quantity_entity_without_product(index: ProductIndex) -> None:
    assert entity("make it 3", index, "quantity") == ["3"]
    assert entity("dedh", index, "quantity") == ["3/2"]


def test_phone_number_is_not_a_quantity(index: ProductIndex) -> None:
    assert entity("call 9876543210", index, "quantity") == []


# ---- robustness ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "",
        "🙂" * 2000,
        "\u202e" + "abc" * 100,
        ("2 samosa and 1 masala chai 🙂 " * 200)[:4000],
        ("মশলা চা ২টা " * 400)[:4000],
        ("أريد ٣ شاي " * 400)[:4000],
        "9" * 4000,
        "@" * 4000,
        "a@b" * 1300,
        "#" * 4000,
        "ORD-" * 1000,
        "₹" * 4000,
    ],
)
def test_hostile_long_input(index: ProductIndex, text: str) -> None:
    t0 = time.perf_counter()
    found, its = extract_entities(text, index)
    elapsed = time.perf_counter() - t0
    assert isinstance(found, tuple) and isinstance(its, tuple)
    assert elapsed < 2.0  # generous: guards against pathological regex backtracking
    for e in found:
        assert text[e.start : e.end] == e.text
