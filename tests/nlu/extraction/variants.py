"""Question, negation and plural variants of every tuned shop's catalog (issue-13k).

``generate.py`` writes the committed corpus from its own templates; this module writes,
in memory, other messages about every product of every shop of the tuned splits, in the
six language forms, so that the rules for product questions, refusals and plural names
are measured on catalogs they were not written for:

- ``info``: "tell me about X", "X ki details do", "X এর ব্যাপারে জানতে চাই", "ما هو X؟"
  (``product_info``, nothing in the cart);
- ``price``: "X ka price kya hai", "كم سعر X؟" (``product_price``);
- ``deny``: "i don't want the X", "X ki zarurat nahi", "X দেবেন না", "مابي X اليوم"
  (``deny``, nothing added);
- ``but_not``: "3 X but no Y" (X added, Y not);
- ``plural``: "add 4 Xs", "४ Xें चाहिए", "Xগুলো ৪টা দিন", "٤ Xات" (X, four).

The held-out shops (``blind``) are never read: only shops with a folder in a tuned split
are generated. Run ``.venv/bin/python -m tests.nlu.extraction.variants`` for the table.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from pathlib import Path

from bot.nlu.builtin import BuiltinBackend
from bot.nlu.cart_plan import base_is_default
from bot.nlu.evaluate import FORMS, CorpusShop, ExtractionReport, evaluate_corpus
from bot.nlu.training import Example, parse_annotated
from catalog.models import Product, Shop
from catalog.search import ProductIndex
from webhooks.plugins import load_shop

HERE = Path(__file__).parent
TUNED_SPLITS = ("tune", "test", "holdout", "fresh", "unseen", "wild")
SEED = 1313
PER_KIND = 6  # messages per shop, form and kind

INFO = {
    "en": ("tell me about the {p}", "what's in the {p}?", "can you tell me more about {p}",
           "details of {p} please", "what is {p}?", "info on {p}"),
    "hinglish": ("{p} ke baare me batao", "{p} ki details do", "{p} kya hai?",
                 "{p} ke bare mein jankari chahiye", "{p} kaisa hai"),
    "hi": ("{p} के बारे में बताओ", "{p} क्या है?", "{p} की जानकारी चाहिए", "{p} का विवरण भेजिए",
           "{p} कैसा है"),
    "bn": ("{p} সম্পর্কে বলুন", "{p} এর ব্যাপারে জানতে চাই", "{p} এর বিস্তারিত দিন",
           "{p} কেমন?", "{p} এর ডিটেলস"),
    "bn-latn": ("{p} somporke bolun", "{p} er byapare jante chai", "{p} er details din",
                "{p} kemon?", "{p} er bistarito bolo"),
    "ar": ("ما هو {p}؟", "اخبرني عن {p}", "ابي تفاصيل {p}", "شو هو {p}",
           "معلومات عن {p} لو سمحت", "ما هي مواصفات {p}"),
}
PRICE = {
    "en": ("what's the price of {p}", "how much for {p}?", "{p} price?", "cost of {p}"),
    "hinglish": ("{p} ka price kya hai", "{p} kitne ka hai?", "{p} ka daam batao"),
    "hi": ("{p} का दाम क्या है", "{p} की कीमत बताइए", "{p} कितने का है"),
    "bn": ("{p} এর দাম কত?", "{p} কত টাকা", "{p} এর দাম বলুন"),
    "bn-latn": ("{p} er dam koto?", "{p} koto taka", "{p} er daam bolun"),
    "ar": ("كم سعر {p}؟", "بكم {p}", "ثمن {p} كم"),
}
DENY = {
    "en": ("no {p} please", "i don't want the {p}", "don't send {p}", "skip the {p}",
           "{p} not needed today", "I do not need {p}"),
    "hinglish": ("{p} nahi chahiye", "mujhe {p} nahi chahiye", "{p} mat bhejo",
                 "{p} ki zarurat nahi hai", "{p} rehne do"),
    "hi": ("{p} नहीं चाहिए", "मुझे {p} नहीं चाहिए", "{p} मत भेजो", "{p} की ज़रूरत नहीं",
           "{p} रहने दो"),
    "bn": ("{p} লাগবে না", "{p} চাই না", "{p} দেবেন না", "{p} দরকার নেই", "{p} থাক"),
    "bn-latn": ("{p} lagbe na", "{p} chai na", "{p} diben na", "{p} dorkar nei", "{p} thak"),
    "ar": ("ما ابي {p}", "لا أريد {p}", "بدون {p}", "مابي {p} اليوم", "{p} ما نحتاجه",
           "لا ترسل {p}"),
}
BUT_NOT = {
    "en": ("{n} {a} but no {b}", "{n} {a}, don't want {b}"),
    "hinglish": ("{n} {a} dena, {b} nahi chahiye", "{n} {a} bhejo, {b} mat bhejo"),
    "hi": ("{n} {a} दीजिए, {b} नहीं चाहिए", "{n} {a} भेजो, {b} मत भेजो"),
    "bn": ("{n} {a} দিন, {b} লাগবে না", "{n} {a} দিন, {b} দেবেন না"),
    "bn-latn": ("{n} {a} din, {b} lagbe na", "{n} {a} din, {b} diben na"),
    "ar": ("أريد {n} {a} ولا أريد {b}", "{n} {a} بس ما ابي {b}"),
}
PLURAL = {
    "en": ("add {n} {p}", "{n} {p} please"),
    "hinglish": ("{n} {p} dena", "{n} {p} bhej do"),
    "hi": ("{n} {p} चाहिए", "{n} {p} भेज दीजिए"),
    "bn": ("{p} {n}টা দিন",),
    "bn-latn": ("{p} {n}ta din",),
    "ar": ("أريد {n} {p}", "{n} {p} لو سمحت"),
}
_DIGITS = {"hi": str.maketrans("0123456789", "०१२३४५६७८९"),
           "bn": str.maketrans("0123456789", "০১২৩৪৫৬৭৮৯"),
           "ar": str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")}
_LANG = {"en": "en", "hinglish": "en", "hi": "hi", "bn": "bn", "bn-latn": "en", "ar": "ar"}


def en_plural(name: str) -> str:
    """The English plural of a name's last word: "Ball Pen" → "Ball Pens"."""
    head, _, last = name.rpartition(" ")
    low = last.lower()
    if low.endswith("y") and low[-2:-1] not in "aeiou":
        last = last[:-1] + "ies"
    elif low.endswith(("s", "x", "ch", "sh")):
        last += "es"
    else:
        last += "s"
    return f"{head} {last}".strip()


def hi_plural(name: str) -> str:
    """समोसा → समोसे, कॉपी → कॉपियाँ, पेंसिल → पेंसिलें (the last word)."""
    head, _, last = name.rpartition(" ")
    if last.endswith("ा"):
        last = last[:-1] + "े"
    elif last.endswith("ी"):
        last = last[:-1] + "ियाँ"
    else:
        last += "ें"
    return f"{head} {last}".strip()


def ar_plural(name: str) -> str | None:
    """The sound feminine plural of a one-word Arabic name ending in ة: مسطرة → مسطرات
    (broken plurals need a dictionary; catalog/inflection.py reads them, not this)."""
    if " " in name or not name.endswith("ة"):
        return None
    return name[:-1] + "ات"


def _name(product: Product, form: str) -> str:
    lang = _LANG[form]
    if form in ("hinglish", "bn-latn"):
        latin = [a for a in product.aliases if a.isascii()]
        return latin[0] if latin else product.name.get("en")
    return product.name.by_lang.get(lang, "")


def _plural(product: Product, form: str) -> str | None:
    name = _name(product, form)
    if not name:
        return None
    if form in ("en", "hinglish"):
        return en_plural(name)
    if form == "hi":
        return hi_plural(name)
    if form == "bn":
        return name + "গুলো"
    if form == "bn-latn":
        return name + "gulo"
    return ar_plural(name)


def _clear(index: ProductIndex, text: str, sku: str) -> bool:
    """Whether the name alone finds this product and nothing else (a name two products
    share is the ambiguity rules' business, not these)."""
    found = index.find_mentions(text)
    return len(found) == 1 and found[0].product.sku == sku and found[0].text == text.strip()


def _ent(words: str, sku: str, group: int, role: str = "") -> str:
    label: dict[str, str] = {"entity": "product", "value": sku, "group": str(group)}
    if role:
        label["role"] = role
    return f"[{words}]{json.dumps(label, ensure_ascii=False)}"


def _qty(n: int, form: str, group: int) -> str:
    shown = str(n).translate(_DIGITS[form]) if form in _DIGITS else str(n)
    label = {"entity": "quantity", "value": str(n), "group": str(group)}
    return f"[{shown}]{json.dumps(label)}"


def shop_variants(shop: Shop, form: str, rng: random.Random) -> Iterator[Example]:
    """The variants of one shop in one language form."""
    index = ProductIndex.build(shop.catalog)
    named = [(p, _name(p, form)) for p in shop.catalog.products]
    # a product with sizes and none named is asked about (bot/nlu/cart_plan.py): not here
    named = [(p, n) for p, n in named if n and _clear(index, n, p.sku)
             and (not p.options or base_is_default(p))]
    if len(named) < 2:
        return
    for kind, templates, intent in (("info", INFO, "product_info"),
                                    ("price", PRICE, "product_price"),
                                    ("deny", DENY, "deny")):
        for _ in range(PER_KIND):
            product, name = rng.choice(named)
            role = "negated" if kind == "deny" else ""
            text = rng.choice(templates[form]).replace("{p}", _ent(name, product.sku, 1, role))
            yield parse_annotated(text, intent)
    for _ in range(PER_KIND):
        (a, a_name), (b, b_name) = rng.sample(named, 2)
        text = rng.choice(BUT_NOT[form]).replace("{n}", _qty(rng.randint(2, 9), form, 1)) \
            .replace("{a}", _ent(a_name, a.sku, 1)).replace("{b}", _ent(b_name, b.sku, 2,
                                                                          "negated"))
        yield parse_annotated(text, "add_to_cart")
    plurals = [(p, w) for p, _ in named if (w := _plural(p, form)) is not None]
    for _ in range(PER_KIND if plurals else 0):
        product, word = rng.choice(plurals)
        text = rng.choice(PLURAL[form]).replace("{n}", _qty(rng.randint(3, 9), form, 1)) \
            .replace("{p}", _ent(word, product.sku, 1))
        yield parse_annotated(text, "add_to_cart")


def tuned_shops() -> list[str]:
    """Ids of the shops with a folder in a tuned split (never a held-out one)."""
    return sorted({d.name for split in TUNED_SPLITS for d in (HERE / "corpus" / split).iterdir()
                   if d.is_dir()})


def variant_entries(shop_ids: list[str] | None = None) -> list[CorpusShop]:
    entries = []
    for shop_id in shop_ids or tuned_shops():
        shop = load_shop(HERE / "shops" / shop_id, shop_id)
        rng = random.Random(f"{SEED}:{shop_id}")
        examples = [(form, ex) for form in FORMS for ex in shop_variants(shop, form, rng)]
        entries.append(CorpusShop(shop, BuiltinBackend.train(shop), examples))
    return entries


async def variant_report(shop_ids: list[str] | None = None) -> ExtractionReport:
    _, report = await evaluate_corpus(variant_entries(shop_ids))
    return report


def main() -> None:
    from bot.nlu.evaluate import format_extraction

    intents, report = asyncio.run(evaluate_corpus(variant_entries()))
    print("\n".join(format_extraction(report, 60)))
    print(f"accuracy={intents.accuracy:.4f} macro_f1={intents.macro_f1:.4f} n={intents.n}")


if __name__ == "__main__":
    main()
