"""Singular forms of plural and dual nouns, for search on both sides of a match.

A shopper writes "٣ مماحي" for the catalog's ممحاة, "ملفات" for ملف, "أقلام" for قلم,
"سماعتين" (two) for سماعة; and the catalog may name the plural (دبابيس) where the
shopper writes one (دبوس). :func:`arabic_singulars` lists the singulars a word may be
the plural or dual of — the sound plurals ـات / ـون / ـين, the dual ـان / ـين / ـتان / ـتين
and the common broken-plural patterns (أفعال, فعائل, فواعل, مفاعل, مفاعيل, أفعلة, فعال,
فعول, فِعَل of فِعلة) — by shape alone, with no dictionary: over-generating is safe
because a candidate counts only when it is a catalog word or a catalog word's own
candidate (``catalog/search.py``: ``ProductIndex._add_forms``).

Words come in :func:`catalog.tokens.normalize_token` form: alef forms are ا, ة is ه, ى
and ئ are ي, the article is gone. :func:`latin_singulars` does the same for English
plurals ("batteries", "knives") and romanised Bengali plural suffixes ("khatagulo").
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["arabic_singulars", "latin_singulars"]

_ALEF, _TA, _WAW, _YA, _HAMZA = "\u0627", "\u0647", "\u0648", "\u064a", "\u0621"
_LONG = _ALEF + _WAW + _YA
_MIN_STEM = 3  # no Arabic noun a shop sells is shorter than three letters


def _sound(word: str) -> list[str]:
    """Sound plurals and duals: ملفات → ملف, برايات → برايه, سماعتين → سماعه, كوبين → كوب."""
    out: list[str] = []
    n = len(word)
    if n >= 5 and word.endswith(_ALEF + "\u062a"):  # ـات
        stem = word[:-2]
        out += [stem + _TA, stem]
    if n >= 6 and word.endswith(("\u062a" + _ALEF + "\u0646", "\u062a" + _YA + "\u0646")):
        out.append(word[:-3] + _TA)  # ـتان / ـتين: the dual of a ة noun
    if n >= 5 and word.endswith((_WAW + "\u0646", _YA + "\u0646", _ALEF + "\u0646")):
        out.append(word[:-2])  # ـون / ـين / ـان
    return out


def _broken5(w: str) -> list[str]:
    """Five-letter broken plurals."""
    out: list[str] = []
    if w[0] == _ALEF and w[3] == _ALEF:  # أفعال: اقلام → قلم, اكياس → كيس
        out.append(w[1] + w[2] + w[4])
    if w[0] == _ALEF and w[4] == _TA:  # أفعلة: اجهزه → جهاز, اغطيه → غطاء
        out += [w[1] + w[2] + _ALEF + w[3], w[1] + w[2] + _ALEF + _HAMZA]
    if w[2] == _ALEF:  # CCاCC: دفاتر → دفتر, مساطر → مسطره, شواحن → شاحن, حقايب → حقيبه
        if w[1] == _WAW:
            out.append(w[0] + _ALEF + w[3] + w[4])
        if w[3] == _YA:
            out += [w[0] + w[1] + _YA + w[4] + _TA, w[0] + w[1] + _ALEF + w[4] + _TA]
        if w[4] == _YA:  # مماحي → ممحاه
            out.append(w[0] + w[1] + w[3] + _ALEF + _TA)
        out += [w[0] + w[1] + w[3] + w[4], w[0] + w[1] + w[3] + w[4] + _TA]
    return out


@lru_cache(maxsize=8192)
def arabic_singulars(word: str) -> tuple[str, ...]:
    """Singulars ``word`` (normalised Arabic) may be a plural or dual of; it if none."""
    n = len(word)
    out = _sound(word)
    if n == 5:
        out += _broken5(word)
    elif n == 6 and word[2] == _ALEF and word[4] in (_YA, _WAW):
        # مفاعيل / فعاليل: مفاتيح → مفتاح, صناديق → صندوق, مناديل → منديل, دبابيس → دبوس
        out += [word[0] + word[1] + word[3] + v + word[5] for v in _LONG]
    elif n == 4 and word[2] in (_ALEF, _WAW):  # فعال / فعول: كلاب → كلب, دروس → درس
        out.append(word[0] + word[1] + word[3])
    if n >= _MIN_STEM and not word.endswith(_TA):
        out.append(word + _TA)  # a collective or فِعَل plural of a ة noun: علب → علبه
    return tuple(dict.fromkeys(s for s in out if len(s) >= _MIN_STEM and s != word))


# English plurals the "-s" rule in search misses, and romanised Bengali plural suffixes
# (গুলো / গুলি written in Latin) glued onto a name.
_BN_LATN_PLURALS = ("gulo", "guli", "gula", "golo")


@lru_cache(maxsize=8192)
def latin_singulars(word: str) -> tuple[str, ...]:
    """"batteries" → battery, "knives" → knife, "leaves" → leaf, "khatagulo" → khata."""
    out: list[str] = []
    if len(word) >= 5 and word.endswith("ies"):
        out.append(word[:-3] + "y")
    if len(word) >= 5 and word.endswith("ves"):
        out += [word[:-3] + "fe", word[:-3] + "f"]
    for suffix in _BN_LATN_PLURALS:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            out.append(word[: -len(suffix)])
    return tuple(out)
