"""manual transfers have no PSP: nobody calls back and nothing can be paid through it, so its
test driver is upi_intent's (no server, no callbacks, no signature that verifies)."""

from __future__ import annotations

from payments.providers.base import PaymentProvider
from tests.fakes.upi_intent import UpiIntentDriver


class ManualDriver(UpiIntentDriver):
    async def pay(self, provider: PaymentProvider, provider_ref: str, callback_url: str) -> str:
        raise AssertionError("manual transfers are sent from the shopper's own app")


DRIVER = ManualDriver
