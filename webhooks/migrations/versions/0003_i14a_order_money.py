"""order money: a version on orders (compare-and-set), refund rows that track retries

Revision ID: 0003_i14a
Revises: 0002_i14b
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0003_i14a'
down_revision: Union[str, None] = '0002_i14b'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('money_version', sa.BigInteger(), nullable=False,
                                      server_default='0'))
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_id', sqlmodel.sql.sqltypes.AutoString(length=96),
                                      nullable=False, server_default=''))
        batch_op.add_column(sa.Column('payment_id',
                                      sqlmodel.sql.sqltypes.AutoString(length=128),
                                      nullable=False, server_default=''))
        batch_op.add_column(sa.Column('against', sqlmodel.sql.sqltypes.AutoString(length=48),
                                      nullable=False, server_default='merchant_revenue'))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('attempt_key',
                                      sqlmodel.sql.sqltypes.AutoString(length=80),
                                      nullable=False, server_default=''))
        batch_op.add_column(sa.Column('next_attempt_at', sa.BigInteger(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('last_error',
                                      sqlmodel.sql.sqltypes.AutoString(length=200),
                                      nullable=False, server_default=''))
        batch_op.add_column(sa.Column('updated_at', sa.BigInteger(), nullable=False,
                                      server_default='0'))
        batch_op.create_index(batch_op.f('ix_refunds_order_id'), ['order_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refunds_order_id'))
        for column in ('updated_at', 'last_error', 'next_attempt_at', 'attempt_key',
                       'attempts', 'against', 'payment_id', 'order_id'):
            batch_op.drop_column(column)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('money_version')
