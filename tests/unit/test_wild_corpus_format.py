"""The hand-written ``wild`` and ``blind`` corpora are well formed, checked without the extractor.

Their messages were written by hand for shops no template knows, before anything was scored
on them (docs/NLU.md, "The `wild` split" and "The `blind` split"): this checks only their
shape — Rasa markup the project's one parser reads, labels that name the shop's skus,
quantities a cart can hold, groups that tie a quantity to a product, and at least 50
messages in every language form.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from catalog.models import Shop
from catalog.nlu_markup import Span, parse_markup
from webhooks.plugins import check_shop, load_shop

ROOT = Path(__file__).resolve().parents[2]
EXTRACTION = ROOT / "tests" / "nlu" / "extraction"
CORPUS = EXTRACTION / "corpus"
HAND_WRITTEN = ("wild", "blind", "blind2")  # splits no template wrote; blind2 unread
FORMS = ("en", "hinglish", "hi", "bn", "bn-latn", "ar")
INTENTS = {"add_to_cart", "deny", "product_info", "product_price", "search_product"}
ENTITIES = {"quantity", "unit", "product"}
UNITS = {"kg", "packet", "bottle", "dozen", "box"}
ROLES = {"", "negated", "ask"}
SPLIT_SHOPS = [(split, folder.name) for split in HAND_WRITTEN
               for folder in sorted((CORPUS / split).iterdir())]


def _messages(path: Path) -> list[tuple[str, str]]:
    """(intent, markup line) of a Rasa NLU file, read as plain YAML."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["version"] == "3.1", path
    out: list[tuple[str, str]] = []
    for block in data["nlu"]:
        for line in block["examples"].splitlines():
            assert line.startswith("- "), f"{path}: {line!r}"
            out.append((block["intent"], line[2:]))
    return out


def _check_line(shop: Shop, intent: str, line: str) -> list[str]:
    """What is wrong with one labelled message (empty: nothing)."""
    text, spans = parse_markup(line)
    problems: list[str] = []
    if intent not in INTENTS:
        problems.append(f"unknown intent {intent}")
    groups: dict[str, list[Span]] = {}
    for span in spans:
        where = f"{text[span.start:span.end]!r} in {text!r}"
        if span.type not in ENTITIES or span.role not in ROLES or not span.group:
            problems.append(f"bad entity/role/group: {where}")
        groups.setdefault(span.group, []).append(span)
        if span.type == "product":
            skus = span.value.split("|")
            if len(skus) > 1 and span.role != "ask":
                problems.append(f"several skus but not 'ask': {where}")
            if span.role == "ask" and len(skus) < 2:
                problems.append(f"an ambiguous word names one sku: {where}")
            problems += [f"no sku {sku}: {where}" for sku in skus
                         if shop.catalog.find_sku(sku) is None]
        elif span.type == "quantity" and span.role != "ask":
            if not (span.value.isdigit() and span.value.isascii() and int(span.value) > 0):
                problems.append(f"quantity not a positive integer: {where}")
        elif span.type == "unit" and span.value not in UNITS:
            problems.append(f"unknown unit: {where}")
    for group, members in groups.items():
        kinds = [s.type for s in members]
        if kinds.count("product") != 1 or kinds.count("quantity") > 1 or kinds.count("unit") > 1:
            problems.append(f"group {group} is not one product line: {kinds} in {text!r}")
    return problems


@pytest.mark.parametrize("split", HAND_WRITTEN)
def test_every_hand_written_split_has_a_shop(split: str) -> None:
    assert any(s == split for s, _ in SPLIT_SHOPS), CORPUS / split


@pytest.mark.parametrize(("split", "shop_id"), SPLIT_SHOPS)
def test_hand_written_corpus_is_well_formed(split: str, shop_id: str) -> None:
    assert not check_shop(EXTRACTION / "shops" / shop_id)
    shop = load_shop(EXTRACTION / "shops" / shop_id, shop_id)
    folder = CORPUS / split / shop_id
    files = sorted(p.name for p in folder.glob("*.yml"))
    assert files == sorted(f"{form}.yml" for form in FORMS)
    seen_groups: set[str] = set()
    for form in FORMS:
        messages = _messages(folder / f"{form}.yml")
        assert len(messages) >= 50, f"{form}: {len(messages)} messages"
        assert len({line for _, line in messages}) == len(messages), f"{form}: a duplicate"
        problems = [p for intent, line in messages for p in _check_line(shop, intent, line)]
        assert not problems, f"{form}: " + "\n".join(problems)
        for _, line in messages:
            groups = {span.group for span in parse_markup(line)[1]}
            assert not groups & seen_groups, f"{form}: group reused in {line!r}"
            seen_groups |= groups
        seen_groups.clear()
