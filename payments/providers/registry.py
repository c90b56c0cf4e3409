"""Provider name (shop.yaml ``payments.provider``) → class. Adding one is one line in
``PROVIDERS`` (and, if it needs configuration, a branch in :func:`create_provider`)."""

from __future__ import annotations

import time
from collections.abc import Callable

import aiohttp

from payments.providers.base import PaymentProvider
from payments.providers.razorpay import DEFAULT_BASE_URL, RazorpayProvider
from payments.providers.sandbox import SandboxProvider
from payments.providers.upi_intent import UpiIntentProvider
from storage.database import Database

PROVIDERS: dict[str, type[SandboxProvider] | type[UpiIntentProvider] | type[RazorpayProvider]] = {
    "sandbox": SandboxProvider,
    "upi_intent": UpiIntentProvider,
    "razorpay": RazorpayProvider,
}


def create_provider(
    name: str,
    session: aiohttp.ClientSession | None,
    *,
    sandbox_secret: str | None = None,
    razorpay_key_id: str | None = None,
    razorpay_key_secret: str | None = None,
    razorpay_webhook_secret: str | None = None,
    razorpay_api_base_url: str = DEFAULT_BASE_URL,
    clock: Callable[[], float] = time.time,
    db: Database | None = None,
) -> PaymentProvider:
    """Build a provider from plain settings (the names match ``config.settings.Settings``).

    Missing secrets are allowed here: the provider then fails closed when used. ``clock``
    drives the sandbox's event times (conversation tests move it with ``wait:``); ``db`` is
    where the sandbox keeps its state (in memory without one).
    """
    cls = PROVIDERS.get(name)
    if cls is None:
        raise KeyError(f"unknown payment provider {name!r}; known: {', '.join(sorted(PROVIDERS))}")
    if cls is SandboxProvider:
        return SandboxProvider(session, sandbox_secret, clock=clock, db=db)
    if cls is RazorpayProvider:
        return RazorpayProvider(
            session, key_id=razorpay_key_id, key_secret=razorpay_key_secret,
            webhook_secret=razorpay_webhook_secret, base_url=razorpay_api_base_url,
        )
    return UpiIntentProvider(session)
