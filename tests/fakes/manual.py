"""manual transfers have no PSP: nobody calls back and nothing can be paid through it, so its
test driver has no server, no callbacks and no signature that verifies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from payments.providers.base import PaymentProvider


class ManualDriver:
    async def start(self, serve: Any) -> dict[str, str]:
        return {}

    async def pay(self, provider: PaymentProvider, provider_ref: str, callback_url: str) -> str:
        raise AssertionError("manual transfers are sent from the shopper's own app")

    def sign(self, body: bytes) -> dict[str, str]:
        return {}

    def forge(self, body: bytes) -> dict[str, str]:
        return {}

    async def sample_callbacks(self, provider: PaymentProvider, callback_url: str,
                               received: list[tuple[dict[str, str], bytes, bool]]
                               ) -> tuple[list[tuple[Mapping[str, str], bytes]], int]:
        return [], 0


DRIVER = ManualDriver
