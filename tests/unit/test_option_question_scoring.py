"""Cart exact-match scores what the bot does with a message (docs/NLU.md, issue-13n): a
labelled base sku of a product whose base is no choice of its own ("1 power bank", where
the base costs what "10000 mAh" costs) is expected as an option question with that count,
not as a cart line. A catalog of our own, not a corpus shop."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.nlu.base import Understanding
from bot.nlu.entities import extract
from bot.nlu.evaluate import (
    CartMistake,
    CartOutcome,
    ExtractionReport,
    FormScore,
    expected_outcome,
    format_extraction,
    score_message,
)
from bot.nlu.training import Example, parse_annotated
from catalog.models import Option, Shop, Text
from catalog.money import Money
from catalog.search import ProductIndex
from tests.fakes.rasa import tea_shop
from tests.unit.catalog_builders import catalog, option, product


def _shop() -> Shop:
    bank = product("BANK", {"en": "Power Bank"}, unit="piece", options=(
        Option("BANK-10K", Text.of("10000 mAh"), Money(2000, "INR")),  # the base's price
        Option("BANK-20K", Text.of("20000 mAh"), Money(4000, "INR"))))
    return replace(tea_shop(), catalog=catalog(
        bank,
        product("COPY", {"en": "Exercise Copy"}, ("copy",), unit="piece",
                options=(option("COPY-200P", "200 pages"),)),  # the base is a choice
        product("RICE", {"en": "Rice"}, unit="kg",
                options=(option("RICE-500G", "500 g"),)),        # sold by amount
        product("CABLE", {"en": "USB Cable"}, unit="piece"),
    ))


def _label(words: str, sku: str, count: int = 1, rest: str = "") -> Example:
    """An order whose one labelled item is ``count`` × ``sku``, written as ``words``."""
    return parse_annotated(
        f'[{count}]{{"entity": "quantity", "value": "{count}", "group": "1"}} '
        f'[{words}]{{"entity": "product", "value": "{sku}", "group": "1"}}{rest}',
        "add_to_cart")


def _bot(text: str, intent: str = "add_to_cart") -> Understanding:
    """What the extractor reads in ``text``, under the intent the classifier gave."""
    items = extract(text, ProductIndex.build(_shop().catalog)).items
    return Understanding(intent, 1.0, "en", items=items)


def _right(example: Example, understanding: Understanding) -> bool:
    tally = FormScore("en")
    score_message(example, understanding, _shop(), tally)
    return tally.cart_right == 1


def test_a_labelled_question_the_bot_asks_is_right() -> None:
    example = _label("power bank", "BANK")
    assert expected_outcome(example, _shop().catalog) == CartOutcome({}, frozenset({("BANK", 1)}))
    assert _right(example, _bot(example.text))


def test_the_bot_silent_is_wrong() -> None:
    example = _label("power bank", "BANK")
    assert not _right(example, _bot(example.text, intent="search_product"))
    assert not _right(example, Understanding("add_to_cart", 1.0, "en"))


def test_the_bot_adding_an_option_is_wrong() -> None:
    example = _label("power bank", "BANK")
    assert not _right(example, _bot("1 10000 mAh power bank"))


def test_a_question_the_label_did_not_ask_for_is_wrong() -> None:
    example = _label("power bank", "BANK-10K")  # the labeller read "the small one"
    assert not _right(example, _bot(example.text))


def test_a_question_with_another_count_is_wrong() -> None:
    example = _label("power bank", "BANK", 2)
    assert _right(example, _bot("2 power bank"))
    assert not _right(example, _bot("1 power bank"))


def test_the_question_and_the_lines_are_both_needed() -> None:
    example = _label("power bank", "BANK", 1, ' and [2]{"entity": "quantity", "value": "2", '
                     '"group": "2"} [usb cable]{"entity": "product", "value": "CABLE", '
                     '"group": "2"}')
    assert example.text == "1 power bank and 2 usb cable"
    assert expected_outcome(example, _shop().catalog) == CartOutcome(
        {"CABLE": 2}, frozenset({("BANK", 1)}))
    assert _right(example, _bot(example.text))
    assert not _right(example, _bot("1 power bank and 3 usb cable"))


@pytest.mark.parametrize(("words", "sku", "count"), [
    ("copy", "COPY", 5),   # its base is a choice of its own: a line
    ("usb cable", "CABLE", 1),
])
def test_other_labelled_bases_stay_lines(words: str, sku: str, count: int) -> None:
    example = _label(words, sku, count)
    assert expected_outcome(example, _shop().catalog) == CartOutcome({sku: count})


def test_one_sold_by_amount_is_a_line_when_weighed_and_a_question_when_not() -> None:
    weighed = parse_annotated(
        '[2]{"entity": "quantity", "value": "2", "group": "1"} '
        '[kg]{"entity": "unit", "value": "kg", "group": "1"} '
        '[rice]{"entity": "product", "value": "RICE", "group": "1"}', "add_to_cart")
    assert expected_outcome(weighed, _shop().catalog) == CartOutcome({"RICE": 2})
    assert _right(weighed, _bot("2 kg rice"))
    counted = _label("rice", "RICE", 2)
    assert expected_outcome(counted, _shop().catalog) == CartOutcome(
        {}, frozenset({("RICE", 2)}))
    assert _right(counted, _bot("2 rice"))


def test_the_mistakes_listing_shows_the_questions() -> None:
    example = _label("power bank", "BANK", 2)
    tally = FormScore("en")
    expected, got = score_message(example, _bot("1 power bank"), _shop(), tally)
    report = ExtractionReport((tally,), tally, (
        CartMistake("tea", "en", example.text, expected, got, "add_to_cart"),))
    listing = format_extraction(report)[-1]
    assert listing.endswith("want {} ask BANK×2 got {} ask BANK×1"), listing
