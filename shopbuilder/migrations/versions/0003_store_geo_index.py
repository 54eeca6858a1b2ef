"""store: index on (chain_id, lat, lng) for the store finder's bounding box

Revision ID: 0003_store_geo
Revises: 0002_api
Create Date: 2026-11-27

"""
from alembic import op

revision = "0003_store_geo"
down_revision = "0002_api"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("store", schema=None) as batch_op:
        batch_op.create_index("ix_store_chain_lat_lng", ["chain_id", "lat", "lng"], unique=False)


def downgrade():
    with op.batch_alter_table("store", schema=None) as batch_op:
        batch_op.drop_index("ix_store_chain_lat_lng")
