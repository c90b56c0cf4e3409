"""Evaluation maths and the report's machine-read last line."""

from __future__ import annotations

import re

import pytest

from bot.nlu.base import ParseContext, Understanding
from bot.nlu.evaluate import evaluate, format_report, score
from bot.nlu.training import Example
from tests.fakes.rasa import tea_shop

LAST_LINE = re.compile(r"^accuracy=\d\.\d{4} macro_f1=\d\.\d{4} n=\d+$")


def test_scores_match_hand_computation() -> None:
    pairs = [("a", "a"), ("a", "b"), ("b", "b"), ("b", "b"), ("c", "a")]
    accuracy, macro, per = score(pairs)
    assert accuracy == pytest.approx(3 / 5)
    by = {s.intent: s for s in per}
    assert (by["a"].precision, by["a"].recall, by["a"].support) == (0.5, 0.5, 2)
    assert by["b"].precision == pytest.approx(2 / 3) and by["b"].recall == 1.0
    assert by["b"].f1 == pytest.approx(0.8)
    assert by["c"].f1 == 0.0
    assert macro == pytest.approx((0.5 + 0.8 + 0.0) / 3)


def test_empty_input_scores_zero() -> None:
    assert score([]) == (0.0, 0.0, ())


class _EchoBackend:
    """Says the first word of the text is the intent."""

    name = "echo"

    async def parse(self, text: str, context: ParseContext) -> Understanding:
        word = text.split(maxsplit=1)[0]
        return Understanding(word, 0.7, "en", ((word, 0.7),))


async def test_evaluate_counts_mistakes_and_confusions() -> None:
    examples = [
        Example("greet hello", "greet"),
        Example("greet hi", "greet"),
        Example("thanks ok", "thanks"),
        Example("greet ty", "thanks"),
    ]
    report = await evaluate(_EchoBackend(), examples, tea_shop())
    assert report.n == 4
    assert report.accuracy == pytest.approx(0.75)
    assert report.confusions == (("thanks", "greet", 1),)
    assert [m.text for m in report.mistakes] == ["greet ty"]
    text = format_report(report)
    last = text.splitlines()[-1]
    assert LAST_LINE.match(last)
    assert last == f"accuracy=0.7500 macro_f1={report.macro_f1:.4f} n=4"
    assert "thanks -> greet: 1" in text


def test_report_of_nothing_still_ends_with_the_summary() -> None:
    from bot.nlu.evaluate import EvalReport

    text = format_report(EvalReport(0, 0.0, 0.0, (), (), ()))
    assert text.splitlines()[-1] == "accuracy=0.0000 macro_f1=0.0000 n=0"
