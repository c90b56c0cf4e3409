"""Two apps built in one process share nothing: routers (no parent link grows per
Engine), channel adapters, providers, services. And the plugins' declarations reach the
engine: the service window and untrusted senders come from the channels' capabilities."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine import build_root_router
from bot.flows import cart
from bot.outgoing import OutboundStatus
from bot.router import Router
from bot.templates import plan
from bot.types import ChannelCapability, Reply
from catalog.message_templates import TemplateEvent
from config.settings import Settings
from tests.conftest import DEMO_SHOP, AiohttpClient
from webhooks import keys as k
from webhooks.app import create_app
from webhooks.channels.registry import CHANNEL_CLASSES
from webhooks.plugins import load_shop


def _walk(router: Router) -> list[Router]:
    out = [router]
    for child in router._children:
        out.extend(_walk(child))
    return out


async def test_two_apps_in_one_process_share_nothing(
        aiohttp_client: AiohttpClient, settings: Settings, tmp_path: Path) -> None:
    first = await aiohttp_client(create_app(settings))
    second = await aiohttp_client(create_app(settings.with_(
        database_url=f"sqlite:///{tmp_path / 'other.db'}")))
    a, b = first.app, second.app
    routers_a, routers_b = _walk(a[k.ENGINE].root), _walk(b[k.ENGINE].root)
    assert len(routers_a) == len(routers_b) > 1
    assert not {id(r) for r in routers_a} & {id(r) for r in routers_b}
    for router in routers_a[1:] + routers_b[1:]:
        assert len(router._parents) == 1  # one root each, however many engines were built
    assert build_root_router()._children[0]._parents != routers_a[0]._children[0]._parents
    for key in (k.ENGINE, k.PAYMENTS, k.OUTBOX, k.INVENTORY, k.NOTIFIER, k.DB):
        assert a[key] is not b[key], key
    for name, adapter in a[k.CHANNEL_ADAPTERS].items():
        assert b[k.CHANNEL_ADAPTERS][name] is not adapter
    for name, provider in a[k.PROVIDERS].items():
        assert b[k.PROVIDERS][name] is not provider
    # the refusal says where the router already sits: the engine's root
    with pytest.raises(RuntimeError, match=r"router '\w+' is already included in root;"):
        Router("stray").include(routers_a[1])


async def test_the_engine_takes_windows_and_untrusted_senders_from_the_channels(
        aiohttp_client: AiohttpClient, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    engine = client.app[k.ENGINE]
    declared = {cls.name for cls in CHANNEL_CLASSES
                if ChannelCapability.SERVICE_WINDOW in cls.capabilities}
    assert engine.windowed_channels == declared == {"twilio", "whatsapp", "simulator"}
    assert engine.untrusted_channels == {"simulator"}
    assert client.app[k.NOTIFIER].windowed_channels == declared


def test_a_channel_without_a_service_window_always_gets_free_form() -> None:
    shop = load_shop(DEMO_SHOP)
    body = Reply(type="text", text="Your order shipped")
    values = {"order": "ORD-7", "shop": "Mitra Tea House"}
    # no conversation at all: outside any window
    assert plan(shop, None, body, 10**13, TemplateEvent.ORDER_SHIPPED, values, language="en",
                windowed=False) == (body, OutboundStatus.PENDING, None)
    windowed, status, _ = plan(shop, None, body, 10**13, TemplateEvent.ORDER_SHIPPED, values,
                               language="en", windowed=True)
    assert windowed.type == "template" and status is OutboundStatus.PENDING
    # a message with no template outside the window is not sent: it is undeliverable
    untemplated = plan(shop, None, body, 10**13, None, {}, language="en", windowed=True)
    assert untemplated[1] is OutboundStatus.UNDELIVERABLE


def test_blueprints_build_new_routers_every_time() -> None:
    one, two = cart.router.build(), cart.router.build()
    assert one is not two and one.routes() and len(one.routes()) == len(two.routes())
