"""marketing consent (opt-in / opt-out) and broadcasts with their fixed audiences

Additive: three new tables (bot/consent.py, bot/broadcasts.py own them).

Revision ID: 0008_i17b
Revises: 0007_i19c
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0008_i17b'
down_revision: Union[str, None] = '0007_i19c'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        'marketing_consent',
        sa.Column('shop_id', _text(64), nullable=False),
        sa.Column('channel', _text(16), nullable=False),
        sa.Column('customer', _text(64), nullable=False),
        sa.Column('status', _text(16), nullable=False),
        sa.Column('source', _text(32), nullable=False, server_default=''),
        sa.Column('asked', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('updated_at', sa.BigInteger(), nullable=False, server_default='0'),
        sa.PrimaryKeyConstraint('shop_id', 'channel', 'customer'),
    )
    op.create_table(
        'broadcasts',
        sa.Column('id', _text(32), nullable=False),
        sa.Column('shop_id', _text(64), nullable=False),
        sa.Column('template', _text(512), nullable=False),
        sa.Column('language', _text(16), nullable=False, server_default='en'),
        sa.Column('params', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                  server_default='[]'),
        sa.Column('segment', _text(128), nullable=False, server_default='all'),
        sa.Column('status', _text(16), nullable=False, server_default='sending'),
        sa.Column('total', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('created_at', sa.BigInteger(), nullable=False, server_default='0'),
        sa.Column('updated_at', sa.BigInteger(), nullable=False, server_default='0'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_broadcasts_shop_id', 'broadcasts', ['shop_id'])
    op.create_table(
        'broadcast_recipients',
        sa.Column('broadcast_id', _text(32), nullable=False),
        sa.Column('channel', _text(16), nullable=False),
        sa.Column('customer', _text(64), nullable=False),
        sa.Column('business', _text(64), nullable=False, server_default=''),
        sa.Column('language', _text(16), nullable=False, server_default='en'),
        sa.Column('seq', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('outbox_id', _text(64), nullable=False),
        sa.Column('state', _text(16), nullable=False, server_default='waiting'),
        sa.PrimaryKeyConstraint('broadcast_id', 'channel', 'customer'),
    )
    op.create_index('ix_broadcast_recipients_seq', 'broadcast_recipients', ['seq'])


def downgrade() -> None:
    op.drop_index('ix_broadcast_recipients_seq', table_name='broadcast_recipients')
    op.drop_table('broadcast_recipients')
    op.drop_index('ix_broadcasts_shop_id', table_name='broadcasts')
    op.drop_table('broadcasts')
    op.drop_table('marketing_consent')
