"""nlu.yml: a shop's own intent examples, in Rasa's format."""

from __future__ import annotations

from yaml.nodes import MappingNode, Node, ScalarNode

from catalog.nlu_markup import MarkupError, parse_markup
from catalog.nodes import (
    _NULL,
    LoadError,
    _Ctx,
    _hint,
    _mapping,
    _scalar_text,
    _seq,
)

# --------------------------------------------------------------------------------------
# nlu.yml (Rasa 3.x NLU format)

_NLU_KEYS = {"version": False, "nlu": False}
_NLU_OTHER_ITEMS = ("synonym", "regex", "lookup")


def strip_annotations(example: str) -> str:
    """``I want [2](quantity) [chai](product)`` → ``I want 2 chai`` (raises
    :class:`MarkupError` on a malformed JSON annotation)."""
    return parse_markup(example)[0].strip()


def _parse_nlu(ctx: _Ctx, root: Node, intents: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The examples by intent; ``intents`` are the NLU's (catalog/plugin_rules.py)."""
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
        if intent not in intents:
            ctx.error(intent_node, f"unknown intent {intent!r}{_hint(intent, intents)}")
            continue
        ex_node = ifields["examples"][1]
        if not isinstance(ex_node, ScalarNode) or ex_node.tag == _NULL:
            ctx.error(ex_node, "examples must be a block of lines starting with '- '")
            continue
        _read_examples(ctx, ex_node, examples.setdefault(intent, []))
    return {k: tuple(v) for k, v in examples.items() if v}


def _read_examples(ctx: _Ctx, node: ScalarNode, found: list[str]) -> None:
    """One intent's block of ``- `` lines into ``found`` (plain text, each once)."""
    first_line = node.start_mark.line + 1 + (1 if node.style in ("|", ">") else 0)
    for offset, line in enumerate(str(node.value).splitlines()):
        stripped = line.strip()
        if not stripped:
            continue
        where = (ctx.file, first_line + offset, node.start_mark.column + 1)
        if not stripped.startswith("-"):
            ctx.errors.append(LoadError(*where, f"example {stripped!r} must start with '- '"))
            continue
        try:
            text = strip_annotations(stripped[1:].strip())
        except MarkupError as exc:
            ctx.errors.append(LoadError(*where, f"{exc}: write [words](entity) or "
                                        '[words]{"entity": "...", "value": "..."}'))
            continue
        if text and text not in found:
            found.append(text)
