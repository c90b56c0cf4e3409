"""Tokens of shoppers' text: words and digit runs in any script, each with its normal form.

Search (catalog/search.py) and the NLU (bot/nlu/) read text through these, so a word is
spelled one way wherever it is compared: NFKC, casefolded, script variants folded, digits
of every script as ASCII (catalog/digits.py).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

from catalog.digits import DIGITS

MAX_QUERY_TOKENS = 256  # longer messages are cut: nobody orders 200 products in one line

# ---- tokenising and normalising ----------------------------------------------------
# Combining marks that Python's \w does not count as word characters (Indic vowel signs,
# viramas, nuktas; Arabic harakat), plus ZWJ/ZWNJ which live inside Indic words.
_MARKS = (
    "\u0300-\u036f\u0900-\u0903\u093a-\u094f\u0951-\u0957\u0962\u0963"
    "\u0981-\u0983\u09bc\u09be-\u09cd\u09d7\u09e2\u09e3\u0610-\u061a\u064b-\u065f"
    "\u0670\u06d6-\u06ed\u200c\u200d"
)
_TOKEN_RE = re.compile(rf"\d+|(?:[^\W\d_]|[{_MARKS}])+")

_CHAR_MAP: dict[int, str | None] = {
    **DIGITS,
    0x200C: None, 0x200D: None, 0x0640: None,  # ZWNJ, ZWJ, tatweel
    **{c: None for c in range(0x064B, 0x0660)},  # Arabic harakat
    0x0670: None,
    0x0623: "\u0627", 0x0625: "\u0627", 0x0622: "\u0627", 0x0671: "\u0627",  # alef forms
    0x0649: "\u064a", 0x06CC: "\u064a",  # alef maqsura, Farsi yeh → yeh
    0x0629: "\u0647",  # teh marbuta → heh
    0x0624: "\u0648", 0x0626: "\u064a",  # hamza carriers
    0x06A9: "\u0643",  # keheh → kaf
    0x0901: "\u0902",  # chandrabindu → anusvara (पाँच / पांच)
    0x093C: None,  # nukta (ज़ / ज); Bengali's is folded by _BN_FOLDS above
    0x0981: "\u0982",  # Bengali chandrabindu → anusvara
    0x09CE: "\u09a4",  # khanda ta → ta
}


def _is_latin(text: str) -> bool:
    return all(ord(ch) < 0x0250 for ch in text)


@lru_cache(maxsize=65536)
def normalize_token(token: str) -> str:
    """Canonical surface form of one word: NFKC, casefold, script-specific variants folded."""
    text = unicodedata.normalize("NFKC", token).casefold()
    if _is_latin(text):
        if not text.isascii():  # café → cafe; only for Latin, Indic marks must survive
            decomposed = unicodedata.normalize("NFKD", text)
            text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        return text
    if _BN_FOLDS_RE.search(text):
        text = _BN_FOLDS_RE.sub(_bn_fold, text)
    folded = text.translate(_CHAR_MAP)
    if folded and "\u0621" <= folded[0] <= "\u064a":
        # Arabic writes "the", "and the", "with the" onto the noun: السمبوسة → سمبوسة
        for prefix in _ARABIC_PREFIXES:
            if folded.startswith(prefix) and len(folded) - len(prefix) >= 2:
                return folded[len(prefix):]
    return folded


# Bengali spellings shoppers use interchangeably: ড়/ঢ় for র (সিঙাড়া, সিঙারা), ঙ্গ for ঙ
# (সিঙ্গারা); NFKC has already split ড় into ড + nukta. য় keeps its nukta (it is "y").
_BN_FOLDS = {"\u09a1\u09bc": "\u09b0", "\u09a2\u09bc": "\u09b0", "\u0999\u09cd\u0997": "\u0999"}
_BN_FOLDS_RE = re.compile("|".join(_BN_FOLDS))


def _bn_fold(m: re.Match[str]) -> str:
    return _BN_FOLDS[m.group()]


_ARABIC_PREFIXES = ("\u0648\u0627\u0644", "\u0628\u0627\u0644", "\u0641\u0627\u0644",
                    "\u0643\u0627\u0644", "\u0644\u0644", "\u0627\u0644")  # وال بال فال كال لل ال


class Token(NamedTuple):
    """A word of the caller's text: offsets into the original, normalised form.

    A named tuple, not a frozen dataclass: every message makes dozens (a frozen dataclass's
    ``__init__`` costs several times a tuple's).
    """

    start: int
    end: int
    norm: str


def tokenize(text: str, limit: int = MAX_QUERY_TOKENS) -> list[Token]:
    """Words and digit runs of ``text`` (punctuation and emoji dropped), at most ``limit``."""
    return list(_tokenize(text, limit)) if len(text) <= 200 else list(_tokens(text, limit))


@lru_cache(maxsize=512)  # a message is tokenized by search, the extractor and the order rule
def _tokenize(text: str, limit: int) -> tuple[Token, ...]:
    return _tokens(text, limit)


def _tokens(text: str, limit: int) -> tuple[Token, ...]:
    tokens: list[Token] = []
    for m in _TOKEN_RE.finditer(text):
        norm = normalize_token(m.group())
        if norm:
            tokens.append(Token(m.start(), m.end(), norm))
            if len(tokens) >= limit:
                break
    return tuple(tokens)
