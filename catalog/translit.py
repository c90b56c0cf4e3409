"""Deterministic romanisation of Devanagari, Bengali and (roughly) Arabic into sound keys.

Shoppers type "ilish", "moshla cha" or "masala chai" for a product the merchant wrote as
ইলিশ or মশলা চা. Search meets both in one Latin key space:

* :func:`romanize` — ITRANS-like Latin for one word (inherent vowel ``a``, final schwa
  dropped), so चाय → ``chaay`` and মশলা → ``mashalaa``.
* :func:`sound_key` — the romanisation (or Latin typing) with spelling variants folded:
  aspirates, ``sh``/``s``, ``v``/``w``/``b``, ``z``/``j``, long vowels, doubled letters and
  a trailing ``y`` glide. ``chai``, ``chay`` and चाय all give ``cai``.
* :func:`skeleton` — the consonant skeleton of the sound key (initial vowel kept as ``a``),
  robust to the Bengali ``a``/``o`` vowel and to dropped schwas: masala, moshla and মশলা
  all give ``msl``.

Everything here is pure, table-driven and cached: the keys of a catalog are computed once
when the index is built, and the few query words per message hit an LRU cache.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["folded_key", "romanize", "skeleton", "sound_key", "word_keys"]

# ---- Devanagari ---------------------------------------------------------------------
_DEV_CONSONANTS: dict[str, str] = {
    "क": "k", "ख": "kh", "ग": "g", "घ": "gh", "ङ": "n", "च": "ch", "छ": "chh", "ज": "j",
    "झ": "jh", "ञ": "n", "ट": "t", "ठ": "th", "ड": "d", "ढ": "dh", "ण": "n", "त": "t",
    "थ": "th", "द": "d", "ध": "dh", "न": "n", "ऩ": "n", "प": "p", "फ": "ph", "ब": "b",
    "भ": "bh", "म": "m", "य": "y", "र": "r", "ऱ": "r", "ल": "l", "ळ": "l", "ऴ": "l",
    "व": "v", "श": "sh", "ष": "sh", "स": "s", "ह": "h",
    # precomposed nukta letters (NFC decomposes most of them; both forms are handled)
    "क़": "q", "ख़": "kh", "ग़": "g", "ज़": "z", "ड़": "r", "ढ़": "rh", "फ़": "f", "य़": "y",
}
_DEV_NUKTA: dict[str, str] = {
    "क": "q", "ख": "kh", "ग": "g", "ज": "z", "ड": "r", "ढ": "rh", "फ": "f", "य": "y",
}
_DEV_VOWELS: dict[str, str] = {
    "अ": "a", "आ": "aa", "इ": "i", "ई": "ii", "उ": "u", "ऊ": "uu", "ऋ": "ri", "ए": "e",
    "ऐ": "ai", "ओ": "o", "औ": "au", "ऑ": "o", "ऍ": "e", "ऎ": "e", "ऒ": "o", "ॠ": "ri",
}
_DEV_SIGNS: dict[str, str] = {
    "ा": "aa", "ि": "i", "ी": "ii", "ु": "u", "ू": "uu", "ृ": "ri", "े": "e", "ै": "ai",
    "ो": "o", "ौ": "au", "ॉ": "o", "ॅ": "e", "ॆ": "e", "ॊ": "o", "ॄ": "ri",
}
_DEV_MODS: dict[str, str] = {"ं": "n", "ँ": "n", "ः": "h", "ऽ": ""}
_DEV_VIRAMA = "्"
_DEV_NUKTA_SIGN = "़"

# ---- Bengali ------------------------------------------------------------------------
_BN_CONSONANTS: dict[str, str] = {
    "ক": "k", "খ": "kh", "গ": "g", "ঘ": "gh", "ঙ": "ng", "চ": "ch", "ছ": "chh", "জ": "j",
    "ঝ": "jh", "ঞ": "n", "ট": "t", "ঠ": "th", "ড": "d", "ঢ": "dh", "ণ": "n", "ত": "t",
    "থ": "th", "দ": "d", "ধ": "dh", "ন": "n", "প": "p", "ফ": "ph", "ব": "b", "ভ": "bh",
    "ম": "m", "য": "j", "র": "r", "ল": "l", "শ": "sh", "ষ": "sh", "স": "s", "হ": "h",
    "ড়": "r", "ঢ়": "rh", "য়": "y", "ৎ": "t", "ৰ": "r", "ৱ": "w",
}
_BN_NUKTA: dict[str, str] = {"ড": "r", "ঢ": "rh", "য": "y"}
_BN_VOWELS: dict[str, str] = {
    "অ": "a", "আ": "aa", "ই": "i", "ঈ": "ii", "উ": "u", "ঊ": "uu", "ঋ": "ri", "এ": "e",
    "ঐ": "oi", "ও": "o", "ঔ": "ou",
}
_BN_SIGNS: dict[str, str] = {
    "া": "aa", "ি": "i", "ী": "ii", "ু": "u", "ূ": "uu", "ৃ": "ri", "ে": "e", "ৈ": "oi",
    "ো": "o", "ৌ": "ou", "ৗ": "ou",
}
_BN_MODS: dict[str, str] = {"ং": "n", "ঁ": "n", "ঃ": "h"}
_BN_VIRAMA = "্"
_BN_NUKTA_SIGN = "়"

# ---- Arabic (rough: an abjad has no short vowels to recover) -------------------------
_AR_LETTERS: dict[str, str] = {
    "ا": "a", "أ": "a", "إ": "i", "آ": "aa", "ٱ": "a", "ء": "", "ؤ": "u", "ئ": "i",
    "ب": "b", "ت": "t", "ث": "th", "ج": "j", "ح": "h", "خ": "kh", "د": "d", "ذ": "dh",
    "ر": "r", "ز": "z", "س": "s", "ش": "sh", "ص": "s", "ض": "d", "ط": "t", "ظ": "z",
    "ع": "", "غ": "gh", "ف": "f", "ق": "q", "ك": "k", "ل": "l", "م": "m", "ن": "n",
    "ه": "h", "ة": "a", "و": "w", "ي": "y", "ى": "a", "پ": "p", "چ": "ch", "ژ": "zh",
    "گ": "g", "ک": "k", "ی": "y", "ں": "n", "ھ": "h", "ۃ": "a", "ے": "e",
}
_AR_VOWEL_MARKS: dict[str, str] = {"\u064e": "a", "\u064f": "u", "\u0650": "i"}


def _consonant(word: str, i: int, roman: str, nukta_map: dict[str, str], nukta: str,
               glide_y: str, after_vowel: set[str]) -> tuple[str, int]:
    """An Indic consonant's Latin letters, and the index of its last code point (its
    nukta, when one follows)."""
    ch = word[i]
    n = len(word)
    if ch in glide_y and i and word[i - 1] in after_vowel and (
            i + 1 >= n or word[i + 1] != nukta):
        roman = "y"  # য after a vowel is য় typed without its nukta (গাওযা, চায)
    if i + 1 < n and word[i + 1] == nukta:
        roman = nukta_map.get(ch, roman)
        i += 1
    return roman, i


def _indic(
    word: str,
    consonants: dict[str, str],
    nukta_map: dict[str, str],
    vowels: dict[str, str],
    signs: dict[str, str],
    mods: dict[str, str],
    virama: str,
    nukta: str,
    glide_o: str | None = None,
    glide_y: str = "",
) -> str:
    """Romanise one Indic word: consonant + inherent ``a`` unless a sign or virama follows.

    The word-final inherent vowel is dropped (Hindi and Bengali both do: चाय is chaay,
    ইলিশ is ilish); medial schwas are kept and left to the vowel-blind skeleton.
    """
    after_vowel = set(vowels) | set(signs) if glide_y else set()
    out: list[str] = []
    pending = False  # a consonant waiting to learn whether it keeps its inherent vowel
    n = len(word)
    i = 0
    while i < n:
        ch = word[i]
        # the classes are disjoint: a sign or virama settles the pending consonant's vowel,
        # anything else (a consonant, vowel, modifier or other letter) gives it its ``a``
        if ch in signs:
            out.append(signs[ch])
            pending = False
        elif ch == virama:
            pending = False
        elif ch == nukta or ch in "\u200c\u200d":
            pass
        else:
            if pending:
                out.append("a")
            pending = ch in consonants
            if pending:
                roman, i = _consonant(word, i, consonants[ch], nukta_map, nukta, glide_y,
                                      after_vowel)
                out.append(roman)
            elif ch in vowels:
                if glide_o is not None and ch == glide_o and i + 1 < n \
                        and word[i + 1] in glide_y:
                    out.append("w")  # ওয়া is "wa" (ওয়াটার, গাওয়া): the glide, not o + ya
                    i += 3 if i + 2 < n and word[i + 2] == nukta else 2
                    pending = True
                    continue
                out.append(vowels[ch])
            else:
                out.append(mods.get(ch, ch))
        i += 1
    return "".join(out)


def _arabic(word: str) -> str:
    out: list[str] = []
    for ch in word:
        if ch in _AR_LETTERS:
            out.append(_AR_LETTERS[ch])
        elif ch in _AR_VOWEL_MARKS:
            out.append(_AR_VOWEL_MARKS[ch])
        elif "\u064b" <= ch <= "\u065f" or ch in "\u0670\u0640":
            continue  # other diacritics, tatweel
        else:
            out.append(ch)
    return "".join(out)


def _script(ch: str) -> str:
    code = ord(ch)
    if 0x0900 <= code <= 0x097F:
        return "dev"
    if 0x0980 <= code <= 0x09FF:
        return "bn"
    if 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0x08A0 <= code <= 0x08FF:
        return "ar"
    return "other"


def romanize(word: str) -> str:
    """ITRANS-like lowercase Latin for a word in any of the supported scripts."""
    if not word:
        return ""
    # Split into same-script runs so mixed tokens ("২টা", "chai-চা") romanise piecewise.
    parts: list[str] = []
    run_start = 0
    run_script = _script(word[0])
    for i in range(1, len(word) + 1):
        script = _script(word[i]) if i < len(word) else ""
        if script != run_script:
            run = word[run_start:i]
            if run_script == "dev":
                parts.append(_indic(run, _DEV_CONSONANTS, _DEV_NUKTA, _DEV_VOWELS,
                                    _DEV_SIGNS, _DEV_MODS, _DEV_VIRAMA, _DEV_NUKTA_SIGN))
            elif run_script == "bn":
                parts.append(_indic(run, _BN_CONSONANTS, _BN_NUKTA, _BN_VOWELS,
                                    _BN_SIGNS, _BN_MODS, _BN_VIRAMA, _BN_NUKTA_SIGN,
                                    "ও", "যয়"))
            elif run_script == "ar":
                parts.append(_arabic(run))
            else:
                parts.append(run.lower())
            run_start, run_script = i, script
    return "".join(parts)


# Ordered rewrite rules for the sound key (longest spellings first).
_FOLDS: tuple[tuple[str, str], ...] = (
    ("hh", "h"), ("chh", "c"), ("ch", "c"), ("sh", "s"), ("kh", "k"), ("gh", "g"), ("jh", "j"),
    ("th", "t"), ("dh", "d"), ("ph", "f"), ("bh", "b"), ("rh", "r"), ("ck", "k"),
    ("q", "k"), ("x", "ks"), ("z", "j"), ("v", "b"),
    ("ee", "i"), ("ii", "i"), ("oo", "u"), ("uu", "u"), ("aa", "a"), ("au", "o"), ("ou", "o"),
)
_W_CONSONANT = re.compile(r"w(?=[aeiou])")
_Y_GLIDE = re.compile(r"(?<=[aeiou])y(?![aeiou])")
_Y_VOWEL = re.compile(r"(?<![aeiou])y(?![aeiou])")  # "syrup" is sirup: y with no vowel by it
_Y_BEFORE_I = re.compile(r"(?<=[aeiou])y(?=i)")  # "ruyi" is rui: the glide a vowel brings
_H_AFTER_VOWEL = re.compile(r"(?<=[aeiou])h(?![aeiou])")
_DOUBLES = re.compile(r"(.)\1+")
_NOT_KEY = re.compile(r"[^a-z0-9]+")
_VOWELS_AFTER_FIRST = re.compile(r"(?<=.)[aeiou]+")
_LEADING_VOWELS = re.compile(r"^[aeiou]+")


@lru_cache(maxsize=65536)  # pure; a shop's shoppers use a small vocabulary (as skeleton)
def sound_key(word: str) -> str:
    """Spelling-variant-folded Latin key of one word (any supported script)."""
    text = _NOT_KEY.sub("", romanize(word))
    for old, new in _FOLDS:
        if old in text:
            text = text.replace(old, new)
    text = _W_CONSONANT.sub("b", text).replace("w", "u")
    if "y" in text:
        text = _Y_GLIDE.sub("i", text)
        text = _Y_VOWEL.sub("i", text)
        text = _Y_BEFORE_I.sub("", text)
    text = _H_AFTER_VOWEL.sub("", text)
    text = _DOUBLES.sub(r"\1", text)
    return text.replace("aa", "a")


@lru_cache(maxsize=65536)
def skeleton(word: str) -> str:
    """Consonant skeleton of :func:`sound_key` (a leading vowel kept as ``a``)."""
    key = sound_key(word)
    key = _LEADING_VOWELS.sub("a", key)
    return _DOUBLES.sub(r"\1", _VOWELS_AFTER_FIRST.sub("", key))


_VOWEL_RUNS = re.compile(r"[aeiou]+")


def folded_key(word: str) -> str:
    """:func:`sound_key` with every vowel run folded to ``a``: দই and doi both give ``da``.

    Keeps the vowel *positions* the skeleton throws away, which short words need.
    """
    return _VOWEL_RUNS.sub("a", sound_key(word))


def word_keys(word: str) -> tuple[str, str, str]:
    """All keys of a word at once: ``(sound_key, skeleton, folded_key)``."""
    return sound_key(word), skeleton(word), folded_key(word)
