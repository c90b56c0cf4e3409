"""The sandbox PSP is in-process (payments/providers/sandbox.py): its test driver settles
links itself and sends signed callbacks over real HTTP to the suite's receiver."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from payments.providers.base import PaymentProvider
from payments.providers.sandbox import SandboxProvider
from security.signatures import hmac_sha256_hex

SECRET = "sandbox-test-secret"


class SandboxDriver:
    # a test PSP: its links never pay the merchant's VPA (tests/contract/test_providers.py)
    upi_pays = ("sandbox.test@invalid", "SANDBOX TEST", None)

    async def start(self, serve: Any) -> dict[str, str]:
        return {"HAAT_SANDBOX_SECRET": SECRET}

    async def pay(self, provider: PaymentProvider, provider_ref: str, callback_url: str) -> str:
        assert isinstance(provider, SandboxProvider)
        deliveries = await provider.settle(provider_ref, "success", callback_url)
        payment_id = deliveries[-1].event.payment_id
        assert payment_id is not None
        return payment_id

    def sign(self, body: bytes) -> dict[str, str]:
        return {"X-Sandbox-Signature": "sha256=" + hmac_sha256_hex(SECRET, body)}

    def forge(self, body: bytes) -> dict[str, str]:
        return {"X-Sandbox-Signature": "sha256=" + "0" * 64}

    async def sample_callbacks(self, provider: PaymentProvider, callback_url: str,
                               received: list[tuple[dict[str, str], bytes, bool]]
                               ) -> tuple[list[tuple[Mapping[str, str], bytes]], int]:
        """What a settle with a failed attempt before the success delivered."""
        from tests.contract.test_providers import request

        assert isinstance(provider, SandboxProvider)
        link = await provider.create_payment_link(request())
        await provider.settle(link.provider_ref, "success", callback_url, prior_failure=True)
        return [(dict(h), b) for h, b, _ in received], 0


DRIVER = SandboxDriver
