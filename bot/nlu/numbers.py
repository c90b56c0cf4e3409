"""Numbers in any script and in words, with the unit that follows them.

Shoppers write quantities as ``2``, ``२``, ``২টা``, ``٣``, "two", "do", "দুটো", "ثلاثة",
"half kg", "dedh kilo", "a dozen". :func:`find_numbers` returns each with its offsets in
the original text, an exact :class:`~fractions.Fraction` value (never a float: "half" is
1/2, "dedh" 3/2) and a canonical unit. Words that are numbers only sometimes ("a", "an",
and Hindi "do", which is also English "do") come back ``weak``: the entity extractor counts
them only right before a product or a unit.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from catalog.digits import DIGITS
from catalog.search import UNIT_WORDS, normalize_token

__all__ = ["UNIT_GRAMS", "NumberSpan", "find_numbers", "is_weak_number", "parse_number",
           "starts_with_and", "to_ascii_digits"]

_ASCII = {
    **DIGITS,
    0x066B: ".",  # Arabic decimal separator
}


def to_ascii_digits(text: str) -> str:
    """Devanagari, Bengali, Arabic-Indic and Eastern Arabic-Indic digits → 0-9."""
    return text.translate(_ASCII)


def _table(spec: dict[int | Fraction, str]) -> dict[str, Fraction]:
    return {normalize_token(w): Fraction(v) for v, words in spec.items() for w in words.split()}


_WORDS: dict[str, Fraction] = {**_table({
    # English
    1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
    9: "nine", 10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen", 14: "fourteen",
    15: "fifteen", 16: "sixteen", 17: "seventeen", 18: "eighteen", 19: "nineteen",
    20: "twenty", 30: "thirty", 40: "forty", 50: "fifty", 100: "hundred",
    Fraction(1, 2): "half", Fraction(1, 4): "quarter",
}), **_table({  # romanised Hindi (and a little romanised Bengali)
    1: "ek ekta ekti", 2: "dui duto duti", 3: "teen tinte tinta tinti", 4: "char chaar charte",
    5: "paanch panch paach panchta", 6: "chhe chhah chheh chah choyta chhoyta",
    7: "saat satta", 8: "aath ath athta", 9: "nau noyta", 10: "das dus doshta dosta",
    11: "gyarah gyara", 12: "barah bara baro",
    Fraction(1, 2): "aadha adha aadhi adhi adh", Fraction(3, 2): "dedh derh dedhh",
    Fraction(5, 2): "dhai dhaai dhaayi",
}), **_table({  # Hindi
    1: "एक", 2: "दो", 3: "तीन", 4: "चार", 5: "पांच पाँच पाच", 6: "छह छः छे छ", 7: "सात",
    8: "आठ", 9: "नौ", 10: "दस", 11: "ग्यारह", 12: "बारह", 20: "बीस",
    Fraction(1, 2): "आधा आधी हाफ", Fraction(3, 2): "डेढ़ डेढ", Fraction(5, 2): "ढाई",
}), **_table({  # Bengali (classifier suffixes are stripped before look-up)
    1: "এক", 2: "দুই দু দুটো দুটি দুটা", 3: "তিন", 4: "চার", 5: "পাঁচ পাচ", 6: "ছয় ছ",
    7: "সাত", 8: "আট", 9: "নয়", 10: "দশ", 11: "এগারো", 12: "বারো", 20: "কুড়ি বিশ",
    Fraction(1, 2): "আধা আধ হাফ", Fraction(3, 2): "দেড়", Fraction(5, 2): "আড়াই",
}), **_table({  # Arabic (after alef / teh marbuta folding)
    1: "واحد واحدة وحدة", 2: "اثنين اثنان اثنتين اتنين اثنتان ثنتين ثنين", 3: "ثلاثة ثلاث تلاتة",
    4: "أربعة أربع اربعة", 5: "خمسة خمس", 6: "ستة ست", 7: "سبعة سبع",
    8: "ثمانية ثماني ثمان تمانية", 9: "تسعة تسع", 10: "عشرة عشر", 11: "أحد عشر",
    12: "اثنا عشر", Fraction(1, 2): "نصف نص",
})}  # built once here, never changed

# Words that are numbers only in context: "do you have…", "a samosa" vs "a dozen".
_WEAK: dict[str, Fraction] = _table({1: "a an", 2: "do", 7: "sat", 3: "tin", 6: "che"})


def is_weak_number(word: str) -> bool:
    """"a", "an", "do": a word that is a number only in context, not an amount on its own."""
    return normalize_token(word.strip()) in _WEAK


_MULTIPLIERS: dict[str, int] = {
    normalize_token(w): 12 for w in ("dozen", "dozens", "darjan", "darzan", "dojon", "dozon",
                                     "दर्जन", "ডজন", "درزن", "دزينة")
}
_COUPLE = frozenset({"couple", "pair"})
# Arabic's dual of a unit word is two of that unit: حبتين (two pieces), باكيتين (two packets)
_DUALS: dict[str, str] = {
    normalize_token(w): unit for unit, words in {
        "piece": "حبتين حبتان قطعتين قطعتان", "packet": "باكيتين علبتين كيسين",
        "bottle": "زجاجتين قنينتين"}.items() for w in words.split()}
_BN_CLASSIFIERS: tuple[str, ...] = tuple(
    normalize_token(w) for w in ("টা", "টি", "টো", "টে", "খানা", "খানি", "জন")
)
# romanised Bengali writes the classifier in Latin, often glued on: "2ta", "3 ti"
_LATIN_CLASSIFIERS = frozenset({"ta", "ti", "te", "khana", "khani"})
_GLUED_CLASSIFIERS = frozenset({"to"})  # "2to" (টো), but "2 to 3" is a range
# the classifiers as glued to a number word ("barota", "ekkhana"), longest first
_LATIN_SUFFIXES = tuple(sorted(_LATIN_CLASSIFIERS | _GLUED_CLASSIFIERS,
                               key=lambda suffix: (-len(suffix), suffix)))
_UNITS: dict[str, str] = {
    normalize_token(w): unit for unit, words in UNIT_WORDS.items() for w in words.split()
}
UNIT_GRAMS: dict[str, int] = {"kg": 1000, "g": 1, "l": 1000, "ml": 1}  # mass/volume units
_VULGAR = {"½": Fraction(1, 2), "¼": Fraction(1, 4), "¾": Fraction(3, 4),
           "⅓": Fraction(1, 3), "⅔": Fraction(2, 3)}

_MARKS = (
    "\u0900-\u0903\u093a-\u094f\u0951-\u0957\u0962\u0963\u0981-\u0983\u09bc\u09be-\u09cd"
    "\u09d7\u09e2\u09e3\u0610-\u061a\u064b-\u065f\u0670\u200c\u200d"
)
_TOKEN_RE = re.compile(
    rf"(?P<num>\d+(?:[.\u066b]\d+)?(?:\s?/\s?\d+)?)|(?P<vulgar>[½¼¾⅓⅔])"
    rf"|(?P<word>(?:[^\W\d_]|[{_MARKS}])+)"
)


@dataclass(frozen=True, slots=True)
class NumberSpan:
    """A number in the text, ``text[start:end]``, with its unit if one follows."""

    value: Fraction
    start: int
    end: int
    text: str
    unit: str | None = None  # kg g l ml cup plate piece packet glass bottle
    weak: bool = False  # "a", "an", "do": only a quantity right before a product or unit

    @property
    def is_whole(self) -> bool:
        return self.value.denominator == 1

    @property
    def base_amount(self) -> Fraction | None:
        """The amount in grams (or ml) when the unit is a mass or volume, else None."""
        if self.unit in UNIT_GRAMS:
            return self.value * UNIT_GRAMS[self.unit]
        return None


def _digits(text: str) -> Fraction | None:
    text = to_ascii_digits(text).replace(" ", "")
    try:
        if "/" in text:
            num, den = text.split("/", 1)
            return Fraction(int(num), int(den)) if int(den) else None
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


@lru_cache(maxsize=8192)  # pure; every word of every message comes here (Fraction is immutable)
def _word_value(norm: str) -> Fraction | None:
    value = _WORDS.get(norm)
    if value is not None:
        return value
    for suffix in _BN_CLASSIFIERS:  # একটা, তিনটে, পাঁচটি
        if norm.endswith(suffix) and len(norm) > len(suffix):
            return _WORDS.get(norm[: -len(suffix)])
    for suffix in _LATIN_SUFFIXES:  # romanised Bengali "barota", "ekkhana", "dushto"
        if norm.endswith(suffix) and len(norm) - len(suffix) >= 2:
            return _WORDS.get(norm[: -len(suffix)])
    if norm.startswith("\u0648") and len(norm) > 3:  # وأربعة: "and four"
        return _WORDS.get(normalize_token(norm[1:]))
    return None


def starts_with_and(word: str) -> bool:
    """A number word written onto Arabic's "and" (وخمسة, ونصف), not one that begins with
    its letter (واحد)."""
    parts = word.split()
    norm = normalize_token(parts[0]) if parts else ""
    return (norm.startswith("\u0648") and len(norm) > 3 and _WORDS.get(norm) is None
            and _word_value(norm) is not None)


@lru_cache(maxsize=8192)  # pure, and asked of the same few words many times a message
def parse_number(word: str) -> Fraction | None:
    """The value of one word or digit string (``"৩"``, ``"দুটো"``, ``"1.5"``), else None."""
    word = word.strip()
    if not word:
        return None
    if word in _VULGAR:
        return _VULGAR[word]
    if to_ascii_digits(word[0]).isdigit():
        return _digits(word)
    norm = normalize_token(word)
    return _word_value(norm) or _WEAK.get(norm)


_Raw = tuple[int, int, str, str]  # start, end, kind, normalised text
# the words :func:`_number_tail` may take after a number (a cheap test before calling it)
_TAIL_WORDS = frozenset({"and", "aur", *_BN_CLASSIFIERS, *_LATIN_CLASSIFIERS, *_COUPLE,
                         *_GLUED_CLASSIFIERS,
                         *_MULTIPLIERS, *_UNITS})


def _number_tail(raw: list[_Raw], j: int, value: Fraction, end: int, weak: bool
                 ) -> tuple[Fraction, int, int, bool, str | None]:
    """What follows a number word and belongs to it: "and a half", a classifier (২টা,
    2ta), "dozen", a unit. Returns the value, its end offset, the next token, whether it
    is still weak, and the unit."""
    n = len(raw)
    # "one and a half"
    if (j + 2 < n and raw[j][3] in ("and", "aur") and raw[j + 1][3] == "a"
            and raw[j + 2][3] == "half" and value.denominator == 1):
        value += Fraction(1, 2)
        end = raw[j + 2][1]
        j += 3
    if j < n and (raw[j][3] in _BN_CLASSIFIERS or (
            raw[j][3] in _LATIN_CLASSIFIERS and not weak) or (
            raw[j][3] in _GLUED_CLASSIFIERS and raw[j][0] == end and not weak)):  # ২টা, 2ta
        end = raw[j][1]
        j += 1
        weak = False
    if j < n and raw[j][3] in _COUPLE and value == 1:  # "a couple" already handled
        j += 1
    if j < n and raw[j][3] in _MULTIPLIERS:  # "2 dozen", "half dozen"
        value *= 12
        end = raw[j][1]
        j += 1
        weak = False
    unit = None
    if j < n and raw[j][2] == "word" and raw[j][3] in _UNITS:
        unit = _UNITS[raw[j][3]]
        end = raw[j][1]
        j += 1
        weak = False
    return value, end, j, weak, unit


def _glued_to_a_name(text: str, start: int) -> bool:
    """Whether the digits at ``start`` end a model's short name ("v8", "j7", "s23", "वी8",
    "ভি৮"): one or two letters (or vowel signs) glued before them, but not the "x" of
    "x2" nor Arabic's "and" (و٢); "samosa2" is two samosas."""
    k = start
    while k and unicodedata.category(text[k - 1])[0] in "LM":
        k -= 1
    return 0 < start - k <= 2 and text[start - 1] not in "xX×\u0648" and (
        start - k == 1 or text[k] not in "xX×\u0648")


def _dozens(raw: list[_Raw], i: int) -> tuple[Fraction, int, int]:
    """"dozen" alone at ``i`` is 12; "درزن واحد", "دزينة ثلاثة" (the unit first, then how
    many of it, in words) that many dozens. Returns the value, the index of its last
    token and its end offset."""
    nxt = raw[i + 1] if i + 1 < len(raw) else None
    after = _word_value(nxt[3]) if nxt is not None and nxt[2] == "word" else None
    if nxt is not None and after is not None and after.denominator == 1 and 0 < after <= 12:
        return 12 * after, i + 1, nxt[1]
    return Fraction(12), i, raw[i][1]


def find_numbers(text: str, max_tokens: int = 512) -> list[NumberSpan]:
    """Every quantity-like number in ``text`` with offsets, unit and multiplier applied."""
    raw: list[_Raw] = []
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup or "word"
        found = m.group()
        raw.append((m.start(), m.end(), kind, found if kind != "word" else normalize_token(found)))
        if len(raw) >= max_tokens:
            break
    spans: list[NumberSpan] = []
    i = 0
    n = len(raw)
    while i < n:
        start, end, kind, tok = raw[i]
        value: Fraction | None = None
        weak = False
        nxt = raw[i + 1][3] if i + 1 < n else ""
        if kind == "num":  # "v8", "j7", "वी8": a model's name, not a count ("x2" is one)
            value = None if start and _glued_to_a_name(text, start) else _digits(tok)
        elif kind == "vulgar":
            value = _VULGAR[tok]
        elif tok in _COUPLE:
            value = Fraction(2)
        elif tok in _MULTIPLIERS:  # "dozen" alone, or "درزن واحد"
            value, i, end = _dozens(raw, i)
        elif tok in _DUALS:  # حبتين: two pieces, the unit in the word
            spans.append(NumberSpan(Fraction(2), start, end, text[start:end], _DUALS[tok]))
            i += 1
            continue
        elif tok in ("a", "an") and (nxt in _COUPLE or nxt in _MULTIPLIERS or nxt == "half"):
            i += 1
            _, end, kind, tok = raw[i]
            value = Fraction(2) if tok in _COUPLE else Fraction(12) if tok in _MULTIPLIERS \
                else Fraction(1, 2)
        else:
            value = _word_value(tok)
            if value is None and tok in _WEAK:
                value, weak = _WEAK[tok], True
        if value is None:
            i += 1
            continue
        # the common case, "2 samosa": nothing after the number is its own (no call)
        value, end, j, weak, unit = (
            _number_tail(raw, i + 1, value, end, weak)
            if i + 1 < n and raw[i + 1][3] in _TAIL_WORDS else (value, end, i + 1, weak, None))
        spans.append(NumberSpan(value, start, end, text[start:end], unit, weak))
        i = j
    return spans
