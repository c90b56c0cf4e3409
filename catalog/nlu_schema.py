"""nlu.yml: a shop's own intent examples, in Rasa's format."""

from __future__ import annotations

import re

from yaml.nodes import MappingNode, Node, ScalarNode

from catalog.nodes import (
    _NULL,
    LoadError,
    _Ctx,
    _hint,
    _mapping,
    _scalar_text,
    _seq,
)

# The intents of docs/DESIGN.md §1.6 and product_info (mirrors bot.nlu.base.INTENTS; catalog may
# not import bot).
INTENTS: tuple[str, ...] = (
    "greet", "goodbye", "thanks", "affirm", "deny", "browse_catalog", "search_product",
    "product_price", "product_info", "add_to_cart", "remove_from_cart", "view_cart",
    "checkout", "pay",
    "order_status", "cancel_order", "business_hours", "delivery_info", "human_handoff",
    "tip", "change_language", "out_of_scope",
)
_ANNOTATION_RE = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


# --------------------------------------------------------------------------------------
# nlu.yml (Rasa 3.x NLU format)

_NLU_KEYS = {"version": False, "nlu": False}
_NLU_OTHER_ITEMS = ("synonym", "regex", "lookup")


def strip_annotations(example: str) -> str:
    """``I want [2](quantity) [chai](product)`` → ``I want 2 chai``."""
    return _ANNOTATION_RE.sub(r"\1", example).strip()


def _parse_nlu(ctx: _Ctx, root: Node) -> dict[str, tuple[str, ...]]:
    fields = _mapping(ctx, root, "nlu.yml", _NLU_KEYS)
    examples: dict[str, list[str]] = {}
    if not fields or "nlu" not in fields:
        return {}
    for item in _seq(ctx, fields["nlu"][1], "nlu"):
        if isinstance(item, MappingNode) and any(
            isinstance(k, ScalarNode) and k.value in _NLU_OTHER_ITEMS for k, _ in item.value
        ):
            continue  # synonyms, regexes and lookups are Rasa's business, not ours
        ifields = _mapping(ctx, item, "nlu item", {"intent": True, "examples": True,
                                                    "metadata": False})
        if not ifields or "intent" not in ifields or "examples" not in ifields:
            continue
        intent_node = ifields["intent"][1]
        intent = _scalar_text(ctx, intent_node, "intent")
        if intent is None:
            continue
        if intent not in INTENTS:
            ctx.error(intent_node, f"unknown intent {intent!r}{_hint(intent, INTENTS)}")
            continue
        ex_node = ifields["examples"][1]
        if not isinstance(ex_node, ScalarNode) or ex_node.tag == _NULL:
            ctx.error(ex_node, "examples must be a block of lines starting with '- '")
            continue
        first_line = ex_node.start_mark.line + 1 + (1 if ex_node.style in ("|", ">") else 0)
        found = examples.setdefault(intent, [])
        for offset, line in enumerate(str(ex_node.value).splitlines()):
            stripped = line.strip()
            if not stripped:
                continue
            if not stripped.startswith("-"):
                ctx.errors.append(LoadError(
                    ctx.file, first_line + offset, ex_node.start_mark.column + 1,
                    f"example {stripped!r} must start with '- '",
                ))
                continue
            text = strip_annotations(stripped[1:].strip())
            if text and text not in found:
                found.append(text)
    return {k: tuple(v) for k, v in examples.items() if v}
