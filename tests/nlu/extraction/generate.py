"""Generate the extraction corpus: templates × catalogs × spelling and inflection variants.

Run from the repository root (deterministic: the same seed writes the same files)::

    .venv/bin/python -m tests.nlu.extraction.generate

It writes each shop of ``shops_spec.py`` as a shop folder (``shops/<id>/shop.yaml`` and
``catalog.yaml``, what a merchant would write) and, per shop and language form, a Rasa NLU
file ``corpus/<split>/<shop>/<form>.yml``. The split is by shop: ``tune`` shops may be
looked at while working on the extractor, ``test`` shops were not until issue-13e read their
misses, ``holdout`` shops (added then) were read once, ``fresh`` shops once for one rule
(issue-13f), ``unseen`` (added then) scored once and never tuned on (docs/NLU.md).

Annotations are Rasa's, with entity groups tying each item together::

    [2]{"entity": "quantity", "value": "2", "group": "1"} [samosa]{"entity": "product",
    "value": "SAMOSA", "group": "1"}

``product`` values are the sku that ends up in the cart (an option's sku for "half kg");
``quantity`` values are how many of that sku the words amount to ("one dozen eggs" is 12);
``unit`` marks the pack or measure word. Roles say what must *not* reach the cart:
product role ``negated`` ("no samosa today"), product role ``ask`` (two products equally
likely: the value lists both, ``A|B``), quantity role ``ask`` (absurd quantities: the bot
must ask). The cart a message should leave is therefore a pure function of its labels
(:func:`tests.nlu.extraction.corpus.expected_cart`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.nlu.builtin import normalize_tokens
from bot.nlu.training import load_rasa_nlu
from tests.nlu.extraction.shops_spec import FRESH, HOLDOUT, SHOPS, UNSEEN, P, ShopSpec

HERE = Path(__file__).parent
FORMS: tuple[str, ...] = ("en", "hinglish", "hi", "bn", "bn-latn", "ar")
SEED = 1303
PER_FILE = 46  # messages per shop and language form (before de-duplication)

# ---- segments ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Ent:
    text: str
    entity: str
    value: str
    group: str = ""
    role: str = ""


Seg = str | Ent


@dataclass
class Msg:
    segs: list[Seg]
    intent: str
    frame: str = ""  # the FRAME_MIX kind that wrote it (not written to the corpus)

    def text(self) -> str:
        return "".join(s if isinstance(s, str) else s.text for s in self.segs)

    def annotated(self) -> str:
        out: list[str] = []
        for s in self.segs:
            if isinstance(s, str):
                out.append(s)
                continue
            meta: dict[str, str] = {"entity": s.entity, "value": s.value}
            if s.group:
                meta["group"] = s.group
            if s.role:
                meta["role"] = s.role
            out.append(f"[{s.text}]{json.dumps(meta, ensure_ascii=False)}")
        return " ".join("".join(out).split())


# ---- spelling and inflection variants ---------------------------------------------------

def _swap_once(word: str, pairs: Sequence[tuple[str, str]]) -> list[str]:
    out = []
    for a, b in pairs:
        if a in word:
            out.append(word.replace(a, b, 1))
    return out


def bn_variants(word: str) -> list[str]:
    """ড়/র, ঙ্গ/ঙ, য় without its nukta (two code points), and the precomposed forms."""
    out = _swap_once(word, [("ড়", "র"), ("ঙ্গ", "ঙ"), ("য়", "য\u09bc"),
                            ("য়", "য"), ("ী", "ি"), ("ি", "ী"), ("ু", "ূ")])
    if "ঙ্গ" in word and "র" in word:  # সিঙ্গারা → সিঙাড়া, the spelling of issue #13
        out.append(word.replace("ঙ্গ", "ঙ").replace("র", "ড়"))
    return [w for w in dict.fromkeys(out) if w != word]


def bn_inflect(word: str, kind: str) -> list[str]:
    """রসগোল্লাগুলো, সিঙ্গারাটা, ডিমগুলো: the article and plural suffixes Bengali writes on."""
    if kind in ("kg",):
        return [word + "টা"]
    return [word + "গুলো", word + "টা", word + "টি", word + "গুলি"]


def hi_variants(word: str) -> list[str]:
    """Nukta on or off, chandrabindu for anusvara and back."""
    out = _swap_once(word, [("ज़", "ज"), ("ड़", "ड"), ("फ़", "फ"), ("ं", "ँ"), ("ँ", "ं"),
                            ("ज", "ज़"), ("ी", "ि"), ("ू", "ु")])
    return [w for w in dict.fromkeys(out) if w != word]


def hi_inflect(word: str, kind: str) -> list[str]:
    """समोसा → समोसे, अंडा → अंडे: the plural and oblique -े of -ा nouns."""
    if kind != "kg" and word.endswith("ा"):
        return [word[:-1] + "े"]
    return []


def ar_variants(word: str) -> list[str]:
    """Alef with and without hamza, ta marbuta as ha, final ya as alef maqsura, the article."""
    out = _swap_once(word, [("أ", "ا"), ("إ", "ا"), ("ا", "أ"), ("آ", "ا"), ("ة", "ه"),
                            ("ي ", "ى "), ("ى", "ي")])
    if word.endswith("ي"):
        out.append(word[:-1] + "ى")
    first = word.split(maxsplit=1)[0]
    if not first.startswith("ال"):
        out.append("ال" + word)
    return [w for w in dict.fromkeys(out) if w != word]


def latin_variants(word: str) -> list[str]:
    """Doubled and single vowels, sh/s, and capitals as phones type them."""
    out = _swap_once(word, [("aa", "a"), ("ee", "i"), ("oo", "u"), ("sh", "s")])
    out.append(word.capitalize())
    return [w for w in dict.fromkeys(out) if w != word]


def en_plural(word: str) -> str:
    if word.endswith(("s", "sh", "ch")):
        return word if word.endswith("s") else word + "es"
    return word + "s"


COUNTED = ("piece", "cup", "plate", "glass", "strip")


def surfaces(p: P, form: str, bare: bool = False) -> list[str]:
    """How shoppers writing ``form`` name this product (the catalog's spelling first).

    ``bare``: no number is written next to it, so Bengali may put its article on the noun
    (সিঙ্গারাটা, রসগোল্লাগুলো); "২টা রসগোল্লাটা" would be nobody's Bengali.
    """
    if form == "en":
        base = [p.en.lower(), p.en, *[a for a in p.aliases if a.isascii() and len(a) > 3]]
        if p.kind in COUNTED or p.kind in ("packet", "bottle"):
            base.append(en_plural(p.en.lower()))
        return list(dict.fromkeys(base))
    if form == "hinglish":
        return list(dict.fromkeys([*p.hl, *(v for h in p.hl[:1] for v in latin_variants(h))]))
    if form == "bn-latn":
        return list(dict.fromkeys([*p.bl, *(v for b in p.bl[:1] for v in latin_variants(b))]))
    if form == "hi":
        return list(dict.fromkeys([p.hi, *hi_variants(p.hi), *hi_inflect(p.hi, p.kind)]))
    if form == "bn":
        inflected = bn_inflect(p.bn, p.kind) if bare else []
        return list(dict.fromkeys([p.bn, *bn_variants(p.bn), *inflected]))
    return list(dict.fromkeys([p.ar, *ar_variants(p.ar)]))


# ---- numbers ----------------------------------------------------------------------------

_EN = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
       "eleven", "twelve"]
_HL = ["", "ek", "do", "teen", "char", "paanch", "chhe", "saat", "aath", "nau", "das"]
_HI = ["", "एक", "दो", "तीन", "चार", "पांच", "छह", "सात", "आठ", "नौ", "दस"]
_BN = ["", "একটা", "দুটো", "তিনটে", "চারটে", "পাঁচটা", "ছটা", "সাতটা", "আটটা", "নটা", "দশটা"]
_BN_PLAIN = ["", "এক", "দুই", "তিন", "চার", "পাঁচ", "ছয়", "সাত", "আট", "নয়", "দশ"]
_BL = ["", "ekta", "duto", "tinte", "charte", "panchta", "choyta", "satta", "atta", "nota",
       "doshta"]
_AR = ["", "واحد", "اثنين", "ثلاثة", "أربعة", "خمسة", "ستة", "سبعة", "ثمانية", "تسعة", "عشرة"]
_DEV = str.maketrans("0123456789", "०१२३४५६७८९")
_BEN = str.maketrans("0123456789", "০১২৩৪৫৬৭৮৯")
_ARD = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def qty_text(form: str, n: int, rng: random.Random, counted: bool = True) -> str:
    """A count as a shopper of ``form`` writes it: digits, native digits, words, classifiers."""
    pick = rng.random()
    if form == "en":
        return _EN[n] if pick < 0.35 and n < len(_EN) else str(n)
    if form == "hinglish":
        return _HL[n] if pick < 0.45 and n < len(_HL) else str(n)
    if form == "hi":
        if pick < 0.35 and n < len(_HI):
            return _HI[n]
        return str(n).translate(_DEV) if pick < 0.7 else str(n)
    if form == "bn":
        if not counted:
            return _BN_PLAIN[n] if pick < 0.4 and n < len(_BN_PLAIN) else str(n).translate(_BEN)
        if pick < 0.35 and n < len(_BN):
            return _BN[n]
        digits = str(n).translate(_BEN) if pick < 0.8 else str(n)
        return digits + rng.choice(["টা", "টি", "টো", " টা", ""])
    if form == "bn-latn":
        if not counted:
            return str(n)
        if pick < 0.35 and n < len(_BL):
            return _BL[n]
        return str(n) + rng.choice(["ta", "ti", "ta", " ta", ""])
    if pick < 0.35 and n < len(_AR):
        return _AR[n]
    return str(n).translate(_ARD) if pick < 0.7 else str(n)


# ---- templates --------------------------------------------------------------------------
# "{i}" is an item (quantity + product), "{p}" a product alone. Each template is a string
# split on those placeholders; the rest is literal.

ADD_BEFORE: dict[str, tuple[str, ...]] = {
    "en": ("{i}", "add {i}", "i want {i}", "please send {i}", "{i} please", "can i get {i}",
           "give me {i}", "put {i} in my cart", "i'd like {i}", "{i} pls", "need {i}",
           "order {i}"),
    "hinglish": ("{i} dena", "{i} chahiye", "{i} bhej do", "mujhe {i} chahiye", "{i} daal do",
                 "{i} cart mein daal do", "bhaiya {i} de do", "{i} dedo", "{i} add karo",
                 "{i} daalo"),
    "hi": ("{i} दीजिए", "{i} चाहिए", "मुझे {i} चाहिए", "{i} डाल दो", "{i} भेज दो",
           "{i} कार्ट में डाल दो", "भैया {i} दे दो", "{i} डालो"),
    "bn": ("{i} দিন", "{i} চাই", "আমাকে {i} দিন", "{i} দাও", "আমার {i} লাগবে",
           "{i} পাঠিয়ে দিন", "দাদা {i} দেবেন", "{i} চাই প্লিজ"),
    "bn-latn": ("{i} din", "{i} chai", "amake {i} din", "{i} dao", "amar {i} lagbe",
                "{i} pathiye din", "dada {i} deben", "{i} chai please"),
    "ar": ("أريد {i}", "أضف {i}", "{i} من فضلك", "عايز {i}", "بدي {i}", "ابغى {i}",
           "اريد {i} لو سمحت", "ممكن {i}"),
}
CONJ: dict[str, tuple[str, ...]] = {
    "en": (" and ", ", ", " & ", " "),
    "hinglish": (" aur ", ", ", " "),
    "hi": (" और ", ", ", " "),
    "bn": (" আর ", " এবং ", ", ", " "),
    "bn-latn": (" ar ", ", ", " "),
    "ar": (" و", " و ", "، ", " "),
}
QUESTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "en": (("how much is {p}?", "product_price"), ("do you have {p}?", "search_product"),
           ("is {p} available", "search_product"), ("price of {p}", "product_price"),
           ("what does {p} cost", "product_price"),
           ("how much are {i}?", "product_price")),
    "hinglish": (("{p} kitne ka hai", "product_price"), ("{p} hai kya?", "search_product"),
                 ("{p} milega?", "search_product"), ("{p} ka rate kya hai", "product_price")),
    "hi": (("{p} कितने का है", "product_price"), ("क्या {p} है?", "search_product"),
           ("{p} का दाम क्या है", "product_price"), ("{p} मिलेगा?", "search_product")),
    "bn": (("{p} এর দাম কত", "product_price"), ("{p} আছে?", "search_product"),
           ("{p} কত টাকা", "product_price"), ("{p} পাওয়া যাবে?", "search_product")),
    "bn-latn": (("{p} er dam koto", "product_price"), ("{p} ache?", "search_product"),
                ("{p} koto taka", "product_price"), ("{p} pawa jabe?", "search_product")),
    "ar": (("بكم {p}", "product_price"), ("هل عندكم {p}؟", "search_product"),
           ("كم سعر {p}", "product_price"), ("هل يوجد {p}", "search_product")),
}
# "tell me about X": product questions (issue #13 part A's intent); never a cart line
ABOUT: dict[str, tuple[str, ...]] = {
    "en": ("tell me about {p}", "tell me more about {p}", "what is in {p}?"),
    "hinglish": ("{p} ke baare mein batao", "{p} ki details"),
    "hi": ("{p} के बारे में बताइए", "{p} की जानकारी दो"),
    "bn": ("{p} সম্পর্কে বলুন", "{p} এর ব্যাপারে বলুন"),
    "bn-latn": ("{p} somporke bolun", "{p} er details"),
    "ar": ("ما هو {p}", "أخبرني عن {p}"),
}
NEGATED: dict[str, tuple[str, ...]] = {
    "en": ("no {p} today", "i don't want {p}", "{p} not needed", "no {p} thanks"),
    "hinglish": ("{p} nahi chahiye", "aaj {p} mat bhejna", "{p} nahi"),
    "hi": ("{p} नहीं चाहिए", "{p} मत भेजना", "आज {p} नहीं"),
    "bn": ("{p} লাগবে না", "আজ {p} চাই না", "{p} দরকার নেই"),
    "bn-latn": ("{p} lagbe na", "aaj {p} chai na", "{p} dorkar nei"),
    "ar": ("لا أريد {p}", "بدون {p} اليوم", "ما أبغى {p}"),
}
BUT_NOT: dict[str, tuple[str, ...]] = {  # {i} is wanted, {p} is not
    "en": ("{i}, no {p}", "{i} but no {p}", "{i} and no {p}"),
    "hinglish": ("{i} dena, {p} nahi", "{i} chahiye {p} nahi"),
    "hi": ("{i} दीजिए, {p} नहीं", "{i} चाहिए, {p} नहीं चाहिए"),
    "bn": ("{i} দিন, {p} না", "{i} চাই, {p} লাগবে না"),
    "bn-latn": ("{i} din, {p} na", "{i} chai, {p} lagbe na"),
    "ar": ("{i} بدون {p}", "أريد {i} ولا أريد {p}"),
}
UNKNOWN_ITEM: dict[str, tuple[str, ...]] = {  # {i} in the catalog, {u} from another shop
    "en": ("{i} and {u}", "add {i} and {u}"),
    "hinglish": ("{i} aur {u} dena",),
    "hi": ("{i} और {u} चाहिए",),
    "bn": ("{i} আর {u} দিন",),
    "bn-latn": ("{i} ar {u} din",),
    "ar": ("أريد {i} و {u}",),
}
ABSURD: dict[str, tuple[str, ...]] = {
    "en": ("add {n} {p}", "{n} {p}", "{n} {p} please"),
    "hinglish": ("{n} {p} dena", "{n} {p} chahiye"),
    "hi": ("{n} {p} चाहिए",),
    "bn": ("{n} {p} দিন",),
    "bn-latn": ("{n} {p} din",),
    "ar": ("أريد {n} {p}", "أضف {n} {p}"),
}
ABSURD_NUMBERS = ("0", "99999999999", "1e9", "-3", "2.5", "500", "1E+3", "00")
FRAME_MIX: tuple[tuple[str, int], ...] = (
    ("before", 11), ("after", 5), ("units", 7), ("multi", 8), ("collide", 3),
    ("question", 4), ("about", 1), ("negated", 2), ("but_not", 1), ("absurd", 2),
    ("unknown", 1), ("ambiguous", 1),
)


class Gen:
    """One shop and language form: random but seeded choices of frames and spellings."""

    def __init__(self, shop: ShopSpec, form: str, others: Sequence[P], rng: random.Random):
        self.shop, self.form, self.others, self.rng = shop, form, others, rng
        self.group = 0
        # products one word of which is shared with another: "manakish", "cough", "dal"
        self.products = [p for p in shop.products if not self._ambiguous_only(p)]

    @staticmethod
    def _ambiguous_only(p: P) -> bool:
        return False

    def name(self, p: P, bare: bool = False) -> str:
        return self.rng.choice(surfaces(p, self.form, bare))

    def product(self, p: P, sku: str | None = None, role: str = "", bare: bool = False) -> Ent:
        return Ent(self.name(p, bare), "product", sku or p.sku, str(self.group), role)

    def item(self, p: P | None = None, *, qty: bool = True, after: bool = False
             ) -> list[Seg]:
        """"2 samosa", "সিঙ্গারা ২টা", "samosa x3": a quantity and a product, one group."""
        p = p or self.rng.choice(self.products)
        self.group += 1
        g = str(self.group)
        if not qty:
            return [self.product(p, bare=True)]
        n = self.rng.choice((1, 2, 2, 3, 3, 4, 5, 6, 10))
        counted = p.kind != "kg"
        if p.kind == "kg":  # weighed: "2 kg rice"; bare "2 rice" is unusual
            return self._weighed(p, n if n <= 5 else 2, after)
        q = Ent(qty_text(self.form, n, self.rng, counted), "quantity", str(n), g)
        prod = self.product(p)
        if self.form == "en" and n > 1 and p.kind in COUNTED and self.rng.random() < 0.5 \
                and prod.text == p.en.lower():
            prod = Ent(en_plural(prod.text), "product", p.sku, g)
        if self.form == "en" and self.rng.random() < 0.25:  # "samosa x3", "3x samosa"
            if after:
                return [prod, " ", Ent(f"x{n}", "quantity", str(n), g)]
            return [Ent(f"{n}x", "quantity", str(n), g), " ", prod]
        return [prod, " ", q] if after else [q, " ", prod]

    def _unit_word(self, unit: str) -> str:
        table = {
            "kg": {"en": ("kg", "kilo", "kgs"), "hinglish": ("kilo", "kg"), "hi": ("किलो",),
                   "bn": ("কেজি", "কিলো"), "bn-latn": ("kg", "kilo"), "ar": ("كيلو",)},
            "packet": {"en": ("packet", "packets", "pack"), "hinglish": ("packet",),
                       "hi": ("पैकेट",), "bn": ("প্যাকেট",), "bn-latn": ("packet",),
                       "ar": ("علبة", "باكيت")},
            "bottle": {"en": ("bottle", "bottles"), "hinglish": ("bottle",), "hi": ("बोतल",),
                       "bn": ("বোতল",), "bn-latn": ("bottle", "botol"), "ar": ("زجاجة",)},
            "dozen": {"en": ("dozen",), "hinglish": ("darjan", "dozen"), "hi": ("दर्जन",),
                      "bn": ("ডজন",), "bn-latn": ("dozen", "dojon"), "ar": ("درزن",)},
        }
        return self.rng.choice(table[unit][self.form])

    def _weighed(self, p: P, n: int, after: bool) -> list[Seg]:
        g = str(self.group)
        unit = Ent(self._unit_word("kg"), "unit", "kg", g)
        if self.rng.random() < 0.3:  # half kg → the 500 g option
            half = {"en": "half", "hinglish": "aadha", "hi": "आधा", "bn": "আধা",
                    "bn-latn": "adha", "ar": "نصف"}[self.form]
            q = Ent(half, "quantity", "1", g)
            return [q, " ", unit, " ", self.product(p, f"{p.sku}-500G")]
        q = Ent(qty_text(self.form, n, self.rng, counted=False), "quantity", str(n), g)
        if after:
            return [self.product(p), " ", q, " ", unit]
        return [q, " ", unit, " ", self.product(p)]

    def packed(self) -> list[Seg]:
        """"3 packets of biscuits", "चावल के दो पैकेट", "one dozen eggs"."""
        packs = [p for p in self.products if p.kind in ("packet", "bottle")]
        eggs = [p for p in self.products if "EGG" in p.sku]
        self.group += 1
        g = str(self.group)
        if eggs and self.rng.random() < 0.35:
            p = eggs[0]
            n = self.rng.choice((1, 2))
            q = Ent(qty_text(self.form, n, self.rng, counted=False), "quantity", str(12 * n), g)
            if self.form == "en" and n == 1 and self.rng.random() < 0.5:
                q = Ent("a", "quantity", "12", g)
            return [q, " ", Ent(self._unit_word("dozen"), "unit", "dozen", g), " ",
                    self.product(p)]
        if not packs:
            return self.item()
        p = self.rng.choice(packs)
        n = self.rng.choice((1, 2, 3, 4))
        unit = Ent(self._unit_word(p.kind), "unit", p.kind, g)
        q = Ent(qty_text(self.form, n, self.rng, counted=False), "quantity", str(n), g)
        if self.form == "hi" and self.rng.random() < 0.5:
            return [self.product(p), " के ", q, " ", unit]
        if self.form == "en" and self.rng.random() < 0.4:
            return [q, " ", unit, " of ", self.product(p)]
        return [q, " ", unit, " ", self.product(p)]

    # ---- frames -------------------------------------------------------------------------
    def fill(self, template: str, parts: dict[str, list[Seg]]) -> list[Seg]:
        segs: list[Seg] = []
        rest = template
        while rest:
            cut = min((rest.find(k), k) for k in parts if k in rest) if any(
                k in rest for k in parts) else (-1, "")
            if cut[0] < 0:
                segs.append(rest)
                break
            pos, key = cut
            if pos:
                segs.append(rest[:pos])
            segs.extend(parts[key])
            rest = rest[pos + len(key):]
        return segs

    def frame(self, kind: str) -> Msg | None:
        """One message of the frame ``kind`` (each is a ``_frame_<kind>`` method)."""
        if kind not in dict(FRAME_MIX):
            raise ValueError(kind)
        make: Callable[[], Msg | None] = getattr(self, f"_frame_{kind}")
        return make()

    def _frame_before(self) -> Msg | None:
        rng, form = self.rng, self.form
        return Msg(self.fill(rng.choice(ADD_BEFORE[form]), {"{i}": self.item()}),
                   "add_to_cart")

    def _frame_after(self) -> Msg | None:
        rng, form = self.rng, self.form
        return Msg(self.fill(rng.choice(ADD_BEFORE[form]), {"{i}": self.item(after=True)}),
                   "add_to_cart")

    def _frame_units(self) -> Msg | None:
        rng, form = self.rng, self.form
        weighed = [p for p in self.products if p.kind == "kg"]
        if weighed and rng.random() < 0.5:
            self.group += 1
            segs = self._weighed(rng.choice(weighed), rng.choice((1, 2, 3, 5)),
                                 rng.random() < 0.3)
        else:
            segs = self.packed()
        return Msg(self.fill(rng.choice(ADD_BEFORE[form]), {"{i}": segs}), "add_to_cart")

    def _frame_multi(self) -> Msg | None:
        rng, form = self.rng, self.form
        count = 3 if rng.random() < 0.3 else 2
        chosen = rng.sample(self.products, count)
        joiner = rng.choice(CONJ[form])
        items: list[Seg] = []
        for k, p in enumerate(chosen):
            if k:
                items.append(joiner if k == count - 1 else ", " if joiner != " " else " ")
            # without "and" or a comma, only numbers show where an item starts
            # a weighed product named bare gets "which size?": not this frame's subject
            items.extend(self.item(p, qty=joiner.strip() == "" or p.kind == "kg"
                                   or rng.random() < 0.85))
        template = rng.choice(ADD_BEFORE[form]) if rng.random() < 0.6 else "{i}"
        return Msg(self.fill(template, {"{i}": items}), "add_to_cart")

    def _frame_collide(self) -> Msg | None:
        return self.collide()

    def _frame_question(self) -> Msg | None:
        rng, form = self.rng, self.form
        template, intent = rng.choice(QUESTIONS[form])
        self.group += 1
        if "{i}" in template:
            return Msg(self.fill(template, {"{i}": self.item()}), intent)
        return Msg(self.fill(template, {"{p}": [
            self.product(rng.choice(self.products), bare=True)]}), intent)

    def _frame_about(self) -> Msg | None:
        rng, form = self.rng, self.form
        self.group += 1
        return Msg(self.fill(rng.choice(ABOUT[form]),
                             {"{p}": [self.product(rng.choice(self.products), bare=True)]}),
                   "product_info")

    def _frame_negated(self) -> Msg | None:
        rng, form = self.rng, self.form
        self.group += 1
        p = rng.choice(self.products)
        return Msg(self.fill(rng.choice(NEGATED[form]),
                             {"{p}": [self.product(p, role="negated", bare=True)]}), "deny")

    def _frame_but_not(self) -> Msg | None:
        rng, form = self.rng, self.form
        a, b = rng.sample(self.products, 2)
        wanted = self.item(a)
        self.group += 1
        return Msg(self.fill(rng.choice(BUT_NOT[form]),
                             {"{i}": wanted,
                              "{p}": [self.product(b, role="negated", bare=True)]}),
                   "add_to_cart")

    def _frame_absurd(self) -> Msg | None:
        rng, form = self.rng, self.form
        p = rng.choice([p for p in self.products if p.kind != "kg"] or self.products)
        n = rng.choice(ABSURD_NUMBERS)
        if n == "2.5" and p.kind == "kg":
            n = "0"
        self.group += 1
        g = str(self.group)
        return Msg(self.fill(rng.choice(ABSURD[form]), {
            "{n}": [Ent(n, "quantity", n, g, "ask")], "{p}": [self.product(p)]}),
            "add_to_cart")

    def _frame_unknown(self) -> Msg | None:
        rng, form = self.rng, self.form
        wanted = self.item()
        other = rng.choice(self.others)
        name = self.name_of_other(other)
        same = self.namesake(name)
        if same is not None:  # "samosa" from another shop is this shop's Singara
            self.group += 1
            unknown: list[Seg] = [Ent(name, "product", same.sku, str(self.group))]
        else:
            unknown = [name]
        return Msg(self.fill(rng.choice(UNKNOWN_ITEM[form]), {
            "{i}": wanted, "{u}": unknown}), "add_to_cart")

    def _frame_ambiguous(self) -> Msg | None:
        return self.ambiguous()

    def namesake(self, name: str) -> P | None:
        """This shop's product that another shop's name also is (by its exact words)."""
        for q in self.shop.products:
            spellings = {q.en, q.hi, q.bn, q.ar, *q.hl, *q.bl, *q.aliases}
            if name.casefold() in {w.casefold() for w in spellings}:
                return q
        return None

    def name_of_other(self, p: P) -> str:
        return {"en": p.en.lower(), "hinglish": p.hl[0], "hi": p.hi, "bn": p.bn,
                "bn-latn": p.bl[0], "ar": p.ar}[self.form]

    def collide(self) -> Msg | None:
        """Words that look like a product name and are not one here."""
        rng, form = self.rng, self.form
        self.group += 1
        p = rng.choice(self.products)
        if form == "en":
            item = self.item(p)
            return Msg(self.fill(rng.choice(("{i}, tell me when it ships",
                                              "{i} and tell me the total",
                                              "please tell me if {i} is ok, add it")),
                                 {"{i}": item}), "add_to_cart")
        if form == "hinglish":
            return Msg(self.fill(rng.choice(("{i} bhi daal do", "{i} daal dena", "{i} daal do na",
                                              "{i} cart me dal do")),
                                 {"{i}": self.item(p)}), "add_to_cart")
        if form == "hi":
            return Msg(self.fill(rng.choice(("{i} भी डाल दो", "{i} डाल दीजिए", "{i} डाल देना")),
                                 {"{i}": self.item(p)}), "add_to_cart")
        if form == "bn":
            return Msg(self.fill(rng.choice(("{i} চাই", "আমি {i} চাই", "{i} চাই, তাড়াতাড়ি দিন")),
                                 {"{i}": self.item(p)}), "add_to_cart")
        if form == "bn-latn":
            return Msg(self.fill(rng.choice(("{i} chai", "ami {i} chai", "{i} chai taratari")),
                                 {"{i}": self.item(p)}), "add_to_cart")
        return Msg(self.fill(rng.choice(("أريد {i} الآن", "أريد {i} بسرعة")),
                             {"{i}": self.item(p)}), "add_to_cart")

    def ambiguous(self) -> Msg | None:
        """One word two products share ("dal" with two dals, "manakish", "cough")."""
        pairs = {"bazaar": ("CHANA-DAL", "MASOOR-DAL", {
                    "en": "dal", "hinglish": "daal", "hi": "दाल", "bn": "ডাল", "bn-latn": "dal",
                    "ar": "دال"}),
                 "bakery": ("MANAKISH-ZAATAR", "MANAKISH-CHEESE", {
                    "en": "manakish", "hinglish": "manakish", "hi": "मनाकीश", "bn": "মানাকিশ",
                    "bn-latn": "manakish", "ar": "مناقيش"}),
                 "pharmacy": ("COUGH-SYRUP", "COUGH-DROPS", {
                    "en": "cough medicine", "hinglish": "khansi ki", "hi": "खांसी की",
                    "bn": "কাশির", "bn-latn": "kashir", "ar": "السعال"}),
                 "lucknow": ("MOTICHOOR-LADDOO", "BESAN-LADDOO", {
                    "en": "laddoo", "hinglish": "laddu", "hi": "लड्डू", "bn": "লাড্ডু",
                    "bn-latn": "laddu", "ar": "لدو"}),
                 "dubai": ("INSULATION-TAPE", "MEASURING-TAPE", {
                    "en": "tape", "hinglish": "tape", "hi": "टेप", "bn": "টেপ",
                    "bn-latn": "tep", "ar": "شريط"})}
        if self.shop.id not in pairs:
            return None
        a, b, words = pairs[self.shop.id]
        self.group += 1
        g = str(self.group)
        n = self.rng.choice((1, 2, 3))
        q = Ent(qty_text(self.form, n, self.rng, counted=self.shop.id != "bazaar"),
                "quantity", str(n), g)
        word = Ent(words[self.form], "product", f"{a}|{b}", g, "ask")
        if self.shop.id == "bazaar":
            segs: list[Seg] = [q, " ", Ent(self._unit_word("kg"), "unit", "kg", g), " ", word]
        else:
            segs = [q, " ", word]
        return Msg(self.fill(self.rng.choice(ADD_BEFORE[self.form]), {"{i}": segs}),
                   "add_to_cart")


def generate_file(shop: ShopSpec, form: str, rng: random.Random) -> list[Msg]:
    others = [p for s in SHOPS if s.id != shop.id for p in s.products
              if not any(p.en.split()[-1].lower() in q.en.lower() for q in shop.products)
              and not any(p.sku == q.sku for q in shop.products)]
    gen = Gen(shop, form, others, rng)
    kinds: list[str] = [k for k, n in FRAME_MIX for _ in range(n)]
    msgs: list[Msg] = []
    seen: set[str] = set()
    attempts = 0
    while len(msgs) < PER_FILE and attempts < PER_FILE * 10:
        attempts += 1
        kind = kinds[len(msgs) % len(kinds)] if attempts <= PER_FILE * 3 else "before"
        msg = gen.frame(kind)
        if msg is None:
            kind, msg = "before", gen.frame("before")
        assert msg is not None
        msg.frame = kind
        text = msg.text()
        if text in seen:
            continue
        seen.add(text)
        msgs.append(msg)
    return msgs


def dump(msgs: Sequence[Msg]) -> str:
    by_intent: dict[str, list[str]] = {}
    for m in msgs:
        by_intent.setdefault(m.intent, []).append(m.annotated())
    out = ['version: "3.1"', "", "nlu:"]
    for intent in sorted(by_intent):
        out.append(f"- intent: {intent}")
        out.append("  examples: |")
        out.extend(f"    - {line}" for line in by_intent[intent])
    return "\n".join(out) + "\n"


# ---- shop folders -----------------------------------------------------------------------

def catalog_yaml(shop: ShopSpec) -> str:
    products = []
    for p in shop.products:
        aliases = list(dict.fromkeys(
            a for a in (*p.aliases, p.hl[0], p.bl[0]) if a.lower() != p.en.lower()))
        entry: dict[str, object] = {
            "sku": p.sku, "category": "all",
            "name": {"en": p.en, "hi": p.hi, "bn": p.bn, "ar": p.ar},
            "aliases": aliases, "price": p.price,
            "unit": "kg" if p.kind == "kg" else p.kind,
        }
        if p.kind == "kg":
            half = f"{int(p.price.split('.')[0]) // 2}.00"
            entry["options"] = [{"sku": f"{p.sku}-500G", "price": half,
                                 "name": {"en": "500 g", "hi": "500 ग्राम", "bn": "৫০০ গ্রাম",
                                          "ar": "٥٠٠ غرام"}}]
        products.append(entry)
    doc = {"categories": [{"id": "all", "name": {"en": "Everything", "hi": "सब कुछ",
                                                  "bn": "সব কিছু", "ar": "كل شيء"}}],
           "products": products}
    head = f"# {shop.name} ({shop.kind}), extraction corpus shop, {shop.split} split.\n"
    if shop.notes:
        head += f"# {shop.notes}\n"
    head += "# Generated by tests/nlu/extraction/generate.py: edit shops_spec.py instead.\n"
    return head + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=99)


def shop_yaml(shop: ShopSpec) -> str:
    doc = {"name": {"en": shop.name}, "phone": shop.phone, "currency": shop.currency,
           "timezone": shop.timezone, "languages": list(shop.languages),
           "payments": {"methods": ["payment_link"], "provider": "sandbox"}}
    return ("# Generated by tests/nlu/extraction/generate.py.\n"
            + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))


# The intent classifier learns orders from the tune shops only (bot/nlu/data/orders.yml):
# a few per shop and form, of the intents it knows, so the test shops stay unseen. The orders
# are taken from every frame in turn (plain, quantity after, units, several items, look-alike
# verbs, "but not", absurd and unknown ones), not the first of the file: a classifier that
# saw only "2 samosa dena" reads "samosa x2" or "2 samosa, tell me the total" as something
# else. Product questions and negations ("no samosa today") are taken too.
TRAIN_INTENTS = ("add_to_cart", "product_price", "search_product", "product_info")
TRAIN_PER_FILE = 12
TRAIN_FILE = HERE.parents[2] / "bot" / "nlu" / "data" / "orders.yml"


def training_sample(msgs: Sequence[Msg], per_file: int = TRAIN_PER_FILE) -> list[Msg]:
    """Up to ``per_file`` orders taken from each frame in turn, then every other message
    of a trained intent."""
    by_frame: dict[str, list[Msg]] = {}
    for m in msgs:
        if m.intent == "add_to_cart":
            by_frame.setdefault(m.frame, []).append(m)
    queues = [by_frame[kind] for kind, _ in FRAME_MIX if kind in by_frame]
    orders: list[Msg] = []
    while len(orders) < per_file and any(queues):
        for queue in queues:
            if queue and len(orders) < per_file:
                orders.append(queue.pop(0))
    asks = [m for m in msgs if m.intent in TRAIN_INTENTS[1:]]
    return [*orders, *asks]


def dump_training(msgs: Sequence[Msg]) -> str:
    head = ("# Orders and product questions from the extraction corpus's *tune* shops\n"
            "# (tests/nlu/extraction/generate.py writes this file; do not edit it).\n")
    return head + dump(msgs)


def main(out: Path = HERE) -> Callable[[], None] | None:
    rng = random.Random(SEED)
    holdout_rng = random.Random(SEED + 1)  # HOLDOUT came later: the earlier files stay put
    fresh_rng = random.Random(SEED + 2)  # and FRESH after it
    unseen_rng = random.Random(SEED + 3)  # and UNSEEN (issue-13f) after that
    total = 0
    training: list[Msg] = []
    for shop in (*SHOPS, *HOLDOUT, *FRESH, *UNSEEN):
        if shop in HOLDOUT:
            rng = holdout_rng
        elif shop in FRESH:
            rng = fresh_rng
        elif shop in UNSEEN:
            rng = unseen_rng
        folder = out / "shops" / shop.id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "shop.yaml").write_text(shop_yaml(shop), encoding="utf-8")
        (folder / "catalog.yaml").write_text(catalog_yaml(shop), encoding="utf-8")
        for form in FORMS:
            msgs = generate_file(shop, form, rng)
            target = out / "corpus" / shop.split / shop.id / f"{form}.yml"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(dump(msgs), encoding="utf-8")
            total += len(msgs)
            if shop.split == "tune":
                training.extend(training_sample(msgs))
    if out == HERE:
        # the intent test set stays unseen: no sentence of it is trained on
        held_out = {" ".join(normalize_tokens(ex.text))
                    for ex in load_rasa_nlu(HERE.parent / "test_set.yml")}
        training = [m for m in training if " ".join(normalize_tokens(m.text())) not in held_out]
        TRAIN_FILE.write_text(dump_training(training), encoding="utf-8")
    print(f"wrote {total} messages, {len(training)} training examples")
    return None


if __name__ == "__main__":
    main()
