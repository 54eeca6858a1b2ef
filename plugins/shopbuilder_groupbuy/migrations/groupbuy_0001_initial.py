"""groupbuy: campaigns, per-store counters, groups and members

Revision ID: groupbuy_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "groupbuy_0001"
down_revision = None
branch_labels = ("groupbuy",)
depends_on = "0001_core"

TZ = sa.DateTime(timezone=True)


def _tenant(table: str, store_nullable: bool):
    return [
        sa.Column("chain_id", sa.Integer(), sa.ForeignKey("chain.id"), nullable=False,
                  index=True),
        sa.Column("store_id", sa.Integer(), sa.ForeignKey("store.id"), nullable=store_nullable,
                  index=True),
    ]


def upgrade():
    op.create_table(
        "groupbuy_campaign",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("variant_id", sa.Integer(), sa.ForeignKey("variant.id"), nullable=False),
        sa.Column("product_id", sa.Integer(), sa.ForeignKey("product.id"), nullable=False,
                  index=True),
        sa.Column("group_price_fen", sa.Integer(), nullable=False),
        sa.Column("leader_price_fen", sa.Integer()),
        sa.Column("group_size", sa.Integer(), nullable=False),
        sa.Column("fill_hours", sa.Integer(), nullable=False),
        sa.Column("starts_at", TZ, nullable=False),
        sa.Column("ends_at", TZ, nullable=False),
        sa.Column("unit_cap", sa.Integer(), nullable=False),
        sa.Column("per_customer_limit", sa.Integer(), nullable=False),
        sa.Column("per_order_limit", sa.Integer(), nullable=False),
        sa.Column("virtual_percent", sa.Integer(), nullable=False),
        sa.Column("commission_allowed", sa.Boolean(), nullable=False),
        sa.Column("all_stores", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        *_tenant("groupbuy_campaign", True),
        sa.CheckConstraint("group_size >= 2 AND group_size <= 50",
                           name="group_size_range"),
        sa.CheckConstraint("group_price_fen > 0",
                           name="group_price_positive"),
    )
    op.create_index("ix_groupbuy_campaign_variant", "groupbuy_campaign",
                    ["chain_id", "variant_id"])
    op.create_table(
        "groupbuy_campaign_store",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("groupbuy_campaign.id"),
                  nullable=False),
        sa.Column("chosen", sa.Boolean(), nullable=False),
        sa.Column("units_taken", sa.Integer(), nullable=False),
        *_tenant("groupbuy_campaign_store", False),
        sa.UniqueConstraint("campaign_id", "store_id",
                            name="uq_groupbuy_campaign_store_campaign_id_store_id"),
        sa.CheckConstraint("units_taken >= 0",
                           name="units_not_negative"),
    )
    op.create_table(
        "groupbuy_group",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("groupbuy_campaign.id"),
                  nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("seats_taken", sa.Integer(), nullable=False),
        sa.Column("paid_count", sa.Integer(), nullable=False),
        sa.Column("leader_customer_id", sa.Integer(), sa.ForeignKey("customer.id")),
        sa.Column("opened_at", TZ),
        sa.Column("expires_at", TZ),
        sa.Column("closed_at", TZ),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        *_tenant("groupbuy_group", False),
        sa.CheckConstraint("seats_taken >= 0 AND seats_taken <= size",
                           name="seats_within_size"),
        sa.CheckConstraint("paid_count >= 0 AND paid_count <= size",
                           name="paid_within_size"),
    )
    op.create_index("ix_groupbuy_group_state_expires", "groupbuy_group", ["state", "expires_at"])
    op.create_index("ix_groupbuy_group_store_campaign", "groupbuy_group",
                    ["store_id", "campaign_id", "state"])
    op.create_table(
        "groupbuy_member",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("groupbuy_group.id"), nullable=False,
                  index=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("groupbuy_campaign.id"),
                  nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id"), nullable=False),
        sa.Column("seat_customer_id", sa.Integer()),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("order.id"), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_fen", sa.Integer(), nullable=False),
        sa.Column("is_leader", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(64)),
        sa.Column("paid_at", TZ),
        sa.Column("hold_until", TZ),
        sa.Column("created_at", TZ, nullable=False),
        *_tenant("groupbuy_member", False),
        sa.UniqueConstraint("order_id", name="uq_groupbuy_member_order_id"),
        sa.UniqueConstraint("group_id", "seat_customer_id",
                            name="uq_groupbuy_member_group_id_seat_customer_id"),
        sa.CheckConstraint("quantity > 0",
                           name="member_quantity_positive"),
    )
    op.create_index("ix_groupbuy_member_campaign_customer", "groupbuy_member",
                    ["campaign_id", "customer_id", "state"])


def downgrade():
    for table in ("groupbuy_member", "groupbuy_group", "groupbuy_campaign_store",
                  "groupbuy_campaign"):
        op.drop_table(table)
