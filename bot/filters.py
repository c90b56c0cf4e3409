"""Composable filters for the router: ``intent("add_to_cart") & state(IDLE)``.

A filter is a predicate over a Turn; combine with ``&``, ``|`` and ``~``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.state import ConversationState
from bot.types import MessageKind

if TYPE_CHECKING:
    from bot.router import Turn


@dataclass(frozen=True, slots=True)
class Filter:
    check: Callable[[Turn], bool]
    label: str = "filter"
    # the intents this filter can match at all (None: any turn, with or without one); the
    # router uses it to skip, per message, the routes that cannot match its intent
    intents: frozenset[str] | None = None

    def __call__(self, turn: Turn) -> bool:
        return self.check(turn)

    def __and__(self, other: Filter) -> Filter:
        if self.intents is None or other.intents is None:
            intents = self.intents if other.intents is None else other.intents
        else:
            intents = self.intents & other.intents
        return Filter(lambda t: self.check(t) and other.check(t),
                      f"({self.label} & {other.label})", intents)

    def __or__(self, other: Filter) -> Filter:
        intents = (None if self.intents is None or other.intents is None
                   else self.intents | other.intents)
        return Filter(lambda t: self.check(t) or other.check(t),
                      f"({self.label} | {other.label})", intents)

    def __invert__(self) -> Filter:
        return Filter(lambda t: not self.check(t), f"~{self.label}")


ANY = Filter(lambda t: True, "any")


def intent(*names: str, min_confidence: float = 0.0) -> Filter:
    wanted = frozenset(names)

    def check(turn: Turn) -> bool:
        u = turn.understanding
        return u is not None and u.intent in wanted and u.confidence >= min_confidence

    return Filter(check, f"intent{sorted(wanted)}", wanted)


def state(*states: ConversationState) -> Filter:
    wanted = frozenset(states)
    return Filter(lambda t: t.conversation.state in wanted, f"state{sorted(wanted)}")


def kind(*kinds: MessageKind) -> Filter:
    wanted = frozenset(kinds)
    return Filter(lambda t: t.message.kind in wanted, f"kind{sorted(wanted)}")


def button(prefix: str) -> Filter:
    """A tapped button (or its numbered-text equivalent) whose payload starts with prefix."""
    return Filter(lambda t: (t.payload or "").startswith(prefix), f"button[{prefix}]")


def text_matches(pattern: str) -> Filter:
    regex = re.compile(pattern, re.IGNORECASE)
    return Filter(lambda t: bool(regex.search(t.message.text or "")), f"text[{pattern}]")


def has_items() -> Filter:
    return Filter(lambda t: bool(t.understanding and t.understanding.items), "has_items")


def owner() -> Filter:
    return Filter(lambda t: t.is_owner, "owner")
