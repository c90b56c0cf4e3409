"""receipts: an invoice per order, numbered per shop and financial year

Revision ID: 0007_i19c
Revises: 0006_i17c
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0007_i19c'
down_revision: Union[str, None] = '0006_i17c'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'invoice_counters',
        sa.Column('shop_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('fy', sa.Integer(), nullable=False),
        sa.Column('last', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('shop_id', 'fy'),
    )
    op.create_table(
        'invoices',
        sa.Column('order_id', sqlmodel.sql.sqltypes.AutoString(length=96), nullable=False),
        sa.Column('shop_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('fy', sa.Integer(), nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
        sa.Column('token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('issued_at', sa.BigInteger(), nullable=False),
        sa.Column('document', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id']),
        sa.PrimaryKeyConstraint('order_id'),
        sa.UniqueConstraint('shop_id', 'fy', 'seq', name='uq_invoice_seq'),
        sa.UniqueConstraint('token'),
    )


def downgrade() -> None:
    op.drop_table('invoices')
    op.drop_table('invoice_counters')
