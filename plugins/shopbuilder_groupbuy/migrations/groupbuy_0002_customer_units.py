"""groupbuy: per-(campaign, customer) unit counter for the exact per-customer limit

Revision ID: groupbuy_0002
Revises: groupbuy_0001

The counter starts from the members who still hold units (reserved, paid, succeeded,
or paid late and waiting for their refund), so a limit already reached stays reached.
"""

import sqlalchemy as sa
from alembic import op

revision = "groupbuy_0002"
down_revision = "groupbuy_0001"
branch_labels = None
depends_on = None

HOLDING = ("reserved", "paid", "succeeded", "refund_due")


def upgrade():
    op.create_table(
        "groupbuy_campaign_customer",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("groupbuy_campaign.id"),
                  nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id"), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("chain_id", sa.Integer(), sa.ForeignKey("chain.id"), nullable=False,
                  index=True),
        sa.UniqueConstraint("campaign_id", "customer_id",
                            name="uq_groupbuy_campaign_customer_campaign_id_customer_id"),
        sa.CheckConstraint("units >= 0", name="customer_units_not_negative"),
    )
    states = ", ".join(f"'{s}'" for s in HOLDING)
    op.execute(
        "INSERT INTO groupbuy_campaign_customer (campaign_id, customer_id, units, chain_id) "
        "SELECT campaign_id, customer_id, SUM(quantity), MIN(chain_id) FROM groupbuy_member "
        f"WHERE state IN ({states}) GROUP BY campaign_id, customer_id"
    )


def downgrade():
    op.drop_table("groupbuy_campaign_customer")
