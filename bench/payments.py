"""Payment path benchmark (Performance issue): creating a payment request with its QR, and
applying a provider callback, each under 5 ms p99 in-process.

Not wired yet: the payments service (payments/service.py) does not exist when this harness
was written. :func:`bench_payment_path_TODO` is the one place the lead fills in; the suite
calls it and reports "not measured" while it returns None.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PaymentPathResult:
    create_request_p50_us: float
    create_request_p99_us: float
    apply_callback_p50_us: float
    apply_callback_p99_us: float
    samples: int


def bench_payment_path_TODO(samples: int = 2000) -> PaymentPathResult | None:  # noqa: N802
    """TODO(lead): measure the payment path in-process once payments/service.py lands.

    1. Build the demo shop's payment service on a fresh SQLite file (migrated), with the
       sandbox provider and its secret.
    2. Time ``samples`` calls of "create order + payment request + UPI link + QR PNG"
       (the QR rendered off the event loop and cached, DESIGN 4a), one at a time.
    3. Time ``samples`` calls of "verify + store + apply a signed sandbox callback", each
       for a different payment request, one at a time.
    4. Return the p50/p99 of each in microseconds; the target is p99 < 5,000 µs for both.
    """
    return None
