"""The general rules issue-13p took from the hand-written ``blind`` split (docs/nlu-13p.md):
counts written as words of a unit, options named by their number and unit, and everyday
uses of product words. A small hardware shop of our own, not the split's."""

from __future__ import annotations

import pytest

from bot.nlu.entities import extract
from catalog.models import Catalog
from catalog.search import ProductIndex
from tests.unit.catalog_builders import catalog, option, product


def _shop() -> Catalog:
    return catalog(
        product("NAIL", {"en": "Wall Nail", "hi": "दीवार कील", "bn": "দেয়াল পেরেক",
                         "ar": "مسمار جدار"}, ("nail", "مسمار", "कील", "পেরেক"),
                unit="piece"),
        product("BULB", {"en": "LED Bulb", "hi": "एलईडी बल्ब", "bn": "এলইডি বাল্ব",
                         "ar": "لمبة ليد"}, ("bulb", "لمبة", "बल्ब", "বাল্ব"), unit="piece"),
    )


def _items(text: str) -> list[tuple[str, int]]:
    found = extract(text, ProductIndex.build(_shop()))
    return [(i.sku, i.quantity) for i in found.items if not i.candidates and not i.negated]


@pytest.mark.parametrize(("text", "items"), [
    ("হাফ ডজন পেরেক দেন", [("NAIL", 6)]),          # হাফ, हाफ: the loan word "half"
    ("हाफ दर्जन कील चाहिए", [("NAIL", 6)]),
    ("حبتين لمبة ليد", [("BULB", 2)]),              # the dual of حبة (a piece): two
    ("ابي قطعتين مسمار", [("NAIL", 2)]),
    ("١٠ باكيتات حديد مسمار", [("NAIL", 10)]),      # باكيتات (packets), then a describing
    ("٣ حبات كبيرة لمبة", [("BULB", 3)]),           # word: the unit keeps the count
])
def test_counts_written_as_words_of_a_unit(text: str, items: list[tuple[str, int]]) -> None:
    assert _items(text) == items
