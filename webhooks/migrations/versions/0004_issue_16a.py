"""scale-out: a version on conversations (compare-and-set), an order counter per shop

Revision ID: 0004_issue_16a
Revises: 0003_i14a
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0004_issue_16a'
down_revision: Union[str, None] = '0003_i14a'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.BigInteger(), nullable=False,
                                      server_default='0'))
    op.create_table(
        'order_counters',
        sa.Column('shop_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('last', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('shop_id'),
    )


def downgrade() -> None:
    op.drop_table('order_counters')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('version')
