"""Multilingual, cross-script, typo-tolerant product search over one catalog.

Shoppers name products in their own language and script, with typos: "masla chai",
"samosaa", "ilish" for ইলিশ, "মশলা চা", "mishti doi". The index meets every spelling in
one key space (:mod:`catalog.translit`): per word a normalised surface form, a sound key
and a consonant skeleton.

Everything costly happens once, in :meth:`ProductIndex.build`: tokenising and keying every
name and alias, a word vocabulary with exact-key maps, a one-deletion neighbourhood of the
skeletons (SymSpell style, so a typo costs a few dict look-ups instead of a scan) and
postings from words to names. A query then costs a handful of dict look-ups per word plus
``rapidfuzz`` on the few candidate words only; never a scan of the catalog.

Offsets in :class:`Mention` point into the caller's original text, so the NLU can cut
"2 samosa and 1 masala chai" into items.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Indel

from catalog.inflection import arabic_singulars, latin_singulars
from catalog.models import Catalog, Option, Product
from catalog.tokens import MAX_QUERY_TOKENS, Token, _is_latin, normalize_token, tokenize
from catalog.translit import folded_key, romanize, skeleton, sound_key

__all__ = [
    "MAX_QUERY_TOKENS",
    "Ambiguous",
    "Match",
    "Mention",
    "ProductIndex",
    "Token",
    "is_function_word",
    "normalize_token",
    "tokenize",
]

# Function words and number words: they never fuzzy-match a product word ("do" is "two"
# in Hindi and would otherwise find দই; "aadha" is half, আদা is ginger), only the exact
# spelling counts.
def _words(text: str) -> list[str]:
    return text.split()


_STOPWORDS: frozenset[str] = frozenset(
    normalize_token(w)
    for w in _words("""
    a an and the of for to in on at with or i me my we you your is are am be it this that
    some any please pls plz want need give get have has do does can could would like order
    buy add more also just only one two three four five six seven eight nine ten half
    dozen couple pair x hi hello price how much many what which cost rate send
    mujhe muje hume humko chahiye chahie chaiye dena de dedo do ek teen char paanch panch
    aur ka ki ke ko se hai hain tha kya kitna kitne kitni bhai bhaiya bhaiyya ji please
    wala wali wale kar karo mein me mai main bhi sirf aadha adha dedh dhai
    और का की के को से है हैं क्या मुझे चाहिए दो एक तीन चार देना दीजिए भी में
    दे दें दीजिये लाओ लाना भेजो भेज करो कर
    টা টি টো টে খানা খানি
    আমাকে আমি দিন দাও আর এবং একটা একটি দুটো দুটি দুই এক তিন চার কত কি চাই দেবেন
    و في من على أريد اريد عايز بدي لو سمحت كم هل عندكم واحد اثنين ثلاثة
    واحدة اثنان اثنتين أربعة اربعة أربع خمسة خمس ستة سبعة ثمانية تسعة عشرة نصف
    tell told telling about me us know when ok okay if total ships shipping today now call
    baare bare baarey batao bataao bataiye bataye jankari details बारे बताओ बताइए बताइये बताना
    जानकारी সম্পর্কে ব্যাপারে বলুন বলো somporke byapare bolun bolo عن أخبرني اخبرني
    thanks thank yes no not dont don't without but put cart basket details detail info
    डाल डालो डालिए डालिये डालें डालना डालकर डालदो दीजिए दीजिये भेजना भेजिए चाहिये
    daalo dalo daaldo daldo daaldena daalna daaliye dalna dijiye dijie bhejo bhejna bhej
    chahie dedo mat nahi nahin na bhi
    chhe chhah saat aath nau das dus ekta ekti duto duti tinte tinta charte panchta choyta
    satta athta noyta doshta dosta dam daam rate
    छह छः छे सात आठ नौ दस पांच पाँच बारह ছটা ছয়টা ছয় সাত আট নয় দশ পাঁচ পাঁচটা তিনটে চারটে দশটা
    ta ti te tay tar khana din dao diben deben dite amake amar ami lagbe ache achhe koto
    pathiye pathan dorkar nei taratari please
    না নেই লাগবে দরকার দিন দাও দেবেন পাঠিয়ে আছে তাড়াতাড়ি প্লিজ
    لا بدون ما مش غير أبغى ابغى ممكن أضف اضف الآن بسرعة من فضلك
    """)
)
# Every unit and pack word a quantity can carry ("3 বোতল", "2 kg"), by unit, in every
# script: bot/nlu/numbers.py reads a number's unit from it, and a word of it alone never
# names a product whose name has more words ("বোতল" is not Bottle Gourd; ``_candidates``).
UNIT_WORDS: dict[str, str] = {
    "kg": "kg kgs kilo kilos kilogram kilograms किलो केजी কেজি কিলো كيلو كغ كيلوغرام",
    "g": "g gm gms gram grams gramme ग्राम গ্রাম غرام جرام غ",
    "l": "l ltr litre liter litres liters लीटर লিটার لتر",
    "ml": "ml",
    "cup": "cup cups कप কাপ كوب أكواب",
    "plate": "plate plates प्लेट প্লেট طبق",
    "piece": "piece pieces pc pcs पीस টুকরো পিস قطعة قطع حبة حبات",
    "packet": "packet packets pkt pack packs पैकेट প্যাকেট علبة باكيت باكيتات باكت",
    "glass": "glass glasses गिलास গ্লাস",
    "bottle": "bottle bottles botol बोतल বোতল زجاجة",
}
_UNIT_WORDS: frozenset[str] = frozenset(
    normalize_token(w) for words in (*UNIT_WORDS.values(), "dozen dojon darjan दर्जन ডজন درزن")
    for w in words.split())
_UNIT_SYNONYMS: dict[str, str] = {
    normalize_token(w): unit
    for unit, words in {
        "kg": "kg kgs kilo kilos kilogram kilograms किलो कि.ग्रा केजी কেজি কিলো كيلو كغ",
        "g": "g gm gms gram grams gramme ग्राम গ্রাম غرام جرام",
        "half": "half aadha adha aadhi adhi आधा आधी আধা আধ نصف نص हाफ হাফ",
        "l": "l ltr litre liter litres liters लीटर লিটার لتر",
        "ml": "ml",
        "pack": "packet packets pkt pack packs botol bottle bottles dozen dojon",
    }.items()
    for w in words.split()
}


def is_function_word(norm: str) -> bool:
    """A normalised word that never names a product by itself ("and", "chahiye", "দিন")."""
    return norm in _STOPWORDS or norm in _UNIT_SYNONYMS


def _unit_form(norm: str) -> str:
    return _UNIT_SYNONYMS.get(norm, norm)


# Units of size an option's name carries ("64 GB", "20000 mAh", "45 mm", "20 W"), as
# shoppers write them in each script ("64 जीबी", "৬৪ জিবি", "64 جيجا"): one form each, for
# matching option words only.
_MEASURES: dict[str, str] = {
    normalize_token(w): unit for unit, words in {
        "gb": "gb जीबी জিবি جيجا جيغا جيجابايت", "mb": "mb एमबी এমবি ميجا",
        "tb": "tb टीबी টিবি تيرا", "mah": "mah एमएएच এমএএইচ",
        "mm": "mm मिमी মিমি ملم", "cm": "cm सेमी সেমি سم",
        "w": "w watt watts वाट ওয়াট واط"}.items() for w in words.split()}


def _option_form(norm: str) -> str:
    return _MEASURES.get(norm) or _unit_form(norm)


# What Bengali, Hindi and Arabic write onto a noun: articles and plurals (রসগোল্লাগুলো,
# সিঙ্গারাটা, চায়ের), the Hindi plural/oblique -े of -ा nouns (समोसे, अंडे), Arabic's
# attached "and" (وشاي). Tried only when the whole word is not already a catalog word.
_BN_SUFFIXES = ("গুলো", "গুলি", "গুলা", "খানা", "খানি", "টা", "টি", "টো", "টে", "য়ের", "ের",
                "এর", "র")
_HI_SUFFIXES = (("े", "ा"), ("ों", "ा"), ("ें", ""), ("ों", ""), ("ियां", "ी"), ("ियों", "ी"))


def _inflection_stems(norm: str) -> list[str]:
    first = norm[0]
    stems: list[str] = []
    if "\u0980" <= first <= "\u09ff":
        for suffix in _BN_SUFFIXES:
            if norm.endswith(suffix) and len(norm) - len(suffix) >= 2:
                stems.append(norm[: -len(suffix)])
    elif "\u0900" <= first <= "\u097f":
        for suffix, base in _HI_SUFFIXES:
            if norm.endswith(suffix) and len(norm) - len(suffix) >= 2:
                stems.append(norm[: -len(suffix)] + base)
    elif "\u0621" <= first <= "\u064a":
        bare = norm
        if first == "\u0648" and len(norm) >= 4:  # و + noun
            bare = normalize_token(norm[1:])
            stems.append(bare)
        stems.extend(arabic_singulars(bare))  # ملفات, مماحي, اقلام, سماعتين
    return stems


# ---- results ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Match:
    """A product (and option, when one was named) for a query; ``score`` in [0, 1]."""

    product: Product
    option: Option | None
    score: float
    matched: str  # the catalog name or alias that matched

    @property
    def sku(self) -> str:
        return self.option.sku if self.option is not None else self.product.sku


@dataclass(frozen=True, slots=True)
class Ambiguous:
    """A span ``text[start:end]`` that names several products about equally well."""

    start: int
    end: int
    text: str
    products: tuple[Product, ...]


@dataclass(frozen=True, slots=True)
class Mention:
    """A span ``text[start:end]`` of the caller's text that names a product."""

    start: int
    end: int
    text: str
    product: Product
    option: Option | None
    score: float
    matched: str

    @property
    def sku(self) -> str:
        return self.option.sku if self.option is not None else self.product.sku


# ---- internals ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Word:
    surface: str
    fine: str
    skel: str
    folded: str
    latin: bool
    arabic: bool  # Arabic script: never a Devanagari or Bengali word's match
    indic: bool  # Devanagari or Bengali


def _scripts(word: str) -> tuple[bool, bool]:
    """(Arabic, Indic) by the first letter: ``قطن`` is no spelling of कितने (how many)."""
    first = word[:1]
    return "\u0600" <= first <= "\u06ff", "\u0900" <= first <= "\u09ff"


@dataclass(frozen=True, slots=True)
class _Name:
    product: int
    text: str
    size: int  # number of words


# Consecutive query words [first, last] that matched one name: (name id, first, last,
# coverage = matched similarity mass / name size in [0, 1], vocabulary ids of the name
# words that matched, whether the whole name matched). A tuple: hundreds are made per
# query at 10,000 products, and a frozen dataclass costs a microsecond each.
_Run = tuple[int, int, int, float, tuple[int, ...], bool]

# "Lightning (iPhone)": a name and, in brackets, another name of the same thing
_GLOSSED = re.compile(r"\s*([^()]*\S)\s*\(([^()]*\S)\)\s*")


@dataclass(frozen=True, slots=True)
class _OptionEntry:
    option: Option
    words: tuple[tuple[str, ...], ...]  # per language: its words in unit form


_FULL = -1  # posting position meaning "this word is the whole name, joined"
_MIN_FUZZY = 0.75
_MIN_MENTION = 0.75
_MIN_PARTIAL_MENTION = 0.86
_LOOSE_WORD = 0.8  # a mention of one word of a longer name scores 0.8 × its likeness
_CACHE_LIMIT = 20000
_FILL = 5
_MAX_FUZZY_LEN = 40
_MAX_AMBIGUOUS = 6  # "which one?" with more choices than this is a menu, not a question
_FEW_OWNERS = 24  # below this, test a word's products one by one instead of bitmaps


_NO_IDS: frozenset[int] = frozenset()


def _ids(items: set[int]) -> Collection[int]:
    """A compact read-only id set: shared when empty, a 1-tuple when single."""
    if not items:
        return _NO_IDS
    if len(items) == 1:
        return tuple(items)
    return frozenset(items)


def _deletes(key: str) -> set[str]:
    return {key[:i] + key[i + 1 :] for i in range(len(key))}


class ProductIndex:
    """Precomputed search structures for one catalog; immutable once built."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._products: tuple[Product, ...] = catalog.products
        self._names: list[_Name] = []
        self._vocab: list[_Word] = []
        self._postings: list[list[tuple[int, int]]] = []
        # id sets below are _ids(): most words sit in one name of one product, and a
        # 1-tuple is a fifth of a 1-frozenset's memory at 10,000 products
        self._word_products: list[Collection[int]] = []
        self._word_names: list[Collection[int]] = []  # names containing each word
        self._single_owner: list[bool] = []  # word used by exactly one product
        self._sizes: list[int] = []  # words per name
        self._name_product: list[int] = []  # product of each name
        self._solo: list[Collection[int]] = []  # names that are this word and nothing else
        self._shortest: list[tuple[int, ...]] = []  # a few shortest names with this word
        self._name_words: list[dict[int, int]] = []  # per name: word id → position
        self._pairs: dict[tuple[int, int], list[int]] = {}  # near word pairs → names
        self._by_surface: dict[str, int] = {}
        self._by_fine: dict[str, list[int]] = {}
        self._by_skel: dict[str, list[int]] = {}
        self._by_skel_delete: dict[str, list[int]] = {}
        # Arabic words by the singulars they may be plurals of (دبابيس under دبوس), so a
        # shopper's singular meets the catalog's plural (catalog/inflection.py)
        self._by_singular: dict[str, list[int]] = {}
        # words with a z (خبز khubz, ज़ातर), by the skeleton and key they have with s for z:
        # shoppers write z as s ("khubus"), while the keys fold z with j (ज़/ज)
        self._by_skel_zs: dict[str, list[tuple[int, str]]] = {}
        self._trigrams: dict[str, list[int]] = {}  # name-key trigrams, for suggest()
        self._name_keys: list[str] = []
        self._options: list[tuple[_OptionEntry, ...]] = []
        self._cache: dict[str, tuple[tuple[int, float], ...]] = {}
        self._masks: dict[int, int] = {}  # word id → bitmap of its products, lazily

    # ---- building -------------------------------------------------------------------
    @classmethod
    def build(cls, catalog: Catalog) -> ProductIndex:
        """Index every name and alias of every product (and its options' names)."""
        index = cls(catalog)
        word_products: list[set[int]] = []
        for p_idx, product in enumerate(catalog.products):
            seen: set[tuple[str, ...]] = set()
            product_words: set[str] = set()
            for text in product.names():
                words = tuple(t.norm for t in tokenize(text))
                if not words or words in seen:
                    continue
                seen.add(words)
                product_words.update(words)
                name_id = len(index._names)
                index._names.append(_Name(p_idx, text, len(words)))
                index._name_words.append({})
                for pos, surface in enumerate(words):
                    vid = index._word(surface, word_products)
                    index._postings[vid].append((name_id, pos))
                    index._name_words[name_id].setdefault(vid, pos)
                    word_products[vid].add(p_idx)
                vids = list(index._name_words[name_id])
                for a in range(len(vids)):
                    for b in range(a + 1, min(a + 3, len(vids))):  # neighbours, one skip
                        for pair in ((vids[a], vids[b]), (vids[b], vids[a])):
                            index._pairs.setdefault(pair, []).append(name_id)
                if len(words) > 1:  # "masalachai" typed as one word
                    vid = index._word("".join(words), word_products)
                    index._postings[vid].append((name_id, _FULL))
                    index._name_words[name_id][vid] = _FULL
                    word_products[vid].add(p_idx)
                key = " ".join(sound_key(w) for w in words)
                index._name_keys.append(key)
                for gram in {key[i : i + 3] for i in range(max(1, len(key) - 2))}:
                    index._trigrams.setdefault(gram, []).append(name_id)
            index._options.append(tuple(
                _OptionEntry(option, cls._option_words(option, product_words))
                for option in product.options
            ))
        index._word_products = [_ids(s) for s in word_products]
        index._single_owner = [len(s) == 1 for s in word_products]
        names = index._names
        index._sizes = [name.size for name in names]
        index._name_product = [name.product for name in names]
        for posting in index._postings:
            index._word_names.append(_ids({n for n, _ in posting}))
            index._solo.append(_ids(
                {n for n, pos in posting if pos == _FULL or names[n].size == 1}
            ))
            by_size = sorted({n for n, _ in posting}, key=lambda n: (names[n].size, n))
            index._shortest.append(tuple(by_size[:_FILL]))
        index._postings = []  # only building needs them
        return index

    @staticmethod
    def _option_words(option: Option, product_words: set[str]) -> tuple[tuple[str, ...], ...]:
        """An option's words per language, minus words it shares with its product's name;
        a bracketed gloss ("Lightning (iPhone)") names it alone, and so does the rest."""
        out: list[tuple[str, ...]] = []
        texts = list(option.name.all())
        for text in option.name.all():
            glossed = _GLOSSED.fullmatch(text)
            if glossed is not None:
                texts += [glossed[1], glossed[2]]
        for text in texts:
            words = [t.norm for t in tokenize(text)]
            own = [w for w in words if w not in product_words] or words
            if own:  # as written ("সেমি", met by "সেমির"), and by the unit's one form
                out.append(tuple(_unit_form(w) for w in own))
                out.append(tuple(_option_form(w) for w in own))
        return tuple(dict.fromkeys(out))

    def _word(self, surface: str, word_products: list[set[int]]) -> int:
        vid = self._by_surface.get(surface)
        if vid is not None:
            return vid
        vid = len(self._vocab)
        fine, skel, folded = sound_key(surface), skeleton(surface), folded_key(surface)
        self._vocab.append(_Word(surface, fine, skel, folded, _is_latin(surface),
                                 *_scripts(surface)))
        self._postings.append([])
        word_products.append(set())
        self._by_surface[surface] = vid
        self._by_fine.setdefault(fine, []).append(vid)
        self._by_skel.setdefault(skel, []).append(vid)
        if len(skel) >= 3:
            for d in _deletes(skel):
                self._by_skel_delete.setdefault(d, []).append(vid)
        if "\u0621" <= surface[:1] <= "\u064a":
            for singular in arabic_singulars(surface):
                self._by_singular.setdefault(singular, []).append(vid)
        roman = romanize(surface)
        if "z" in roman:
            as_s = roman.replace("z", "s")
            if len(skeleton(as_s)) >= 3:
                self._by_skel_zs.setdefault(skeleton(as_s), []).append((vid, sound_key(as_s)))
        return vid

    # ---- word matching --------------------------------------------------------------
    def _word_matches(self, norm: str) -> tuple[tuple[int, float], ...]:
        """Vocabulary words a query word may be, with a similarity in (0, 1]. Cached."""
        hit = self._cache.get(norm)
        if hit is not None:
            return hit
        result = self._compute_word_matches(norm)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[norm] = result
        return result

    def _compute_word_matches(self, norm: str) -> tuple[tuple[int, float], ...]:
        if norm in _UNIT_SYNONYMS or norm.isdigit():
            # "2 kg" is a quantity, not a product, even when a name says "Rice 5 kg"
            return ()
        found: dict[int, float] = {}
        vid = self._by_surface.get(norm)
        if vid is not None:
            found[vid] = 1.0
        if norm in _STOPWORDS or len(norm) > _MAX_FUZZY_LEN:
            return tuple(found.items())  # no product word is 40 letters long
        fine = sound_key(norm)
        self._add_forms(norm, fine, found)
        arabic, indic = _scripts(norm)
        if arabic or indic:  # a Hindi or Bengali word is not an Arabic name, nor back
            vocab = self._vocab
            found = {vid: sim for vid, sim in found.items()
                     if not (vocab[vid].indic if arabic else vocab[vid].arabic)}
        if fine:
            self._add_fuzzy(norm, fine, arabic, indic, found)
        return tuple(found.items())

    def _add_forms(self, norm: str, fine: str, found: dict[int, float]) -> None:
        """Words that sound the same, and the word's plural or inflected stems."""
        arabic = "\u0621" <= norm[:1] <= "\u064a"
        for vid in self._by_fine.get(fine, ()):
            if not arabic or _arabic_alike(norm, self._vocab[vid]):
                found.setdefault(vid, 0.96)
        if norm.isascii():
            stems: tuple[str, ...] = ()
            if len(norm) >= 4 and norm[-1] == "s":  # eggs, samosas, dishes
                stems = (norm[:-1], norm[:-2]) if norm.endswith("es") else (norm[:-1],)
            for stem in (*stems, *latin_singulars(norm)):  # batteries, khatagulo
                for vid in self._by_fine.get(sound_key(stem), ()):
                    found.setdefault(vid, 0.95)
            return
        inflected = _inflection_stems(norm)  # রসগোল্লাগুলো, समोसे, وشاي, ملفات
        for stem in inflected:
            surface = self._by_surface.get(stem)
            if surface is not None:
                found.setdefault(surface, 0.95)
            for vid in self._by_fine.get(sound_key(stem), ()):
                found.setdefault(vid, 0.93)
        if self._by_singular and "\u0621" <= norm[:1] <= "\u064a":
            for key in (norm, *inflected):  # دبوس for the catalog's دبابيس
                for vid in self._by_singular.get(key, ()):
                    found.setdefault(vid, 0.92)

    def _skeleton_candidates(self, skel: str) -> set[int]:
        """Words whose consonant skeleton is the query's, one consonant lost, added or
        changed (the longer the skeleton, the more edits are tried)."""
        candidates: set[int] = set(self._by_skel.get(skel, ()))
        if len(skel) >= 2:
            candidates.update(self._by_skel_delete.get(skel, ()))  # query lost a consonant
        if len(skel) >= 3:
            for d in _deletes(skel):  # query has an extra consonant
                candidates.update(self._by_skel.get(d, ()))
            if len(skel) >= 4:  # one consonant substituted
                for d in _deletes(skel):
                    candidates.update(self._by_skel_delete.get(d, ()))
        return candidates

    def _add_fuzzy(self, norm: str, fine: str, arabic: bool, indic: bool,
                   found: dict[int, float]) -> None:
        """Words spelt a little differently (by skeleton, then similarity), same script
        family rules as :meth:`_compute_word_matches`."""
        skel = skeleton(norm)
        candidates = self._skeleton_candidates(skel)
        if len(skel) >= 3 and "s" in skel and self._by_skel_zs:
            self._z_as_s(fine, skel, found)
        if candidates:
            folded = folded_key(norm)
            latin = _is_latin(norm)
            # a short Arabic word and a Latin one are alike only when they sound the same
            # (``_add_forms``), never loosely: سكر (sugar) is no spelling of "skru"
            short_arabic = arabic and len(norm) <= 3
            short_latin = latin and len(norm) <= 3  # nor "jab" (when) of جراب (case)
            # a word the catalog has as written is no loose spelling of a word of another
            # script: بطارية is the catalog's بطارية, not the alias "betri"
            own = self._by_surface.get(norm) is not None
            for vid in candidates:
                word = self._vocab[vid]
                if vid in found or (arabic and word.indic) or (indic and word.arabic) or (
                        short_arabic and word.latin) or (short_latin and word.arabic) or (
                        arabic and not _arabic_alike(norm, word)) or (
                        own and word.latin != latin):
                    continue
                sim = self._similarity(fine, skel, folded, latin, word)
                if sim >= _MIN_FUZZY:
                    found[vid] = sim

    def _z_as_s(self, fine: str, skel: str, found: dict[int, float]) -> None:
        """"khubus" for khubz: a z of the catalog written as s, the skeleton otherwise equal."""
        for vid, key in self._by_skel_zs.get(skel, ()):
            if vid not in found:
                sim = 0.8 + 0.1 * Indel.normalized_similarity(fine, key)
                if sim >= _MIN_FUZZY + 0.05:
                    found[vid] = sim

    @staticmethod
    def _similarity(fine: str, skel: str, folded: str, latin: bool, word: _Word) -> float:
        if "o" in fine + word.fine and fine.replace("o", "a") == word.fine.replace("o", "a"):
            if len(fine) >= 4:
                return 0.9  # Bengali's inherent vowel written o or a: orhor / arhar, sondesh
            if len(fine) == 3 and latin and word.latin:
                return 0.88  # the same in a short word: jal / jol, dal / dol
        ratio = Indel.normalized_similarity(fine, word.fine)
        if skel == word.skel:
            if len(skel) >= 3:
                return 0.84 + 0.11 * ratio
            if folded == word.folded and (ratio >= 0.75 or (latin != word.latin and (
                    fine.replace("o", "a") == word.fine.replace("o", "a")))):
                # চা / cha, দই / doi: short words across scripts, when they sound alike
                # but for Bengali's inherent vowel ("cow" is not चाय, skeleton alike or not)
                return 0.88
        if len(fine) <= 3 or len(word.fine) <= 3:
            return ratio * 0.9 if ratio >= 0.85 else 0.0
        return 0.95 * ratio

    # ---- aligning query words with names ---------------------------------------------
    def _runs(self, tokens: Sequence[Token], fill: bool = False) -> list[_Run]:
        """Every maximal run of consecutive query words that matches part of a name.

        Only names that can matter are looked at: names that are one matched word alone,
        names in which two adjacent query words are near each other ("masala" + "chai"),
        every name of a word owned by a single product ("ilish" → ইলিশ মাছ), and, with
        ``fill`` (search), each word's few shortest names. A word like "chai" may sit in
        hundreds of names of a tea shop; walking all of them per message would cost
        milliseconds at 10,000 products. Runs are plain tuples and a name hit by one
        query word (most of them) skips the alignment: this loop is the hot path.
        """
        matches = [self._word_matches(t.norm) for t in tokens]
        candidates = self._names_to_look_at(matches, fill)
        joined = self._joined_runs(tokens, matches)
        if not candidates:
            return joined
        runs = self._name_runs(self._name_hits(matches, candidates))
        runs.extend(joined)
        return runs

    def _names_to_look_at(self, matches: Sequence[tuple[tuple[int, float], ...]],
                          fill: bool) -> set[int]:
        """The names :meth:`_runs` aligns the query with (its docstring says which)."""
        candidates: set[int] = set()
        pairs = self._pairs
        word_names = self._word_names
        single = self._single_owner
        last_word = len(matches) - 1
        for i, per_word in enumerate(matches):
            for vid, _ in per_word:
                if single[vid]:
                    candidates.update(word_names[vid])
                else:
                    candidates.update(self._solo[vid])
                    if fill:
                        candidates.update(self._shortest[vid])
                if i < last_word:
                    for other, _ in matches[i + 1]:
                        names = pairs.get((vid, other))
                        if names is not None:
                            candidates.update(names)
        return candidates

    def _name_hits(self, matches: Sequence[tuple[tuple[int, float], ...]],
                   candidates: set[int]) -> dict[int, list[tuple[int, int, float, int]]]:
        """Per candidate name, the query words in it: (query position, position in the
        name, similarity, vocabulary word)."""
        name_words = self._name_words
        word_names = self._word_names
        hits: dict[int, list[tuple[int, int, float, int]]] = {}
        for i, per_word in enumerate(matches):
            for vid, sim in per_word:
                for name_id in candidates.intersection(word_names[vid]):
                    hit = (i, name_words[name_id][vid], sim, vid)
                    found = hits.get(name_id)
                    if found is None:
                        hits[name_id] = [hit]
                    else:
                        found.append(hit)
        return hits

    def _name_runs(self, hits: dict[int, list[tuple[int, int, float, int]]]) -> list[_Run]:
        """The runs each name's hits make: one or two words inline (most names), longer
        ones aligned (:meth:`_align`)."""
        sizes = self._sizes
        runs: list[_Run] = []
        append = runs.append
        for name_id, name_hits in hits.items():
            size = sizes[name_id]
            if len(name_hits) == 2:  # the common case: a pair of adjacent query words
                one, two = name_hits
                i, pos, sim, vid = one
                i2, pos2, sim2, vid2 = two
                if i == i2:  # two words of the name for one query word: keep the better
                    if sim2 > sim:
                        i, pos, sim, vid = two
                elif (
                    i2 == i + 1 and pos != _FULL and pos2 > pos  # so pos2 is not _FULL
                ):  # both in order: one run of two words
                    append((
                        name_id, i, i2, (sim + sim2) / size, (vid, vid2), size == 2
                    ))
                    continue
                else:  # two runs of one word each
                    append(_single_run(name_id, size, i, pos, sim, vid))
                    i, pos, sim, vid = two
                append(_single_run(name_id, size, i, pos, sim, vid))
            elif len(name_hits) == 1:
                i, pos, sim, vid = name_hits[0]
                append(_single_run(name_id, size, i, pos, sim, vid))
            else:
                self._align(name_id, size, name_hits, append)
        return runs

    def _joined_runs(
        self, tokens: Sequence[Token], matches: Sequence[tuple[tuple[int, float], ...]]
    ) -> list[_Run]:
        """Runs of one name word written as two Latin words: "chum chum" for Chamcham,
        "pau ruti" for pauruti.

        Looked at only where neither word matches well alone ("ruti" is only loosely
        pauruti), so the common message pays a length check per word pair.
        """
        runs: list[_Run] = []
        for i in range(len(tokens) - 1):
            # inline (the hot path): neither word may match a name word nearly exactly
            if any(sim >= 0.9 for _, sim in matches[i]) or any(
                    sim >= 0.9 for _, sim in matches[i + 1]):
                continue
            one, two = tokens[i].norm, tokens[i + 1].norm
            if not (one.isascii() and two.isascii() and one.isalpha() and two.isalpha()) \
                    or len(one) < 2 or len(two) < 2 or len(one) + len(two) > _MAX_FUZZY_LEN \
                    or one in _STOPWORDS or two in _STOPWORDS:
                continue
            for vid, sim in self._word_matches(one + two):
                if not self._single_owner[vid]:
                    continue
                for name_id in self._solo[vid]:
                    runs.append((name_id, i, i + 1, sim, (vid,), True))
        return runs

    @staticmethod
    def _align(
        name_id: int, size: int, name_hits: list[tuple[int, int, float, int]],
        append: Callable[[_Run], None],
    ) -> None:
        """Cut one name's hits (ordered by query word) into runs that read it in order.

        A joined name ("masalachai", position ``_FULL``) is always a run of its own.
        """
        used: set[int] = set()  # name positions in the current run
        mass = 0.0
        words: list[int] = []
        first = prev = -2
        last_pos = -1
        n = len(name_hits)
        k = 0
        while k < n:
            i = name_hits[k][0]
            j = k + 1
            while j < n and name_hits[j][0] == i:
                j += 1
            # a run reads the name in order: "chai ginger chai" is chai + Ginger Chai
            choice: tuple[int, int, float, int] | None = None
            best_any = name_hits[k]
            for o in name_hits[k:j]:
                if o[2] > best_any[2]:
                    best_any = o
                pos = o[1]
                if pos not in used and (pos > last_pos or pos == _FULL) and (
                    choice is None or o[2] > choice[2]
                ):
                    choice = o
            k = j
            if used and (
                choice is None or i != prev + 1 or choice[1] == _FULL or _FULL in used
            ):
                append(_emit(name_id, size, first, prev, used, mass, words))
                used, mass, words = set(), 0.0, []
                choice = best_any
            elif choice is None:
                choice = best_any
            if not used:
                first = i
            _, pos, sim, vid = choice
            used.add(pos)
            mass += sim
            words.append(vid)
            last_pos = pos
            prev = i
        if used:
            append(_emit(name_id, size, first, prev, used, mass, words))

    def _unique_product(self, words: tuple[int, ...], memo: dict[frozenset[int], bool]) -> bool:
        """Whether exactly one product has names containing all these words (memoised)."""
        if len(words) == 1:
            return self._single_owner[words[0]]
        key = frozenset(words)
        known = memo.get(key)
        if known is None:
            known = memo[key] = self._owners_unique(words)
        return known

    def _owners_unique(self, words: Sequence[int]) -> bool:
        if not words:
            return False
        products = self._word_products
        ordered = sorted(words, key=lambda vid: len(products[vid]))
        smallest = products[ordered[0]]
        if len(smallest) <= _FEW_OWNERS:
            rest = [products[vid] for vid in ordered[1:]]
            count = 0
            for p_idx in smallest:
                if all(p_idx in other for other in rest):
                    count += 1
                    if count > 1:
                        return False
            return count == 1
        # common words ("chai" in 300 products): AND their product bitmaps, not the sets
        mask = self._owner_mask(ordered[0])
        for vid in ordered[1:]:
            mask &= self._owner_mask(vid)
            if not mask:
                return False
        return mask & (mask - 1) == 0

    def _owner_mask(self, vid: int) -> int:
        """The products using a word as a bitmap (an int), built on first use."""
        mask = self._masks.get(vid)
        if mask is None:
            bits = bytearray(len(self._products) // 8 + 1)
            for p_idx in self._word_products[vid]:
                bits[p_idx >> 3] |= 1 << (p_idx & 7)
            mask = self._masks[vid] = int.from_bytes(bits, "little")
        return mask

    # ---- options ---------------------------------------------------------------------
    def _option_at(
        self, p_idx: int, tokens: Sequence[Token], lo: int, hi: int, first: int, last: int,
        taken: set[int] | None = None,
    ) -> tuple[Option | None, int, int]:
        """The product's option named by query words in [lo, hi) outside [first, last].

        Returns the option and the widened (first, last) when the option words sit right
        next to the product name, so mentions cover "large masala chai".
        """
        entries = self._options[p_idx]
        if not entries:
            return None, first, last
        forms = [_option_form(t.norm) for t in tokens]
        best: tuple[bool, int, int, Option, int, int] | None = None
        for entry in entries:
            for words in entry.words:
                n = len(words)
                for s in range(lo, hi - n + 1):
                    if first <= s + n - 1 and s <= last:
                        continue  # overlaps the product name itself
                    if taken and any(j in taken for j in range(s, s + n)):
                        continue
                    # right beside the name first ("lightning cable ek type c": the
                    # lightning one), then the most words, then the nearest to the name
                    # ("2 micro usb cable 2 type-c cable": each cable its own option)
                    gap = first - (s + n) if s < first else s - last - 1
                    if (best is None or (gap == 0, n, -gap) > best[:3]) and all(
                        _word_like(forms[s + j], words[j]) for j in range(n)
                    ):
                        best = (gap == 0, n, -gap, entry.option, s, s + n - 1)
        if best is None:
            return None, first, last
        _, _, _, option, s, e = best
        # right beside the name, or one word apart ("200 page wali copy", "৩০ সেমির স্কেল")
        if first - 2 <= e < first:
            first = s
        elif last < s <= last + 2:
            last = e
        return option, first, last

    # ---- public API -----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._products)

    def search(self, text: str, limit: int = 5, min_score: float = 0.5) -> list[Match]:
        """Best products for a query, by any name or alias, in any script, with typos."""
        tokens = tokenize(text)
        if not tokens:
            return []
        content = sum(1 for t in tokens if t.norm not in _STOPWORDS and not t.norm.isdigit())
        best: dict[int, tuple[float, int, _Run]] = {}
        memo: dict[frozenset[int], bool] = {}
        owner, sizes = self._name_product, self._sizes
        per_content = max(1, content)
        for run in self._runs(tokens, fill=content <= 3):  # fill: "chai" alone
            name_id, first, last, coverage, words, full = run
            length = last - first + 1
            query_cover = min(1.0, length / per_content)
            p_idx = owner[name_id]
            score = coverage
            if not full:  # "ilish" for ইলিশ মাছ: a partial name still counts
                size = sizes[name_id]
                mean = coverage * size / max(1, len(words))
                score = mean * (0.5 + 0.5 * len(words) / size)
                # uniqueness only matters when it can raise the score: ask only then
                if 0.8 * mean > score and self._unique_product(words, memo):
                    score = 0.8 * mean
            score *= 0.85 + 0.15 * query_cover
            current = best.get(p_idx)
            if current is None or (score, length) > (current[0], current[1]):
                best[p_idx] = (score, length, run)
        ranked = heapq.nsmallest(
            limit,
            (kv for kv in best.items() if kv[1][0] >= min_score),
            key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]),
        )
        matches: list[Match] = []
        for p_idx, (score, _, run) in ranked:
            option, _, _ = self._option_at(p_idx, tokens, 0, len(tokens), run[1], run[2])
            matches.append(Match(self._products[p_idx], option, round(score, 4),
                                 self._names[run[0]].text))
        return matches

    def find_mentions(self, text: str) -> list[Mention]:
        """Non-overlapping spans naming products, longest first, in text order."""
        return self.find_mentions_and_ambiguous(text)[0]

    def find_mentions_and_ambiguous(
        self, text: str
    ) -> tuple[list[Mention], list[Ambiguous]]:
        """:meth:`analyse` without the tokens."""
        mentions, ambiguous, _ = self.analyse(text)
        return mentions, ambiguous

    def _candidates(self, tokens: list[Token]) -> tuple[
            list[tuple[int, float, int, _Run]], list[tuple[int, int, tuple[int, ...]]]]:
        """Every run of tokens that may name a product, scored; and the words several share."""
        candidates: list[tuple[int, float, int, _Run]] = []
        shared: list[tuple[int, int, tuple[int, ...]]] = []  # first, last, products
        memo: dict[frozenset[int], bool] = {}
        owners_memo: dict[tuple[int, ...], tuple[int, ...]] = {}
        owner, sizes = self._name_product, self._sizes
        for run in self._runs(tokens):
            name_id, first, last, coverage, words, full = run
            if full:
                score = coverage
                if score < _MIN_MENTION:
                    continue
            else:
                if all(tokens[i].norm in _STOPWORDS or tokens[i].norm in _UNIT_WORDS
                       for i in range(first, last + 1)):
                    continue  # "का" of "सरसों का तेल", "of" of "Cup of Tea", বোতল of
                    # "Bottle Gourd" ("৩ বোতল সরিষার তেল" is three bottles of oil): no name
                # "samosa" for "Aloo Samosa": fine when no other product has that word.
                mean = coverage * sizes[name_id] / max(1, len(words))
                if mean < _MIN_PARTIAL_MENTION:
                    continue
                if first == last and len(self._vocab[words[0]].surface) == 1:
                    continue  # the "D" of "Glucose-D" is not the "d" of "i'd"
                if not self._unique_product(words, memo):
                    # the same words recur in hundreds of names of a big shop: once each
                    owners = owners_memo.get(words)
                    if owners is None:
                        owners = owners_memo[words] = self._owners(words)
                        if 1 < len(owners) <= _MAX_AMBIGUOUS:
                            shared.append((first, last, owners))
                    continue
                score = 0.8 * mean
            candidates.append((last - first + 1, score, owner[name_id], run))
        return candidates, shared


    def _choose(self, candidates: list[tuple[int, float, int, _Run]], tokens: list[Token],
                shared: list[tuple[int, int, tuple[int, ...]]]
                ) -> tuple[list[tuple[int, int, int, float, _Run]], set[int]]:
        """The runs that become mentions, longest and best first, none overlapping; runs
        two products tie on go to ``shared``. Returns them and the token positions taken."""
        candidates.sort(key=lambda c: (-c[0], -c[1], c[2], c[3][1]))
        taken: set[int] = set()
        chosen: list[tuple[int, int, int, float, _Run]] = []
        tied: dict[tuple[int, int, float], set[int]] = {}  # same words, same score
        for _, score, p_idx, run in candidates:
            tied.setdefault((run[1], run[2], score), set()).add(p_idx)
        for _, score, p_idx, run in candidates:
            span = range(run[1], run[2] + 1)
            if not taken.isdisjoint(span):
                continue
            if run[1] == run[2] and score < 0.9 and self._shared_word(tokens[run[1]].norm):
                continue  # "dal" of two lentils: a loose match elsewhere is no tie-break
            rivals = tied[(run[1], run[2], score)]
            if len(rivals) > 1:  # one alias, two products: "chai" on two teas
                shared.append((run[1], run[2], tuple(sorted(rivals))))
                taken.update(span)
                continue
            taken.update(span)
            chosen.append((run[1], run[2], p_idx, score, run))
        return chosen, taken

    def _lone_shared_words(self, tokens: list[Token], claimed: set[int],
                           shared: list[tuple[int, int, tuple[int, ...]]]) -> None:
        """"2 roll": a word no mention took that only names shared by a few products."""
        for i, tok in enumerate(tokens):
            if i in claimed or tok.norm in _STOPWORDS or tok.norm.isdigit():
                continue
            near: set[int] = set()
            for vid, sim in self._word_matches(tok.norm):
                if sim >= 0.9:
                    near.update(self._word_products[vid])
                    if len(near) > _MAX_AMBIGUOUS:
                        break
            if 1 < len(near) <= _MAX_AMBIGUOUS:
                shared.append((i, i, tuple(sorted(near))))

    def analyse(self, text: str) -> tuple[list[Mention], list[Ambiguous], list[Token]]:
        """Mentions, and the spans that name two to four products about equally well.

        "dal" in a shop with Chana Dal and Masoor Dal is neither: a guess would put the
        wrong lentils in the cart, so it comes back as an :class:`Ambiguous` for the bot
        to ask about. Costs nothing extra when every word has one owner.
        """
        tokens = tokenize(text)
        if not tokens:
            return [], [], tokens
        candidates, shared = self._candidates(tokens)
        chosen, taken = self._choose(candidates, tokens, shared)
        # one word only like one word of a longer name ("micro" of "Micro SD", "mah" near
        # "ماء"): an option named beside its product takes it ("2 micro usb cable")
        loose = {c[0] for c in chosen if c[0] == c[1] and c[3] <= _LOOSE_WORD
                 and self._names[c[4][0]].size > 1}
        placed: list[tuple[int, int, int, float, _Run, Option | None]] = []
        lost: set[int] = set()
        for first, last, p_idx, score, run in sorted(chosen, key=lambda c: c[0]):
            if first in lost:
                continue
            lo, hi = max(0, first - 3), min(len(tokens), last + 4)
            others = taken - set(range(first, last + 1))
            option, new_first, new_last = None, first, last
            if loose and self._options[p_idx]:
                option, new_first, new_last = self._option_at(
                    p_idx, tokens, lo, hi, first, last, others - loose)
                if (new_first, new_last) == (first, last):
                    option = None  # only an option right beside the name takes a word
                else:
                    lost.update(loose & set(range(new_first, new_last + 1)))
            if option is None:
                option, new_first, new_last = self._option_at(
                    p_idx, tokens, lo, hi, first, last, others)
            if option is not None:
                taken.update(range(new_first, new_last + 1))
            placed.append((new_first, new_last, p_idx, score, run, option))
        placed = self._options_named_again(tokens, placed, taken)
        mentions: list[Mention] = []
        for new_first, new_last, p_idx, score, run, option in placed:
            if new_first == new_last and new_first in lost:
                continue
            start, end = tokens[new_first].start, tokens[new_last].end
            mentions.append(Mention(start, end, text[start:end], self._products[p_idx],
                                    option, round(score, 4), self._names[run[0]].text))
        ambiguous: list[Ambiguous] = []
        claimed: set[int] = {i for m in chosen for i in range(m[0], m[1] + 1)}
        claimed.update(taken)
        self._lone_shared_words(tokens, claimed, shared)
        for first, last, owners in sorted(shared, key=lambda c: (c[0] - c[1], c[0])):
            span = range(first, last + 1)
            if any(i in claimed for i in span):
                continue
            claimed.update(span)
            start, end = tokens[first].start, tokens[last].end
            ambiguous.append(Ambiguous(start, end, text[start:end],
                                       tuple(self._products[i] for i in owners)))
        ambiguous.sort(key=lambda a: a.start)
        return mentions, ambiguous, tokens

    def _options_named_again(
        self, tokens: Sequence[Token],
        placed: list[tuple[int, int, int, float, _Run, Option | None]], taken: set[int],
    ) -> list[tuple[int, int, int, float, _Run, Option | None]]:
        """"ek lightning cable ek type c": another option of a product just named with its
        option, one word (its count) after the name, is one more of that product."""
        extra: list[tuple[int, int, int, float, _Run, Option | None]] = []
        for _first, last, p_idx, score, run, option in placed:
            nxt = min((c[0] for c in placed if c[0] > last), default=len(tokens))
            if option is None or last + 2 >= nxt or last + 1 in taken:
                continue
            again, _, new_last = self._option_at(
                p_idx, tokens, last + 2, nxt, last + 1, last + 1, taken)
            if again is not None and again is not option and new_last > last + 1:
                extra.append((last + 2, new_last, p_idx, score, run, again))
                taken.update(range(last + 2, new_last + 1))
        return sorted([*placed, *extra], key=lambda c: c[0]) if extra else placed

    def _shared_word(self, norm: str) -> bool:
        """Whether the word itself (not a loose match) is in names of several products."""
        owners: set[int] = set()
        for vid, sim in self._word_matches(norm):
            if sim >= 0.9:
                owners.update(self._word_products[vid])
                if len(owners) > 1:
                    return True
        return False

    def _owners(self, words: Sequence[int]) -> tuple[int, ...]:
        """Products (indexes) whose names hold all these words, if only a few do."""
        products = self._word_products
        ordered = sorted(words, key=lambda vid: len(products[vid]))
        smallest = products[ordered[0]]
        if len(smallest) > _FEW_OWNERS:
            return ()
        rest = [products[vid] for vid in ordered[1:]]
        found: list[int] = []
        for p in smallest:
            if all(p in other for other in rest):
                found.append(p)
                if len(found) > _MAX_AMBIGUOUS:
                    return ()  # too many to ask about: not worth listing
        return tuple(sorted(found))

    def suggest(self, text: str, limit: int = 3) -> list[Match]:
        """Closest products for a "did you mean" reply, even when nothing matches well."""
        found = self.search(text, limit=limit, min_score=0.0)
        if len(found) >= limit:
            return found
        have = {m.product.sku for m in found}
        key = " ".join(sound_key(t.norm) for t in tokenize(text, 32))
        if len(key) < 2:
            return found
        cap = max(200, len(self._names) // 10)  # grams in most names say nothing
        grams = {key[i : i + 3] for i in range(max(1, len(key) - 2))}
        postings = sorted((len(posting), gram, posting) for gram in grams  # gram: a fixed order
                          if 0 < len(posting := self._trigrams.get(gram, ())) <= cap)
        # the rarest grams tell the most: count names from them first, and stop at a budget,
        # so a long text (an address sent to a 10,000-product shop) costs no more than a word
        counts: Counter[int] = Counter()  # counted in C
        budget = cap
        for size, _gram, posting in postings:
            if budget <= 0:
                break
            counts.update(posting)
            budget -= size
        # most shared grams first, ties in first-seen order (a stable sort, keyed in C)
        top = sorted(counts, key=counts.__getitem__, reverse=True)[:50]
        scored = sorted(
            ((Indel.normalized_similarity(key, self._name_keys[n]), n) for n in top),
            key=lambda sn: -sn[0],
        )
        for sim, name_id in scored:
            product = self._products[self._names[name_id].product]
            if product.sku in have or len(found) >= limit:
                continue
            have.add(product.sku)
            found.append(Match(product, None, round(0.6 * sim, 4), self._names[name_id].text))
        return found


def _single_run(name_id: int, size: int, i: int, pos: int, sim: float, vid: int) -> _Run:
    """A run of one query word."""
    if pos == _FULL:
        return (name_id, i, i, sim, (vid,), True)
    return (name_id, i, i, sim / size, (vid,), size == 1)


def _emit(
    name_id: int, size: int, first: int, last: int, used: set[int], mass: float,
    words: list[int],
) -> _Run:
    if _FULL in used:  # always alone in its run
        return (name_id, first, last, mass, (words[0],), True)
    return (name_id, first, last, mass / size, tuple(words), len(used) == size)


def _arabic_alike(norm: str, word: _Word) -> bool:
    """Two Arabic words are spellings of one only when their letters mostly agree: the
    romanised keys fold ز with ج and drop ح and ع, so جاهز (ready) would be زجاج (glass),
    سريع (fast) شريحة (SIM), طلعة (an outing) تحويلة (adapter)."""
    if not word.arabic or Indel.normalized_similarity(norm, word.surface) >= 0.7:
        return True
    # a plural and its singular (دبوس for the catalog's دبابيس, مماحي for ممحاة)
    return any(Indel.normalized_similarity(a, b) >= 0.7
               for a, b in ((norm, s) for s in arabic_singulars(word.surface))) or any(
        Indel.normalized_similarity(s, word.surface) >= 0.7 for s in arabic_singulars(norm))


def _word_like(query: str, word: str) -> bool:
    """Loose equality for option words ("larg" → "large", "500" → "500")."""
    if query == word:
        return True
    if query.isdigit() or word.isdigit() or len(word) < 4:
        return False
    return sound_key(query) == sound_key(word) or (
        Indel.normalized_similarity(sound_key(query), sound_key(word)) >= 0.8
    )
