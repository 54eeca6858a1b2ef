"""pickup: slots, pickup orders, picked lines, collections

Revision ID: pickup_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "pickup_0001"
down_revision = None
branch_labels = ("pickup",)
depends_on = "0001_core"

TZ = sa.DateTime(timezone=True)


def _tenant(table):
    return [
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["chain_id"], ["chain.id"], name=f"fk_{table}_chain_id_chain"),
        sa.ForeignKeyConstraint(["store_id"], ["store.id"], name=f"fk_{table}_store_id_store"),
    ]


def _tenant_indexes(table):
    op.create_index(f"ix_{table}_chain_id", table, ["chain_id"])
    op.create_index(f"ix_{table}_store_id", table, ["store_id"])


def upgrade():
    op.create_table(
        "pickup_slot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("starts_at", TZ, nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        *_tenant("pickup_slot"),
        sa.CheckConstraint("booked >= 0", name="ck_pickup_slot_booked_not_negative"),
        sa.PrimaryKeyConstraint("id", name="pk_pickup_slot"),
        sa.UniqueConstraint("store_id", "starts_at", name="uq_pickup_slot_store_id_starts_at"),
    )
    _tenant_indexes("pickup_slot")
    op.create_table(
        "pickup_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("slot_start", TZ, nullable=False),
        sa.Column("slot_end", TZ, nullable=False),
        sa.Column("slot_booked", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("open_code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_nonce", sa.String(length=64), nullable=True),
        sa.Column("ready_at", TZ, nullable=True),
        sa.Column("expires_at", TZ, nullable=True),
        sa.Column("remind_at", TZ, nullable=True),
        sa.Column("reminded_at", TZ, nullable=True),
        sa.Column("collected_at", TZ, nullable=True),
        sa.Column("collected_by", sa.String(length=120), nullable=False),
        sa.Column("closed_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        *_tenant("pickup_order"),
        sa.ForeignKeyConstraint(["order_id"], ["order.id"], name="fk_pickup_order_order_id_order"),
        sa.PrimaryKeyConstraint("id", name="pk_pickup_order"),
        sa.UniqueConstraint("order_id", name="uq_pickup_order_order_id"),
        sa.UniqueConstraint("chain_id", "open_code_hash",
                            name="uq_pickup_order_chain_id_open_code_hash"),
    )
    _tenant_indexes("pickup_order")
    op.create_index("ix_pickup_order_code_hash", "pickup_order", ["code_hash"])
    op.create_index("ix_pickup_order_expires_at", "pickup_order", ["expires_at"])
    op.create_index("ix_pickup_order_state_ready", "pickup_order", ["state", "ready_at"])
    op.create_index("ix_pickup_order_store_slot", "pickup_order", ["store_id", "slot_start"])
    op.create_table(
        "pickup_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pickup_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("picked", sa.Integer(), nullable=False),
        *_tenant("pickup_line"),
        sa.CheckConstraint("picked >= 0 AND picked <= quantity",
                           name="ck_pickup_line_picked_within_quantity"),
        sa.ForeignKeyConstraint(["pickup_id"], ["pickup_order.id"],
                                name="fk_pickup_line_pickup_id_pickup_order"),
        sa.ForeignKeyConstraint(["order_line_id"], ["order_line.id"],
                                name="fk_pickup_line_order_line_id_order_line"),
        sa.PrimaryKeyConstraint("id", name="pk_pickup_line"),
        sa.UniqueConstraint("pickup_id", "order_line_id",
                            name="uq_pickup_line_pickup_id_order_line_id"),
    )
    _tenant_indexes("pickup_line")
    op.create_index("ix_pickup_line_pickup_id", "pickup_line", ["pickup_id"])
    op.create_table(
        "pickup_collection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pickup_id", sa.Integer(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("user_name", sa.String(length=120), nullable=False),
        sa.Column("quantities", sa.JSON(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        *_tenant("pickup_collection"),
        sa.ForeignKeyConstraint(["pickup_id"], ["pickup_order.id"],
                                name="fk_pickup_collection_pickup_id_pickup_order"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name="fk_pickup_collection_user_id_user"),
        sa.PrimaryKeyConstraint("id", name="pk_pickup_collection"),
    )
    _tenant_indexes("pickup_collection")
    op.create_index("ix_pickup_collection_pickup_id", "pickup_collection", ["pickup_id"])
    op.create_index("ix_pickup_collection_at", "pickup_collection", ["at"])


def downgrade():
    op.drop_table("pickup_collection")
    op.drop_table("pickup_line")
    op.drop_table("pickup_order")
    op.drop_table("pickup_slot")
