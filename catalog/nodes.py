"""Reading YAML nodes with positions: every value checked, every error at FILE:LINE:COL.

The shared part of the shop, catalog and nlu readers (catalog/shop_schema.py,
catalog/catalog_schema.py, catalog/nlu_schema.py); catalog/loader.py says why nodes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from catalog.models import (
    LANGUAGES,
    Text,
)
from catalog.money import Money, MoneyError

SHOP_FILE = "shop.yaml"
CATALOG_FILE = "catalog.yaml"
NLU_FILE = "nlu.yml"
_WATCHED = (SHOP_FILE, CATALOG_FILE, NLU_FILE)

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
_TRUE = frozenset({"true", "yes", "on", "y"})
_FALSE = frozenset({"false", "no", "off", "n"})

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
T = TypeVar("T")


# --------------------------------------------------------------------------------------
# errors


@dataclass(frozen=True, slots=True)
class LoadError:
    """One problem in a shop file, located 1-based; ``severity`` is error or warning."""

    file: str
    line: int
    column: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.file}:{self.line}:{self.column}: {prefix}{self.message}"


class ShopError(Exception):
    """A shop folder that cannot be served; ``errors`` lists every problem found."""

    def __init__(self, errors: list[LoadError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def _sort(errors: list[LoadError]) -> list[LoadError]:
    """Per folder: shop.yaml, then catalog.yaml, then nlu.yml, each top to bottom."""

    def key(e: LoadError) -> tuple[str, int, int, int]:
        path = Path(e.file)
        rank = _WATCHED.index(path.name) if path.name in _WATCHED else len(_WATCHED)
        return str(path.parent), rank, e.line, e.column

    return sorted(errors, key=key)


def _hint(word: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


class _Ctx:
    """Collects the errors and warnings of one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[LoadError] = []
        self.warnings: list[LoadError] = []

    def error(self, node: Node | None, message: str) -> None:
        line, col = _pos(node)
        self.errors.append(LoadError(self.file, line, col, message))

    def warn(self, node: Node | None, message: str) -> None:
        line, col = _pos(node)
        self.warnings.append(LoadError(self.file, line, col, message, "warning"))


def _pos(node: Node | None) -> tuple[int, int]:
    if node is None:
        return 1, 1
    return node.start_mark.line + 1, node.start_mark.column + 1


# --------------------------------------------------------------------------------------
# node readers: each reports its own error and returns None on a bad value


def _compose(ctx: _Ctx, text: str) -> Node | None:
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}: {problem}"
        ctx.errors.append(LoadError(ctx.file, line, col, f"YAML syntax error: {problem}"))
    except yaml.YAMLError as exc:
        ctx.errors.append(LoadError(ctx.file, 1, 1, f"YAML error: {exc}"))
    return None


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL:
        return "empty"
    return f"{node.value!r}"


def _mapping(
    ctx: _Ctx,
    node: Node,
    where: str,
    allowed: Mapping[str, bool],
) -> dict[str, tuple[Node, Node]] | None:
    """A mapping with known keys (name → required); unknown keys get a did-you-mean hint."""
    if not isinstance(node, MappingNode):
        ctx.error(node, f"{where} must be a mapping of keys, got {_kind(node)}")
        return None
    out: dict[str, tuple[Node, Node]] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode):
            ctx.error(key_node, f"{where}: keys must be plain words")
            continue
        key = str(key_node.value)
        if key in out:
            first = out[key][0].start_mark.line + 1
            ctx.error(key_node, f"duplicate key {key!r} in {where} (first on line {first})")
            continue
        if key not in allowed:
            ctx.error(key_node, f"unknown key {key!r} in {where}{_hint(key, allowed)}")
            continue
        out[key] = (key_node, value_node)
    for key, required in allowed.items():
        if required and key not in out:
            ctx.error(node, f"{where} is missing required key {key!r}")
    return out


def _free_mapping(ctx: _Ctx, node: Node, where: str) -> list[tuple[str, Node, Node]] | None:
    """A mapping whose keys are the merchant's own (reply keys, languages, days)."""
    if not isinstance(node, MappingNode):
        ctx.error(node, f"{where} must be a mapping, got {_kind(node)}")
        return None
    seen: dict[str, int] = {}
    out: list[tuple[str, Node, Node]] = []
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode) or key_node.tag == _NULL:
            ctx.error(key_node, f"{where}: keys must be plain words")
            continue
        key = str(key_node.value)
        if key in seen:
            ctx.error(key_node, f"duplicate key {key!r} in {where} (first on line {seen[key]})")
            continue
        seen[key] = key_node.start_mark.line + 1
        out.append((key, key_node, value_node))
    return out


def _scalar_text(ctx: _Ctx, node: Node, what: str) -> str | None:
    """Any non-empty scalar, as written (so ``phone: +91…`` unquoted still reads right)."""
    if not isinstance(node, ScalarNode):
        ctx.error(node, f"{what} must be text, got {_kind(node)}")
        return None
    if node.tag == _NULL or not str(node.value).strip():
        ctx.error(node, f"{what} must not be empty")
        return None
    return str(node.value).strip()


def _int(ctx: _Ctx, node: Node, what: str, minimum: int = 0) -> int | None:
    if not isinstance(node, ScalarNode) or node.tag not in (_INT, _STR):
        ctx.error(node, f"{what} must be a whole number, got {_kind(node)}")
        return None
    raw = str(node.value).replace("_", "").strip()
    if not re.fullmatch(r"[+-]?\d+", raw):
        ctx.error(node, f"{what} must be a whole number, got {node.value!r}")
        return None
    value = int(raw)
    if value < minimum:
        if minimum == 0:
            ctx.error(node, f"{what} must not be negative, got {value}")
        else:
            ctx.error(node, f"{what} must be at least {minimum}, got {value}")
        return None
    return value


def _bool(ctx: _Ctx, node: Node, what: str) -> bool | None:
    raw = str(node.value).lower() if isinstance(node, ScalarNode) else ""
    if isinstance(node, ScalarNode) and node.tag in (_BOOL, _STR):
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
    ctx.error(node, f"{what} must be true or false, got {_kind(node)}")
    return None


def _money(ctx: _Ctx, node: Node, currency: str | None, what: str) -> Money | None:
    """A price in major units, read from the raw YAML text: never through float."""
    if not isinstance(node, ScalarNode) or node.tag not in (_STR, _INT, _FLOAT):
        ctx.error(node, f"{what} must be an amount like \"149.50\", got {_kind(node)}")
        return None
    if currency is None:  # the currency itself is wrong; that error is reported already
        return None
    try:
        money = Money.parse(str(node.value), currency)
    except MoneyError as exc:
        ctx.error(node, f"{what}: {exc}")
        return None
    if money.is_negative:
        ctx.error(node, f"{what} must not be negative, got {node.value}")
        return None
    return money


def _text(ctx: _Ctx, node: Node, what: str, default_lang: str) -> Text | None:
    """A string, or a mapping of language code → string."""
    if isinstance(node, ScalarNode):
        value = _scalar_text(ctx, node, what)
        return None if value is None else Text.of(value, default_lang)
    items = _free_mapping(ctx, node, what)
    if items is None:
        return None
    by_lang: dict[str, str] = {}
    for lang, key_node, value_node in items:
        if lang not in LANGUAGES:
            tip = f"use one of {', '.join(LANGUAGES)}"
            if " " in lang or (isinstance(value_node, ScalarNode) and value_node.tag == _NULL):
                tip = "a comma inside {...} splits the text: put the text in quotes"
            ctx.error(
                key_node,
                f"unknown language code {lang!r} in {what}{_hint(lang, LANGUAGES)}; {tip}",
            )
            continue
        value = _scalar_text(ctx, value_node, f"{what}.{lang}")
        if value is not None:
            by_lang[lang] = value
    if not items:
        ctx.error(node, f"{what} must have at least one language")
        return None
    return Text(MappingProxyType(by_lang)) if by_lang else None


def _str_list(ctx: _Ctx, node: Node, what: str, single_ok: bool = True) -> list[tuple[str, Node]]:
    """A list of strings (or one string where ``single_ok``), each with its node."""
    if isinstance(node, ScalarNode) and single_ok and node.tag != _NULL:
        value = _scalar_text(ctx, node, what)
        return [] if value is None else [(value, node)]
    if not isinstance(node, SequenceNode):
        ctx.error(node, f"{what} must be a list, got {_kind(node)}")
        return []
    out: list[tuple[str, Node]] = []
    for item in node.value:
        value = _scalar_text(ctx, item, f"each item of {what}")
        if value is not None:
            out.append((value, item))
    return out


def _seq(ctx: _Ctx, node: Node, what: str) -> list[Node]:
    if not isinstance(node, SequenceNode):
        ctx.error(node, f"{what} must be a list, got {_kind(node)}")
        return []
    return list(node.value)


def _peek(node: Node, key: str) -> str | None:
    """A scalar value by key without reporting anything: labels for error messages."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == key and isinstance(v, ScalarNode):
                return str(v.value) or None
    return None


def _get(
    fields: Mapping[str, tuple[Node, Node]], key: str, read: Callable[[Node], T | None]
) -> T | None:
    pair = fields.get(key)
    return None if pair is None else read(pair[1])


# --------------------------------------------------------------------------------------
# folders


def _read(ctx: _Ctx, path: Path) -> Node | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        ctx.error(None, f"file not found: {path}")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        ctx.error(None, f"cannot read {path}: {exc}")
        return None
    root = _compose(ctx, text)
    if root is None and not ctx.errors:
        ctx.error(None, "the file is empty")
    return root
