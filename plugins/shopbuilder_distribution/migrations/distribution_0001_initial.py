"""distribution: grades, fixed product commissions, distributors, bindings, commissions, withdrawals

Revision ID: distribution_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "distribution_0001"
down_revision = None
branch_labels = ("distribution",)
depends_on = "0001_core"

TZ = sa.DateTime(timezone=True)


def _chain():
    return sa.Column("chain_id", sa.Integer(), sa.ForeignKey("chain.id"), nullable=False,
                     index=True)


def upgrade():
    op.create_table(
        "distribution_grade",
        sa.Column("id", sa.Integer(), primary_key=True),
        _chain(),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("second_rate_bp", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.CheckConstraint("rate_bp >= 0 AND rate_bp <= 5000",
                           name="rate_range"),
        sa.CheckConstraint("second_rate_bp >= 0 AND second_rate_bp <= 5000",
                           name="second_rate_range"),
        sa.UniqueConstraint("chain_id", "name", name="uq_distribution_grade_chain_id_name"),
    )
    op.create_table(
        "distribution_product_commission",
        sa.Column("id", sa.Integer(), primary_key=True),
        _chain(),
        sa.Column("product_id", sa.Integer(), sa.ForeignKey("product.id"), nullable=False),
        sa.Column("fixed_fen", sa.Integer(), nullable=False),
        sa.Column("second_fixed_fen", sa.Integer(), nullable=False),
        sa.UniqueConstraint("chain_id", "product_id",
                            name="uq_distribution_product_commission_chain_id_product_id"),
        sa.CheckConstraint("fixed_fen >= 0 AND second_fixed_fen >= 0",
                           name="fixed_not_negative"),
    )
    op.create_table(
        "distribution_distributor",
        sa.Column("id", sa.Integer(), primary_key=True),
        _chain(),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id"), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("grade_id", sa.Integer(), sa.ForeignKey("distribution_grade.id")),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("distribution_distributor.id"),
                  index=True),
        sa.Column("store_id", sa.Integer(), sa.ForeignKey("store.id"), index=True),
        sa.Column("note", sa.String(255), nullable=False),
        sa.Column("balance_fen", sa.Integer(), nullable=False),
        sa.Column("withdrawn_fen", sa.Integer(), nullable=False),
        sa.Column("decided_at", TZ),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("chain_id", "customer_id",
                            name="uq_distribution_distributor_chain_id_customer_id"),
        sa.UniqueConstraint("chain_id", "code", name="uq_distribution_distributor_chain_id_code"),
        sa.CheckConstraint("parent_id IS NULL OR parent_id <> id",
                           name="not_own_parent"),
        sa.Index("ix_distribution_distributor_status", "chain_id", "status"),
    )
    op.create_table(
        "distribution_binding",
        sa.Column("id", sa.Integer(), primary_key=True),
        _chain(),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id"), nullable=False),
        sa.Column("distributor_id", sa.Integer(), sa.ForeignKey("distribution_distributor.id"),
                  nullable=False),
        sa.Column("bound_at", TZ, nullable=False),
        sa.Column("expires_at", TZ),
        sa.Column("store_id", sa.Integer(), sa.ForeignKey("store.id")),
        sa.UniqueConstraint("chain_id", "customer_id",
                            name="uq_distribution_binding_chain_id_customer_id"),
        sa.Index("ix_distribution_binding_distributor", "chain_id", "distributor_id"),
    )
    op.create_table(
        "distribution_commission",
        sa.Column("id", sa.Integer(), primary_key=True),
        _chain(),
        sa.Column("store_id", sa.Integer(), sa.ForeignKey("store.id"), nullable=False,
                  index=True),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("order.id"), nullable=False),
        sa.Column("order_number", sa.String(40), nullable=False),
        sa.Column("distributor_id", sa.Integer(), sa.ForeignKey("distribution_distributor.id"),
                  nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("base_fen", sa.Integer(), nullable=False),
        sa.Column("full_fen", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("net_fen", sa.Integer(), nullable=False),
        sa.Column("credited_fen", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("settled_at", TZ),
        sa.Column("available_at", TZ),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("order_id", "level", name="uq_distribution_commission_order_id_level"),
        sa.CheckConstraint("level IN (1, 2)", name="two_levels_only"),
        sa.CheckConstraint("amount_fen >= 0",
                           name="amount_not_negative"),
        sa.Index("ix_distribution_commission_state", "state", "available_at"),
        sa.Index("ix_distribution_commission_distributor", "chain_id", "distributor_id",
                 "state"),
    )
    op.create_table(
        "distribution_withdrawal",
        sa.Column("id", sa.Integer(), primary_key=True),
        _chain(),
        sa.Column("distributor_id", sa.Integer(), sa.ForeignKey("distribution_distributor.id"),
                  nullable=False, index=True),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("fee_fen", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(120), nullable=False),
        sa.Column("decided_at", TZ),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.CheckConstraint("amount_fen > 0 AND fee_fen >= 0 AND fee_fen <= amount_fen",
                           name="amount_and_fee"),
        sa.Index("ix_distribution_withdrawal_state", "chain_id", "state"),
    )


def downgrade():
    for table in ("distribution_withdrawal", "distribution_commission", "distribution_binding",
                  "distribution_distributor", "distribution_product_commission",
                  "distribution_grade"):
        op.drop_table(table)
