"""catalogue: one index for "does a publication reach this store"

Replaces ix_publication_chain_product (chain_id, product_id), which made the
database read every publication of a product (2,000 rows for a product
published to 2,000 chosen stores) to find the one reaching a store, with
ix_publication_reach (chain_id, target, product_id, store_id): each branch of
services/search.py:publication_reaches is one seek.

Revision ID: 0005_catalogue
Revises: 0004_orders
Create Date: 2026-12-01

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0005_catalogue'
down_revision = '0004_orders'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.create_index('ix_publication_reach',
                              ['chain_id', 'target', 'product_id', 'store_id'], unique=False)
        batch_op.drop_index('ix_publication_chain_product')


def downgrade():
    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.create_index('ix_publication_chain_product', ['chain_id', 'product_id'],
                              unique=False)
        batch_op.drop_index('ix_publication_reach')
