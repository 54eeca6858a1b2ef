"""stamp: initial tables

Revision ID: stamp_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "stamp_0001"
down_revision = None
branch_labels = ("stamp",)
depends_on = "0001_core"


def upgrade():
    op.create_table(
        "stamp_card",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["store.id"], name="fk_stamp_card_store_id_store"),
        sa.PrimaryKeyConstraint("id", name="pk_stamp_card"),
    )


def downgrade():
    op.drop_table("stamp_card")
