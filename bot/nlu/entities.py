"""Entities and order items from one message, in any of the shop's languages.

``extract_entities`` finds VPAs, order ids and money amounts first and reserves their
spans, so the ``2`` in "ORD-2" or a digit inside ``ravi2@okaxis`` never becomes a
quantity. Product mentions come from :meth:`ProductIndex.find_mentions`, numbers from
:func:`bot.nlu.numbers.find_numbers`; each mention is then paired with the quantity right
before it ("2 samosa", "২টা মশলা চা", "أريد ٣ شاي") or, when the message is written that way,
right after it ("samosa 2, chai 3").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache
from itertools import pairwise

from bot.language import language_switch_request
from bot.nlu.base import Entity, ItemMention, QuantityIssue
from bot.nlu.numbers import (
    NumberSpan,
    find_numbers,
    is_weak_number,
    parse_number,
    starts_with_and,
    to_ascii_digits,
)
from catalog.digits import DIGITS
from catalog.models import Option, Product
from catalog.money import Money, MoneyError
from catalog.search import (
    Ambiguous,
    Mention,
    ProductIndex,
    Token,
    is_function_word,
    normalize_token,
    tokenize,
)

__all__ = ["MAX_QUANTITY", "Extraction", "extract", "extract_entities", "item_for",
           "order_intent", "quantity_of", "question_cue", "sold_by_amount"]

MAX_QUANTITY = 9999  # bigger numbers are phone numbers, pin codes or order ids
_Target = Mention | Ambiguous  # a product, or a word several products share ("dal")

_VPA_RE = re.compile(
    r"(?<![\w.\-@])([A-Za-z0-9][A-Za-z0-9._\-]{1,255}@[A-Za-z][A-Za-z0-9]{1,63})(?![\w@.\-])"
)
_DIGIT = "[0-9" + "".join(map(chr, DIGITS)) + "]"  # ASCII and catalog/digits.py
_ANY_DIGIT = re.compile(_DIGIT)
_ORDER_CODE_RE = re.compile(rf"\bORD[\s\-#_]?({_DIGIT}{{1,12}})(?!\w)", re.IGNORECASE)
_ORDER_WORD_RE = re.compile(
    rf"(?:\border|\bordr|অর্ডার|অর্ডারের|ऑर्डर|आर्डर|आदेश|الطلب|طلب|طلبية)"
    rf"\s*(?:no\.?|num(?:ber)?|id|নং|নম্বর|नंबर|संख्या|رقم)?\s*[:#]?\s*({_DIGIT}{{1,12}})(?!\w)",
    re.IGNORECASE,
)
_HASH_RE = re.compile(rf"(?<![\w&])#({_DIGIT}{{1,12}})(?!\w)")
_DECIMALS = rf"(?:[.\u066b]{_DIGIT}{{1,8}})?"
# Anchored at the start of a digit run and bounded, so "9" * 4000 stays linear.
_AMOUNT = (
    rf"(?<!{_DIGIT})({_DIGIT}{{1,3}}(?:,{_DIGIT}{{3}}){{1,5}}{_DECIMALS}"
    rf"|{_DIGIT}{{1,12}}{_DECIMALS})(?![.,\u066b]?{_DIGIT})"
)
_CUR_BEFORE = r"(?:₹|৳|\$|€|£|\b(?:rs|inr|tk|usd|aed|sar|bdt)\b\.?|रु\.?|ر\.س|د\.إ)"
_CUR_AFTER = (
    r"(?:₹|৳|\b(?:rs|inr|rupees?|rupaye|rupay|rupiya|rupia|taka|tk|dollars?|usd|aed|sar|"
    r"bdt|dirhams?|riyals?)\b\.?|रुपयों|रुपये|रुपए|रुपया|रुपैया|रु\.?|টাকা(?:য়|য়|র)?|ريال|ريالات|درهم|دراهم|"
    r"جنيه|روبية)"
)
_AMOUNT_BEFORE_RE = re.compile(rf"{_CUR_BEFORE}\s*{_AMOUNT}", re.IGNORECASE)
# ...and the currency word ends there: "२ रुई" is two cotton rolls, not ₹2 and an "ई"
_AMOUNT_AFTER_RE = re.compile(rf"{_AMOUNT}\s*{_CUR_AFTER}(?![\w\u0900-\u09ff\u0600-\u06ff])",
                              re.IGNORECASE)
_TIP_RE = re.compile(
    rf"(?:\btips?\b|टिप|টিপস?|بقشيش|إكرامية|اكرامية)\s*(?:of|de|do|dena|দিন|دي)?\s*"
    rf"(?:{_CUR_BEFORE})?\s*{_AMOUNT}",
    re.IGNORECASE,
)
# What may sit between a quantity and its product: spaces, "x", "of", "ta"…
# Words for a box, a tin or a bag a count may be of ("1 box colour pencils", "১ বাক্স রং",
# "٢ كيس أربطة"); some are also a word of a product's name (Geometry Box, علبة هندسة).
_PACK_TEXT = """
    box boxes dabba dabbe dibba dibbe डिब्बा डिब्बे डब्बा डब्बे बॉक्स बक्सा বাক্স বক্স baksho
    baksa bakso বাক্সো علبة علب كيس أكياس اكياس قنينة قناني"""
_PACK_WORDS = frozenset(normalize_token(w) for w in _PACK_TEXT.split())
_GAP_FILLERS = frozenset({"of", "ka", "ke", "ki", "ta", "ti", "no", "nos", "pc", "pcs", "x",
                          "के", "का", "की", "এর", "er", "عدد", *_PACK_WORDS})
_GAP_BREAKS = frozenset(",;.&\n،؛")  # "samosa, 2 chai": the 2 belongs to chai


@lru_cache(maxsize=4096)  # pure: gaps are short and few ("", " ", " x ", " kg ")
def _gap_ok(gap: str, after: bool, units: bool = False) -> bool:
    """Only spaces, emoji, "x", "of"… (and with ``units``, "kg", "dozen") between a
    quantity and its product."""
    if len(gap) > 24:
        return False
    if after and any(ch in _GAP_BREAKS for ch in gap):
        return False
    if not gap.strip():
        return True
    return all(t.norm in _GAP_FILLERS or (units and is_function_word(t.norm))
               for t in tokenize(gap, 8))


_COUNT_UNITS = frozenset({"cup", "plate", "piece", "packet", "glass", "bottle", None})


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    for s, e in spans:  # noqa: SIM110 (a loop, not any(): a few calls for every message)
        if start < e and s < end:
            return True
    return False


def _find_reserved(
    text: str, currency: str, mentions: list[Mention]
) -> tuple[list[Entity], list[tuple[int, int]]]:
    """VPAs, order ids and amounts, with the spans they occupy.

    "order 2 samosa" is an order *for* two samosas, not order id 2: a number right
    before a product mention is left to the quantity pass.
    """
    entities: list[Entity] = []
    spans: list[tuple[int, int]] = []
    if "@" not in text and _ANY_DIGIT.search(text) is None:
        return entities, spans  # every pattern below needs an "@" or a digit
    for m in _VPA_RE.finditer(text):
        entities.append(Entity("vpa", m.group(1).lower(), m.group(1), m.start(1), m.end(1)))
        spans.append((m.start(1), m.end(1)))
    for regex in (_ORDER_CODE_RE, _ORDER_WORD_RE, _HASH_RE):
        for m in regex.finditer(text):
            if _overlaps(m.start(), m.end(), spans):
                continue
            if regex is _ORDER_WORD_RE and any(
                k.start >= m.end() and _gap_ok(text[m.end() : k.start], after=False,
                                               units=True)
                for k in mentions
            ):
                continue  # "order 2 kg sugar": an order for sugar
            number = int(to_ascii_digits(m.group(1)))
            entities.append(Entity("order_id", f"ORD-{number}", m.group(), m.start(), m.end()))
            spans.append((m.start(), m.end()))
    for regex in (_TIP_RE, _AMOUNT_BEFORE_RE, _AMOUNT_AFTER_RE):
        for m in regex.finditer(text):
            if _overlaps(m.start(), m.end(), spans):
                continue
            digits = to_ascii_digits(m.group(1)).replace(",", "")
            try:
                money = Money.parse(digits, currency)
            except MoneyError:
                continue
            entities.append(Entity("amount", str(money.minor), m.group(), m.start(), m.end()))
            spans.append((m.start(), m.end()))
    return entities, spans


def _option_amounts(option: Option) -> list[Fraction]:
    """Grams (or ml) an option stands for: "Half kg" → 500, "250 g" → 250."""
    amounts: list[Fraction] = []
    for name in option.name.all():
        for span in find_numbers(name, max_tokens=8):
            if span.base_amount is not None:
                amounts.append(span.base_amount)
    return amounts


def _unit_amount(product: Product) -> Fraction | None:
    """Grams (or ml) per unit of the base product, from its ``unit`` ("kg", "500 g")."""
    if not product.unit:
        return None
    unit = product.unit.strip()
    spans = find_numbers(unit if unit[:1].isdigit() else f"1 {unit}", max_tokens=8)
    return spans[0].base_amount if spans else None


def _sizes(product: Product) -> list[tuple[Fraction, str]]:
    """Grams (or ml) each sku of a product stands for: the base unit, then its options."""
    sizes: list[tuple[Fraction, str]] = []
    per_unit = _unit_amount(product)
    if per_unit:
        sizes.append((per_unit, product.sku))
    for candidate in product.options:
        sizes.extend((size, candidate.sku) for size in _option_amounts(candidate) if size)
    return sizes


def item_for(mention: Mention, number: NumberSpan | None) -> ItemMention:
    """The cart line for a product span and its quantity (also for Rasa's entities)."""
    return _item(mention, number, False)


def sold_by_amount(product: Product) -> bool:
    """Whether the product's unit is a weight or volume ("kg", "500 g"), not a count."""
    return _unit_amount(product) is not None


def _countable(product: Product) -> bool:
    return not sold_by_amount(product)


def _sized_item(product: Product, sku: str, text: str, number: NumberSpan,
                amount: Fraction) -> ItemMention:
    """A weight or volume of a product no option was named for: "2 kg aloo", "1.5 kg"."""
    asked = number.text
    # the largest pack that divides the amount: "2 kg" of a 1 kg product is 2 of it, not
    # 4 of its 500 g option; "1.5 kg" is 3 × 500 g; on a tie the named option wins
    best: tuple[Fraction, int, str] | None = None
    for size, candidate_sku in _sizes(product):
        if amount % size == 0 and 0 < amount / size <= MAX_QUANTITY:
            key = (size, candidate_sku != product.sku, candidate_sku)
            if best is None or key[:2] > best[:2]:
                best = (size, int(candidate_sku != product.sku), candidate_sku)
    if best is not None:
        return ItemMention(best[2], int(amount / best[0]), True, text, sized=True,
                           quantity_text=asked)
    if number.is_whole and _unit_amount(product) is None and not product.options \
            and number.unit in ("kg", "l"):
        return ItemMention(sku, int(number.value), True, text, sized=True,
                           quantity_text=asked)
    return ItemMention(sku, 0, True, text, issue=QuantityIssue.NO_SIZE, quantity_text=asked)


def _item(mention: Mention, number: NumberSpan | None, inside: bool,
          issue: QuantityIssue | None = None) -> ItemMention:
    """Turn a mention and its quantity into a cart line (sku, how many)."""
    product, option = mention.product, mention.option
    sku = mention.sku
    text = mention.text
    if number is None:
        return ItemMention(sku, 1, False, text)
    if inside:  # "half kg aloo" where "half kg" named the option
        return ItemMention(sku, 1, True, text, quantity_text=number.text)
    asked = number.text
    if issue is None:
        if number.value <= 0:
            issue = QuantityIssue.ZERO
        elif number.value > MAX_QUANTITY:
            issue = QuantityIssue.TOO_MANY
    if issue is not None:
        return ItemMention(sku, 0, True, text, issue=issue, quantity_text=asked)
    amount = number.base_amount
    if amount is not None and option is None:
        return _sized_item(product, sku, text, number, amount)
    if number.is_whole and (number.unit in _COUNT_UNITS or option is not None):
        return ItemMention(sku, int(number.value), True, text, quantity_text=asked)
    if not number.is_whole and (_countable(product) or number.unit in _COUNT_UNITS):
        return ItemMention(sku, 0, True, text, issue=QuantityIssue.FRACTION,
                           quantity_text=asked)
    return ItemMention(sku, 1, False, text)


# ---- words that look like products and are not ------------------------------------------
# "daal do" (put it in), "cart mein dal do": Hindi's verb dāl- beside the lentil dal.
_PUT_VERBS = frozenset({"daal", "dal", "daalo", "dalo", "daaldo", "daldo", "daalna", "dalna",
                        "daaliye", "daldena", "daaldena"})
_PUT_TAILS = frozenset({"do", "dena", "de", "dijiye", "dijie", "dedo", "diya", "na", "den",
                        "dein"})
_PUT_BEFORE = frozenset({"mein", "me", "main", "bhi", "cart", "andar", "basket"})
# romanised Bengali "chai" is "I want": "2ta singara chai"
_WANT_CHAI = frozenset({"chai", "chaai", "chay", "chaii"})
_BN_LATN_MARKERS = frozenset({
    "din", "dao", "diben", "deben", "dite", "amake", "ami", "amar", "lagbe", "ache", "achhe",
    "koto", "pathiye", "dorkar", "taratari", "ekta", "ekti", "duto", "duti", "tinte", "charte",
    "panchta", "choyta", "satta", "athta", "noyta", "doshta", "ar", "ta", "ti", "te", "khub",
    "ekhon", "dada", "didi"})
# romanised Bengali infinitives: "jante chai" (want to know), "nite chai" (want to take)
_BN_LATN_INFINITIVES = frozenset({"jante", "janthe", "nite", "dite", "khete", "korte",
                                  "pete", "dekhte", "kinte", "ante", "pathate", "rakhte"})
_LOOK_ALIKE = _PUT_VERBS | _WANT_CHAI
_AFTER_WANT = frozenset({"na", "please", "plz", "pls", "taratari", "ekhon", "dada"})
_CONJUNCTIONS = frozenset({"and", "aur", "ar", "আর", "এবং", "और", "و", "&", "evam"})


def _is_put_verb(tokens: list[Token], k: int, has_earlier: bool) -> bool:
    norm = tokens[k].norm
    if norm not in _PUT_VERBS:
        return False
    nxt = tokens[k + 1].norm if k + 1 < len(tokens) else ""
    prev = tokens[k - 1].norm if k else ""
    verb_form = norm not in ("dal", "daal") or nxt in _PUT_TAILS
    return verb_form and (has_earlier or prev in _PUT_BEFORE)


def _is_want_chai(text: str, tokens: list[Token], k: int, has_earlier: bool,
                  bn_latn: bool, has_quantity_before: bool = True, last_end: int = -1,
                  counted_first: bool = False) -> bool:
    """"2ta singara chai", "ami cha chai": the last word, after an item, is "I want".

    ``counted_first``: the item before has its count before it ("2 sandesh"), so a number
    between it and "chai" is the tea's ("2 sandesh char chai": four teas).
    """
    if tokens[k].norm not in _WANT_CHAI or not has_earlier:
        return False
    nxt = tokens[k + 1] if k + 1 < len(tokens) else None
    prev = tokens[k - 1].norm if k else ""
    if prev in _CONJUNCTIONS:
        return False  # "singara ar chai": tea
    if k and any(ch in ",;،" for ch in text[tokens[k - 1].end:tokens[k].start]):
        return False  # "3 mustard oils, chai": the next item of a list
    if parse_number(prev) is not None and counted_first:
        return False
    if parse_number(prev) is not None or is_function_word(prev):
        # "2 chai" is tea, but "humus 6 chai", "chini 2 kg chai": the count was the item's
        between = tokenize(text[last_end:tokens[k].start], 4) if last_end >= 0 else []
        if not between or any(ch in ",;&\n" for ch in text[last_end:tokens[k].start]) \
                or not all(parse_number(t.norm) is not None or is_function_word(t.norm)
                           for t in between) or any(t.norm in _CONJUNCTIONS for t in between):
            return False
    if nxt is not None and nxt.norm == "na":
        return True  # "chai na": I do not want
    ends = nxt is None or nxt.norm in _AFTER_WANT or any(
        ch in ",;.!?\n" for ch in text[tokens[k].end:nxt.start])
    return ends and (bn_latn or _LATIN_CLASSIFIED.search(text) is not None
                     or _QUANTITY_FIRST.match(text) is not None or has_quantity_before)


_QUANTITY_FIRST = re.compile(r"^\s*\d")


def _counted(text: str, mention: _Target) -> bool:
    """Whether a number sits right before or after the mention ("2 kg chal", "humus 6")."""
    head = tokenize(text[max(0, mention.start - 24):mention.start])[-2:]
    tail = tokenize(text[mention.end:mention.end + 24], 2)
    return any(parse_number(t.norm) is not None for t in (*head, *tail[:1]))


def _counted_before(text: str, mention: _Target) -> bool:
    """Whether a number sits right before the mention ("2 sandesh", "২টা সন্দেশ")."""
    head = tokenize(text[max(0, mention.start - 24):mention.start])[-2:]
    return any(parse_number(t.norm) is not None for t in head)


def _bn_latn(text: str, tokens: list[Token]) -> bool:
    """Romanised Bengali markers: its function words, or a classifier on a digit ("2ta")."""
    return any(t.norm in _BN_LATN_MARKERS for t in tokens) or _LATIN_CLASSIFIED.search(
        text) is not None


_LATIN_CLASSIFIED = re.compile(r"\d\s?(?:ta|ti|te)\b", re.IGNORECASE)


def _drop_look_alikes(text: str, tokens: list[Token], mentions: list[_Target]
                      ) -> list[_Target]:
    """Mentions that are a verb in this sentence ("daal do", "singara chai") are not items;
    a word several products share counts as an item before them ("2 kg dal chai"); a word
    cut by an "n't" contraction ("don't", "can't") is a negation, never a name."""
    if mentions and ("'" in text or "\u2019" in text or "\u02bc" in text):
        mentions = [m for m in mentions if _CONTRACTION.match(text, m.end) is None]
    if not mentions or not any(t.norm in _LOOK_ALIKE for t in tokens):
        return mentions  # most messages: no word here is ever a verb
    at = {t.start: k for k, t in enumerate(tokens)}
    bn_latn: bool | None = None
    kept: list[_Target] = []
    for m in mentions:
        k = at.get(m.start)
        single = k is not None and tokens[k].end == m.end
        if single and k is not None:
            if _is_put_verb(tokens, k, bool(kept)):
                continue
            if tokens[k].norm in _WANT_CHAI:
                if k and tokens[k - 1].norm in _BN_LATN_INFINITIVES:
                    continue  # "jante chai": I want to know, not tea
                if bn_latn is None:
                    bn_latn = _bn_latn(text, tokens)
                counted = bool(kept) and _counted(text, kept[-1])
                if _is_want_chai(text, tokens, k, bool(kept), bn_latn, counted,
                                 kept[-1].end if kept else -1,
                                 bool(kept) and _counted_before(text, kept[-1])):
                    continue
        kept.append(m)
    return kept


# a model's short name: one or two letters (vowel signs too) glued to a number, not "x2"
_MODEL_NAME = re.compile(rf"\s*(?![xX×]{_DIGIT})(?:[^\W\d_]|[\u0900-\u0903\u093a-\u094f"
                         rf"\u0981-\u0983\u09bc-\u09cd]){{1,2}}{_DIGIT}{{1,4}}\s*")


def _describing_word(gap: str, number: NumberSpan) -> bool:
    """"char kala jel pen", "চারটে কালো জেল পেন": one word (a colour, a size) between a
    count and its product, with nothing else there, is the product's description."""
    if number.weak or not number.is_whole or any(ch in _GAP_BREAKS for ch in gap):
        return False
    if _MODEL_NAME.fullmatch(gap) is not None:
        return True  # "half dozen v8 cables", "2 j7 covers": a model's name
    words = tokenize(gap, 3)
    return len(words) == 1 and words[0].norm not in _CONJUNCTIONS \
        and words[0].norm not in _NEG_BEFORE and parse_number(words[0].norm) is None


_LOOSE_PART = 0.76  # a partial mention scores 0.8 × its words' likeness: 0.95 alike


def _drop_loose_parts(text: str, targets: list[_Target]) -> list[_Target]:
    """One word only like one word of a longer name ("stock" for the Stick of Glue Stick,
    "স্কুলের জন্য" for School Bag, "books" for বক্স) names nothing unless another word of
    that product sits beside it ("sarso ka tel", "chane ki daal"): a wrong item is worse
    than a question."""
    kept: list[_Target] = []
    for k, m in enumerate(targets):
        if isinstance(m, Mention) and m.score < _LOOSE_PART and " " in m.matched.strip() \
                and len(tokenize(m.text, 3)) == 1:
            beside = [t for t in (targets[k - 1] if k else None,
                                  targets[k + 1] if k + 1 < len(targets) else None)
                      if t is not None and _names_product(t, m.product)]
            if not any(_gap_ok(text[min(m.end, t.end):max(m.start, t.start)], after=False,
                               units=True) for t in beside):
                continue
        kept.append(m)
    return kept


# "for my phone", "phone ke liye", "ফোনের জন্য", "للجوال": a word marked as what another
# thing is for or belongs to; the marks after it (genitives, "for"), before it, and the
# Arabic prefix "لل" (for the)
_OWNER_AFTER_TEXT = "er ka ki ke ko liye lie jonno jonne का की के लिए को এর জন্য জন্যে"
_OWNER_AFTER = frozenset(normalize_token(w) for w in _OWNER_AFTER_TEXT.split())
_OWNER_BEFORE = frozenset({normalize_token("for"), normalize_token("حق")})
_OWNER_SUFFIX = ("ের", "'s", "\u2019s")
# "for my phone", "mere phone ke liye": a possessive between the mark and the word
_OWNERS_WORDS_TEXT = """
    my the his her our their your mere mera meri apne apni amar amader मेरे मेरा मेरी अपने
    আমার"""
_OWNERS_WORDS = frozenset(normalize_token(w) for w in _OWNERS_WORDS_TEXT.split())


def _drop_owners(text: str, tokens: list[Token], targets: list[_Target]) -> list[_Target]:
    """"2 cables for my phone", "puran phone er", "كيس مويه للجوال": one word of a longer
    name ("phone" of Phone Battery), with no count of its own, marked by a genitive or a
    word of purpose, after another product ("earbuds ki battery" asks of the earbuds), is
    what that product is for, not an item."""
    if len(targets) < 2:
        return targets
    at = {t.start: k for k, t in enumerate(tokens)}
    kept: list[_Target] = []
    for m in targets:
        k = at.get(m.start)
        if isinstance(m, Mention) and k is not None and tokens[k].end == m.end and kept \
                and m.score <= 0.8 and " " in m.matched.strip() \
                and not any(_names_product(t, m.product) for t in targets if t is not m):
            word = text[m.start:m.end]
            j = k - 1 if k and tokens[k - 1].norm in _OWNERS_WORDS else k
            before = (j and tokens[j - 1].norm in _OWNER_BEFORE) \
                or (word.startswith("لل") and "لل" not in m.matched)
            after = (k + 1 < len(tokens) and tokens[k + 1].norm in _OWNER_AFTER) \
                or word.endswith(_OWNER_SUFFIX)
            counted = (k + 1 < len(tokens) and parse_number(tokens[k + 1].norm) is not None) \
                or (not before and k and parse_number(tokens[k - 1].norm) is not None
                    and not set(text[tokens[k - 1].end:m.start]) & _GAP_BREAKS)
            if (before or after) and not counted:
                continue
        elif isinstance(m, Mention) and k is not None and kept and m.score < 1.0 \
                and not any(_names_product(t, m.product) for t in targets if t is not m):
            # "2 dozen pencil for school stock": a whole name matched loosely, right after
            # "for", with no count of its own, after another product: what that is for
            j = k - 1 if k and tokens[k - 1].norm in _OWNERS_WORDS else k
            if j and tokens[j - 1].norm in _OWNER_BEFORE and not _counted(text, m):
                continue
        kept.append(m)
    return kept


# "ready hole ekta ring diyen", "রেডি হলে একটা রিং দিয়েন", "jab ready ho": a clause of
# "when it is ready" asks to be told, not for an item
_READY_TEXT = "ready redi রেডি रेडी तैयार tayyar tayar جاهز جاهزة"
_READY = frozenset(normalize_token(w) for w in _READY_TEXT.split())
_WHEN_TEXT = "when once if jab hole holei হলে হলেই जब لما اذا إذا"
_WHEN = frozenset(normalize_token(w) for w in _WHEN_TEXT.split())


def _drop_when_ready(text: str, targets: list[_Target]) -> list[_Target]:
    """"2ta charjar lagbe, ready hole ekta ring diyen" (give a ring when ready): a one-word
    mention in a clause of "when it is ready", after a product named in another clause, is
    what to do then (call, ring), not an item, even with "one" before it."""
    if len(targets) < 2 or not any(t.norm in _READY for t in tokenize(text)):
        return targets
    bounds = [0, *(m.end() for m in _CLAUSE_BREAKS.finditer(text)), len(text) + 1]
    kept: list[_Target] = []
    for m in targets:
        a, b = next((a, b) for a, b in pairwise(bounds) if a <= m.start < b)
        words = {t.norm for t in tokenize(text[a:min(b, len(text))])}
        if kept and kept[0].start < a and words & _READY and words & _WHEN \
                and len(tokenize(m.text, 3)) == 1:
            continue
        kept.append(m)
    return kept


# "तीन पिन वाला प्लग", "lal wali copy", "চার্জার ওয়ালা ব্যাগ": the words before "wala" say
# what the thing after it has or is like
_WALA_TEXT = "wala wali wale waala waali waale vala vali vale वाला वाली वाले ওয়ালা ওয়ালি"
_WALA = frozenset(normalize_token(w) for w in _WALA_TEXT.split())


def _drop_described(text: str, tokens: list[Token], targets: list[_Target]
                    ) -> list[_Target]:
    """"२ तीन पिन वाला प्लग" (a three-pin plug), "pin wala cover": a mention right before
    "wala" with a word after it in the same clause describes that word's thing (a product
    or a word the shop lacks), and is no item; "pin wala packet" (a pack word after it) and
    "pin wala" at the clause's end are the item. (Its words still name a product to the
    intent engine: ``Extraction.product_spans`` keeps them.)"""
    if not any(t.norm in _WALA for t in tokens):
        return targets
    ends = {t.end: k for k, t in enumerate(tokens)}
    kept: list[_Target] = []
    for m in targets:
        k = ends.get(m.end)
        if k is not None and k + 2 < len(tokens) and tokens[k + 1].norm in _WALA:
            nxt = tokens[k + 2]
            gap = text[m.end:nxt.start]
            if not set(gap) & _GAP_BREAKS and nxt.norm not in _PACK_WORDS \
                    and parse_number(nxt.norm) is None and not is_function_word(nxt.norm):
                continue
        kept.append(m)
    return kept


def _head_word(name: str) -> str | None:
    """The word a name is a kind of: its last word (its first in Arabic), numbers and
    units ("Charger 20W") aside."""
    tokens = tokenize(name, 8)
    words = [t.norm for k, t in enumerate(tokens) if not any(ch.isdigit() for ch in t.norm)
             and not (k and tokens[k - 1].end == t.start)]  # "20W": the unit of a number
    if not words:
        return None
    return words[0] if "\u0600" <= words[0][0] <= "\u06ff" else words[-1]


def _model_number(after: list[str]) -> bool:
    """"apple watch 7 ka strap", "iphone 11 er cover": a number right after describing
    words and marked by a genitive after it names a model, it is no count."""
    return len(after) == 2 and parse_number(after[0]) is not None and after[1] in _OWNER_AFTER


def _model_spans(tokens: list[Token], dropped: list[_Target]) -> list[tuple[int, int]]:
    """The model numbers after describing words no item took ("watch 7 ka strap"): no
    count of anything."""
    out: list[tuple[int, int]] = []
    for m in dropped:
        after = [t for t in tokens if t.start >= m.end][:2]
        if _model_number([t.norm for t in after]):
            out.append((after[0].start, after[0].end))
    return out


def _drop_modifiers(text: str, tokens: list[Token], targets: list[_Target]
                    ) -> list[_Target]:
    """"fast" of fast charger, "phone" of Phone Battery, "smart watch" of Smart Watch
    Strap: a mention made only of the describing words of a longer name, without the word
    it is a kind of, and with no count of its own, names nothing beside another product
    ("is the power bank fast charging?"). The head may come a word later ("watch er
    belt"), and an Arabic name's own head word may be the shopper's ("ابر شريحة")."""
    at = {t.start: k for k, t in enumerate(tokens)}
    kept: list[_Target] = []
    owned: list[_Target] = []
    for m in targets:
        if isinstance(m, Mention) and m.score <= 0.8 and " " in m.matched.strip():
            head = _head_word(m.matched)
            said = {t.norm for t in tokenize(m.text, 4)}
            named = {t.norm for t in tokenize(m.matched, 8)}
            k = at.get(m.start)
            after = [t.norm for t in tokens if t.start >= m.end][:2]
            own_head = head is not None and "\u0600" <= head[0] <= "\u06ff" and bool(k) \
                and k is not None and not is_function_word(tokens[k - 1].norm) \
                and parse_number(tokens[k - 1].norm) is None
            if head is not None and said and said <= named and head not in said \
                    and head not in after and not own_head and (
                        not _counted(text, m) or _model_number(after)):
                if (after and after[0] in _OWNER_AFTER) \
                        or text[m.start:m.end + 2].endswith(_OWNER_SUFFIX) \
                        or text[m.start:m.end].endswith(_OWNER_SUFFIX):
                    owned.append(m)  # "puran phone er": of the phone, whatever else is said
                continue
        kept.append(m)
    # the only products named: the message is about them (its intent reads them), kept,
    # but not describing words marked as what something is for
    return kept if kept else [t for t in targets if t not in owned]


def _names_product(target: _Target, product: Product) -> bool:
    if isinstance(target, Mention):
        return target.product.sku == product.sku
    return any(p.sku == product.sku for p in target.products)


def _drop_pack_words(text: str, tokens: list[Token], targets: list[_Target]
                     ) -> list[_Target]:
    """A mention made only of a pack word ("box" of Geometry Box) beside another product
    is that product's pack, not an item: "1 box colour pencils", "watercolor box", "রং
    পেন্সিল দুই বাক্স". "compass box" (no product beside it) keeps its reading."""
    if len(targets) < 2 or not any(t.norm in _PACK_WORDS for t in tokens):
        return targets
    kept: list[_Target] = []
    for k, m in enumerate(targets):
        words = tokenize(m.text, 4)
        if words and all(w.norm in _PACK_WORDS for w in words):
            head = tokenize(text[max(0, m.start - 24):m.start])[-1:]
            counted = bool(head) and parse_number(head[0].norm) is not None
            nxt = targets[k + 1] if k + 1 < len(targets) else None
            prev = targets[k - 1] if k else None
            if (nxt is not None and counted and _gap_ok(text[m.end:nxt.start], after=False)) \
                    or (prev is not None and (counted or not text[prev.end:m.start].strip())
                        and _gap_ok(text[prev.end:m.start], after=False, units=True)):
                continue
        kept.append(m)
    return kept


# "pay by card", "card se payment karunga", "কার্ডে পেমেন্ট করবো", "بدفع بالكرت": words of
# paying; a product word in their clause with no count of its own is the means of paying
_PAY_WORDS = re.compile(
    r"\bpay\b|\bpaying\b|\bpaid\b|\bpayment|\bbhugtan|पेमेंट|भुगतान|पे करूँगा|পেমেন্ট|"
    r"\bدفع|بدفع|ادفع|أدفع|الدفع|سداد", re.IGNORECASE)


def _drop_means_of_paying(text: str, targets: list[_Target]) -> list[_Target]:
    """"1 power bank, i'll pay by card": a product word with no count beside it, in a
    clause that speaks of paying, is how the shopper pays, not an item."""
    if _PAY_WORDS.search(text) is None:
        return targets
    bounds = [0, *(m.end() for m in _CLAUSE_BREAKS.finditer(text)), len(text) + 1]
    kept: list[_Target] = []
    for m in targets:
        a, b = next((a, b) for a, b in pairwise(bounds) if a <= m.start < b)
        paying = any(not (p.start() < m.end and m.start < p.end())
                     for p in _PAY_WORDS.finditer(text, a, min(b, len(text))))
        near = (*tokenize(text[max(0, m.start - 24):m.start])[-1:],
                *tokenize(text[m.end:m.end + 24], 1))
        if paying and not any(parse_number(t.norm) is not None for t in near):
            continue
        kept.append(m)
    return kept


# "ring me", "ring kar dena", "रिंग कर देना": a noun made a verb by an object pronoun after
# it, or by Hindi's light verb "kar" (do)
_VERB_NEXT_TEXT = """
    me us him her them kar karo karna karke kardo kardena kariye karein कर करो करना करके
    करें करिए"""
_VERB_NEXT = frozenset(normalize_token(w) for w in _VERB_NEXT_TEXT.split())


def _drop_verb_uses(text: str, tokens: list[Token], targets: list[_Target]
                    ) -> list[_Target]:
    """"2 glass pls, ring me when ready", "ring kar dena jab ready ho": a one-word mention
    followed by an object pronoun or by "kar" (do), with no count before it, is a verb."""
    if not any(t.norm in _VERB_NEXT for t in tokens):
        return targets
    at = {t.start: k for k, t in enumerate(tokens)}
    kept: list[_Target] = []
    for m in targets:
        k = at.get(m.start)
        if k is not None and tokens[k].end == m.end and k + 1 < len(tokens) \
                and tokens[k + 1].norm in _VERB_NEXT \
                and not text[m.end:tokens[k + 1].start].strip() \
                and not (k and parse_number(tokens[k - 1].norm) is not None):
            continue
        kept.append(m)
    return kept


# "my phone battery dies by noon", "glass toot gaya", "স্ক্রিন ভেঙে গেছে": words of
# breaking or failing; the product word before them is what the shopper has, not an item
_BROKEN_TEXT = """
    dies died dying dead broke broken cracked damaged toot toota tooti tuta tuti tut tutgaya
    kharab khrab टूट टूटा टूटी टूटे टूटी खराब ভেঙে ভেঙ্গে ভাঙা ভেঙেছে নষ্ট bhenge venge
    vanga nosto nashto انكسر انكسرت مكسور مكسورة خربان خربانة خرب خربت تعطل عطلان"""
_BROKEN = frozenset(normalize_token(w) for w in _BROKEN_TEXT.split())


def _drop_complaints(text: str, tokens: list[Token], targets: list[_Target]
                     ) -> list[_Target]:
    """A product word with no count of its own, followed within four words by a word of
    breaking or failing ("battery dies", "स्क्रीन … टूट गई"), is the shopper's own thing
    they complain of, not an item, when the message names another product to buy."""
    if len(targets) < 2 or not any(t.norm in _BROKEN for t in tokens):
        return targets
    kept: list[_Target] = []
    for m in targets:
        if isinstance(m, Mention) and all(_names_product(t, m.product) for t in targets):
            kept.append(m)  # the only product named: a new one is wanted ("betari nosto,
            continue        # ekta lagbe")
        before = tokenize(text[max(0, m.start - 24):m.start])[-1:]
        following = [t for t in tokens if t.start >= m.end][:4]
        counted = any(parse_number(t.norm) is not None for t in (*before, *following[:1]))
        if not counted and any(t.norm in _BROKEN for t in following):
            continue
        kept.append(m)
    return kept


_NOT_A_COUNT_NEXT = frozenset({"na", "please", "pls", "plz", "you", "not"})


def _weak_after_ok(text: str, number: NumberSpan) -> bool:
    """"samosa do bhej do": a weak "do" after an item is two when a verb still follows;
    "samosa do" alone is "give samosa"."""
    rest = tokenize(text[number.end:], 2)
    return bool(rest) and rest[0].norm not in _NOT_A_COUNT_NEXT


def _merge_split_names(text: str, mentions: list[Mention]) -> list[Mention]:
    """"sarson ka tel": two pieces of one product's name (here "sarson" and the alias "tel")
    with only "ka" between them are one mention, not two bottles."""
    out: list[Mention] = []
    for m in mentions:
        prev = out[-1] if out else None
        if prev is not None and prev.sku == m.sku and _gap_ok(text[prev.end:m.start], False):
            out[-1] = Mention(prev.start, m.end, text[prev.start:m.end], prev.product,
                              prev.option, max(prev.score, m.score), prev.matched)
            continue
        out.append(m)
    return out


def _head_nouns(text: str, mentions: list[Mention]) -> list[Mention]:
    """"1 flip case": a word of one product's longer name ("flip" of Flip Cover) with the
    one word of another product of its category right after it ("case", Back Cover) and
    no count after that is one thing, the first product, named with a word of its kind;
    not two items. Across categories ("wall bulb") the words stay two mentions."""
    out: list[Mention] = []
    for m in mentions:
        prev = out[-1] if out else None
        if prev is not None and prev.sku != m.sku and prev.score <= 0.8 \
                and prev.product.category == m.product.category \
                and " " in prev.matched.strip() and len(tokenize(prev.text, 3)) == 1 \
                and len(tokenize(m.text, 3)) == 1 and not text[prev.end:m.start].strip() \
                and not any(parse_number(t.norm) is not None
                            and _gap_ok(text[m.end:m.end + t.start], after=True)
                            for t in tokenize(text[m.end:m.end + 24], 1)):
            out[-1] = Mention(prev.start, m.end, text[prev.start:m.end], prev.product,
                              prev.option, prev.score, prev.matched)
            continue
        out.append(m)
    return out


def _name_digits(names: tuple[str, ...]) -> set[str]:
    """The numbers written in names after their first word ("500" of "Napa 500")."""
    return {t.norm for name in names if _ANY_DIGIT.search(name) is not None
            for t in tokenize(name, 8)[1:] if t.norm.isdigit()}


def _name_numbers(text: str, tokens: list[Token], mentions: list[Mention]) -> list[Mention]:
    """"Paracetamol 500 5": a number right after a mention that is a word of one of the
    product's names ("Paracetamol 500"), after its first, is part of the name, not the
    quantity; so is its plural ("napa 500s 6")."""
    out: list[Mention] = []
    for m in mentions:
        nxt = next((t for t in tokens if t.start >= m.end), None)
        if nxt is not None and nxt.norm.isdigit() and not text[m.end:nxt.start].strip() \
                and nxt.norm in _name_digits(m.product.names()) \
                and nxt.norm not in {t.norm for t in tokenize(m.text, 8)}:
            end = nxt.end
            if text[end:end + 1] in ("s", "S") and not text[end + 1:end + 2].isalnum():
                end += 1  # "napa 500s 6": the plural of the name
            out.append(Mention(m.start, end, text[m.start:end], m.product, m.option,
                               m.score, m.matched))
        else:
            out.append(m)
    return out


def _named_again(items: list[ItemMention]) -> list[ItemMention]:
    """"mera glass toot gaya, naya tempered glass 1 laga dena", "1 mobile stand for the
    table", "2x travel adaptar, india wala plug": a product named again without a count of
    its own, where the message names it elsewhere, is the same item said twice, not one
    more of it. Counted twice ("2 samosa and 3 samosa") both counts stand."""
    plain = [i for i in items if not i.candidates and not i.negated and not i.removal]
    skus = [i.sku for i in plain]
    if len(set(skus)) == len(skus):
        return items
    keep: list[ItemMention] = []
    seen: set[str] = set()
    for item in items:
        if item.candidates or item.negated or item.removal:
            keep.append(item)
            continue
        same = [i for i in plain if i.sku == item.sku]
        if len(same) > 1 and not item.quantity_given and (
                any(i.quantity_given for i in same) or item.sku in seen):
            continue
        seen.add(item.sku)
        keep.append(item)
    return keep


def _leading_name_number(text: str, tokens: list[Token], mentions: list[Mention]
                         ) -> list[Mention]:
    """"1 3 pin plug", "2ta tin pin plug", "२ तीन पिन वाला प्लग": when the name a mention
    matched starts with a number ("3 pin plug") and that number, in digits or words, is
    the word right before the mention, it is part of the name, not the count."""
    out: list[Mention] = []
    for m in mentions:
        head = tokenize(m.matched, 2)
        if not head or not head[0].norm.isdigit() or len(head) < 2:
            out.append(m)
            continue
        prev = next((t for t in reversed(tokens) if t.end <= m.start), None)
        if prev is not None and not text[prev.end:m.start].strip() \
                and parse_number(prev.norm) == int(head[0].norm):
            out.append(Mention(prev.start, m.end, text[prev.start:m.end], m.product,
                               m.option, m.score, m.matched))
        else:
            out.append(m)
    return out


def _sized_options(product: Product) -> dict[str, Option]:
    """The options named by a number and a size unit ("10000 mAh", "128 GB"), by that
    number, where no other option of the product shares it; not a weight or a count of
    things ("500 g", "6 pieces"), which the quantity rules read."""
    found: dict[str, Option | None] = {}
    for candidate in product.options:
        for name in candidate.name.all():
            words = tokenize(name, 4)
            if len(words) < 2 or not words[0].norm.isdigit() or any(
                    span.unit is not None for span in find_numbers(name, max_tokens=4)):
                continue
            number = words[0].norm
            found[number] = candidate if found.get(number, candidate) is candidate else None
    return {k: v for k, v in found.items() if v is not None}


# "10000 wala power bank", "১০০০০ এর পাওয়ার ব্যাংক": the words that tie a size to its thing
_SIZE_LINKS_TEXT = """
    wala wali wale vala vali wale वाला वाली वाले er এর ka ki ke का की के"""
_SIZE_LINKS = frozenset(normalize_token(w) for w in _SIZE_LINKS_TEXT.split())


def _option_by_number(text: str, tokens: list[Token], mentions: list[Mention]
                      ) -> list[Mention]:
    """"power bank 10000 aur…", "एक 10000 वाला पावर बैंक", "كرت ذاكرة 128 ١": a number
    beside a product that is the number of one of its sized options ("10000 mAh"), the
    unit left out, names that option when it cannot be the count: too big for one, tied
    to the name by "wala"/এর, or with a count of its own beside it."""
    out: list[Mention] = []
    for m in mentions:
        if m.option is not None or not m.product.options:
            out.append(m)
            continue
        k_after = next((k for k, t in enumerate(tokens) if t.start >= m.end), None)
        k_before = next((k for k in range(len(tokens) - 1, -1, -1)
                         if tokens[k].end <= m.start), None)
        near = [tokens[k].norm for k in (k_after, k_before, (k_before or 0) - 1)
                if k is not None and 0 <= k < len(tokens)]
        sized = _sized_options(m.product) if any(w.isdigit() for w in near) else {}
        if not sized:
            out.append(m)
            continue
        widened = None
        if k_after is not None and tokens[k_after].norm in sized \
                and _gap_ok(text[m.end:tokens[k_after].start], after=True):
            number = tokens[k_after]
            nxt = tokens[k_after + 1] if k_after + 1 < len(tokens) else None
            counted = nxt is not None and quantity_of(nxt.norm) is not None \
                and not text[number.end:nxt.start].strip(" ")
            if int(number.norm) > MAX_QUANTITY or counted or (
                    k_before is not None and quantity_of(tokens[k_before].norm) is not None
                    and not text[tokens[k_before].end:m.start].strip()):
                widened = (m.start, number.end, sized[number.norm])
        elif k_before is not None:
            link = tokens[k_before]
            k_number = k_before - 1 if link.norm in _SIZE_LINKS else k_before
            if k_number >= 0 and tokens[k_number].norm in sized and (
                    k_number < k_before or int(tokens[k_number].norm) > MAX_QUANTITY) \
                    and not text[tokens[k_number].end:m.start].strip(" ").replace(
                        text[link.start:link.end], "", 1).strip():
                widened = (tokens[k_number].start, m.end, sized[tokens[k_number].norm])
        if widened is None:
            out.append(m)
            continue
        start, end, chosen = widened
        out.append(Mention(start, end, text[start:end], m.product, chosen, m.score,
                           m.matched))
    return out


def _normalised(words: str) -> frozenset[str]:
    """The words of a whitespace-separated list, normalised as tokens are."""
    return frozenset(normalize_token(w) for w in words.split())


# ---- negation: "no samosa today", "চা লাগবে না", "لا أريد شاي" ------------------------------
_NEG_BEFORE = _normalised("""
    no not without dont never skip minus except excluding bina बिना
    بدون لا ما مش بلاش ولا غير مابي مابغى ماابي مو ليس لن""")
_NEG_AFTER = _normalised("""
    nahi nahin nai mat na not नहीं मत ना न না নেই নয় nei noy""")
_WANT_WORDS = _normalised("""
    chahiye chaiye chahie lagbe chai চাই লাগবে দরকার dorkar चाहिए needed bhejna भेजना want
    wanted required need zarurat zaroorat jarurat jaroorat zarorat ज़रूरत जरूरत""")
# Arabic "ما" before a question word asks, it does not refuse: "ما هو الكنافة", "ما سعر"
_ASKING_MA = _normalised("""
    هو هي هذا هذه هذي في فيه سعر ثمن نوع لون حجم فرق مكونات الذي""")
# words between a product and its "not wanted" ("X ki zarurat nahi", "X to nahi chahiye")
_NEG_FILLERS = _normalised("""
    ki ka ke to bhi abhi aaj की का के तो भी अभी आज er এর তো ও আজ ekhon এখন""")
# "لا بأس", "لا مشكلة", "مو مشكلة": no problem, no refusal
_NO_PROBLEM = frozenset((normalize_token(a), normalize_token(b)) for a in ("لا", "مو", "مش")
                        for b in ("بأس", "باس", "مشكلة", "مشكله"))
_ARABIC_NOT = frozenset({"ما", "مو", "مش", "لا"})  # "الممحاة ما نحتاجها": we don't need it
_LEAVE_IT = frozenset({"থাক", "থাকুক", "thak", "thaak", "thakuk"})  # "X থাক": leave the X
_LEAVE_IT_PAIRS = frozenset((a, b) for a in ("rehne", "rahne", "rehene", "रहने")
                            for b in ("do", "dijiye", "dijie", "den", "dein", "de", "दो",
                                      "दीजिए", "दें", "दे"))
_BN_NOT = frozenset({"না", "na"})
_BN_FUTURE = ("বেন", "বে", "বো", "ব", "ben", "bo")
# the polite imperative of later ("পাঠাইয়েন", "diyen": please send, when you do) is
# refused by "না" after it as the future is ("pendrive pathaien na": don't send it)
_BN_LATER = tuple(normalize_token(w) for w in ("\u09df\u09c7\u09a8", "\u09af\u09bc\u09c7\u09a8",
                                                "ien", "yen"))
# "don't", "didn't", "can't", "won't" (any apostrophe): the word is a negation, not a name
_CONTRACTION = re.compile(r"n?['\u2019\u02bc]t\b", re.IGNORECASE)
_CLAUSE_BREAKS = re.compile(r"[,;.!?،؛\n]|\bbut\b|\blekin\b|\bkintu\b|لكن|लेकिन|কিন্তু")


def _negated_before(before: list[str]) -> bool:
    """A cue of negation among the (up to four) words before an item: "no X", "don't
    want X", "مابي X", "nahi chahiye X"; not the asking "ما هو X"."""
    for k, word in enumerate(before):
        if word in _NEG_BEFORE:
            if word == "ما" and k + 1 < len(before) and before[k + 1] in _ASKING_MA:
                continue
            if word == "no" and k + 1 < len(before) and before[k + 1].isdigit():
                continue  # "room no 304 pe teen earfone": a number's sign, not a refusal
            return True
        if word in _NEG_AFTER and k + 1 < len(before) and before[k + 1] in _WANT_WORDS:
            return True  # "mujhe nahi chahiye samosa"
    return False


def _negated(text: str, tokens: list[Token], start: int, end: int, lower: int,
             upper: int) -> bool:
    """Whether a cue of negation governs the span [start, end) within its clause."""
    breaks = [m.end() for m in _CLAUSE_BREAKS.finditer(text[lower:start])]
    left = lower + breaks[-1] if breaks else lower
    before = [t.norm for t in tokens if left <= t.start and t.end <= start][-4:]
    if _negated_before(before) or _CONTRACTION.search(text, left, start):
        return True
    tail = text[end:upper]
    stop = _CLAUSE_BREAKS.search(tail)
    right = end + stop.start() if stop is not None else upper
    after = [t.norm for t in tokens if end <= t.start and t.end <= right][:5]
    while after and after[0] in _NEG_FILLERS and len(after) > 1:
        after = after[1:]  # "X ki zarurat nahi", "X to nahi chahiye"
    after = after[:3]
    if after and (after[0] in _NEG_AFTER or after[0] in _LEAVE_IT):
        return True
    if len(after) >= 2 and after[0] in _ARABIC_NOT and after[1] not in _ASKING_MA \
            and (after[0], after[1]) not in _NO_PROBLEM:
        return True  # "الممحاة ما نحتاجها", "الشاي مو لازم"
    if after == ["لا"]:
        return True  # "بس الشاحن لا، عندي واحد": "no" closing the item's clause
    if len(after) >= 2 and (after[0], after[1]) in _LEAVE_IT_PAIRS:
        return True  # "chart paper rehne do": leave it
    if len(after) >= 2 and after[0] in _WANT_WORDS and after[1] in _NEG_AFTER:
        return True
    # Bengali puts "not" after a future verb: "আর পাঠাবেন না", "diben na" (but "din na",
    # the imperative, is a polite "do give"; and "diben na?" asks for it)
    return "?" not in text[end:right + 1] and any(
        after[i + 1] in _BN_NOT and after[i].endswith((*_BN_FUTURE, *_BN_LATER))
        for i in range(len(after) - 1))


# ---- removal: "cancel 2 samosa", "samosa hatao", "২টা সিঙ্গারা বাদ দিন", "احذف الشاي" --------
_REMOVE_TEXT = """
    remove delete cancel drop hatao hata hatado hatana hataiye hatayen nikalo nikal
    nikaldo nikaal nikaalo हटाओ हटा हटाएं हटाइए हटाना हटादो निकालो निकाल निकालें रद्द कैंसल
    বাদ সরান সরাও সরিয়ে বাতিল ক্যানসেল ক্যান্সেল soran sorao sorie batil
    احذف حذف احذفي أزل ازل ازيل أزيل إزالة ازالة شيل شيلي الغ ألغ الغي ألغي إلغاء الغاء
    """  # not Hindi बाद ("after"), nor romanised "bad" alone (English): see the pairs
_REMOVE_WORDS = frozenset(normalize_token(w) for w in _REMOVE_TEXT.split())
_REMOVE_PAIRS = frozenset({("take", "out"), ("take", "off"),
                           # romanised Bengali বাদ দিন / দেন / দাও / দিয়েন: leave it out
                           *((bad, give) for bad in ("bad", "baad")
                             for give in ("din", "den", "dao", "dite", "diyen", "dien"))})


def _removal_clauses(text: str, tokens: list[Token]) -> list[tuple[int, int]]:
    """The clauses (character spans) that ask to take something out of the cart."""
    cues = [t.start for k, t in enumerate(tokens) if t.norm in _REMOVE_WORDS or (
        k + 1 < len(tokens) and (t.norm, tokens[k + 1].norm) in _REMOVE_PAIRS)]
    if not cues:
        return []
    bounds = [0, *(m.end() for m in _CLAUSE_BREAKS.finditer(text)), len(text) + 1]
    return [(a, b) for a, b in pairwise(bounds) if any(a <= c < b for c in cues)]


# ---- quantities no shop can mean ---------------------------------------------------------
_SCIENTIFIC_RE = re.compile(r"(?<![\w.])\d+(?:\.\d+)?[eE][+-]?\d+(?![\w.])")
_NEGATIVE_RE = re.compile(r"(?:^|(?<=\s))[-\u2212]\s?\d+(?:\.\d+)?(?![\w.])")


def _odd_numbers(text: str) -> list[tuple[NumberSpan, QuantityIssue]]:
    """"1e9", "-3": numbers written so that no reading of them is a count."""
    out: list[tuple[NumberSpan, QuantityIssue]] = []
    if "e" not in text.lower() and "-" not in text and "\u2212" not in text:
        return out
    for regex, issue in ((_SCIENTIFIC_RE, QuantityIssue.SCIENTIFIC),
                         (_NEGATIVE_RE, QuantityIssue.NEGATIVE)):
        for m in regex.finditer(text):
            out.append((NumberSpan(Fraction(0), m.start(), m.end(), m.group()), issue))
    return out


@dataclass(frozen=True, slots=True)
class Extraction:
    entities: tuple[Entity, ...]
    items: tuple[ItemMention, ...]
    unmatched: tuple[str, ...] = ()  # words where a product was expected and none matched
    product_spans: tuple[tuple[int, int], ...] = ()  # every product or ambiguous mention


_RUN_BREAK = re.compile("[,;.!?\n،]")  # punctuation between two words ends a run


def _unmatched(text: str, tokens: list[Token], targets: list[_Target],
               numbers: list[NumberSpan], reserved: list[tuple[int, int]]) -> list[str]:
    """Words in a product's place ("2 pizza", "chai and pizza") that matched no product."""
    covered = [(t.start, t.end) for t in targets] + [(n.start, n.end) for n in numbers] \
        + reserved
    out: list[str] = []
    run: list[Token] = []
    opened = False  # the previous token was a quantity or a conjunction after an item

    def close() -> None:
        if run:
            out.append(text[run[0].start:run[-1].end])
            run.clear()

    anchors = sorted([*((n.end, "n") for n in numbers), *((t.end, "t") for t in targets)])
    for k, tok in enumerate(tokens):
        inside = _overlaps(tok.start, tok.end, covered)
        norm = tok.norm
        if inside:
            close()
            opened = any(n.start <= tok.start and tok.end <= n.end for n in numbers)
            continue
        if norm in _CONJUNCTIONS or (norm.startswith("و") and len(norm) > 3):
            close()
            after_item = any(a[0] <= tok.start for a in anchors)
            if norm.startswith("و") and len(norm) > 3 and after_item:
                norm = normalize_token(norm[1:])
                if not is_function_word(norm) and parse_number(norm) is None:
                    run.append(tok)
                    opened = True
                continue
            opened = after_item
            continue
        if run and k and _RUN_BREAK.search(text, tokens[k - 1].end, tok.start):
            close()
            opened = False
        # the cheap tests first: parse_number is the dearest, and only words reach it
        if (len(norm) < 3 or norm in _NEG_AFTER or norm in _NEG_BEFORE or norm in _PUT_VERBS
                or norm in _WANT_CHAI or norm in _PACK_WORDS or is_function_word(norm)
                or parse_number(norm) is not None):
            close()
            opened = False
            continue
        if opened or run:
            if len(run) < 3:
                run.append(tok)
            continue
    close()
    return out


def extract_entities(
    text: str, index: ProductIndex, currency: str = "INR"
) -> tuple[tuple[Entity, ...], tuple[ItemMention, ...]]:
    """Entities (product, quantity, vpa, amount, order_id, language) and order items.

    ``currency`` gives amounts their minor units ("tip 50" in INR → ``"5000"``).
    """
    found = extract(text, index, currency)
    return found.entities, found.items


def extract(text: str, index: ProductIndex, currency: str = "INR") -> Extraction:
    """Entities, order items (negated, ambiguous and absurd ones flagged) and unmatched words."""
    found, shared, tokens = index.analyse(text)
    entities, reserved = _find_reserved(text, currency, found)
    named: list[_Target] = [*found, *shared]
    kept = _drop_look_alikes(text, tokens, sorted(
        (t for t in named if not _overlaps(t.start, t.end, reserved)),
        key=lambda t: t.start))
    kept = _drop_loose_parts(text, _drop_pack_words(text, tokens, kept))
    kept = _drop_verb_uses(text, tokens, _drop_means_of_paying(text, kept))
    kept = _drop_complaints(text, tokens, kept)
    owners = _drop_owners(text, tokens, kept)
    kept = _drop_modifiers(text, tokens, owners)
    reserved = reserved + _model_spans(tokens, [t for t in owners if t not in kept])
    before_wala = _drop_when_ready(text, kept)
    kept = _drop_described(text, tokens, before_wala)
    described = [(t.start, t.end) for t in before_wala if t not in kept]
    mentions = _head_nouns(text, _merge_split_names(
        text, [t for t in kept if isinstance(t, Mention)]))
    if _ANY_DIGIT.search(text) is not None:
        mentions = _option_by_number(text, tokens, _name_numbers(text, tokens, mentions))
    mentions = _leading_name_number(text, tokens, mentions)
    shared = [t for t in kept if isinstance(t, Ambiguous)]
    targets: list[_Target] = sorted([*mentions, *shared], key=lambda t: t.start)
    numbers, inside, issues = _quantities(text, targets, reserved)
    items = _pair_items(text, tokens, targets, numbers, inside, issues, entities)

    for span in numbers:
        if id(span) in issues:
            continue
        value = span.value
        shown = str(value.numerator) if value.denominator == 1 else str(value)
        entities.append(Entity("quantity", shown, span.text, span.start, span.end))
    if items:
        removing = _removal_clauses(text, tokens)
        if removing:
            items = [replace(item, removal=True) if any(
                a <= t.start < b for a, b in removing) else item
                for item, t in zip(items, targets, strict=True)]
    if len(items) > 1:
        items = _named_again(items)
    wanted = language_switch_request(text)
    if wanted is not None:
        entities.append(Entity("language", wanted, text.strip(), 0, len(text)))
    entities.sort(key=lambda e: (e.start, e.type))
    unmatched = _unmatched(text, tokens, targets, numbers, reserved) \
        if numbers or targets else []
    return Extraction(tuple(entities), tuple(items), tuple(unmatched),
                      tuple(sorted([*((t.start, t.end) for t in targets), *described])))


def _quantities(text: str, targets: list[_Target], reserved: list[tuple[int, int]]
                ) -> tuple[list[NumberSpan], dict[int, NumberSpan], dict[int, QuantityIssue]]:
    """The numbers of the text that may be counts (in order), the number inside each
    target's own span ("half kg" of an option), and the absurd ones' issues (by ``id``)."""
    target_spans = [(t.start, t.end) for t in targets]
    odd = _odd_numbers(text)
    issues: dict[int, QuantityIssue] = {}
    numbers: list[NumberSpan] = []
    inside: dict[int, NumberSpan] = {}  # target position → number inside its span
    odd_spans = [(n.start, n.end) for n, _ in odd]
    spans = [n for n in find_numbers(text) if not _overlaps(n.start, n.end, odd_spans)]
    for span, issue in odd:
        issues[id(span)] = issue
        spans.append(span)
    spans.sort(key=lambda n: n.start)
    for span in spans:
        if _overlaps(span.start, span.end, reserved):
            continue
        holder = next((k for k, m in enumerate(targets)
                       if span.start >= m.start and span.end <= m.end), None)
        if holder is not None:
            target = targets[holder]
            if isinstance(target, Mention) and target.option is not None:
                inside[holder] = span
            continue
        count = _count_before_name(text, span, targets) \
            if _overlaps(span.start, span.end, target_spans) else span
        if count is None:
            continue
        if (not count.weak and 0 < count.value <= MAX_QUANTITY and id(count) not in issues) \
                or _may_count(text, count, targets, id(count) in issues):
            numbers.append(count)  # the first test is the common case, "2 samosa"
    return numbers, inside, issues


def _count_before_name(text: str, span: NumberSpan, targets: list[_Target]
                       ) -> NumberSpan | None:
    """"6 Cup Hooks", "ছটা কাপ হুক", "3ta glass cliner": a number whose unit word is the
    first word of the name after it is a count of that product, without the unit."""
    if span.unit is None:
        return None
    head = next((t for t in targets if span.start < t.start < span.end <= t.end), None)
    if head is None:
        return None
    count = text[span.start:head.start].rstrip()
    if not count or len(count) == head.start - span.start:
        return None  # the unit word is glued to the name: not a count of it
    return NumberSpan(span.value, span.start, span.start + len(count), count, None, span.weak)


def _may_count(text: str, span: NumberSpan, targets: list[_Target], odd: bool) -> bool:
    """Whether a number outside every target can be a count of one of them."""
    # a number no count can be ("0", "1e9", a phone number) is a quantity only right
    # before an item: "add 0 samosa" asks, "call 9876543210" is not about rice
    if (odd or span.value <= 0 or span.value > MAX_QUANTITY) and not any(
            m.start >= span.end and _gap_ok(text[span.end:m.start], after=False)
            for m in targets):
        return False  # a phone number, a pin code, "0" alone: not a quantity
    # "do you have…", "a" before nothing in particular
    return not span.weak or any(
        m.start >= span.end and not text[span.end : m.start].strip() for m in targets
    ) or (any(span.start >= m.end and not text[m.end:span.start].strip()
              for m in targets) and _weak_after_ok(text, span))


def _pair_items(text: str, tokens: list[Token], targets: list[_Target],
                numbers: list[NumberSpan], inside: dict[int, NumberSpan],
                issues: dict[int, QuantityIssue], entities: list[Entity]
                ) -> list[ItemMention]:
    """Each target with its count (before it, or after it when the message writes counts
    after names); a product entity per product target is appended to ``entities``."""
    used: set[int] = set()

    def before(k: int) -> NumberSpan | None:
        lower = targets[k - 1].end if k else 0
        for n in reversed(numbers):
            if lower <= n.start and n.end <= targets[k].start:
                gap = text[n.end : targets[k].start]
                return n if id(n) not in used and (
                    _gap_ok(gap, after=False) or _describing_word(gap, n)) else None
        return None

    def after(k: int) -> NumberSpan | None:
        upper = targets[k + 1].start if k + 1 < len(targets) else len(text)
        for n in numbers:
            if n.start >= targets[k].end and n.end <= upper:
                gap = text[targets[k].end : n.start]
                if id(n) in used or not _gap_ok(gap, after=True) or starts_with_and(n.text):
                    return None  # "مياه وخمسة حمص": "and five" starts the next item
                if n.weak and not _weak_after_ok(text, n):
                    return None
                return n
        return None

    postfix = bool(targets) and before(0) is None and after(0) is not None
    items: list[ItemMention] = []
    for k, target in enumerate(targets):
        number: NumberSpan | None = after(k) or before(k) if postfix else \
            before(k) or after(k)
        named_option = k in inside
        if named_option and number is not None and number.is_whole \
                and number.base_amount is None:
            named_option = False  # "5 200 page copies", "30 cm scale 2": five of the option
        elif named_option:
            number = inside[k]  # "half kg aloo": the option, one of it
        if number is not None and not named_option:
            used.add(id(number))
        lower = targets[k - 1].end if k else 0
        upper = targets[k + 1].start if k + 1 < len(targets) else len(text)
        negated = _negated(text, tokens, target.start, target.end, lower, upper)
        if isinstance(target, Ambiguous):
            items.append(_ask_item(target, number, negated))
            continue
        item = _item(target, number, named_option,
                     issues.get(id(number)) if number is not None else None)
        if negated:
            item = ItemMention(item.sku, item.quantity, item.quantity_given, item.text,
                               negated=True, issue=item.issue, quantity_text=item.quantity_text,
                               sized=item.sized)
        items.append(item)
        entities.append(Entity("product", target.sku, target.text, target.start, target.end))
    return items


def _ask_item(target: Ambiguous, number: NumberSpan | None, negated: bool) -> ItemMention:
    """A word several products share: a line the bot asks about, with its count."""
    count = number.value if number is not None else Fraction(1)
    candidates = tuple(p.sku for p in target.products)
    whole = count.denominator == 1 and 0 < count <= MAX_QUANTITY
    return ItemMention("", int(count) if whole else 1, number is not None, target.text,
                       negated=negated, quantity_text=number.text if number else "",
                       candidates=candidates)


def quantity_of(word: str) -> int | None:
    """A whole quantity from one word in any script ("৩", "do", "دو"), else None."""
    value = parse_number(word)
    if value is None or value.denominator != 1 or not 0 < value <= MAX_QUANTITY:
        return None
    return int(value)


# ---- when the words say "order" louder than the intent classifier --------------------------
# What no one means by a message that asks for an amount of a product: "mujhe 5 aloo chahiye"
# with a spelling the classifier never saw reads as a call for a human, "তিনটে দই দিন, মিষ্টি
# না" as a refusal, "2 shawarma cart me dal do" as "show my cart". Product questions and
# prices are not here: "how much are 2 samosas?", "what is in 2 kg atta" name amounts too.
_AMOUNT_MEANS_ORDER = frozenset({
    "greet", "goodbye", "thanks", "affirm", "deny", "browse_catalog", "view_cart", "checkout",
    "human_handoff", "change_language", "out_of_scope", "business_hours", "delivery_info"})
# A message of product names and amounts alone ("Rasgulla x2", "شاي، سمبوسة", "humus tinte
# chai") is an order whatever else it resembles; these words may sit between them.
_LIST_WORDS = _CONJUNCTIONS | (_GAP_FILLERS - {"no"}) | _WANT_CHAI | {"please", "pls", "plz"}
_QUESTION_MARKS = frozenset("?؟")
# what a message of refused items only ("no samosa today") is read as by mistake
_REFUSED_READS = frozenset({"add_to_cart", "product_info"})
# "paracetamol ek bhej do" reads as "bhej do" of "QR bhej do" (pay); an amount of a product
# with no word of paying in the message is an order.
_PAY_CUES = re.compile(
    r"pay|upi|qr\b|link|card|cash|\bcod\b|paisa|paise|paytm|bkash|nagad|money|"
    r"भुगतान|पेमेंट|पैस|यूपीआई|लिंक|পেমেন্ট|টাকা|ইউপিআই|লিংক|বিকাশ|ক্যাশ|"
    r"دفع|ادفع|أدفع|رابط|بطاقة|تحويل|أسدد|اسدد", re.IGNORECASE)


def _only_items(text: str, found: Extraction) -> bool:
    """Whether every word of the message is a product, an amount or a list word."""
    covered = [*found.product_spans,
               *((e.start, e.end) for e in found.entities if e.type == "quantity")]
    return not any(ch in _QUESTION_MARKS for ch in text) and all(
        t.norm in _LIST_WORDS or _overlaps(t.start, t.end, covered) for t in tokenize(text))


# ---- product questions: "tell me about X", "X ki details", "X সম্পর্কে বলুন", "ما هو X" ------
# Cue phrases (words in order, normalised as tokens are) of a question about a product,
# in every language form; a price cue wins over a details cue ("X ka price kya hai").
_INFO_CUES = """
    tell me about | tell about | more about | know about | what is in | what s in | whats in |
    what is | what s | whats | details | detail | info | information | describe |
    description | ingredients | specs | specification | specifications | made of | made with |
    contains | contain | features | explain | which brand | what brand | brand | company |
    what kind | what type | made in | which company |
    kaunsi | kaunsa | konsi | konsa | kaun sa | kaun si | kis company | brand kya |
    कौन सी | कौनसी | कौन सा | कौनसा | ब्रांड | कंपनी | किस कंपनी |
    কোন ব্র্যান্ড | কোন কোম্পানি | ব্র্যান্ড | কোম্পানির | কোম্পানি | kon company | kon brand |
    اي ماركة | أي ماركة | ماركة | ماركته | شركة | اي نوع | أي نوع | من اي شركة |
    baare | bare | baarey | bareme | jankari | jaankari | kya hai | kaisa hai | kaisi hai |
    mein kya | me kya | kya hota |
    बारे | जानकारी | विवरण | डिटेल | डिटेल्स | क्या है | कैसा है | कैसी है | में क्या | क्या होता |
    সম্পর্কে | ব্যাপারে | বিস্তারিত | ডিটেলস | ডিটেইলস | ডিটেল | তথ্য | কী দিয়ে | কি দিয়ে |
    কেমন | জানতে চাই | কী জিনিস | কি জিনিস | কী আছে এতে | কিসের |
    somporke | sompork | byapare | bepare | bistarito | ki diye | kemon | jante chai |
    ما هو | ما هي | ما هذا | ما هذه | شو هو | شو هي | ايش هو | ايش هي | وش هو | وش هي | معلومات |
    تفاصيل | اخبرني عن | خبرني عن | حدثني عن | احكيلي عن | قل لي عن | مكونات | مواصفات | وصف |
    ماذا في | ماذا يوجد في | ايش فيه | شو فيه"""
_PRICE_CUES = """
    price | prices | cost | costs | rate | rates | how much | mrp |
    daam | dam | kimat | keemat | kitne ka | kitne ki | kitna ka | kitna hai | kitne hai |
    kitne mein | kitne me | kitne main |
    दाम | कीमत | प्राइस | रेट | कितने का | कितने की | कितना है | कितने में |
    দাম | মূল্য | প্রাইস | রেট | কত টাকা | কত করে | koto taka | koto kore |
    কত পড়বে | কত পড়ে | কত দিবেন | কত নিবেন | koto porbe | koto pore | koto diben | koto niben |
    سعر | اسعار | ثمن | بكم | كم حق | كم سعر | كم ثمن"""


def _cue_table(text: str) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Cue phrases by their first word, longest first."""
    table: dict[str, list[tuple[str, ...]]] = {}
    for phrase in text.split("|"):
        words = tuple(normalize_token(w) for w in phrase.split())
        if words:
            table.setdefault(words[0], []).append(words)
    return {k: tuple(sorted(v, key=len, reverse=True)) for k, v in table.items()}


_INFO_TABLE = _cue_table(_INFO_CUES)
# Bengali "how much" ends a price question ("X koto?", "X এর দাম কত"); inside one it may
# count something else ("koto ghonta": how many hours)
_HOW_MUCH_LAST = _normalised("koto কত")
_PRICE_TABLE = _cue_table(_PRICE_CUES)
# intents a cue word may sit in without making the message a question about a product
# verbs of putting an item in the cart: beside them a cue word is no question
_ADD_VERBS = _normalised("""
    add send bhejo daalo dalo daaldo daldo dedo भेजो डालो डाल पाठान পাঠান পাঠাও
    أضف اضف ارسل أرسل ضيف""")
# "X ruled or plain?", "line wali hai ya plain?": an alternative between two words that
# are no products asks what kind the product is (between products it asks which one)
_ALTERNATIVES = _normalised("or ya या নাকি naki او")
_QUESTION_KEEPS = frozenset({"remove_from_cart", "cancel_order", "pay", "order_status", "tip",
                             "change_language", "checkout", "view_cart"})


def _cue_at(norms: list[str], free: list[bool],
            table: dict[str, tuple[tuple[str, ...], ...]]) -> range | None:
    """Where a cue phrase of ``table`` is, among the words no product took."""
    for k, norm in enumerate(norms):
        for phrase in table.get(norm, ()):
            end = k + len(phrase)
            if tuple(norms[k:end]) == phrase and all(free[k:end]):
                return range(k, end)
    return None


def question_cue(text: str, found: Extraction) -> str | None:
    """``product_price`` or ``product_info`` when a clause asks about a product it names
    ("tell me about the samosa", "samosa ka price kya hai", "ما هو الكنافة"), else None.

    A cue word inside a product's name is no cue, nor one in a clause that names no
    product ("samosa dena, total kya hai"), nor any in a message with a verb of adding
    ("add the samosa, and what's in the kachori" is an add).
    """
    if not found.product_spans:
        return None
    spans = list(found.product_spans)
    tokens = tokenize(text)
    if any(t.norm in _ADD_VERBS and not _overlaps(t.start, t.end, spans) for t in tokens):
        return None
    bounds = [0, *(m.end() for m in _CLAUSE_BREAKS.finditer(text)), len(text) + 1]
    for a, b in pairwise(bounds):
        if not any(a <= s < b for s, _ in spans):
            continue
        clause = [t for t in tokens if a <= t.start < b]
        norms = [t.norm for t in clause]
        free = [not _overlaps(t.start, t.end, spans) for t in clause]
        for table, asked in ((_PRICE_TABLE, "product_price"), (_INFO_TABLE, "product_info")):
            if _cue_at(norms, free, table) is not None:
                return asked
        if norms and norms[-1] in _HOW_MUCH_LAST and free[-1]:
            return "product_price"  # "20000 er power bank koto?": how much, the clause's end
        if any(ch in _QUESTION_MARKS for ch in text[a:b]) and any(
                norms[k] in _ALTERNATIVES and free[k - 1] and free[k + 1]
                for k in range(1, len(norms) - 1)):
            return "product_info"  # "is the 200 page copy ruled or plain?": which kind
    return None


# product questions a message with an amount is read as, which it asks only with a cue
_QUESTION_READS = frozenset({"product_price", "product_info"})


def _asked_elsewhere(text: str, found: Extraction) -> bool:
    """A price or details cue anywhere outside the products' names (question_cue looks
    only at clauses that name a product, and not beside a verb of adding)."""
    spans = list(found.product_spans)
    tokens = tokenize(text)
    norms = [t.norm for t in tokens]
    free = [not _overlaps(t.start, t.end, spans) for t in tokens]
    return _cue_at(norms, free, _PRICE_TABLE) is not None or _cue_at(
        norms, free, _INFO_TABLE) is not None


def _asks_to_send(text: str, found: Extraction) -> bool:
    """Whether a verb of adding or sending, or a word of wanting, stands outside the
    products' names ("X १ भेजो", "একটা X পাঠান", "X chahiye")."""
    spans = list(found.product_spans)
    return any((t.norm in _ADD_VERBS or t.norm in _WANT_WORDS)
               and not _overlaps(t.start, t.end, spans) for t in tokenize(text))


def _own_number(item: ItemMention) -> bool:
    """Whether the item's count is a number of its own name ("the 200 page copy"), word
    for word: the "1" of "128 gb sd card x1" is a count, not a part of "128"."""
    if not item.quantity_text:
        return False
    words = [t.norm for t in tokenize(item.text, 16)]
    said = [t.norm for t in tokenize(item.quantity_text, 8)]
    return any(words[k:k + len(said)] == said for k in range(len(words) - len(said) + 1))


def order_intent(intent: str, text: str, found: Extraction) -> str:
    """``add_to_cart`` when the extracted items make an order certain, else ``intent``.

    An item counts when it is not negated; its amount counts when it was written and is not
    a word that is a number only sometimes ("a samosa", Hindi "do").
    """
    if found.items and all(i.removal or i.negated for i in found.items) and any(
            i.removal for i in found.items):
        return "remove_from_cart"  # "cancel 2 samosa" is no order, whatever it resembles
    wanted = [i for i in found.items if not i.negated and not i.removal]
    counted = any(i.quantity_given and not is_weak_number(i.quantity_text) for i in wanted)
    if found.items and not wanted and (intent in _REFUSED_READS or (
            intent == "search_product" and not any(ch in _QUESTION_MARKS for ch in text))):
        return "deny"  # "no samosa today", "skip chart paper": only refused items
    # an option's own number ("the 200 page copy") is no amount asked for
    amount = any(i.quantity_given and not is_weak_number(i.quantity_text)
                 and not _own_number(i) for i in wanted)
    if wanted and not amount and intent not in _QUESTION_KEEPS:
        # "tell me about X", "X ka price kya hai": a question, whatever the classifier read
        asked = question_cue(text, found)
        if asked is not None and not (asked == "product_info" and intent == "product_price"):
            return asked
    if amount and intent == "add_to_cart" and any(ch in _QUESTION_MARKS for ch in text) \
            and question_cue(text, found) == "product_price":
        return "product_price"  # "2ta tempered glass koto porbe?": how much two would cost
    if intent == "remove_from_cart" and counted and not any(i.removal for i in found.items) \
            and _asks_to_send(text, found):
        return "add_to_cart"  # "सेल्फी स्टिक १ भेजो": no word of removing, one of sending
    if intent in ("add_to_cart", "remove_from_cart"):
        return intent
    if not wanted:
        return intent
    if counted and (intent in _AMOUNT_MEANS_ORDER or (
            intent == "pay" and _PAY_CUES.search(text) is None)):
        return "add_to_cart"
    if intent in _QUESTION_READS and all(
            i.quantity_given and not is_weak_number(i.quantity_text)
            and not _own_number(i) for i in wanted) \
            and not any(
            ch in _QUESTION_MARKS for ch in text) and question_cue(text, found) is None \
            and not _asked_elsewhere(text, found):
        return "add_to_cart"  # "5 screen guards for the office guys 👍": no question in it
    if counted and intent not in _QUESTION_KEEPS and len(wanted) < len(found.items) \
            and any(i.negated for i in found.items) and question_cue(text, found) is None:
        return "add_to_cart"  # "٥ دفاتر، الممحاة ما نحتاجها": an amount of one, not the other
    if (counted or len(wanted) > 1) and _only_items(text, found):
        return "add_to_cart"
    return intent
