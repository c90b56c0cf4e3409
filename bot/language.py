"""Which language a shopper writes in, and whether they ask to switch (docs/DESIGN.md §1.5).

Script decides first (Devanagari → hi, Bengali → bn, Arabic → ar); Latin text is English
unless its words are romanised Hindi ("mujhe do samose chahiye", "kitne ka hai"). Both
functions are a single pass over the characters plus a few set look-ups: microseconds.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Final

from catalog.search import normalize_token

__all__ = ["detect_language", "language_switch_request"]

def _words(text: str) -> list[str]:
    """Whitespace-separated word lists keep these tables readable."""
    return text.split()


_WORD_RE = re.compile(r"[a-z]+")
_ANY_WORD_RE = re.compile(
    r"(?:[^\W\d_]|[\u0900-\u0903\u093a-\u094f\u0951-\u0957\u0962\u0963"
    r"\u0981-\u0983\u09bc\u09be-\u09cd\u09d7\u09e2\u09e3\u064b-\u065f\u0670\u200c\u200d])+"
)

# Romanised Hindi words that are not also common English words.
_HINGLISH_STRONG: frozenset[str] = frozenset(_words("""
    mujhe muje mujhko mjhe hume humein humko hamein chahiye chahie chaiye chahiye
    kitne kitna kitni kitne kya kyaa kyu kyun kyon kaise kaisa kaisi kahan kaha kab kaun
    hai hain hoga hogi tha thi bhaiya bhaiyya bhaia bhai bhaisahab didi dena dedo dijiye
    dijie nahi nahin nai haan han haa accha acha achha theek thik thk shukriya
    dhanyavad dhanyawad namaste namaskar aur bhi sirf abhi jaldi kal aaj wala wali wale
    karo karna kariye kijiye bhejo bhejna bhej mera meri mere apna apni tumhara aapka
    aapke aap tum hum yeh ye woh wo kuch sab bahut zyada jyada kam kaam batao bataiye
    samose chahta chahti lena lenge milega milegi ruko rukiye paisa paise rupaye rupay
    kitane kidhar idhar udhar ek teen paanch chaar
"""))
# Short Hindi words that also occur in English chat ("do", "me", "to", "ki"): half weight.
_HINGLISH_WEAK: frozenset[str] = frozenset(
    _words("ka ki ke ko se me mein main do to hi na ho")
)
_ENGLISH: frozenset[str] = frozenset(_words("""
    the a an is are am was i you we they it this that what how much many can could would
    please want need have has get give send me my your of for to in on with and or not
    do does hello hi hey thanks thank yes no ok okay order price cost menu where when
    which there here some any will shall buy pay show
"""))

# a language's own names in every script, normalised: "hindi", "हिंदी", "بالهندي" → hi
_LANGUAGE_WORDS: Final[Mapping[str, str]] = {  # read-only (typed so): built once, here
    normalize_token(word): lang
    for lang, text in {
        "en": "english eng angrezi angreji inglish ইংরেজি ইংলিশ अंग्रेज़ी अंग्रेजी इंग्लिश "
              "الإنجليزية الانجليزية انجليزي إنجليزي انكليزي بالانجليزي بالإنجليزية بالانجليزية",
        "hi": "hindi हिंदी हिन्दी হিন্দি الهندية هندي بالهندي بالهندية",
        "bn": "bangla bengali bangali bongali বাংলা বাংলায় বাঙালি बांग्ला बंगाली बंगला "
              "البنغالية بنغالي",
        "ar": "arabic arbi arabi العربية العربيه عربي بالعربي بالعربية بالعربيه عربية "
              "अरबी আরবি",
    }.items()
    for word in _words(text)
}

# Words that may accompany a language name in a switch request, and nothing else may.
_SWITCH_CUES: frozenset[str] = frozenset(
    normalize_token(w)
    for w in _words("""
    in please pls plz speak talk reply replies write switch to change language lang use
    can you me us we i want prefer let's lets only do could would kindly now the
    mein me main bolo boliye baat karo kariye kijiye bhasha bhasa mai te e ey bolun
    bolen kotha bhashay
    में मे बोलो बोलिए बात करो करें कीजिए भाषा कृपया प्लीज़ प्लीज
    বলুন বলো বলেন কথা ভাষায় ভাষা দয়া করে প্লিজ তে য়
    من فضلك تكلم تحدث اللغة باللغة لو سمحت ممكن
    """)
)


def _script_counts(text: str) -> tuple[int, int, int, int]:
    dev = bn = ar = lat = 0
    for ch in text:
        code = ord(ch)
        if code < 0x80:
            if ch.isalpha():
                lat += 1
        elif 0x0900 <= code <= 0x097F:
            if not 0x0966 <= code <= 0x096F:  # digits say nothing about the language
                dev += 1
        elif 0x0980 <= code <= 0x09FF:
            if not 0x09E6 <= code <= 0x09EF:
                bn += 1
        elif (0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F
              or 0x08A0 <= code <= 0x08FF or 0xFB50 <= code <= 0xFDFF
              or 0xFE70 <= code <= 0xFEFF):
            if not (0x0660 <= code <= 0x0669 or 0x06F0 <= code <= 0x06F9):  # digits
                ar += 1
        elif code < 0x0250 and ch.isalpha():
            lat += 1
    return dev, bn, ar, lat


# pure, and a message's text is read twice (the intent engine's language, then the engine's
# sticky-language check, bot/engine.py:_update_language): the second read is a look-up
@functools.lru_cache(maxsize=256)
def detect_language(text: str) -> str | None:
    """``hi``, ``bn``, ``ar`` or ``en`` from the script and words; None without letters."""
    dev, bn, ar, lat = _script_counts(text[:4000])
    native = max(dev, bn, ar)
    if native and native * 2 >= lat // 2:  # a native word among Latin brand names wins
        if native == dev:
            return "hi"
        return "bn" if native == bn else "ar"
    if not lat:
        return None
    words = _WORD_RE.findall(text[:4000].lower())
    hindi = 0.0
    english = 0
    for word in words:
        if word in _HINGLISH_STRONG:
            hindi += 1
        elif word in _HINGLISH_WEAK:
            hindi += 0.5
        if word in _ENGLISH:
            english += 1
    if hindi >= 1 and hindi >= english:
        return "hi"
    return "en"


def language_switch_request(text: str) -> str | None:
    """The language asked for in "Hindi", "বাংলা", "in hindi please", "العربية"; else None.

    Only short messages made of a language name and switch words count: "hindi movie
    songs" is not a request to switch.
    """
    if len(text) > 80:
        return None
    words = _ANY_WORD_RE.findall(text)
    if not words or len(words) > 8:
        return None
    wanted: str | None = None
    for raw in words:
        word = normalize_token(raw)
        lang = _LANGUAGE_WORDS.get(word)
        if lang is not None:
            if wanted is not None and wanted != lang:
                return None
            wanted = lang
        elif word not in _SWITCH_CUES:
            return None
    return wanted
