"""Rasa's entity markup in an example line: the one parser, for the shop loader and the NLU.

``[2](quantity)``, ``[tea](product:MASALA-CHAI)`` or ``[tea]{"entity": "product", "value":
"MASALA-CHAI"}``. It lives in catalog/ because the loader reads a shop's ``nlu.yml`` and may
not import bot/; ``bot/nlu/training.py`` builds its examples from it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_ANNOTATION = re.compile(
    r"\[(?P<text>[^\[\]]+)\]"
    r"(?:\((?P<plain>[^()]+)\)|(?P<json>\{[^{}]*\}))"
)


class MarkupError(ValueError):
    """An entity annotation that is not Rasa's (bad JSON, no ``entity``)."""


@dataclass(frozen=True, slots=True)
class Span:
    """An annotated entity: ``text[start:end]`` is the words, ``value`` the normalised value."""

    start: int
    end: int
    type: str
    value: str
    group: str = ""  # Rasa entity groups: the quantity and product of one cart line
    role: str = ""  # Rasa entity roles (the extraction corpus: "negated", "ask")


def _meta(markup: str, words: str, whole: str) -> tuple[str, str, str, str]:
    """(entity, value, group, role) of a JSON annotation (``whole``: for the message)."""
    try:
        meta = json.loads(markup)
    except json.JSONDecodeError as exc:
        raise MarkupError(f"bad entity annotation {whole!r}: {exc}") from exc
    if not isinstance(meta, dict) or "entity" not in meta:
        raise MarkupError(f"entity annotation without 'entity': {whole!r}")
    return (str(meta["entity"]), str(meta.get("value", words)), str(meta.get("group", "")),
            str(meta.get("role", "")))


def parse_markup(line: str) -> tuple[str, tuple[Span, ...]]:
    """``"add [2](quantity) [samosa](product)"`` → the plain text and its entity spans."""
    spans: list[Span] = []
    out: list[str] = []
    pos = 0
    length = 0
    for m in _ANNOTATION.finditer(line):
        before = line[pos : m.start()]
        out.append(before)
        length += len(before)
        words = m.group("text")
        if m.group("json") is not None:
            etype, value, group, role = _meta(m.group("json"), words, m.group(0))
        else:
            etype, _, value = m.group("plain").partition(":")
            value = value or words
            group = role = ""
        spans.append(Span(length, length + len(words), etype.strip(), value, group, role))
        out.append(words)
        length += len(words)
        pos = m.end()
    out.append(line[pos:])
    return "".join(out), tuple(spans)
