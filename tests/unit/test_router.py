"""The router's per-intent candidate table stays right when routes arrive after a dispatch."""

from __future__ import annotations

from typing import Any, cast

from bot.filters import intent
from bot.nlu.base import Understanding
from bot.router import Router, Turn


def _turn(name: str) -> Turn:
    nothing = cast(Any, None)
    return Turn(shop=nothing, message=nothing, conversation=nothing, index=nothing,
                faq=nothing, now_ms=0, understanding=Understanding(name, 1.0, "en"))


async def test_a_route_added_to_a_child_after_a_dispatch_is_found_from_the_root() -> None:
    root, child = Router("root"), Router("child")
    root.include(child)
    ran: list[str] = []

    @child.on(intent("greet"))
    async def greet(turn: Turn) -> None:
        ran.append("greet")

    assert await root.dispatch(_turn("menu")) is False  # builds the table for "menu"

    @child.on(intent("menu"))
    async def menu(turn: Turn) -> None:
        ran.append("menu")

    assert await root.dispatch(_turn("menu")) is True
    assert await root.dispatch(_turn("greet")) is True
    assert ran == ["menu", "greet"]


def test_the_router_knows_every_typed_service_by_name() -> None:
    from bot import router, services

    assert router.SERVICE_NAMES == services.SERVICE_NAMES


async def test_a_flows_own_sub_handlers_get_services_by_name_as_routes_do() -> None:
    """bot/router.py:call_injected, what the merchant's command table uses."""
    from dataclasses import replace

    from bot.router import call_injected

    payments, inventory = object(), object()
    services = cast(Any, type("S", (), {"payments": payments, "inventory": inventory})())
    turn = replace(_turn("menu"), services=services)
    seen: list[object] = []

    async def command(turn: Turn, rest: str, inventory: object) -> None:
        seen.extend((turn.now_ms, rest, inventory))

    await call_injected(command, turn, rest="SAMOSA 4")
    assert seen == [0, "SAMOSA 4", inventory]
