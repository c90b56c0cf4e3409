"""Training data in Rasa 3.x NLU YAML: reading, writing and catalog-generated examples.

Rasa's format is the one interchange format here: the built-in data (``bot/nlu/data/*.yml``),
a shop's own ``nlu.yml``, the labelled test set read by ``haat nlu eval`` and the exported
Rasa project all use it, so the same file trains either backend. Entity annotations are
``[2](quantity)``, ``[tea](product:MASALA-CHAI)`` or ``[tea]{"entity": "product", "value":
"MASALA-CHAI"}``; an :class:`Example` keeps the plain text and the spans.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bot.nlu.base import INTENTS
from catalog.nlu_markup import MarkupError, Span, parse_markup

if TYPE_CHECKING:
    from catalog.models import Shop

DATA_DIR = Path(__file__).parent / "data"
RASA_VERSION = "3.1"
# Generated catalog examples per language, so a 10,000-product shop trains as fast as a
# 10-product one: products are masked before training anyway, the cap only bounds work.
CATALOG_EXAMPLES_PER_LANGUAGE = 120

try:  # libyaml is ~10x faster than the pure-Python loader on the ~100 kB of data
    _Loader: Any = yaml.CSafeLoader
    _Dumper: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader
    _Dumper = yaml.SafeDumper


class NluFormatError(ValueError):
    """A file that is not Rasa NLU YAML; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    intent: str
    spans: tuple[Span, ...] = ()

    def annotated(self) -> str:
        """The Rasa markup for this example (inverse of :func:`parse_annotated`)."""
        out: list[str] = []
        pos = 0
        for span in sorted(self.spans, key=lambda s: s.start):
            words = self.text[span.start : span.end]
            out.append(self.text[pos : span.start])
            if span.value == words and not span.group and not span.role:
                out.append(f"[{words}]({span.type})")
            else:
                meta = {"entity": span.type, "value": span.value}
                if span.group:
                    meta["group"] = span.group
                if span.role:
                    meta["role"] = span.role
                payload = json.dumps(meta, ensure_ascii=False)
                out.append(f"[{words}]{payload}")
            pos = span.end
        out.append(self.text[pos:])
        return "".join(out)


@dataclass(frozen=True, slots=True)
class NluData:
    examples: tuple[Example, ...]
    synonyms: Mapping[str, tuple[str, ...]]  # value → the words that mean it
    lookups: Mapping[str, tuple[str, ...]]  # entity type → known values


def parse_annotated(line: str, intent: str) -> Example:
    """``"add [2](quantity) [samosa](product)"`` → plain text plus entity spans."""
    try:
        text, spans = parse_markup(line)
    except MarkupError as exc:
        raise NluFormatError(str(exc)) from exc
    return Example(text, intent, spans)


def _example_lines(block: object, where: str) -> Iterator[str]:
    if isinstance(block, list):  # some tools write a YAML list instead of a text block
        items: Iterable[object] = block
    elif isinstance(block, str):
        items = block.splitlines()
    else:
        raise NluFormatError(f"{where}: 'examples' must be a '|' block of '- ' lines")
    for raw in items:
        line = str(raw).strip()
        if not line:
            continue
        if isinstance(block, str):
            if not line.startswith("-"):
                raise NluFormatError(f"{where}: example line must start with '- ': {line!r}")
            line = line[1:].strip()
        if line:
            yield line


def read_nlu_data(text: str, source: str = "<string>") -> NluData:
    """Parse Rasa 3.x NLU YAML text (``version`` + ``nlu:`` entries)."""
    try:
        doc = yaml.load(text, Loader=_Loader)  # noqa: S506 - safe loader (C or Python)
    except yaml.YAMLError as exc:
        raise NluFormatError(f"{source}: not valid YAML: {exc}") from exc
    if doc is None:
        return NluData((), {}, {})
    if not isinstance(doc, dict):
        raise NluFormatError(f"{source}: expected a mapping with an 'nlu' list")
    entries = doc.get("nlu") or []
    if not isinstance(entries, list):
        raise NluFormatError(f"{source}: 'nlu' must be a list")
    examples: list[Example] = []
    synonyms: dict[str, list[str]] = {}
    lookups: dict[str, list[str]] = {}
    for n, entry in enumerate(entries, 1):
        where = f"{source}: nlu entry {n}"
        if not isinstance(entry, dict):
            raise NluFormatError(f"{where}: expected a mapping")
        block = entry.get("examples", "")
        if "intent" in entry:
            intent = str(entry["intent"])
            examples.extend(parse_annotated(line, intent) for line in _example_lines(block, where))
        elif "synonym" in entry:
            synonyms.setdefault(str(entry["synonym"]), []).extend(_example_lines(block, where))
        elif "lookup" in entry:
            lookups.setdefault(str(entry["lookup"]), []).extend(_example_lines(block, where))
        # regex entries and anything else Rasa knows are not needed here: ignored
    return NluData(
        tuple(examples),
        {k: tuple(v) for k, v in synonyms.items()},
        {k: tuple(v) for k, v in lookups.items()},
    )


def load_rasa_nlu(path: str | Path) -> list[Example]:
    """Every intent example in a Rasa NLU YAML file (the ``haat nlu eval`` truth file)."""
    p = Path(path)
    return list(read_nlu_data(p.read_text(encoding="utf-8"), str(p)).examples)


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_YAML_WORDS = frozenset(("y", "n", "yes", "no", "true", "false", "on", "off", "null"))


def _quote_key(value: str) -> str:
    """A YAML scalar for an intent name or sku: plain when safe, else a JSON string."""
    if _PLAIN_KEY.fullmatch(value) and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value, ensure_ascii=False)


def dump_nlu_data(
    examples: Iterable[Example],
    synonyms: Mapping[str, Sequence[str]] | None = None,
    lookups: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """Rasa 3.x NLU YAML, one ``examples: |`` block per intent, in INTENTS order."""
    by_intent: dict[str, list[str]] = {}
    for ex in examples:
        line = " ".join(ex.annotated().split())  # a newline would end the example
        if line:
            by_intent.setdefault(ex.intent, [])
            if line not in by_intent[ex.intent]:
                by_intent[ex.intent].append(line)
    order = [i for i in INTENTS if i in by_intent] + sorted(set(by_intent) - set(INTENTS))
    out = [f'version: "{RASA_VERSION}"', "", "nlu:"]

    def block(kind: str, name: str, lines: Iterable[str]) -> None:
        out.append(f"- {kind}: {_quote_key(name)}")
        out.append("  examples: |")
        out.extend(f"    - {line}" for line in lines)

    for intent in order:
        block("intent", intent, by_intent[intent])
    for value, words in (synonyms or {}).items():
        clean = [w for w in dict.fromkeys(" ".join(w.split()) for w in words) if w]
        if clean:
            block("synonym", value, clean)
    for name, values in (lookups or {}).items():
        clean = [v for v in dict.fromkeys(" ".join(v.split()) for v in values) if v]
        if clean:
            block("lookup", name, clean)
    return "\n".join(out) + "\n"


def builtin_examples() -> list[Example]:
    """The shipped training data, every language file in ``bot/nlu/data``."""
    return list(_builtin_cache())


@functools.cache  # the files ship with the package: read once per process
def _builtin_cache() -> tuple[Example, ...]:
    examples: list[Example] = []
    for path in sorted(DATA_DIR.glob("*.yml")):
        examples.extend(read_nlu_data(path.read_text(encoding="utf-8"), str(path)).examples)
    return tuple(examples)


# Templates per language for catalog-generated examples. {n} is a product name in that
# language, {q} a quantity. Romanised Hindi uses the English/alias names.
_TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "product_price": ("how much is {n}", "price of {n}?", "{n} price", "what does {n} cost"),
        "add_to_cart": ("{q} {n}", "add {q} {n}", "i want {q} {n}", "{n} please", "give me {n}"),
        "search_product": ("do you have {n}?", "is {n} available", "any {n} today?"),
        "product_info": ("tell me about {n}", "what is in {n}?", "what's {n}"),
        "remove_from_cart": ("remove {n}", "no {n} please remove it", "take out the {n}"),
    },
    "hinglish": {
        "product_price": ("{n} kitne ka hai", "{n} ka rate kya hai", "{n} ka daam"),
        "add_to_cart": ("{q} {n} dena", "{q} {n} chahiye", "{n} de do"),
        "search_product": ("{n} hai kya?", "{n} milega?"),
        "product_info": ("{n} ki details", "{n} ke baare mein batao"),
        "remove_from_cart": ("{n} hata do", "{n} nahi chahiye cart se nikalo"),
    },
    "hi": {
        "product_price": ("{n} कितने का है", "{n} का दाम क्या है", "{n} की कीमत"),
        "add_to_cart": ("{q} {n} दीजिए", "{q} {n} चाहिए", "{n} दे दो"),
        "search_product": ("{n} है क्या?", "क्या {n} मिलेगा?"),
        "product_info": ("{n} के बारे में बताओ", "{n} में क्या है"),
        "remove_from_cart": ("{n} हटा दो", "कार्ट से {n} निकालो"),
    },
    "bn": {
        "product_price": ("{n} এর দাম কত", "{n} কত টাকা", "{n} দাম কত?"),
        "add_to_cart": ("{q}টা {n} দিন", "{q} {n} চাই", "{n} দিন"),
        "search_product": ("{n} আছে?", "আপনাদের কাছে {n} পাওয়া যায়?"),
        "product_info": ("{n} সম্পর্কে বলুন", "{n} তে কী আছে"),
        "remove_from_cart": ("{n} বাদ দিন", "কার্ট থেকে {n} সরান"),
    },
    "ar": {
        "product_price": ("بكم {n}", "كم سعر {n}؟", "ما سعر {n}"),
        "add_to_cart": ("أريد {q} {n}", "أضف {q} {n}", "{n} من فضلك"),
        "search_product": ("هل عندكم {n}؟", "هل يوجد {n}"),
        "product_info": ("ما هو {n}", "أخبرني عن {n}"),
        "remove_from_cart": ("احذف {n}", "أزل {n} من السلة"),
    },
}
_NAME_LANG = {"en": "en", "hinglish": "en", "hi": "hi", "bn": "bn", "ar": "ar"}


def _fill(template: str, name: str, sku: str, qty: int) -> Example:
    """Fill a template, recording the product (and quantity) spans."""
    text = ""
    spans: list[Span] = []
    for part in re.split(r"(\{[nq]\})", template):
        if part == "{n}":
            spans.append(Span(len(text), len(text) + len(name), "product", sku))
            text += name
        elif part == "{q}":
            spans.append(Span(len(text), len(text) + len(str(qty)), "quantity", str(qty)))
            text += str(qty)
        else:
            text += part
    return Example(text, "", tuple(spans))


def catalog_examples(
    shop: Shop, per_language: int = CATALOG_EXAMPLES_PER_LANGUAGE, seed: int = 7
) -> list[Example]:
    """Examples such as "how much is Masala Chai" for the shop's products, capped per language.

    Deterministic (seeded) so a restart trains the same model.
    """
    rng = random.Random(seed)
    out: list[Example] = []
    products = shop.catalog.products
    for group, by_intent in _TEMPLATES.items():
        lang = _NAME_LANG[group]
        names: list[tuple[str, str]] = []
        for p in products:
            if lang in p.name.by_lang:
                names.append((p.name.by_lang[lang], p.sku))
            if lang == "en":
                names.extend((alias, p.sku) for alias in p.aliases)
        if not names:
            continue
        pairs = [(intent, t) for intent, ts in by_intent.items() for t in ts]
        count = min(per_language, max(len(pairs), len(names) * 2))
        for k in range(count):
            intent, template = pairs[k % len(pairs)]
            name, sku = names[rng.randrange(len(names))]
            ex = _fill(template, name, sku, rng.choice((1, 2, 3, 4, 5, 10)))
            out.append(Example(ex.text, intent, ex.spans))
    return out


def shop_examples(shop: Shop) -> list[Example]:
    """The shop's own ``nlu.yml`` examples (already read by the catalog loader)."""
    return [
        parse_annotated(line, intent)
        for intent, lines in shop.nlu_examples.items()
        for line in lines
    ]


def training_examples(shop: Shop, extra: Iterable[Example] = ()) -> list[Example]:
    """Everything the built-in classifier and the Rasa export learn from for a shop."""
    return [*builtin_examples(), *shop_examples(shop), *catalog_examples(shop), *extra]


def product_synonyms(shop: Shop) -> dict[str, tuple[str, ...]]:
    """sku → every name and alias, for Rasa's EntitySynonymMapper."""
    return {p.sku: tuple(dict.fromkeys(p.names())) for p in shop.catalog.products}
