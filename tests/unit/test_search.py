"""Catalog search: cross-script names, typos, options, mentions, and transliteration keys."""

from __future__ import annotations

import itertools
import random

import pytest

from catalog.models import Catalog, Product
from catalog.search import ProductIndex, normalize_token, tokenize
from catalog.translit import folded_key, romanize, skeleton, sound_key
from tests.unit.catalog_builders import catalog, option, product

SHOP = catalog(
    product("MASALA-CHAI", {"en": "Masala Chai", "hi": "मसाला चाय", "bn": "মশলা চা"},
            ("masala tea", "cutting chai"),
            (option("MASALA-CHAI-L", {"en": "Large", "hi": "बड़ा"}),)),
    product("GINGER-CHAI", {"en": "Ginger Chai", "bn": "আদা চা"}),
    product("CHAI", {"en": "Tea", "hi": "चाय", "bn": "চা", "ar": "شاي"}, ("chai",)),
    product("SAMOSA", {"en": "Samosa", "hi": "समोसा"}),
    product("ILISH", {"bn": "ইলিশ মাছ", "en": "Hilsa fish"}),
    product("MISHTI-DOI", {"bn": "মিষ্টি দই", "en": "Sweet yogurt"}),
    product("ALOO", {"en": "Potato", "hi": "आलू", "bn": "আলু"}, ("aloo",),
            (option("ALOO-500", "Half kg"), option("ALOO-1KG", "1 kg")), unit="kg"),
    product("COFFEE", {"en": "Coffee", "ar": "قهوة", "hi": "कॉफ़ी"}),
    product("RASGULLA", {"bn": "রসগোল্লা", "hi": "रसगुल्ला"}),
    product("KACHORI", {"hi": "कचौरी", "en": "Kachori"}),
    product("NAMKEEN", {"hi": "नमकीन"}),
    product("KNAFEH", {"ar": "كنافة", "en": "Knafeh"}),
)


@pytest.fixture(scope="module")
def index() -> ProductIndex:
    return ProductIndex.build(SHOP)


def top(index: ProductIndex, query: str) -> str | None:
    found = index.search(query)
    return found[0].sku if found else None


# ---- search: every language, script and typo ------------------------------------------
@pytest.mark.parametrize(
    ("query", "sku"),
    [
        # English and romanised typing
        ("masala chai", "MASALA-CHAI"),
        ("MASALA CHAI!!!", "MASALA-CHAI"),
        ("masla chai", "MASALA-CHAI"),
        ("masala tea", "MASALA-CHAI"),
        ("masalachai", "MASALA-CHAI"),
        ("samosaa", "SAMOSA"),
        ("samose", "SAMOSA"),
        ("coffe", "COFFEE"),
        ("chai", "CHAI"),
        ("🍵 chai pls 🙏", "CHAI"),
        ("ｃｈａｉ", "CHAI"),  # full-width, NFKC
        ("ginger chai", "GINGER-CHAI"),
        # romanised → native script
        ("ilish", "ILISH"),
        ("mishti doi", "MISHTI-DOI"),
        ("moshla cha", "MASALA-CHAI"),
        ("rosogolla", "RASGULLA"),
        ("rasgulla", "RASGULLA"),
        ("kachori", "KACHORI"),
        ("namkeen", "NAMKEEN"),
        ("aloo", "ALOO"),
        ("do you have ilish?", "ILISH"),
        # native script
        ("মশলা চা", "MASALA-CHAI"),
        ("मसाला चाय", "MASALA-CHAI"),
        ("चाय", "CHAI"),
        ("চা", "CHAI"),
        ("আলু", "ALOO"),
        ("कॉफी", "COFFEE"),  # without the nukta
        ("कचोरी", "KACHORI"),  # vowel-sign variant
        # Arabic: teh marbuta / heh, diacritics, tatweel
        ("شاي", "CHAI"),
        ("شَاي", "CHAI"),
        ("قهوه", "COFFEE"),
        ("قهــوة", "COFFEE"),
        ("كنافه", "KNAFEH"),
    ],
)
def test_search_finds_product(index: ProductIndex, query: str, sku: str) -> None:
    assert top(index, query) == sku


@pytest.mark.parametrize("query", ["xyzzy", "🙂🙂🙂", "", "   ", "1234", "do you have"])
def test_search_finds_nothing_for_noise(index: ProductIndex, query: str) -> None:
    assert index.search(query) == []


def test_search_scores_are_ranked_and_bounded(index: ProductIndex) -> None:
    found = index.search("chai", limit=3)
    assert len(found) <= 3
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)
    assert all(0.0 < m.score <= 1.0 for m in found)
    assert found[0].matched in SHOP.find_sku("CHAI")[0].names()  # type: ignore[index]


def test_native_only_product_found_by_romanised_alias_only() -> None:
    """সিঙ্গারা is a samosa, but only the merchant can say so: with an alias."""
    without = ProductIndex.build(catalog(product("SINGARA", {"bn": "সিঙ্গারা"})))
    with_alias = ProductIndex.build(
        catalog(product("SINGARA", {"bn": "সিঙ্গারা"}, aliases=("samosa",)))
    )
    assert without.search("samosa") == []
    assert top(with_alias, "samosa") == "SINGARA"
    assert top(without, "singara") == "SINGARA"  # its own sound still works


def test_word_order_prefers_the_name_as_written() -> None:
    index = ProductIndex.build(catalog(product("A", "Masala Chai"), product("B", "Chai Masala")))
    assert top(index, "masala chai") == "A"
    assert top(index, "chai masala") == "B"
    only = ProductIndex.build(catalog(product("A", "Masala Chai"), product("C", "Tea")))
    assert top(only, "chai masala") == "A"  # out of order still finds it


# ---- options ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "sku"),
    [
        ("large masala chai", "MASALA-CHAI-L"),
        ("masala chai large", "MASALA-CHAI-L"),
        ("masala chai", "MASALA-CHAI"),
        ("बड़ा मसाला चाय", "MASALA-CHAI-L"),
        ("half kg aloo", "ALOO-500"),
        ("aloo 1 kg", "ALOO-1KG"),
        ("aadha kilo aloo", "ALOO-500"),
        ("aloo", "ALOO"),
    ],
)
def test_option_named_with_product(index: ProductIndex, query: str, sku: str) -> None:
    assert top(index, query) == sku


# ---- mentions --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 samosa and 1 masala chai", [("samosa", "SAMOSA"), ("masala chai", "MASALA-CHAI")]),
        ("samosa 2, large masala chai 3 🙂",
         [("samosa", "SAMOSA"), ("large masala chai", "MASALA-CHAI-L")]),
        ("do samose aur ek chai", [("samose", "SAMOSA"), ("chai", "CHAI")]),
        ("২টা মশলা চা", [("মশলা চা", "MASALA-CHAI")]),
        ("أريد ٣ شاي و قهوة", [("شاي", "CHAI"), ("قهوة", "COFFEE")]),
        ("mujhe ek ilish chahiye", [("ilish", "ILISH")]),
        ("half kg aloo", [("half kg aloo", "ALOO-500")]),
        ("hello there", []),
    ],
)
def test_find_mentions(index: ProductIndex, text: str, expected: list[tuple[str, str]]) -> None:
    mentions = index.find_mentions(text)
    assert [(m.text, m.sku) for m in mentions] == expected
    for m in mentions:
        assert text[m.start : m.end] == m.text


def test_mentions_are_longest_and_non_overlapping(index: ProductIndex) -> None:
    mentions = index.find_mentions("masala chai chai ginger chai")
    assert [m.sku for m in mentions] == ["MASALA-CHAI", "CHAI", "GINGER-CHAI"]
    ends = [(m.start, m.end) for m in mentions]
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ends))


def test_ambiguous_partial_word_is_not_a_mention() -> None:
    """"samosa" alone cannot pick between two samosas; one samosa is fine."""
    two = ProductIndex.build(catalog(product("A", "Aloo Samosa"), product("B", "Paneer Samosa")))
    one = ProductIndex.build(catalog(product("A", "Aloo Samosa"), product("C", "Masala Chai")))
    assert two.find_mentions("2 samosa") == []
    assert [m.sku for m in one.find_mentions("2 samosa")] == ["A"]


def test_mention_offsets_survive_nfkc_and_rtl(index: ProductIndex) -> None:
    text = "\u200f\u200fأريد ٢ شَاي من فضلك"
    (mention,) = index.find_mentions(text)
    assert mention.sku == "CHAI"
    assert text[mention.start : mention.end] == "شَاي"


# ---- romanised spellings a letter or a space from the catalog's (issue #13c) -------------
ROMANISED = catalog(
    product("WATER", {"en": "Mineral Water", "hi": "पानी"}, ("jol", "pani")),
    product("CHAMCHAM", {"en": "Chamcham", "bn": "চমচম"}),
    product("SUGAR", {"en": "Sugar", "hi": "चीनी"}, ("cheeni",)),
    product("TOOR-DAL", {"en": "Toor Dal"}, ("dal",)),
)


@pytest.fixture(scope="module")
def romanised() -> ProductIndex:
    return ProductIndex.build(ROMANISED)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Bengali's inherent vowel, written o or a, in a three-letter Latin word
        ("jal", [("jal", "WATER")]),
        ("2 bottle jal din", [("jal", "WATER")]),
        ("dol", [("dol", "TOOR-DAL")]),
        # one name word typed as two Latin words
        ("chum chum", [("chum chum", "CHAMCHAM")]),
        ("cham cham", [("cham cham", "CHAMCHAM")]),
        ("3ta chum chum din", [("chum chum", "CHAMCHAM")]),
        ("jal ar 2 chum chum", [("jal", "WATER"), ("chum chum", "CHAMCHAM")]),
    ],
)
def test_romanised_vowels_and_split_words(
    romanised: ProductIndex, text: str, expected: list[tuple[str, str]]
) -> None:
    assert [(m.text, m.sku) for m in romanised.find_mentions(text)] == expected


@pytest.mark.parametrize(
    "text",
    [
        "chum",  # half of a split word is not the name
        "jat",  # the o/a rule swaps vowels, not consonants
        "the m",  # stopwords and one-letter words are never glued
        "cheeni chum",  # a word that matches alone is not glued to its neighbour
    ],
)
def test_romanised_rules_stay_narrow(romanised: ProductIndex, text: str) -> None:
    assert "CHAMCHAM" not in [m.sku for m in romanised.find_mentions(text)]
    assert "WATER" not in [m.sku for m in romanised.find_mentions(text)]


def test_split_word_is_one_item_with_its_count(romanised: ProductIndex) -> None:
    from bot.nlu.entities import extract

    found = extract("2ta chum chum ar 1 bottle jal din", romanised)
    assert [(i.sku, i.quantity) for i in found.items] == [("CHAMCHAM", 2), ("WATER", 1)]
    assert found.unmatched == ()


# ---- suggest ---------------------------------------------------------------------------
def test_suggest_offers_close_products(index: ProductIndex) -> None:
    found = index.suggest("kofee", limit=3)
    assert 1 <= len(found) <= 3
    assert found[0].sku == "COFFEE"
    assert len({m.product.sku for m in found}) == len(found)


def test_suggest_falls_back_to_loose_similarity(index: ProductIndex) -> None:
    found = index.suggest("ginjer tee")
    assert "GINGER-CHAI" in [m.sku for m in found]


def test_suggest_finds_a_typo_inside_a_long_message(index: ProductIndex) -> None:
    # the rarest grams are counted first and a long text stops at a budget: the typo'd
    # product word still has to win over the address around it
    text = "pls send kofee to flat 4b, 12 park street, salt lake sector 5, kolkata 700091"
    assert "COFFEE" in [m.sku for m in index.suggest(text)]


# ---- long and odd input ----------------------------------------------------------------
def test_long_message_does_not_blow_up(index: ProductIndex) -> None:
    text = ("2 samosa and 1 masala chai 🙂 " * 200)[:4000]
    assert len(text) == 4000
    mentions = index.find_mentions(text)
    assert mentions[0].sku == "SAMOSA"
    assert 1 < len(mentions) <= 256
    assert index.search(text)[0].sku in {"SAMOSA", "MASALA-CHAI"}
    assert isinstance(index.suggest("x" * 4000), list)


@pytest.mark.parametrize("text", ["\u200d\u200c", "ـــ", "̀́", "٠١٢", "!!!???", "\x00\x01"])
def test_odd_characters(index: ProductIndex, text: str) -> None:
    assert index.search(text) == []
    assert index.find_mentions(text) == []


# ---- a generated 1,000-product catalog (correctness only; speed is in bench/) -----------
_FOODS = tuple(itertools.chain.from_iterable(line.split() for line in (
    "masala chai aloo samosa paneer ginger lemon fish egg chicken mutton rice sweet "
    "curd roll biryani kachori butter mango milk veg special jumbo mini kesar elaichi "
    "badam pista malai rose garlic cheese chilli coffee momo paratha naan kulfi lassi "
    "shake pakora cutlet chop curry pulao dosa idli vada halwa ladoo barfi",
)))


def generated(size: int) -> Catalog:
    rng = random.Random(1234)
    seen: set[tuple[str, str]] = set()
    products: list[Product] = []
    while len(products) < size:
        pair = (rng.choice(_FOODS), rng.choice(_FOODS))
        if pair[0] == pair[1] or pair in seen:
            continue
        seen.add(pair)
        products.append(product(f"P{len(products):04d}", f"{pair[0]} {pair[1]}".title()))
    return catalog(*products)


def test_generated_catalog_exact_and_typo_queries() -> None:
    big = generated(1000)
    index = ProductIndex.build(big)
    assert len(index) == 1000
    rng = random.Random(99)
    for p in rng.sample(big.products, 150):
        name = p.name.get("en").lower()
        assert top(index, name) == p.sku, name
        first, second = name.split()
        typo = f"{first} {second[:-1]}{second[-1] * 2}"  # "masala chaii"
        assert p.sku in [m.sku for m in index.search(typo, limit=3)], typo
        (mention,) = index.find_mentions(f"3 {name} please")
        assert mention.sku == p.sku


def test_suggest_reads_the_rarest_grams_of_a_long_text_first() -> None:
    # 1,000 names built from the same 50 words share most trigrams; the one odd product's
    # grams are rare. Counting stops at a budget, so the rare grams must be counted first
    # or the address around the typo would spend the budget on names that share "str"
    big = catalog(*generated(1000).products, product("NOLEN", "Nolen Gur Sandesh"))
    index = ProductIndex.build(big)
    text = "pls send noen gurrrsandesh to flat 4b, 12 park street, salt lake sector 5, kolkata"
    assert "NOLEN" not in [m.sku for m in index.search(text, limit=3, min_score=0.0)]
    assert "NOLEN" in [m.sku for m in index.suggest(text)]  # found by its trigrams


# ---- normalisation and transliteration -------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("ChAi", "chai"),
        ("Café", "cafe"),
        ("١٢", "12"), ("۱۲", "12"), ("१२", "12"), ("১২", "12"),
        ("أحمد", "احمد"), ("إبريق", "ابريق"), ("شَاي", "شاي"), ("قهوة", "قهوه"),
        ("पाँच", "पांच"), ("ज़ीरा", "जीरा"), ("ड़", "ड"),
    ],
)
def test_normalize_token(raw: str, norm: str) -> None:
    assert normalize_token(raw) == norm


def test_tokenize_keeps_offsets_and_drops_emoji() -> None:
    text = "২টা মশলা-চা, 🙂 please!"
    tokens = tokenize(text)
    assert [t.norm for t in tokens] == ["2", "টা", "মশলা", "চা", "please"]
    assert [text[t.start : t.end] for t in tokens] == ["২", "টা", "মশলা", "চা", "please"]


@pytest.mark.parametrize(
    ("native", "typed"),
    [("चाय", "chai"), ("चाय", "chay"), ("मसाला", "masala"), ("आलू", "aloo"),
     ("ইলিশ", "ilish"), ("মিষ্টি", "mishti"), ("জিরা", "jeera"), ("ज़ीरा", "zeera"),
     ("कचौरी", "kachori"), ("नमकीन", "namakeen")],
)
def test_sound_key_meets_romanised_typing(native: str, typed: str) -> None:
    assert sound_key(native) == sound_key(typed)


@pytest.mark.parametrize(
    ("native", "typed"),
    [("মশলা", "masala"), ("মশলা", "moshla"), ("রসগোল্লা", "rosogolla"),
     ("রসগোল্লা", "rasgulla"), ("नमकीन", "namkeen"), ("বিরিয়ানি", "biryani"),
     ("समोसा", "samose"), ("شاي", "shai")],
)
def test_skeleton_is_vowel_blind(native: str, typed: str) -> None:
    assert skeleton(native) == skeleton(typed)


def test_romanize_and_folded_key() -> None:
    assert romanize("चाय") == "chaay"
    assert romanize("মশলা") == "mashalaa"
    assert romanize("ইলিশ") == "ilish"  # final inherent vowel dropped
    assert romanize("शाय") != romanize("चाय")
    assert folded_key("দই") == folded_key("doi")
    assert folded_key("চা") == folded_key("cha")
    assert skeleton("chai") != skeleton("samosa")
