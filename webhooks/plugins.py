"""Every plugin registry in one place, for what must see all of them at once: log
redaction (every secret option), ``haat serve``'s settings summary and ``haat check``,
which also checks each shop's payments against what its provider declares
(:func:`shop_payment_problems`).

It also builds what the shop loader must know of the plugins (:func:`plugin_rules`: the
providers' names, capabilities, currencies and needs, and the intent names), since
catalog/ may not import them, and offers the loader's functions bound to it: every shop
folder the app, the CLI and the tests read goes through these.

A plugin declares its environment keys itself (``config/plugins.py``); this module only
walks the registries, so adding a channel, provider or intent backend never edits it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from bot.nlu.base import INTENTS
from bot.nlu.registry import BACKEND_CLASSES
from catalog import loader
from catalog.models import OFFLINE_METHODS, Shop
from catalog.nodes import LoadError
from catalog.plugin_rules import PluginRules, ProviderRules
from config.plugins import Option
from config.settings import Settings
from payments.providers.registry import PROVIDER_CLASSES, PROVIDERS
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


def plugin_rules() -> PluginRules:
    """What the registered providers and the NLU allow a shop folder to say."""
    return PluginRules.of(tuple(
        ProviderRules(cls.name, cls.capabilities, cls.currencies, cls.needs_payee,
                      cls.card_gateway)
        for cls in PROVIDER_CLASSES), INTENTS)


def load_shop(folder: Path, shop_id: str | None = None) -> Shop:
    """``catalog.loader.load_shop`` with this build's plugins."""
    return loader.load_shop(folder, shop_id, plugins=plugin_rules())


def load_shops(path: Path) -> dict[str, Shop]:
    """``catalog.loader.load_shops`` with this build's plugins."""
    return loader.load_shops(path, plugins=plugin_rules())


def check_shop_with_warnings(folder: Path) -> tuple[list[LoadError], list[LoadError]]:
    """``haat check``'s errors and warnings for a folder, with this build's plugins."""
    return loader.check_shop_with_warnings(folder, plugins=plugin_rules())


def check_shop(folder: Path) -> list[LoadError]:
    """Only the errors of :func:`check_shop_with_warnings`."""
    return loader.check_shop(folder, plugins=plugin_rules())


def shop_source(path: Path) -> loader.ShopSource:
    """The live-reloading shops of ``path``, checked against this build's plugins."""
    return loader.ShopSource(path, plugins=plugin_rules())


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


# what each shop.yaml payment method asks of its provider (payments/service.py
# request_payment: a payment link may also be a UPI link)
_METHOD_NEEDS: dict[str, frozenset[str]] = {
    "upi_link": frozenset({"upi_link"}),
    "payment_link": frozenset({"payment_link", "upi_link"}),
    "collect": frozenset({"collect"}),
}


def shop_payment_problems(shop: Shop, settings: Settings) -> tuple[list[str], list[str]]:
    """(errors, warnings) about a shop's payments, from what its provider declares:
    methods it cannot do, a UPI ID it needs, and its own settings left unset."""
    errors: list[str] = []
    warnings: list[str] = []
    provider = PROVIDERS.get(shop.payments.provider)
    if provider is None:
        return [f"shop {shop.id!r}: unknown payment provider {shop.payments.provider!r}; "
                f"known: {', '.join(PROVIDERS)}"], []
    for method in shop.payments.methods:
        if method in OFFLINE_METHODS:  # cash on delivery asks nothing of the provider
            continue
        if method in shop.payments.transfers:  # served by a transfer provider, not this one
            takers = [p.name for p in PROVIDER_CLASSES if "transfer" in p.capabilities
                      and method in getattr(p, "methods", ())]
            if not takers:
                errors.append(f"shop {shop.id!r}: no payment provider takes {method!r} "
                              "transfers")
            continue
        if not _METHOD_NEEDS.get(method, frozenset({method})) & provider.capabilities:
            errors.append(f"shop {shop.id!r}: payment method {method!r} is not something "
                          f"provider {provider.name} can do "
                          f"({', '.join(sorted(provider.capabilities))})")
    if provider.needs_payee and shop.payments.upi is None and any(
            m not in shop.payments.transfers for m in shop.payments.methods):
        errors.append(f"shop {shop.id!r}: provider {provider.name} needs payments.upi")
    unset = [opt.env for opt in provider.options if opt.secret and not settings.env.get(opt.env)]
    if unset and any(m not in shop.payments.transfers for m in shop.payments.methods):
        warnings.append(f"shop {shop.id!r} takes payments via {provider.name}, but "
                        f"{', '.join(unset)} {'is' if len(unset) == 1 else 'are'} not set: "
                        "its requests or callbacks will fail")
    return errors, warnings
