"""Intent evaluation for ``haat nlu eval``: accuracy, macro-F1, per-intent scores, confusions.

Macro-F1 (the unweighted mean of per-intent F1) is the headline beside accuracy because the
rare intents (tip, cancel_order) matter as much as the common ones: a model that never says
``cancel_order`` is broken however accurate it looks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bot.nlu.base import IntentBackend, ParseContext
from bot.nlu.training import Example
from catalog.models import Shop


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
