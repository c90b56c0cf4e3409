"""Every built-in reply exists in en, hi, bn and ar, with the same placeholders."""

from __future__ import annotations

import string

import pytest

from bot.replies import TEXTS, text_for
from tests.conftest import DEMO_SHOP
from webhooks.plugins import load_shop


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("key", sorted(TEXTS))
def test_each_reply_has_four_languages_and_the_same_placeholders(key: str) -> None:
    texts = TEXTS[key]
    assert set(texts) == {"en", "hi", "bn", "ar"}
    assert all(texts[lang].strip() for lang in texts)
    english = _fields(texts["en"])
    for lang in ("hi", "bn", "ar"):
        assert _fields(texts[lang]) == english, lang


def test_a_shop_override_wins_and_falls_back_to_the_built_in_text() -> None:
    shop = load_shop(DEMO_SHOP)
    assert "Mitra Tea House" in text_for(shop, "greeting", "en")  # shop.yaml overrides it
    assert text_for(shop, "cart_empty", "bn") == TEXTS["cart_empty"]["bn"]
    assert "₹9.00" in text_for(shop, "price", "ar", name="x", price="₹9.00", unit="")
