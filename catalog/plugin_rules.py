"""What the registered plugins allow a shop folder to say, handed to the loader.

catalog/ may not import the payment providers or the NLU (tests/test_architecture.py), yet
shop.yaml names a provider and nlu.yml names intents. So the composition root builds one
frozen :class:`PluginRules` from the registries (``webhooks/plugins.py:plugin_rules``) and
passes it to every load, reload and ``haat check``: a new provider or intent is declared
once, by its own module, and never copied here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class ProviderRules:
    """What one payment provider class declares that shop.yaml must agree with."""

    name: str
    capabilities: frozenset[str]
    # the only currencies it takes whatever the method (upi_intent: INR); None = any
    currencies: frozenset[str] | None = None
    # its links pay the merchant's own UPI ID, so the shop needs payments.upi
    needs_payee: bool = False
    # the WhatsApp card gateway whose payments its webhooks book (razorpay), if any
    card_gateway: str | None = None


@dataclass(frozen=True, slots=True)
class PluginRules:
    """The providers (in registry order) and the intent names a shop folder may use."""

    providers: Mapping[str, ProviderRules]
    intents: tuple[str, ...]

    @classmethod
    def of(cls, providers: tuple[ProviderRules, ...], intents: tuple[str, ...]) -> PluginRules:
        return cls(MappingProxyType({p.name: p for p in providers}), tuple(intents))

    @property
    def provider_names(self) -> tuple[str, ...]:
        return tuple(self.providers)

    def booking(self, gateway: str) -> str | None:
        """The provider whose webhooks book the payments of WhatsApp card ``gateway``."""
        return next((n for n, p in self.providers.items() if p.card_gateway == gateway), None)

    def able_to(self, capability: str) -> tuple[str, ...]:
        """The providers that declare ``capability``, for a hint (``use razorpay``)."""
        return tuple(name for name, p in self.providers.items() if capability in p.capabilities)
