"""Every channel by its name: adding a channel is one adapter module and one line here.

Each class declares its name, capabilities, environment keys, whether it is mounted and
the routes it adds (``base.ChannelPlugin``); the app, the HTTP workers, the outbox sender,
``haat serve``'s warnings and the contract suites read them from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from bot.types import ChannelCapability
from config.settings import Settings
from webhooks.channels.base import ChannelAdapter, ChannelPlugin
from webhooks.channels.simulator import SimulatorAdapter
from webhooks.channels.twilio import TwilioAdapter
from webhooks.channels.whatsapp_cloud import WhatsAppCloudAdapter

CHANNEL_CLASSES: tuple[ChannelPlugin, ...] = (
    TwilioAdapter,
    WhatsAppCloudAdapter,
    SimulatorAdapter,
)

CHANNELS: Mapping[str, ChannelPlugin] = MappingProxyType(
    {cls.name: cls for cls in CHANNEL_CLASSES})


def build_channels(settings: Settings) -> dict[str, ChannelAdapter]:
    """An adapter for every channel mounted with these settings."""
    return {cls.name: cls(settings) for cls in CHANNEL_CLASSES if cls.enabled(settings)}


def with_capability(capability: ChannelCapability) -> frozenset[str]:
    """The names of the channels that declare ``capability``."""
    return frozenset(cls.name for cls in CHANNEL_CLASSES if capability in cls.capabilities)


def live_channels(settings: Settings) -> list[str]:
    """The real channels whose credentials are set (shoppers can reach us)."""
    return [found for cls in CHANNEL_CLASSES if (found := cls.live(settings)) is not None]
