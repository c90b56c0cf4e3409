"""Every payment provider, by the name a shop.yaml gives in ``payments.provider``.

Adding one is its module and one line in ``PROVIDER_CLASSES``: each class declares its
name, capabilities, environment keys and how it is built (``base.ProviderPlugin``), and the
app, ``haat check``, the shop loader's rules and the contract suite read them from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from payments.providers.base import PaymentProvider, ProviderDeps, ProviderPlugin
from payments.providers.manual import ManualTransferProvider
from payments.providers.razorpay import RazorpayProvider
from payments.providers.sandbox import SandboxProvider
from payments.providers.stripe import StripeProvider
from payments.providers.upi_intent import UpiIntentProvider

PROVIDER_CLASSES: tuple[type[ProviderPlugin], ...] = (
    SandboxProvider,
    UpiIntentProvider,
    RazorpayProvider,
    StripeProvider,
    ManualTransferProvider,
)

PROVIDERS: Mapping[str, type[ProviderPlugin]] = MappingProxyType(
    {cls.name: cls for cls in PROVIDER_CLASSES})


def create_provider(name: str, env: Mapping[str, str] | None = None,
                    deps: ProviderDeps | None = None) -> PaymentProvider:
    """Build provider ``name`` from its own environment keys (``Settings.env``).

    Missing secrets are allowed here: the provider then fails closed when used.
    """
    cls = PROVIDERS.get(name)
    if cls is None:
        raise KeyError(f"unknown payment provider {name!r}; known: {', '.join(sorted(PROVIDERS))}")
    return cls.from_env(env or {}, deps or ProviderDeps())


def create_providers(env: Mapping[str, str], deps: ProviderDeps) -> dict[str, PaymentProvider]:
    """One instance of every registered provider (a shop picks one by name)."""
    return {cls.name: cls.from_env(env, deps) for cls in PROVIDER_CLASSES}

