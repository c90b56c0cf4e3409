"""catalog sync: what was last pushed to each shop's Meta catalog, per item

Revision ID: 0006_i17c
Revises: 0005_issue_14d
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0006_i17c'
down_revision: Union[str, None] = '0005_issue_14d'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'meta_catalog_items',
        sa.Column('shop_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('catalog_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('retailer_id', sqlmodel.sql.sqltypes.AutoString(length=100),
                  nullable=False),
        sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('synced_at', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('shop_id', 'catalog_id', 'retailer_id'),
    )


def downgrade() -> None:
    op.drop_table('meta_catalog_items')
