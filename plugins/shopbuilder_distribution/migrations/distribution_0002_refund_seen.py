"""distribution: commissions remember the refunded amount they last followed

The worker tick reconciles commissions of orders refunded since, so a refund in
a store that has the plugin off (no refund hook) still reaches the balance.
Existing rows start at 0: the first tick reconciles every refunded order once.

Revision ID: distribution_0002
Revises: distribution_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "distribution_0002"
down_revision = "distribution_0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("distribution_commission") as batch:
        batch.add_column(sa.Column("refund_seen_fen", sa.Integer(), nullable=False,
                                   server_default="0"))


def downgrade():
    with op.batch_alter_table("distribution_commission") as batch:
        batch.drop_column("refund_seen_fen")
