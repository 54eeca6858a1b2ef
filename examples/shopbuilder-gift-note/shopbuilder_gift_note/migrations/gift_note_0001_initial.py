"""gift_note: the gift_note table

Revision ID: gift_note_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "gift_note_0001"
down_revision = None
branch_labels = ("gift_note",)
depends_on = "0001_core"


def upgrade():
    op.create_table(
        "gift_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["chain_id"], ["chain.id"], name="fk_gift_note_chain_id_chain"),
        sa.ForeignKeyConstraint(["store_id"], ["store.id"], name="fk_gift_note_store_id_store"),
        sa.PrimaryKeyConstraint("id", name="pk_gift_note"),
        sa.UniqueConstraint("order_id", name="uq_gift_note_order_id"),
    )
    op.create_index("ix_gift_note_chain_id", "gift_note", ["chain_id"])
    op.create_index("ix_gift_note_store_id", "gift_note", ["store_id"])


def downgrade():
    op.drop_table("gift_note")
