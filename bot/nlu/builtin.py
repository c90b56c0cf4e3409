"""The default intent engine: a multinomial logistic regression trained at start-up.

Why this model. Shopper messages are short (2–8 words), in four scripts plus romanised
Hindi, full of spelling variants ("kitne"/"kitna", "দাম"/"দামটা") and code-mixing. A linear
model over character n-grams handles exactly that: n-grams of 2–4 characters inside word
boundaries ("char_wb") match across inflections and typos in every script without a
tokenizer or stemmer per language, and word unigrams/bigrams add the phrase cues ("how
much", "kitne ka"). Multinomial logistic regression gives calibrated-enough probabilities
for a low-confidence threshold (a linear SVM's margins do not) and, unlike naive Bayes,
copes with the heavily correlated n-gram features. It is trained by plain SGD in pure
Python: the data is ~2,000 de-duplicated sentences, and each update touches only the rows
of the features present and only the classes with a real gradient, so eight epochs take well
under a second; no numpy or scikit-learn (docs/DESIGN.md §4a: sklearn's per-message
``predict`` costs ~550 µs, the same model scored in Python ~43 µs).

Generalisation, not memorisation: product names are replaced by one placeholder token
(``§``) before features are taken — annotated spans at training time, catalog matches and
the entity extractor's product spans at parse time — and digits in any script become
``#``. The model therefore learns "how much is §" once and applies it to every product of
every shop, and catalog size only changes which words get masked, never training time.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import random
import re
import struct
import time
import unicodedata
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from bot.language import detect_language, language_switch_request
from bot.nlu.base import (
    INTENTS,
    LOW_CONFIDENCE,
    Entity,
    ItemMention,
    ParseContext,
    Understanding,
    put_first,
)
from bot.nlu.entities import Extraction, extract, order_intent
from bot.nlu.training import Example, training_examples
from catalog.search import ProductIndex
from catalog.translit import sound_key
from config.plugins import Option

if TYPE_CHECKING:
    from bot.nlu.registry import BackendOptions
    from catalog.models import Catalog, Shop

# Below this top-intent probability the bot should ask rather than act. Chosen on the
# labelled test set: ~99% of correct answers are above it, ~40% of wrong ones below.
# intents whose handlers read no entity: a confident one skips entity extraction ("deny"
# is not one: "no samosa today" names what is refused, and "nahi, 2 samosa do" orders)
NO_ENTITY_INTENTS = frozenset({"greet", "goodbye", "thanks", "affirm", "browse_catalog",
                               "view_cart", "checkout", "business_hours", "delivery_info",
                               "human_handoff"})
# ...when it is this sure: below, the extractor still looks, since an unmasked misspelt product
# ("मुझे 5 किलो आलु चाहिए") pulls a sentence towards human_handoff or browse_catalog
SKIP_EXTRACTION = 0.70
PLACEHOLDER = "§"  # a product mention
DIGIT = "#"  # any digit in any script; runs collapse to one
MAX_CLASSIFY_CHARS = 400  # the intent of a 4,000-character message is in its start
MAX_ENTITY_CHARS = 1000  # nobody orders past the first thousand characters
RANKING_SIZE = 10  # as many as Rasa's intent_ranking

_SHORTCUT = re.compile(
    r"^/(?P<intent>[A-Za-z_][\w-]*)(?:@(?P<conf>[0-9.]+))?(?P<ents>\{.*\})?$", re.S
)
_ARABIC_FOLD = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"}
_KEEP_AS_TOKEN = {"?": " ? ", "؟": " ? ", "!": " ! ", PLACEHOLDER: f" {PLACEHOLDER} "}


_CHARS_KEPT = 8192  # distinct characters remembered; a message of rarer ones is still right


class _CharMap(dict[int, str | None]):
    """``str.translate`` table built lazily: one dict hit per character after the first.

    A memo of a pure function of one code point (the same for every app, like a
    ``functools`` cache, which ``str.translate`` cannot call), capped so that text in every
    script Unicode has cannot grow it without bound.
    """

    def __missing__(self, code: int) -> str | None:
        ch = chr(code)
        out: str | None
        if ch in _KEEP_AS_TOKEN:
            out = _KEEP_AS_TOKEN[ch]
        elif ch in _ARABIC_FOLD:
            out = _ARABIC_FOLD[ch]
        elif unicodedata.decimal(ch, None) is not None:
            out = DIGIT
        else:
            cat = unicodedata.category(ch)
            if cat == "Mn" and ("\u064b" <= ch <= "\u065f" or ch in "\u0670\u0640"):
                out = None  # Arabic harakat and tatweel carry no intent
            elif cat[0] in "LMN" or ch == "'":
                out = ch
            elif cat == "So":
                out = f" {ch} "  # emoji: 👍 and 🙏 mean something
            elif ch == "\u0640":
                out = None
            else:
                out = " "  # punctuation, spaces, symbols, the danda
        if len(self) < _CHARS_KEPT:
            self[code] = out
        return out


_CHARS = _CharMap()
_PREFIXES = ("ال", "بال", "وال")
_SUFFIXES = ("es", "s", "ের", "এর", "র", "টা", "টি", "গুলো", "য়", "ে", "ों", "े")
_HI_OBLIQUE = ("े", "ों", "ें")
_DIGIT_RUN = re.compile(f"{DIGIT}+")


def normalize_tokens(text: str) -> list[str]:
    """NFKC, casefold, fold Arabic letter variants, digits → ``#``, split into tokens."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_CHARS)
    if DIGIT in text:
        text = _DIGIT_RUN.sub(DIGIT, text)
    return text.split()


class ProductMasker:
    """Replaces known product names (token sequences, longest first) with ``§``.

    A token trie over the normalised names and aliases of the catalog plus the product words
    annotated in the training data; a Latin plural "s"/"es" still matches.
    """

    __slots__ = ("_sounds", "_trie")

    def __init__(self, names: Iterable[str], sounds: bool = True) -> None:
        self._trie: dict[str, object] = {}
        # the same names by sound key (catalog.translit), so a spelling the catalog lacks
        # (आलू/आलु, গুলাব ज़ामुन without its nukta, মীনারেল) is still masked: unmasked, an
        # unknown word in "मुझे ... चाहिए" reads as a request for a human
        self._sounds: dict[str, object] = {}
        for name in names:
            toks = [t for t in normalize_tokens(name) if t != PLACEHOLDER]
            if not toks or all(t == DIGIT for t in toks):
                continue
            node: dict[str, object] = self._trie
            for tok in toks:
                node = node.setdefault(tok, {})  # type: ignore[assignment]
            node[""] = True
            keys = [_sound(t) for t in toks] if sounds else []
            if keys and all(len(k) >= 4 for k in keys):
                node = self._sounds
                for key in keys:
                    node = node.setdefault(key, {})  # type: ignore[assignment]
                node[""] = True

    def _child(self, node: Mapping[str, object], tok: str) -> dict[str, object] | None:
        child = node.get(tok)
        if child is None and len(tok) > 3:
            # Inflections a name takes in a sentence: "samosas", "রসগোল্লার", "কফিটা",
            # "السمبوسة" (article): try the bare word before giving up.
            for prefix in _PREFIXES:
                if tok.startswith(prefix) and (child := node.get(tok[len(prefix) :])):
                    break
            else:
                for suffix in _SUFFIXES:
                    if tok.endswith(suffix) and (child := node.get(tok[: -len(suffix)])):
                        break
                else:
                    for suffix in _HI_OBLIQUE:  # अंडे, समोसों: the -ा noun's plural forms
                        if tok.endswith(suffix) and (
                                child := node.get(tok[: -len(suffix)] + "ा")):
                            break
        return child  # type: ignore[return-value]

    def _walk(self, tokens: list[str], i: int) -> int:
        """The end of the longest name starting at token i, or -1."""
        n = len(tokens)
        node = self._child(self._trie, tokens[i])
        end = -1
        j = i
        while node is not None:
            j += 1
            if "" in node:
                end = j
            if j >= n:
                break
            node = self._child(node, tokens[j])
        if end > 0 or not self._sounds or len(tokens[i]) < 4 or tokens[i].isascii():
            return end
        sound: dict[str, object] | None = self._sounds
        j = i
        while sound is not None and j < n:
            sound = sound.get(_sound(tokens[j]))  # type: ignore[assignment]
            j += 1
            if sound is not None and "" in sound:
                end = j
        return end

    def mask(self, tokens: list[str]) -> list[str]:
        out: list[str] = []
        i, n = 0, len(tokens)
        while i < n:
            end = self._walk(tokens, i)
            if end > 0:
                if not out or out[-1] != PLACEHOLDER:
                    out.append(PLACEHOLDER)
                i = end
            else:
                out.append(tokens[i])
                i += 1
        return out


def _sound(token: str) -> str:
    """A token's sound key within its script (बात is not ভাত); digits and § stay as they are.

    Latin tokens get none: romanised spellings vary too freely to mask by sound.
    """
    if token in (DIGIT, PLACEHOLDER) or token.isascii():
        return token
    return f"{ord(token[0]) >> 7}:{sound_key(token)}"


def mask_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """Replace character spans (product mentions) by the placeholder."""
    out: list[str] = []
    pos = 0
    for start, end in sorted(spans):
        if start < pos or start < 0 or end > len(text):
            continue
        out.append(text[pos:start])
        out.append(f" {PLACEHOLDER} ")
        pos = end
    out.append(text[pos:])
    return "".join(out)


def features(tokens: Sequence[str]) -> set[str]:
    """Word uni/bigrams with sentence boundaries and char 2–4-grams inside word boundaries."""
    feats = {"^bias"}
    prev = "^"
    for tok in tokens:
        feats.add("w" + tok)
        feats.add("b" + prev + " " + tok)
        prev = tok
        if len(tok) > 1 or tok == PLACEHOLDER:
            feats.update(_cached_grams(tok) if len(tok) <= 24 else _char_grams(tok))
    feats.add("b" + prev + " $")
    return feats


def _char_grams(tok: str) -> tuple[str, ...]:
    padded = f" {tok} "
    last = len(padded)
    return tuple(padded[k : k + size] for size in (2, 3, 4) for k in range(last - size + 1))


# a shop's vocabulary is small: each everyday word is cut up once (bounded in count and size)
_cached_grams = functools.lru_cache(maxsize=20_000)(_char_grams)


# Scoring adds one weight row per active feature: ~60 rows of 21 floats per message, the
# dearest step of a parse in pure Python. Each row is also kept as one packed integer, every
# class's weight a 64-bit fixed-point field (offset so it is never negative), so the rows of a
# message add up in a handful of C-level big-integer additions and unpack with one struct
# call. 2**-32 resolution: the scores match float sums to ~1e-9, far below any decision.
_FRACTION = float(1 << 32)
_OFFSET = 1 << 40  # |weight| < 256; up to 2**23 features per message before a field overflows


_NO_LAYOUT = struct.Struct("<0Q")  # replaced in __post_init__ by one field per class


def _pack(row: Sequence[float]) -> int:
    packed = 0
    for position, weight in enumerate(row):
        packed |= (round(weight * _FRACTION) + _OFFSET) << (64 * position)
    return packed


@dataclass(frozen=True, slots=True)
class LinearModel:
    """Weights as one row of per-class floats per known feature (and packed, see _pack)."""

    classes: tuple[str, ...]
    index: Mapping[str, int]
    rows: tuple[list[float], ...]
    packed: tuple[int, ...] = ()
    _layout: struct.Struct = _NO_LAYOUT

    def __post_init__(self) -> None:
        if not self.packed:
            object.__setattr__(self, "packed", tuple(_pack(row) for row in self.rows))
        object.__setattr__(self, "_layout", struct.Struct(f"<{len(self.classes)}Q"))

    def scores(self, feats: Iterable[str]) -> list[float]:
        index, packed = self.index, self.packed
        active = [packed[i] for f in feats if (i := index.get(f)) is not None]
        if not active:
            return [0.0] * len(self.classes)
        count = len(active)
        layout = self._layout
        fields = layout.unpack(sum(active).to_bytes(layout.size, "little"))
        offset = count * _OFFSET
        scale = 1.0 / (math.sqrt(count) * _FRACTION)
        return [(field - offset) * scale for field in fields]

    def probabilities(self, feats: Iterable[str]) -> list[float]:
        return softmax(self.scores(feats))


def softmax(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def train_linear(
    samples: Sequence[tuple[frozenset[str], int]],
    n_classes: int,
    epochs: int = 8,
    learning_rate: float = 1.2,
    seed: int = 13,
) -> tuple[dict[str, int], list[list[float]]]:
    """SGD on the softmax cross-entropy; sparse updates, L2-normalised binary features.

    Features seen only once are dropped first: they are mostly typos and fragments of a
    single sentence and would just let the model memorise it.
    """
    counts: dict[str, int] = {}
    for feats, _ in samples:
        for f in feats:
            counts[f] = counts.get(f, 0) + 1
    index: dict[str, int] = {}
    for f, c in counts.items():
        if c > 1 or f.startswith("w"):
            index[f] = len(index)
    rows = [[0.0] * n_classes for _ in range(len(index))]
    encoded = [([rows[index[f]] for f in feats if f in index], y) for feats, y in samples]
    order = list(range(len(encoded)))
    rng = random.Random(seed)
    step = 0
    classes = range(n_classes)
    for _ in range(epochs):
        rng.shuffle(order)
        for k in order:
            active, y = encoded[k]
            if not active:
                continue
            scale = 1.0 / math.sqrt(len(active))
            scores = [sum(col) * scale for col in zip(*active, strict=True)]
            probs = softmax(scores)
            lr = learning_rate / (1.0 + step * 2e-5)
            step += 1
            for c in classes:
                grad = probs[c] - (1.0 if c == y else 0.0)
                if -1e-2 < grad < 1e-2:
                    continue
                delta = -lr * scale * grad
                for row in active:
                    row[c] += delta
    return index, rows


@dataclass(frozen=True, slots=True)
class TrainedModel:
    model: LinearModel
    product_words: tuple[str, ...]  # product words annotated in the training data
    seconds: float
    n_examples: int


log = logging.getLogger(__name__)

def _prepared(example: Example, masker: ProductMasker) -> list[str]:
    spans = [(s.start, s.end) for s in example.spans if s.type == "product"]
    return masker.mask(normalize_tokens(mask_spans(example.text, spans)))


MODEL_FORMAT = b"haat-intent-model/1\n"


def _model_file(cache_dir: Path, key: tuple[tuple[str, str], ...]) -> Path:
    digest = hashlib.sha256(MODEL_FORMAT)
    for text, intent in key:
        digest.update(f"{intent}\t{text}\n".encode())
    digest.update(",".join(INTENTS).encode())
    return cache_dir / f"intent-{digest.hexdigest()[:32]}.bin"


def save_model(path: Path, trained: TrainedModel) -> None:
    """Our own compact binary format (never pickle): header, feature names, float64 rows."""
    model = trained.model
    names = [""] * len(model.index)
    for name, i in model.index.items():
        names[i] = name
    header = json.dumps({"classes": list(model.classes), "features": len(names),
                         "product_words": list(trained.product_words),
                         "n_examples": trained.n_examples}).encode()
    blob = "\n".join(names).encode()
    weights = array("d", (w for row in model.rows for w in row))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with tmp.open("wb") as out:
        out.write(MODEL_FORMAT)
        out.write(struct.pack("<II", len(header), len(blob)))
        out.write(header)
        out.write(blob)
        out.write(weights.tobytes())
    tmp.replace(path)  # atomic: a concurrent reader sees the old file or the new one


def load_model(path: Path) -> TrainedModel | None:
    """A saved model, or None when the file is missing, foreign or damaged."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    began = time.perf_counter()
    try:
        if not data.startswith(MODEL_FORMAT):
            return None
        at = len(MODEL_FORMAT)
        header_len, blob_len = struct.unpack_from("<II", data, at)
        at += 8
        header = json.loads(data[at:at + header_len])
        at += header_len
        names = data[at:at + blob_len].decode().split("\n")
        at += blob_len
        classes = tuple(header["classes"])
        if classes != INTENTS or len(names) != header["features"]:
            return None
        weights = array("d")
        weights.frombytes(data[at:])
        width = len(classes)
        if len(weights) != width * len(names):
            return None
        flat = weights.tolist()
        rows = tuple(flat[i * width:(i + 1) * width] for i in range(len(names)))
    except (ValueError, KeyError, struct.error, UnicodeDecodeError):
        return None
    return TrainedModel(LinearModel(classes, {n: i for i, n in enumerate(names)}, rows),
                        tuple(header["product_words"]), time.perf_counter() - began,
                        int(header["n_examples"]))


def train_model(examples: Sequence[Example], catalog_names: Iterable[str] = (),
                cache_dir: Path | None = None) -> TrainedModel:
    """Train on examples (Rasa-annotated), masking annotated and catalog product names.

    The same normalised data gives the same model, so a cache keyed by it makes a second
    shop, a reload that changed only prices, or a test suite, train once.
    """
    product_words = sorted(
        {ex.text[s.start : s.end] for ex in examples for s in ex.spans if s.type == "product"}
    )
    # training text names products as the data spells them: the exact trie masks them all
    # (and the model, its cache key and its training time stay those of the exact trie)
    masker = ProductMasker([*product_words, *catalog_names], sounds=False)
    unique: dict[tuple[str, str], None] = {}
    for ex in examples:
        if ex.intent in INTENTS:
            unique[(" ".join(_prepared(ex, masker)), ex.intent)] = None
    return _trained(tuple(unique), tuple(product_words), cache_dir)


@functools.lru_cache(maxsize=8)  # pure: the same training data gives the same model
def _trained(key: tuple[tuple[str, str], ...], product_words: tuple[str, ...],
             cache_dir: Path | None) -> TrainedModel:
    """The model of exactly this training data: from ``cache_dir`` when a restart finds it
    there (same data, same model: no retraining), else trained (and saved there)."""
    began = time.perf_counter()
    path = _model_file(cache_dir, key) if cache_dir is not None else None
    if path is not None and (loaded := load_model(path)) is not None:
        return loaded
    class_of = {name: i for i, name in enumerate(INTENTS)}
    samples = [(frozenset(features(text.split())), class_of[intent]) for text, intent in key]
    index, rows = train_linear(samples, len(INTENTS))
    trained = TrainedModel(
        LinearModel(INTENTS, index, tuple(rows)),
        product_words,
        time.perf_counter() - began,
        len(samples),
    )
    if path is not None:
        try:
            save_model(path, trained)
        except OSError as exc:
            log.warning("could not cache the trained intent model: %s", type(exc).__name__)
    return trained


forget_trained_models = _trained.cache_clear  # as a new process would start (tests, bench)


def parse_shortcut(text: str, shop: Shop, language: str) -> Understanding | None:
    """Rasa's ``/intent{"entity": "value"}`` (button payloads): exact, confidence 1.0.

    ``None`` when the text is not a shortcut for one of our intents.
    """
    m = _SHORTCUT.match(text.strip())
    if m is None or m.group("intent") not in INTENTS:
        return None
    confidence = 1.0
    if m.group("conf"):
        try:
            confidence = min(1.0, max(0.0, float(m.group("conf"))))
        except ValueError:
            return None
    entities: list[Entity] = []
    if m.group("ents"):
        try:
            raw = json.loads(m.group("ents"))
        except json.JSONDecodeError:
            return None
        if not isinstance(raw, dict):
            return None
        for kind, value in raw.items():
            for v in value if isinstance(value, list) else [value]:
                entities.append(Entity(str(kind), str(v)))
    items: list[ItemMention] = []
    qty_text = next((e.value for e in entities if e.type == "quantity"), None)
    qty = int(qty_text) if qty_text is not None and qty_text.isdigit() else None
    for e in entities:
        if e.type == "product" and shop.catalog.find_sku(e.value) is not None:
            items.append(ItemMention(e.value, qty or 1, qty is not None, e.value))
    intent = m.group("intent")
    return Understanding(
        intent, confidence, language, ((intent, confidence),), tuple(entities), tuple(items)
    )


# Extractions remembered per catalog: chat repeats itself ("2 samosa", "menu dikhao"), and an
# Extraction is immutable and depends only on the text, the index and the currency.
_EXTRACTION_MEMO = 2048
_CATALOGS_KEPT = 32


class CatalogExtractor:
    """One catalog's product index and the extractions of the texts it saw lately."""

    __slots__ = ("_memo", "catalog", "index")

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.index = ProductIndex.build(catalog)
        self._memo: dict[tuple[str, str], Extraction] = {}

    def extraction(self, text: str, currency: str) -> Extraction:
        """Entities, items and the words that matched no product (shared by all backends)."""
        key = (text[:MAX_ENTITY_CHARS], currency)
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= _EXTRACTION_MEMO:
                self._memo.clear()
            found = self._memo[key] = extract(key[0], self.index, currency)
        return found

    def forget(self) -> None:
        """Drop the remembered extractions (bench/growth.py times first-seen texts)."""
        self._memo.clear()


class Extractors:
    """The app's :class:`CatalogExtractor` of each catalog object (the latest 32): built in
    ``create_app`` and handed to every backend, so a reload that kept a shop's catalog keeps
    its index and memory, and two apps share neither."""

    __slots__ = ("_by_catalog",)

    def __init__(self) -> None:
        # per app, not functools.lru_cache (one per process): two apps share no index
        self._by_catalog: OrderedDict[int, CatalogExtractor] = OrderedDict()

    def for_catalog(self, catalog: Catalog) -> CatalogExtractor:
        """This catalog's extractor, built once per catalog object (a reload makes a new one)."""
        hit = self._by_catalog.get(id(catalog))
        if hit is not None and hit.catalog is catalog:
            return hit
        entry = self._by_catalog[id(catalog)] = CatalogExtractor(catalog)
        while len(self._by_catalog) > _CATALOGS_KEPT:
            self._by_catalog.popitem(last=False)
        return entry

    def extraction(self, text: str, shop: Shop) -> Extraction:
        """The extraction of ``text`` against ``shop``'s catalog and currency."""
        return self.for_catalog(shop.catalog).extraction(text, shop.currency)


def message_language(text: str, context: ParseContext) -> str:
    """This message's language: detected, else the conversation's, else the shop's first."""
    return detect_language(text) or context.language or context.shop.default_language


def _catalog_names(catalog: Catalog) -> list[str]:
    names: list[str] = []
    for p in catalog.products:
        names.extend(p.names())
        names.extend(n for o in p.options for n in o.name.all())
    return names


class BuiltinBackend:
    """In-process intent classifier; ``parse`` costs tens of microseconds."""

    name: ClassVar[str] = "builtin"
    capabilities: ClassVar[frozenset[str]] = frozenset({"in_process"})
    options: ClassVar[tuple[Option, ...]] = ()

    @classmethod
    def create(cls, shop: Shop, env: Mapping[str, str],
               options: BackendOptions) -> BuiltinBackend:
        """The registry's constructor (bot/nlu/registry.py)."""
        return cls.train(shop, cache_dir=options.model_cache, extractors=options.extractors)

    def __init__(self, trained: TrainedModel, shop: Shop,
                 extractors: Extractors | None = None) -> None:
        self.trained = trained
        self._extractors = extractors or Extractors()
        self._model = trained.model
        self._masker = ProductMasker([*trained.product_words, *_catalog_names(shop.catalog)])

    @classmethod
    def train(cls, shop: Shop, extra_examples: Iterable[Example] = (),
              cache_dir: Path | None = None,
              extractors: Extractors | None = None) -> BuiltinBackend:
        """Train on the shipped data, the shop's nlu.yml and catalog-generated examples.

        With ``cache_dir`` the trained weights are kept on disk under a hash of the exact
        training data, so a restart with unchanged data loads them instead of retraining.
        """
        examples = training_examples(shop, extra_examples)
        return cls(train_model(examples, _catalog_names(shop.catalog), cache_dir), shop,
                   extractors)

    def classify(self, text: str) -> tuple[tuple[str, float], ...]:
        """The ranking (best first) for a text; synchronous, tens of microseconds.

        Products are masked with the exact name trie only (inflections included): fuzzy
        search costs more than the whole classification and, measured on the test set,
        changes nothing, while its loose matches ("see" → a chai) would hide intent words.
        """
        tokens = self._masker.mask(normalize_tokens(text[:MAX_CLASSIFY_CHARS]))
        if not tokens:
            return (("out_of_scope", 1.0),)
        probs = self._model.probabilities(features(tokens))
        # highest first, ties in class order (a reversed sort is stable too); a C-level key
        ranked = sorted(zip(self._model.classes, probs, strict=True), key=itemgetter(1),
                        reverse=True)
        return tuple(ranked[:RANKING_SIZE])

    async def parse(self, text: str, context: ParseContext) -> Understanding:
        return self.parse_sync(text, context)

    def parse_sync(self, text: str, context: ParseContext) -> Understanding:
        language = message_language(text, context)
        shortcut = parse_shortcut(text, context.shop, language)
        if shortcut is not None:
            return shortcut
        ranking = self.classify(text)
        intent, confidence = ranking[0]
        if intent in NO_ENTITY_INTENTS and confidence >= SKIP_EXTRACTION:
            # "hi", "menu", "cart", "checkout": nothing to extract, and extraction (catalog
            # search over the whole text) is the dearest part of a parse
            entities: tuple[Entity, ...] = _with_language(text, ())
            items: tuple[ItemMention, ...] = ()
            unmatched: tuple[str, ...] = ()
        else:  # the extractor adds the language entity itself
            found = self._extractors.extraction(text, context.shop)
            entities, items, unmatched = found.entities, found.items, found.unmatched
            spans = list(found.product_spans)  # "2 roll" too, which names no one product
            if confidence < LOW_CONFIDENCE and spans:
                # the name trie knows whole names; the extractor also finds a product by
                # one word it alone owns ("مناقيش" of "مناقيش زعتر"): mask those and ask again
                ranking = self.classify(mask_spans(text, spans))
                intent, confidence = ranking[0]
            intent = order_intent(intent, text, found)
            ranking = put_first(ranking, intent)
        return Understanding(intent, confidence, language, ranking, entities, items, unmatched)


def _with_language(text: str, entities: tuple[Entity, ...]) -> tuple[Entity, ...]:
    """Add a ``language`` entity for "Hindi please" / "বাংলা" if the extractor did not."""
    if any(e.type == "language" for e in entities):
        return entities
    wanted = language_switch_request(text)
    return entities if wanted is None else (*entities, Entity("language", wanted))


def build_builtin(shop: Shop, extra_examples: Iterable[Example] = (),
                  cache_dir: Path | None = None,
                  extractors: Extractors | None = None) -> BuiltinBackend:
    """The registry's factory for the built-in backend."""
    return BuiltinBackend.train(shop, extra_examples, cache_dir, extractors)
