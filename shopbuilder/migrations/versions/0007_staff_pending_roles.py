"""staff roles can be pending until the person joins

Revision ID: 0007_staff
Revises: 0006_catalogue
Create Date: 2026-11-28

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_staff'
down_revision = '0006_catalogue'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('staff_role', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('staff_role', schema=None) as batch_op:
        batch_op.drop_column('pending')
