"""The partially_refunded migration: a paid order with part of its sale refunded before it
existed gets the status now; orders refunded only in their excess or their tip stay paid;
and it downgrades cleanly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command

from webhooks.migrate import alembic_config, upgrade

ORDER = ("INSERT INTO orders (id, shop_id, number, channel, customer, status, currency, "
         "subtotal_minor, delivery_minor, tip_minor, total_minor, address, language, "
         "created_at, updated_at, money_version) "
         "VALUES (?, 's', ?, 'simulator', 'c', 'paid', 'INR', 0, 0, 0, 1000, '', 'en', 0, 0, 0)")
REQUEST = ("INSERT INTO payment_requests (id, order_id, shop_id, method, provider, token, "
           "status, amount_minor, currency, captured_minor, refunded_minor, upi_link, link_url, "
           "expires_at, created_at, updated_at) "
           "VALUES (?, ?, 's', ?, 'sandbox', ?, 'paid', 1000, 'INR', 1000, 0, '', '', 0, 0, 0)")
REFUND = ("INSERT INTO refunds (id, payment_request_id, amount_minor, currency, status, reason, "
          "created_at, order_id, payment_id, against, attempts, attempt_key, next_attempt_at, "
          "last_error, updated_at) "
          "VALUES (?, ?, 100, 'INR', ?, '', 0, ?, 'pay', ?, 0, '', 0, '', 0)")


def test_paid_orders_with_part_of_the_sale_refunded_become_partially_refunded(
        tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    url = f"sqlite:///{path}"
    upgrade(url, "0003_i14a")
    cases = {  # order → (request method, refund status, account debited) or None
        "s/ORD-1": ("upi_link", "processed", "merchant_revenue"),
        "s/ORD-2": ("upi_link", "processed", "customer_receivable"),  # excess only
        "s/ORD-3": ("tip", "processed", "tips"),
        "s/ORD-4": ("upi_link", "superseded", "merchant_revenue"),
        "s/ORD-5": None,
    }
    with sqlite3.connect(path) as conn:
        for n, (order, refund) in enumerate(cases.items(), 1):
            conn.execute(ORDER, (order, n))
            if refund is not None:
                method, status, against = refund
                conn.execute(REQUEST, (f"pr{n}", order, method, f"t{n}"))
                conn.execute(REFUND, (f"rf{n}", f"pr{n}", status, order, against))
    upgrade(url)
    with sqlite3.connect(path) as conn:
        found = dict(conn.execute("SELECT id, status FROM orders").fetchall())
    assert found == {"s/ORD-1": "partially_refunded", "s/ORD-2": "paid", "s/ORD-3": "paid",
                     "s/ORD-4": "paid", "s/ORD-5": "paid"}
    command.downgrade(alembic_config(url), "0003_i14a")
    with sqlite3.connect(path) as conn:
        assert {s for (s,) in conn.execute("SELECT status FROM orders")} == {"paid"}
