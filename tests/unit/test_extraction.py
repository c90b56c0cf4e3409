"""Products, quantities and carts as shoppers write them (issue #13 part B, #15 item 7).

Three layers: the labelled corpus itself (generated, committed, reproducible, split by shop),
the failures the issue names as single messages against the corpus shops, and invariants of
the cart plan under any quantity (hypothesis). The corpus-wide figures are a test too: the
held-out shops must stay at what docs/NLU.md records.
"""

from __future__ import annotations

import filecmp
from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.nlu.base import ItemMention, QuantityIssue, Understanding
from bot.nlu.builtin import BuiltinBackend
from bot.nlu.cart_plan import plan_items, planned_cart
from bot.nlu.entities import Extraction, extract
from bot.nlu.evaluate import FORMS, CorpusShop, ExtractionReport, evaluate_corpus, expected_cart
from bot.nlu.rasa_export import export_rasa_project
from bot.nlu.rasa_http import items_from_rasa
from bot.nlu.training import Example, load_rasa_nlu, read_nlu_data
from catalog.models import Shop
from catalog.search import ProductIndex, normalize_token
from tests.nlu.extraction import generate
from tests.nlu.extraction.shops_spec import FRESH, HOLDOUT, SHOPS, UNSEEN
from tests.unit.catalog_builders import catalog, product
from webhooks.plugins import check_shop, load_shop

ROOT = Path(__file__).resolve().parents[2]
EXTRACTION = ROOT / "tests" / "nlu" / "extraction"
CORPUS = EXTRACTION / "corpus"
SHOP_DIR = EXTRACTION / "shops"


def _shop(shop_id: str) -> Shop:
    return load_shop(SHOP_DIR / shop_id, shop_id)


_INDEXES: dict[str, ProductIndex] = {}


def _extract(shop_id: str, text: str) -> Extraction:
    if shop_id not in _INDEXES:
        _INDEXES[shop_id] = ProductIndex.build(_shop(shop_id).catalog)
    return extract(text, _INDEXES[shop_id])


def _cart(shop_id: str, text: str) -> dict[str, int]:
    """What an order message puts in a fresh cart (the intent taken as add_to_cart)."""
    found = _extract(shop_id, text)
    return planned_cart(Understanding("add_to_cart", 1.0, "en", items=found.items),
                        _shop(shop_id).catalog)


# ---- the corpus -------------------------------------------------------------------------
def test_committed_corpus_is_what_the_generator_writes(tmp_path: Path) -> None:
    generate.main(tmp_path)
    for split in ("tune", "test", "holdout", "fresh", "unseen"):
        for path in sorted((CORPUS / split).rglob("*.yml")):
            twin = tmp_path / "corpus" / split / path.relative_to(CORPUS / split)
            assert filecmp.cmp(path, twin, shallow=False), f"{path} is stale: regenerate"
    hand_written = {folder.name for split in ("wild", "blind", "blind2")  # issue-13h, issue-13
                    for folder in (CORPUS / split).iterdir()}
    for path in sorted(SHOP_DIR.rglob("*.yaml")):
        twin = tmp_path / "shops" / path.relative_to(SHOP_DIR)
        if path.parent.name in hand_written:
            assert not twin.exists(), f"{path}: the generator writes a hand-written shop"
            continue
        assert filecmp.cmp(path, twin, shallow=False), f"{path} is stale: regenerate"


def test_corpus_size_languages_shops_and_split() -> None:
    per_split: dict[str, set[str]] = {"tune": set(), "test": set()}
    forms: Counter[str] = Counter()
    total = 0
    for split, shops in per_split.items():
        for folder in (CORPUS / split).iterdir():
            shops.add(folder.name)
            for form in FORMS:
                n = len(load_rasa_nlu(folder / f"{form}.yml"))
                forms[form] += n
                total += n
    assert total >= 1500
    assert set(forms) == set(FORMS) and min(forms.values()) >= 200
    assert len(per_split["tune"] | per_split["test"]) >= 4
    assert not per_split["tune"] & per_split["test"]  # split by shop
    assert {s.id for s in SHOPS if s.split == "test"} == per_split["test"]
    holdout = {folder.name for folder in (CORPUS / "holdout").iterdir()}
    assert holdout == {s.id for s in HOLDOUT} and not holdout & {s.id for s in SHOPS}
    fresh = {folder.name for folder in (CORPUS / "fresh").iterdir()}
    assert fresh == {s.id for s in FRESH} and not fresh & (holdout | {s.id for s in SHOPS})
    unseen = {folder.name for folder in (CORPUS / "unseen").iterdir()}
    assert unseen == {s.id for s in UNSEEN}
    assert not unseen & (fresh | holdout | {s.id for s in SHOPS})
    assert not {s.kind for s in UNSEEN} & {s.kind for s in (*SHOPS, *HOLDOUT, *FRESH)}
    kinds = {s.kind for s in SHOPS}
    assert len(kinds) >= 4 and "grocery" in kinds


def test_every_corpus_shop_passes_haat_check() -> None:
    for shop in (*SHOPS, *HOLDOUT, *FRESH, *UNSEEN):
        assert [str(e) for e in check_shop(SHOP_DIR / shop.id)
                if e.severity == "error"] == []


@pytest.mark.parametrize("needle", [
    "সিঙাড়া", "গুলো", "টা দিন", "समोसे", "अंडे", "ज़", "ँ", "য়", "بقلاوه",
    "2ta", "1ta", "x3", "3x", "dozen", "ডজন", "दर्जन", "half", "আধা", "نصف", "packet",
    "पैकेट", "bottle", "ثلاثة", "٣", "টো", "টি", "daal do", "डाल दो", "tell me about",
    "চাই", "chai", "no ", "nahi", "না", "لا أريد", " aur ", " আর ", " و", "1e9", "99999999999",
])
def test_corpus_covers(needle: str) -> None:
    text = "\n".join(ex.text for path in CORPUS.rglob("*.yml") for ex in load_rasa_nlu(path))
    assert needle in text


def test_expected_cart_reads_the_labels() -> None:
    (ex,) = load_rasa_nlu_text(
        '[2]{"entity": "quantity", "value": "24", "group": "1"} [dozen]{"entity": "unit", '
        '"value": "dozen", "group": "1"} [eggs]{"entity": "product", "value": "EGGS", '
        '"group": "1"}, no [chai]{"entity": "product", "value": "TEA-LEAVES", "group": "2", '
        '"role": "negated"} and [0]{"entity": "quantity", "value": "0", "group": "3", '
        '"role": "ask"} [samosa]{"entity": "product", "value": "SAMOSA", "group": "3"}')
    assert ex.text == "2 dozen eggs, no chai and 0 samosa"
    assert expected_cart(ex) == {"EGGS": 24}


def load_rasa_nlu_text(line: str) -> list[Example]:
    text = f'version: "3.1"\nnlu:\n- intent: add_to_cart\n  examples: |\n    - {line}\n'
    return list(read_nlu_data(text).examples)


# ---- the failures of issue #13, one message each ----------------------------------------
@pytest.mark.parametrize(
    ("shop", "text", "cart"),
    [
        # a verb or word that looks like a product
        ("kirana", "2 samosa daal do", {"SAMOSA": 2}),
        ("kirana", "2 समोसे डाल दो", {"SAMOSA": 2}),
        ("kirana", "2 kg dal do", {"TOOR-DAL": 2}),  # here dal *is* the lentils
        ("kirana", "2 samosa, tell me the total", {"SAMOSA": 2}),
        ("mishti", "২টা রসগোল্লা চাই", {"RASGULLA": 2}),
        ("mishti", "2ta singara chai", {"SINGARA": 2}),
        ("mishti", "2ta singara ar 1ta chai", {"SINGARA": 2, "TEA": 1}),  # here, tea
        # a spelling the catalog lacks
        ("mishti", "৩টা সিঙাড়া দিন", {"SINGARA": 3}),
        ("mishti", "রসগোল্লাগুলো দিন", {"RASGULLA": 1}),
        # packs, units, quantity after the noun
        ("kirana", "one dozen eggs", {"EGGS": 12}),
        ("kirana", "samosa x3", {"SAMOSA": 3}),
        ("kirana", "3x samosa", {"SAMOSA": 3}),
        ("kirana", "बिस्कुट के दो पैकेट", {"BISCUITS": 2}),
        ("kirana", "half kg toor dal", {"TOOR-DAL-500G": 1}),
        ("kirana", "2 kg rice", {"RICE": 2}),
        ("kirana", "1.5 kg sugar", {"SUGAR-500G": 3}),
        ("kirana", "أريد ٣ سمبوسة", {"SAMOSA": 3}),
        ("kirana", "أريد ثلاثة سمبوسة وحليب", {"SAMOSA": 3, "MILK": 1}),
        # negations and questions add nothing
        ("kirana", "no samosa today", {}),
        ("kirana", "2 milk, no samosa", {"MILK": 2}),
        ("kirana", "সিঙ্গারা লাগবে না", {}),
        ("kirana", "لا أريد سمبوسة", {}),
        # absurd quantities are asked about
        ("kirana", "add 99999999999 samosa", {}),
        ("kirana", "add 1e9 samosa", {}),
        ("kirana", "add 0 samosa", {}),
        ("kirana", "-3 samosa", {}),
        ("kirana", "2.5 samosa", {}),
    ],
)
def test_issue_13_messages(shop: str, text: str, cart: dict[str, int]) -> None:
    assert _cart(shop, text) == cart
    # and nothing else was read as a product to add (a question would hide it from the cart)
    added = [i.sku for i in _extract(shop, text).items
             if not i.negated and not i.candidates and i.issue is None]
    assert sorted(added) == sorted(cart)


def test_bengali_spellings_meet_in_one_form() -> None:
    assert normalize_token("সিঙাড়া") == normalize_token("সিঙ্গারা") == normalize_token("সিঙারা")
    assert normalize_token("পান্তুয়া") != normalize_token("পান্তুযা")  # য় stays "y"


def test_tell_is_not_mustard_oil() -> None:
    found = _extract("kirana", "tell me about samosa")
    assert [i.sku for i in found.items] == ["SAMOSA"]


@pytest.mark.parametrize(("text", "issue"), [
    ("add 99999999999 samosa", QuantityIssue.TOO_MANY),
    ("add 1e9 samosa", QuantityIssue.SCIENTIFIC), ("add 1E+3 samosa", QuantityIssue.SCIENTIFIC),
    ("add 0 samosa", QuantityIssue.ZERO), ("-3 samosa", QuantityIssue.NEGATIVE),
    ("2.5 samosa", QuantityIssue.FRACTION),
])
def test_absurd_quantities_are_flagged_not_rewritten(text: str, issue: QuantityIssue) -> None:
    (item,) = _extract("kirana", text).items
    assert item.issue is issue and item.sku == "SAMOSA"


def test_a_phone_number_is_still_not_a_quantity() -> None:
    assert [(i.sku, i.issue) for i in _extract("kirana", "call 9876543210").items] == []


def test_shared_word_is_ambiguous_not_a_guess() -> None:
    """Two lentils: "dal" is a question, even though the Arabic دال looks like one of them."""
    two_dals = catalog(
        product("CHANA-DAL", {"en": "Chana Dal", "ar": "دال الحمص"}, unit="kg"),
        product("MASOOR-DAL", {"en": "Masoor Dal", "ar": "عدس أحمر"}, unit="kg"),
        product("RICE", {"en": "Rice"}, unit="kg"),
    )
    found = extract("1 kg dal and 2 kg rice", ProductIndex.build(two_dals))
    assert [(i.sku, i.quantity, i.candidates) for i in found.items] == [
        ("", 1, ("CHANA-DAL", "MASOOR-DAL")), ("RICE", 2, ())]
    understanding = Understanding("add_to_cart", 1.0, "en", items=found.items)
    assert planned_cart(understanding, two_dals) == {"RICE": 2}


def test_unknown_words_in_a_products_place_are_reported() -> None:
    found = _extract("kirana", "2 samosa and 1 thermometer")
    assert [i.sku for i in found.items] == ["SAMOSA"]
    assert found.unmatched == ("thermometer",)
    assert _extract("kirana", "2 samosa please").unmatched == ()


# ---- the cart plan under any quantity ---------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-10**12, max_value=10**12), st.integers(min_value=1, max_value=99))
def test_plan_never_adds_outside_one_to_the_cap(quantity: int, cap: int) -> None:
    catalog = _shop("kirana").catalog
    plan = plan_items((ItemMention("SAMOSA", quantity, True),), catalog, cap)
    if 1 <= quantity <= cap:
        assert [(i.sku, i.quantity) for i in plan.lines] == [("SAMOSA", quantity)]
    else:
        assert plan.lines == () and len(plan.refused) == 1


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=10**15))
def test_any_written_count_is_added_exactly_or_asked(n: int) -> None:
    cart = _cart("kirana", f"add {n} samosa")
    assert cart == ({"SAMOSA": n} if 1 <= n <= 99 else {})


# ---- the measured figures ---------------------------------------------------------------
async def _split_report(split: str) -> ExtractionReport:
    entries = []
    for folder in sorted((CORPUS / split).iterdir()):
        shop = _shop(folder.name)
        examples = [(form, ex) for form in FORMS for ex in load_rasa_nlu(folder / f"{form}.yml")]
        entries.append(CorpusShop(shop, BuiltinBackend.train(shop), examples))
    _, report = await evaluate_corpus(entries)
    assert report.overall.n == sum(len(e.examples) for e in entries)
    return report


@pytest.mark.parametrize(("split", "cart_exact", "precision"), [
    ("test", 0.98, 0.99), ("holdout", 0.99, 0.99), ("fresh", 0.97, 0.99)])
async def test_held_out_shops_keep_their_recorded_figures(split: str, cart_exact: float,
                                                          precision: float) -> None:
    """docs/NLU.md: cart exact-match and product precision on the shops not tuned on, in
    every language form: ``test`` (until issue-13e read its misses), ``holdout`` (read once,
    by issue-13e), ``fresh`` (never read; 46 messages a form, so one miss is 0.022)."""
    report = await _split_report(split)
    assert report.overall.precision >= 0.99
    for form in report.per_form:
        assert form.cart_exact >= cart_exact, form
        assert form.precision >= precision, form


# Splits below the targets, each held at its latest reading (cart exact-match, product
# precision per form) so that a change can only move it up (docs/NLU.md):
# ``unseen``, the hardware store, scored once (13f), then tuned on (13g: "don't" is a
# negation, not a name) and 13k (the count of a unit word that starts a name, "6 cup
# hooks"); ``wild``, the hand-written stationery shop (13h), scored once, then tuned
# on (13i: options, packs, counts after option names, loose parts, refusals; 13k: Arabic
# plurals, product questions, refusals in every form; 13n: a product named again);
# ``blind``, the hand-written phone-accessories shop, scored once, then tuned on (13k;
# 13n: a number that starts a name, "1 3 pin plug", and a product named again; then
# scored with the option question: "1 power bank" is expected asked, not added; 13p:
# seventeen general rules; 13r: five precision rules); ``blind2``, the hand-written
# hardware shop in Sharjah, scored by the lead with its tables only and never tuned on
# (its messages are not to be read).
READINGS = {
    "blind": {"en": (0.9420, 0.9753), "hinglish": (0.9688, 0.9722), "hi": (0.8906, 0.9701),
              "bn": (0.8806, 1.0), "bn-latn": (0.8955, 1.0), "ar": (0.8939, 0.9688)},
    "blind2": {"en": (0.7647, 0.8861), "hinglish": (0.7500, 0.8676), "hi": (0.8529, 0.9412),
               "bn": (0.7246, 0.8816), "bn-latn": (0.7681, 0.8171), "ar": (0.6812, 0.8046)},
    "unseen": {"en": (1.0, 1.0), "hinglish": (0.9348, 1.0), "hi": (0.9130, 0.9310),
               "bn": (1.0, 1.0), "bn-latn": (0.9565, 1.0), "ar": (1.0, 1.0)},
    "wild": {"en": (0.9828, 0.9861), "hinglish": (0.9661, 0.9733), "hi": (0.9500, 0.9865),
             "bn": (0.9672, 0.9615), "bn-latn": (0.9836, 0.9605), "ar": (0.9016, 0.9359)},
}


@pytest.mark.parametrize("split", sorted(READINGS))
async def test_a_split_below_the_targets_keeps_its_reading(split: str) -> None:
    report = await _split_report(split)
    floors = READINGS[split]
    assert {form.form for form in report.per_form} == set(floors)
    for form in report.per_form:
        cart, precision = floors[form.form]
        assert form.cart_exact >= cart - 1e-4, form
        assert form.precision >= precision - 1e-4, form


# ---- Rasa: the export carries the entities, and DIET's entities can be scored --------------
def test_rasa_export_has_entity_annotations_roles_and_slots(tmp_path: Path) -> None:
    shops = [_shop(s.id) for s in SHOPS]
    export_rasa_project(shops, tmp_path)
    domain = yaml.safe_load((tmp_path / "domain.yml").read_text(encoding="utf-8"))
    entities = {next(iter(e)) if isinstance(e, dict) else e: e for e in domain["entities"]}
    assert {"product", "quantity", "unit"} <= set(entities)
    assert entities["product"] == {"product": {"roles": ["negated", "ask"]}}
    assert set(domain["slots"]) == {"product", "quantity", "unit"}
    assert domain["slots"]["unit"]["mappings"] == [{"type": "from_entity", "entity": "unit"}]
    data = read_nlu_data((tmp_path / "data" / "nlu.yml").read_text(encoding="utf-8"))
    kinds = Counter(s.type for ex in data.examples for s in ex.spans)
    # hundreds of each (483 quantities once product_info joined the export's templates)
    assert kinds["product"] > 1000 and kinds["quantity"] > 400 and kinds["unit"] > 20
    assert not any(s.group for ex in data.examples for s in ex.spans)  # per-file numbering
    for shop in shops:  # every shop's skus are synonyms DIET's values map onto
        assert all(p.sku in data.synonyms for p in shop.catalog.products)


def test_items_from_diets_entities() -> None:
    text = "2 samosa, dudh 3 and 1 kg rice"

    def ent(kind: str, words: str, value: str | None = None) -> dict[str, object]:
        start = text.index(words)
        return {"entity": kind, "start": start, "end": start + len(words),
                "value": value or words}
    data = {"intent": {"name": "add_to_cart", "confidence": 0.9}, "entities": [
        ent("quantity", "2"), ent("product", "samosa", "SAMOSA"), ent("product", "dudh"),
        ent("quantity", "3"), ent("quantity", "1"), ent("unit", "kg"),
        ent("product", "rice", "RICE")]}
    kirana = _shop("kirana")
    items = items_from_rasa(data, text, kirana, ProductIndex.build(kirana.catalog))
    assert [(i.sku, i.quantity) for i in items] == [("SAMOSA", 2), ("MILK", 3), ("RICE", 1)]
