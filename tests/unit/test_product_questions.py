"""Product questions find the product asked about, whatever its name, in every language.

Generated over every product of the demo shop and the example shops (a grocery whose names
are everyday words among them): each name in each of its languages, in each question form,
must lead to that product and only that one; the question's words are never a product.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.flows.browse import _INFO_FRAME, info_query
from catalog.search import ProductIndex
from webhooks.plugins import load_shop

ROOT = Path(__file__).resolve().parents[2]
SHOPS = [ROOT / "config", ROOT / "examples" / "dhaka-grocer", ROOT / "examples" / "dubai-bakery"]
QUESTIONS = {
    "en": ("tell me about {n}", "what is in {n}?", "what's in the {n}", "{n} details please",
           "can you tell me more about {n}", "what is {n} made of"),
    "hi": ("{n} के बारे में बताओ", "{n} में क्या है", "{n} की जानकारी दीजिए"),
    "bn": ("{n} সম্পর্কে বলুন", "{n} এর বিবরণ দিন", "{n} কেমন"),
    "ar": ("ما هو {n}", "أخبرني عن {n}", "ما مكونات {n}؟", "ما هي {n}"),
}
ROMANISED = ("{n} ki details", "{n} ke baare mein batao", "{n} somporke bolun",
             "{n} te ki ache")


@pytest.mark.parametrize("folder", SHOPS, ids=lambda p: p.name)
def test_every_name_in_every_question_form_finds_that_product(folder: Path) -> None:
    shop = load_shop(folder)
    index = ProductIndex.build(shop.catalog)
    wrong = []
    for product in shop.catalog.products:
        asked = [(q, name) for lang, forms in QUESTIONS.items()
                 if (name := product.name.by_lang.get(lang)) for q in forms]
        asked += [(q, alias) for alias in product.aliases if alias.isascii() for q in ROMANISED]
        for question, name in asked:
            text = question.format(n=name)
            found = {m.product.sku for m in index.find_mentions(info_query(text))}
            # a name may be a shared word ("chai" of several teas): never another product alone
            if product.sku not in found or (len(found) > 1 and _own_words(name, index)):
                wrong.append(f"{text!r} → {sorted(found)}, wanted {product.sku}")
    assert not wrong, "\n".join(wrong[:30])


def _own_words(name: str, index: ProductIndex) -> bool:
    """Whether the name alone names exactly one product (else several may be fair)."""
    return len({m.product.sku for m in index.find_mentions(name)}) == 1


@given(st.lists(st.sampled_from(sorted(_INFO_FRAME)), min_size=1, max_size=8),
       st.sampled_from(["?", "!", ".", "", "؟", "।"]))
def test_a_question_made_only_of_frame_words_asks_for_nothing(words: list[str],
                                                             end: str) -> None:
    assert info_query(" ".join(words) + end) == ""
