"""partially refunded orders: a paid order with part of its sale refunded gets its own status

Data only (no schema change): orders.status holds ``partially_refunded`` from now on
(payments/status.py). Orders refunded in part before this revision were left ``paid``.

Revision ID: 0005_issue_14d
Revises: 0004_issue_16a
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0005_issue_14d'
down_revision: Union[str, None] = '0004_issue_16a'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute(
        "UPDATE orders SET status = 'partially_refunded' WHERE status = 'paid' AND EXISTS ("
        "SELECT 1 FROM refunds r JOIN payment_requests p ON p.id = r.payment_request_id "
        "WHERE r.order_id = orders.id AND r.against = 'merchant_revenue' "
        "AND r.status <> 'superseded' AND p.method <> 'tip')")


def downgrade() -> None:
    op.execute("UPDATE orders SET status = 'paid' WHERE status = 'partially_refunded'")
