"""amounts of any size (NUMERIC(40,0) on PostgreSQL), the sandbox PSP's own tables, and
provider_events.rejected (a callback whose currency or amount its request never asked for)

Revision ID: 0002_i14b
Revises: 0001
Create Date: 2026-12-01 19:30:00

PostgreSQL: every amount column becomes NUMERIC(40,0) (was INTEGER for ledger_entries, BIGINT
elsewhere). SQLite: columns keep INTEGER affinity (config/amounts.py says why); only
ledger_entries.amount_minor is re-declared BIGINT, in batch mode (the table is copied).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

from storage.sqltypes import MinorUnits

revision: str = '0002_i14b'
down_revision: Union[str, None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

AMOUNTS = {
    'orders': ('subtotal_minor', 'delivery_minor', 'tip_minor', 'total_minor'),
    'order_lines': ('unit_price_minor', 'line_total_minor'),
    'payment_requests': ('amount_minor', 'captured_minor', 'refunded_minor'),
    'provider_events': ('amount_minor',),
    'refunds': ('amount_minor',),
    'ledger_entries': ('amount_minor',),
}


def _sandbox_tables() -> None:
    op.create_table('sandbox_requests',
    sa.Column('ref', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('amount_minor', MinorUnits(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('ref')
    )
    op.create_table('sandbox_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('ref', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('payment_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('body', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    with op.batch_alter_table('sandbox_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_events_ref'), ['ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_sandbox_events_payment_id'), ['payment_id'],
                              unique=False)
    op.create_table('sandbox_refunds',
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('payment_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('amount_minor', MinorUnits(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('refund_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.PrimaryKeyConstraint('idempotency_key')
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table, columns in AMOUNTS.items():
            for column in columns:
                op.alter_column(table, column, type_=sa.Numeric(40, 0),
                                postgresql_using=f'{column}::numeric(40,0)')
    else:
        with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
            batch_op.alter_column('amount_minor', existing_type=sa.Integer(),
                                  type_=sa.BigInteger(), existing_nullable=False)
    _sandbox_tables()
    with op.batch_alter_table('provider_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rejected', sqlmodel.sql.sqltypes.AutoString(length=64),
                                      nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('provider_events', schema=None) as batch_op:
        batch_op.drop_column('rejected')
    op.drop_table('sandbox_refunds')
    with op.batch_alter_table('sandbox_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_events_payment_id'))
        batch_op.drop_index(batch_op.f('ix_sandbox_events_ref'))
    op.drop_table('sandbox_events')
    op.drop_table('sandbox_requests')
    if op.get_bind().dialect.name == 'postgresql':
        for table, columns in AMOUNTS.items():
            for column in columns:
                ledger = table == 'ledger_entries'
                op.alter_column(table, column,
                                type_=sa.Integer() if ledger else sa.BigInteger(),
                                postgresql_using=f"{column}::{'integer' if ledger else 'bigint'}")
    else:
        with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
            batch_op.alter_column('amount_minor', existing_type=sa.BigInteger(),
                                  type_=sa.Integer(), existing_nullable=False)
