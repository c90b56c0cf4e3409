"""Every channel by its name: adding a channel is one adapter module and one line here.

Each class declares its name, capabilities, environment keys, whether it is mounted and
the routes it adds (``base.ChannelPlugin``); the app, the HTTP workers, the outbox sender,
``haat serve``'s warnings and the contract suites read them from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from bot.types import ChannelCapability
from config.settings import Settings
from webhooks.channels.base import ChannelAdapter, ChannelPlugin, ChannelState
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


def build_channel_states(settings: Settings,
                         names: Iterable[str] | None = None) -> dict[str, ChannelState]:
    """The empty run-time state of every channel mounted with these settings (or of each
    of ``names``): the app owns them and closes them when it stops."""
    chosen = (cls for cls in CHANNEL_CLASSES if cls.enabled(settings)) if names is None \
        else (CHANNELS[name] for name in names if name in CHANNELS)
    return {cls.name: cls.new_state(settings) for cls in chosen}


def build_channels(settings: Settings, states: Mapping[str, ChannelState] | None = None
                   ) -> dict[str, ChannelAdapter]:
    """An adapter for every channel of ``states`` (by default every channel mounted with
    these settings, each with a fresh state), each over its own state."""
    if states is None:
        states = build_channel_states(settings)
    return {name: CHANNELS[name](settings, state=state) for name, state in states.items()}


def with_capability(capability: ChannelCapability) -> frozenset[str]:
    """The names of the channels that declare ``capability``."""
    return frozenset(cls.name for cls in CHANNEL_CLASSES if capability in cls.capabilities)


def live_channels(settings: Settings) -> list[str]:
    """The real channels whose credentials are set (shoppers can reach us)."""
    return [found for cls in CHANNEL_CLASSES if (found := cls.live(settings)) is not None]
