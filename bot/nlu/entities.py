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
from fractions import Fraction

from bot.language import language_switch_request
from bot.nlu.base import Entity, ItemMention
from bot.nlu.numbers import NumberSpan, find_numbers, parse_number, to_ascii_digits
from catalog.models import Option, Product
from catalog.money import Money, MoneyError
from catalog.search import Mention, ProductIndex

__all__ = ["MAX_QUANTITY", "extract_entities", "quantity_of"]

MAX_QUANTITY = 9999  # bigger numbers are phone numbers, pin codes or order ids

_VPA_RE = re.compile(
    r"(?<![\w.\-@])([A-Za-z0-9][A-Za-z0-9._\-]{1,255}@[A-Za-z][A-Za-z0-9]{1,63})(?![\w@.\-])"
)
_DIGIT = r"[0-9\u0966-\u096f\u09e6-\u09ef\u0660-\u0669\u06f0-\u06f9]"
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
    r"bdt|dirhams?|riyals?)\b\.?|रुपये|रुपए|रुपया|रुपैया|रु\.?|টাকা|ريال|ريالات|درهم|دراهم|"
    r"جنيه|روبية)"
)
_AMOUNT_BEFORE_RE = re.compile(rf"{_CUR_BEFORE}\s*{_AMOUNT}", re.IGNORECASE)
_AMOUNT_AFTER_RE = re.compile(rf"{_AMOUNT}\s*{_CUR_AFTER}", re.IGNORECASE)
_TIP_RE = re.compile(
    rf"(?:\btips?\b|टिप|টিপস?|بقشيش|إكرامية|اكرامية)\s*(?:of|de|do|dena|দিন|دي)?\s*"
    rf"(?:{_CUR_BEFORE})?\s*{_AMOUNT}",
    re.IGNORECASE,
)
# What may sit between a quantity and its product: spaces, "x", "of", "ta"…
_GAP_WORD_RE = re.compile(r"\w+")
_GAP_FILLERS = frozenset({"of", "ka", "ke", "ki", "ta", "ti", "no", "nos", "pc", "pcs", "x"})
_GAP_BREAKS = frozenset(",;.\n")  # "samosa, 2 chai": the 2 belongs to chai


def _gap_ok(gap: str, after: bool) -> bool:
    """Only spaces, emoji, "x", "of"… between a quantity and its product."""
    if len(gap) > 24:
        return False
    if after and any(ch in _GAP_BREAKS for ch in gap):
        return False
    return all(w.lower() in _GAP_FILLERS for w in _GAP_WORD_RE.findall(gap))


_COUNT_UNITS = frozenset({"cup", "plate", "piece", "packet", "glass", "bottle", None})


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < e and s < end for s, e in spans)


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
                k.start >= m.end() and _gap_ok(text[m.end() : k.start], after=False)
                for k in mentions
            ):
                continue
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


def _item(mention: Mention, number: NumberSpan | None, inside: bool) -> ItemMention:
    """Turn a mention and its quantity into a cart line (sku, how many)."""
    product, option = mention.product, mention.option
    sku = mention.sku
    if number is None:
        return ItemMention(sku, 1, inside, mention.text)
    text = mention.text
    if inside:  # "half kg aloo" where "half kg" named the option
        return ItemMention(sku, 1, True, text)
    amount = number.base_amount
    if amount is not None and option is None:
        best: tuple[Fraction, Option] | None = None
        for candidate in product.options:
            for size in _option_amounts(candidate):
                if size and amount % size == 0 and (best is None or size > best[0]):
                    best = (size, candidate)
        if best is not None:
            count = amount / best[0]
            if count <= MAX_QUANTITY:
                return ItemMention(best[1].sku, int(count), True, text)
        per_unit = _unit_amount(product)
        if per_unit and amount % per_unit == 0 and 0 < amount / per_unit <= MAX_QUANTITY:
            return ItemMention(sku, int(amount / per_unit), True, text)
        if number.is_whole and per_unit is None and number.unit in ("kg", "l"):
            return ItemMention(sku, int(number.value), True, text)
        return ItemMention(sku, 1, False, text)
    if number.is_whole and (number.unit in _COUNT_UNITS or option is not None):
        return ItemMention(sku, int(number.value), True, text)
    return ItemMention(sku, 1, False, text)


def extract_entities(
    text: str, index: ProductIndex, currency: str = "INR"
) -> tuple[tuple[Entity, ...], tuple[ItemMention, ...]]:
    """Entities (product, quantity, vpa, amount, order_id, language) and order items.

    ``currency`` gives amounts their minor units ("tip 50" in INR → ``"5000"``).
    """
    found = index.find_mentions(text)
    entities, reserved = _find_reserved(text, currency, found)
    mentions = [m for m in found if not _overlaps(m.start, m.end, reserved)]
    mention_spans = [(m.start, m.end) for m in mentions]

    numbers: list[NumberSpan] = []
    inside: dict[int, NumberSpan] = {}  # mention position → number inside its span
    for span in find_numbers(text):
        if _overlaps(span.start, span.end, reserved):
            continue
        if span.value <= 0 or span.value > MAX_QUANTITY:
            continue
        holder = next((k for k, m in enumerate(mentions)
                       if span.start >= m.start and span.end <= m.end), None)
        if holder is not None:
            if mentions[holder].option is not None:
                inside[holder] = span
            continue
        if _overlaps(span.start, span.end, mention_spans):
            continue
        if span.weak and not any(
            m.start >= span.end and not text[span.end : m.start].strip() for m in mentions
        ):
            continue  # "do you have…", "a" before nothing in particular
        numbers.append(span)

    def before(k: int) -> NumberSpan | None:
        lower = mentions[k - 1].end if k else 0
        for n in reversed(numbers):
            if lower <= n.start and n.end <= mentions[k].start:
                gap = text[n.end : mentions[k].start]
                return n if id(n) not in used and _gap_ok(gap, after=False) else None
        return None

    def after(k: int) -> NumberSpan | None:
        upper = mentions[k + 1].start if k + 1 < len(mentions) else len(text)
        for n in numbers:
            if n.start >= mentions[k].end and n.end <= upper:
                gap = text[mentions[k].end : n.start]
                if n.weak or id(n) in used or not _gap_ok(gap, after=True):
                    return None
                return n
        return None

    used: set[int] = set()
    postfix = bool(mentions) and before(0) is None and after(0) is not None
    items: list[ItemMention] = []
    for k, mention in enumerate(mentions):
        if k in inside:
            number: NumberSpan | None = inside[k]
        elif postfix:
            number = after(k) or before(k)
        else:
            number = before(k) or after(k)
        if number is not None and k not in inside:
            used.add(id(number))
        items.append(_item(mention, number, k in inside))
        entities.append(Entity("product", mention.sku, mention.text, mention.start, mention.end))

    for span in numbers:
        value = span.value
        shown = str(value.numerator) if value.denominator == 1 else str(value)
        entities.append(Entity("quantity", shown, span.text, span.start, span.end))
    wanted = language_switch_request(text)
    if wanted is not None:
        entities.append(Entity("language", wanted, text.strip(), 0, len(text)))
    entities.sort(key=lambda e: (e.start, e.type))
    return tuple(entities), tuple(items)


def quantity_of(word: str) -> int | None:
    """A whole quantity from one word in any script ("৩", "do", "دو"), else None."""
    value = parse_number(word)
    if value is None or value.denominator != 1 or not 0 < value <= MAX_QUANTITY:
        return None
    return int(value)
