"""Evaluation for ``haat nlu eval``: intents (accuracy, macro-F1, per-intent scores,
confusions) and, on the labelled extraction corpus, products, quantities and carts.

Macro-F1 (the unweighted mean of per-intent F1) is the headline beside accuracy because the
rare intents (tip, cancel_order) matter as much as the common ones: a model that never says
``cancel_order`` is broken however accurate it looks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.nlu.base import INTENTS, IntentBackend, ParseContext, Understanding
from bot.nlu.cart_plan import base_is_default, plan_items, planned_cart
from bot.nlu.entities import sold_by_amount
from bot.nlu.training import Example
from catalog.models import Catalog, Product, Shop
from catalog.nlu_markup import Span


@dataclass(frozen=True, slots=True)
class IntentScore:
    intent: str
    precision: float
    recall: float
    f1: float
    support: int  # how many test examples carry this intent


@dataclass(frozen=True, slots=True)
class Mistake:
    text: str
    expected: str
    predicted: str
    confidence: float


@dataclass(frozen=True, slots=True)
class EvalReport:
    n: int
    accuracy: float
    macro_f1: float
    per_intent: tuple[IntentScore, ...]
    confusions: tuple[tuple[str, str, int], ...]  # (expected, predicted, count), most first
    mistakes: tuple[Mistake, ...]


def score(pairs: Sequence[tuple[str, str]]) -> tuple[float, float, tuple[IntentScore, ...]]:
    """Accuracy, macro-F1 and per-intent scores for (expected, predicted) pairs.

    Macro-F1 averages over the intents present in the truth; a predicted intent that never
    occurs in the truth lowers the precision of nothing, as in scikit-learn's ``labels=`` use.
    """
    if not pairs:
        return 0.0, 0.0, ()
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for expected, predicted in pairs:
        if expected == predicted:
            tp[expected] += 1
        else:
            fp[predicted] += 1
            fn[expected] += 1
    labels = sorted({e for e, _ in pairs})
    scores: list[IntentScore] = []
    for label in labels:
        p = tp[label] / (tp[label] + fp[label]) if tp[label] + fp[label] else 0.0
        r = tp[label] / (tp[label] + fn[label]) if tp[label] + fn[label] else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        scores.append(IntentScore(label, p, r, f1, tp[label] + fn[label]))
    accuracy = sum(tp.values()) / len(pairs)
    macro = sum(s.f1 for s in scores) / len(scores)
    return accuracy, macro, tuple(scores)


async def evaluate(backend: IntentBackend, examples: Sequence[Example], shop: Shop) -> EvalReport:
    """Parse every example (as a fresh conversation in ``shop``) and score the intents."""
    context = ParseContext(shop=shop)
    pairs: list[tuple[str, str]] = []
    mistakes: list[Mistake] = []
    for ex in examples:
        result = await backend.parse(ex.text, context)
        pairs.append((ex.intent, result.intent))
        if result.intent != ex.intent:
            mistakes.append(Mistake(ex.text, ex.intent, result.intent, result.confidence))
    accuracy, macro, per_intent = score(pairs)
    confusions = Counter((e, p) for e, p in pairs if e != p)
    ordered = sorted(confusions.items(), key=lambda kv: (-kv[1], kv[0]))
    return EvalReport(
        len(pairs), accuracy, macro, per_intent,
        tuple((e, p, c) for (e, p), c in ordered), tuple(mistakes),
    )


def format_report(report: EvalReport, max_mistakes: int = 30) -> str:
    """A plain-text report; the last line is ``accuracy=0.XXXX macro_f1=0.XXXX n=N``."""
    lines = [f"{'intent':<18} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>7}"]
    lines += [
        f"{s.intent:<18} {s.precision:>9.4f} {s.recall:>7.4f} {s.f1:>6.4f} {s.support:>7d}"
        for s in report.per_intent
    ]
    if report.confusions:
        lines += ["", "confusions (expected -> predicted: count)"]
        lines += [f"  {e} -> {p}: {c}" for e, p, c in report.confusions]
    if report.mistakes and max_mistakes:
        lines += ["", f"mistakes (first {min(max_mistakes, len(report.mistakes))})"]
        lines += [
            f"  {m.expected} -> {m.predicted} ({m.confidence:.2f}): {m.text}"
            for m in report.mistakes[:max_mistakes]
        ]
    lines += ["", f"accuracy={report.accuracy:.4f} macro_f1={report.macro_f1:.4f} n={report.n}"]
    return "\n".join(lines)


# ---- extraction: products, quantities and the cart, per language form ---------------------
FORMS: tuple[str, ...] = ("en", "hinglish", "hi", "bn", "bn-latn", "ar")


def _groups(example: Example) -> list[list[Span]]:
    """The example's entity groups (an ungrouped span is a group of its own)."""
    grouped: dict[str, list[Span]] = {}
    alone: list[list[Span]] = []
    for span in example.spans:
        if span.group:
            grouped.setdefault(span.group, []).append(span)
        else:
            alone.append([span])
    return [*grouped.values(), *alone]


def _label_count(group: Sequence[Span]) -> int:
    quantity = next((s for s in group if s.type == "quantity"), None)
    if quantity is None:
        return 1
    try:
        return int(quantity.value)
    except ValueError:
        return 0


def labelled_items(example: Example) -> list[tuple[str, int]]:
    """(sku, count) of each labelled item meant for the cart, whatever the intent."""
    return [(sku, count) for sku, count, _ in _labelled_lines(example)]


def _labelled_lines(example: Example) -> list[tuple[str, int, bool]]:
    """(sku, count, weighed) of each labelled item meant for the cart; ``weighed``: its
    group labels a weight ("2 [kg] rice"), which chooses the size of one sold by amount."""
    out: list[tuple[str, int, bool]] = []
    for group in _groups(example):
        product = next((s for s in group if s.type == "product"), None)
        if product is None or product.role or any(
            s.type == "quantity" and s.role for s in group
        ):
            continue
        weighed = any(s.type == "unit" and s.value in WEIGHT_UNITS for s in group)
        out.append((product.value, _label_count(group), weighed))
    return out


WEIGHT_UNITS = frozenset({"kg"})  # the corpus's unit values that weigh (test_wild_corpus_format)


def expected_cart(example: Example) -> dict[str, int]:
    """The cart the labels name for a fresh conversation (see generate.py), every labelled
    sku a line: what the scoring expects is :func:`expected_outcome`."""
    if example.intent != "add_to_cart":
        return {}
    cart: dict[str, int] = {}
    for sku, count in labelled_items(example):
        cart[sku] = cart.get(sku, 0) + count
    return cart


Question = tuple[str, int]  # an option question: (base sku, how many), "1 power bank"


@dataclass(frozen=True, slots=True)
class CartOutcome:
    """What one message does to a fresh cart: the lines it adds (sku → count) and the
    option questions it asks ("10000 or 20000 mAh?")."""

    lines: Mapping[str, int]
    questions: frozenset[Question] = frozenset()

    def describe(self) -> str:
        """``{'SKU': n}``, then ``ask POWER-BANK×1`` for each question, for the listing."""
        asks = "".join(f" ask {sku}×{n}" for sku, n in sorted(self.questions))
        return f"{dict(self.lines)}{asks}"


def asks_for_option(product: Product, weighed: bool = False) -> bool:
    """Whether naming ``product`` without an option is a question (docs/NLU.md, issue-13n):
    it has options and its base is no choice of its own — an option stands for it (Power
    Bank at the price of "10000 mAh"), or it is sold by amount and no weight was given
    ("2 aloo"; "2 kg aloo" is a line)."""
    if not product.options or base_is_default(product):
        return False
    return not (weighed and sold_by_amount(product))


def expected_outcome(example: Example, catalog: Catalog) -> CartOutcome:
    """What the bot should do with the message: a labelled base sku of a product that
    :func:`asks_for_option` is expected as that question with that count, the rest as
    lines. The labellers write the base sku for "1 power bank"; asking is the right
    answer there (guessing an option puts the wrong product and price in the cart)."""
    if example.intent != "add_to_cart":
        return CartOutcome({})
    lines: dict[str, int] = {}
    questions: set[Question] = set()
    for sku, count, weighed in _labelled_lines(example):
        hit = catalog.find_sku(sku)
        if hit is not None and hit[1] is None and asks_for_option(hit[0], weighed):
            questions.add((sku, count))
        else:
            lines[sku] = lines.get(sku, 0) + count
    return CartOutcome(lines, frozenset(questions))


def planned_outcome(understanding: Understanding, catalog: Catalog,
                    max_quantity: int) -> CartOutcome:
    """What the bot does with the message in a fresh conversation: the plan's lines and its
    option questions (bot/nlu/cart_plan.py, read by bot/flows/cart.py)."""
    if understanding.intent != "add_to_cart":
        return CartOutcome({})
    asked = plan_items(understanding.items, catalog, max_quantity).ask_option
    return CartOutcome(planned_cart(understanding, catalog, max_quantity),
                       frozenset((i.sku, i.quantity) for i in asked))


def _base(sku: str, catalog: Catalog) -> str:
    hit = catalog.find_sku(sku)
    return hit[0].sku if hit is not None else sku


def expected_products(example: Example, catalog: Catalog) -> Counter[str]:
    """Products named, by base sku; a mention the bot must ask about (role ``ask``) is none."""
    return Counter(
        _base(s.value, catalog) for s in example.spans
        if s.type == "product" and s.role != "ask"
    )


def predicted_products(understanding: Understanding, catalog: Catalog) -> Counter[str]:
    return Counter(_base(i.sku, catalog) for i in understanding.items if not i.candidates)


@dataclass(slots=True)
class FormScore:
    form: str
    n: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    quantity_right: int = 0
    quantity_n: int = 0
    cart_right: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def quantity_accuracy(self) -> float:
        return self.quantity_right / self.quantity_n if self.quantity_n else 1.0

    @property
    def cart_exact(self) -> float:
        return self.cart_right / self.n if self.n else 0.0

    def add(self, other: FormScore) -> None:
        for name in ("n", "tp", "fp", "fn", "quantity_right", "quantity_n", "cart_right"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True, slots=True)
class CartMistake:
    shop: str
    form: str
    text: str
    expected: CartOutcome
    got: CartOutcome
    intent: str


@dataclass(frozen=True, slots=True)
class ExtractionReport:
    per_form: tuple[FormScore, ...]
    overall: FormScore
    mistakes: tuple[CartMistake, ...]


@dataclass(frozen=True, slots=True)
class CorpusShop:
    """One shop of a labelled corpus: its catalog, a backend for it, (form, example) pairs."""

    shop: Shop
    backend: IntentBackend
    examples: Sequence[tuple[str, Example]]


def score_message(example: Example, understanding: Understanding, shop: Shop,
                  tally: FormScore) -> tuple[CartOutcome, CartOutcome]:
    """Add one message to ``tally``; returns (what it should do, what the bot does). Cart
    exact-match needs both the lines and the option questions to be right."""
    catalog = shop.catalog
    want, got = expected_products(example, catalog), predicted_products(understanding, catalog)
    tally.n += 1
    tally.tp += sum((want & got).values())
    tally.fp += sum((got - want).values())
    tally.fn += sum((want - got).values())
    found = {_base(i.sku, catalog): i for i in understanding.items if not i.candidates}
    for sku, count in labelled_items(example):
        item = found.get(_base(sku, catalog))
        if item is not None:
            tally.quantity_n += 1
            tally.quantity_right += item.sku == sku and item.quantity == count
    expected = expected_outcome(example, catalog)
    done = planned_outcome(understanding, catalog, shop.max_quantity)
    tally.cart_right += done == expected
    return expected, done


async def evaluate_corpus(
    shops: Sequence[CorpusShop],
) -> tuple[EvalReport, ExtractionReport]:
    """Intents (examples whose intent the engine knows) and extraction, per language form."""
    pairs: list[tuple[str, str]] = []
    mistakes: list[Mistake] = []
    per_form = {form: FormScore(form) for form in FORMS}
    cart_mistakes: list[CartMistake] = []
    for entry in shops:
        context = ParseContext(shop=entry.shop)
        for form, ex in entry.examples:
            result = await entry.backend.parse(ex.text, context)
            if ex.intent in INTENTS:
                pairs.append((ex.intent, result.intent))
                if result.intent != ex.intent:
                    mistakes.append(Mistake(ex.text, ex.intent, result.intent,
                                            result.confidence))
            tally = per_form.setdefault(form, FormScore(form))
            expected, cart = score_message(ex, result, entry.shop, tally)
            if cart != expected:
                cart_mistakes.append(CartMistake(entry.shop.id, form, ex.text, expected, cart,
                                                 result.intent))
    accuracy, macro, per_intent = score(pairs)
    confusions = Counter((e, p) for e, p in pairs if e != p)
    ordered = sorted(confusions.items(), key=lambda kv: (-kv[1], kv[0]))
    intents = EvalReport(len(pairs), accuracy, macro, per_intent,
                         tuple((e, p, c) for (e, p), c in ordered), tuple(mistakes))
    overall = FormScore("all")
    for form_score in per_form.values():
        overall.add(form_score)
    forms = tuple(s for s in per_form.values() if s.n)
    return intents, ExtractionReport(forms, overall, tuple(cart_mistakes))


def format_extraction(report: ExtractionReport, max_mistakes: int = 30) -> list[str]:
    """Extraction lines for ``haat nlu eval``: one per language form, then all forms."""
    lines = [f"{'form':<9} {'n':>5} {'product_p':>9} {'product_r':>9} {'quantity':>8} "
             f"{'cart_exact':>10}"]
    for s in (*report.per_form, report.overall):
        lines.append(f"{s.form:<9} {s.n:>5d} {s.precision:>9.4f} {s.recall:>9.4f} "
                     f"{s.quantity_accuracy:>8.4f} {s.cart_exact:>10.4f}")
    if report.mistakes and max_mistakes:
        lines += ["", f"cart mistakes (first {min(max_mistakes, len(report.mistakes))} "
                      f"of {len(report.mistakes)})"]
        for m in report.mistakes[:max_mistakes]:
            lines.append(f"  [{m.shop}/{m.form}] {m.text!r} ({m.intent}): "
                         f"want {m.expected.describe()} got {m.got.describe()}")
    return lines
