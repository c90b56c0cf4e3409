"""Every plugin registry in one place, for what must see all of them at once: log
redaction (every secret option), ``haat check`` and ``haat serve``'s settings summary.

A plugin declares its environment keys itself (``config/plugins.py``); this module only
walks the registries, so adding a channel, provider or intent backend never edits it.
"""

from __future__ import annotations

from collections.abc import Iterator

from bot.nlu.registry import BACKEND_CLASSES
from config.plugins import Option
from config.settings import Settings
from payments.providers.registry import PROVIDER_CLASSES
from webhooks.channels.registry import CHANNEL_CLASSES


def plugin_options() -> Iterator[tuple[str, str, Option]]:
    """(kind, plugin name, option) for every option of every registered plugin."""
    for channel in CHANNEL_CLASSES:
        for opt in channel.options:
            yield "channel", channel.name, opt
    for backend in BACKEND_CLASSES:
        for opt in backend.options:
            yield "intent backend", backend.name, opt
    for provider in PROVIDER_CLASSES:
        for opt in provider.options:
            yield "payment provider", provider.name, opt


def plugin_secrets(settings: Settings) -> list[str]:
    """The value of every secret option that is set."""
    return [value for _kind, _name, opt in plugin_options()
            if opt.secret and (value := settings.env.get(opt.env))]


def describe_plugins(settings: Settings) -> dict[str, str]:
    """A loggable view of every plugin key: which secrets are set, never their values."""
    out: dict[str, str] = {}
    for _kind, _name, opt in plugin_options():
        value = settings.env.get(opt.env)
        out[opt.env] = ("set" if value else "unset") if opt.secret else (
            value or opt.default or "")
    return out
