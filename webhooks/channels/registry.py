"""Every channel by its name: adding a channel is one adapter module and one line here."""

from __future__ import annotations

from collections.abc import Callable

from config.settings import Settings
from webhooks.channels.base import ChannelAdapter
from webhooks.channels.simulator import SimulatorAdapter
from webhooks.channels.twilio import TwilioAdapter
from webhooks.channels.whatsapp_cloud import WhatsAppCloudAdapter

CHANNELS: dict[str, Callable[[Settings], ChannelAdapter]] = {
    "twilio": TwilioAdapter,
    "whatsapp": WhatsAppCloudAdapter,
    "simulator": SimulatorAdapter,  # only mounted when HAAT_SIMULATOR_TOKEN is set
}
