"""Language detection from script and words, and explicit language-switch requests."""

from __future__ import annotations

import pytest

from bot.language import detect_language, language_switch_request


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        # English
        ("2 masala chai please", "en"),
        ("do you have samosa?", "en"),
        ("Hello! What's on the menu today?", "en"),
        ("hi", "en"),
        ("Café au lait", "en"),
        # romanised Hindi
        ("mujhe do samose chahiye", "hi"),
        ("kitne ka hai", "hi"),
        ("bhaiya", "hi"),
        ("kya", "hi"),
        ("masala chai kitne ki hai bhaiya?", "hi"),
        ("ek chai dena", "hi"),
        # scripts
        ("मुझे दो समोसे चाहिए", "hi"),
        ("चाय", "hi"),
        ("২টা মশলা চা দিন", "bn"),
        ("আমার অর্ডার কোথায়?", "bn"),
        ("أريد ٣ شاي", "ar"),
        ("\u200fمرحبا", "ar"),
        ("مرحبا 👋", "ar"),
        # a native word among Latin brand names still decides
        ("Nescafe কফি", "bn"),
        ("I want मसाला चाय", "hi"),
    ],
)
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang


@pytest.mark.parametrize("text", ["", "   ", "🙂🙂🙏", "123", "٣٤", "৫", "!!! ???", "👍🏽"])
def test_no_letters_no_language(text: str) -> None:
    assert detect_language(text) is None


def test_long_mixed_message_is_fast_and_decided() -> None:
    text = ("মশলা চা 🙂 " * 500)[:4000]
    assert detect_language(text) == "bn"
    assert detect_language("a" * 4000) == "en"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Hindi", "hi"),
        ("hindi", "hi"),
        ("हिंदी", "hi"),
        ("हिन्दी में बात करो", "hi"),
        ("in hindi please", "hi"),
        ("বাংলা", "bn"),
        ("বাংলায় বলুন", "bn"),
        ("bangla", "bn"),
        ("Bangla te bolo", "bn"),
        ("Bengali please", "bn"),
        ("english", "en"),
        ("English please 🙏", "en"),
        ("can you speak english?", "en"),
        ("العربية", "ar"),
        ("بالعربي من فضلك", "ar"),
        ("arabic", "ar"),
    ],
)
def test_language_switch_request(text: str, lang: str) -> None:
    assert language_switch_request(text) == lang


@pytest.mark.parametrize(
    "text",
    [
        "hindi movie songs",  # mentions a language, asks for something else
        "english or hindi",  # two languages: not a decision
        "2 masala chai",
        "hello",
        "",
        "hindi " * 50,
    ],
)
def test_not_a_switch_request(text: str) -> None:
    assert language_switch_request(text) is None
