"""refund idempotency keys and the lines a return brings back

Revision ID: 0004_orders
Revises: 0003_store_geo
Create Date: 2026-11-28

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_orders'
down_revision = '0003_store_geo'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f('uq_refund_order_id_idempotency_key'), ['order_id', 'idempotency_key'])
    # Existing requests brought nothing back line by line: an empty mapping.
    with op.batch_alter_table('after_sale_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('return_lines', sa.JSON(), nullable=False,
                                      server_default=sa.text("'{}'")))
    with op.batch_alter_table('after_sale_request', schema=None) as batch_op:
        batch_op.alter_column('return_lines', server_default=None)


def downgrade():
    with op.batch_alter_table('after_sale_request', schema=None) as batch_op:
        batch_op.drop_column('return_lines')
    with op.batch_alter_table('refund', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_refund_order_id_idempotency_key'), type_='unique')
        batch_op.drop_column('idempotency_key')
