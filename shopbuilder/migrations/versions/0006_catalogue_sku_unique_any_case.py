"""catalogue: SKUs unique per chain whatever their case

The services already refuse a SKU that differs from another of the chain only
in case; the index makes two saves at the same moment unable to slip past that
check. If the database already holds such pairs (saved at the same moment
before this index existed), the upgrade stops and names them: rename one of
each pair in the console, then upgrade again.

Revision ID: 0006_catalogue
Revises: 0005_catalogue
Create Date: 2026-12-01

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_catalogue'
down_revision = '0005_catalogue'
branch_labels = None
depends_on = None


def upgrade():
    clashes = op.get_bind().execute(sa.text(
        "SELECT chain_id, lower(sku), count(*) FROM variant "
        "GROUP BY chain_id, lower(sku) HAVING count(*) > 1"
    )).all()
    if clashes:
        listed = ", ".join(f"chain {chain}: {sku} ({n} variants)" for chain, sku, n in clashes)
        raise RuntimeError(
            "Some SKUs differ only in case within a chain; rename one of each before "
            f"upgrading: {listed}"
        )
    op.create_index('uq_variant_chain_sku_lower', 'variant',
                    ['chain_id', sa.text('lower(sku)')], unique=True)


def downgrade():
    op.drop_index('uq_variant_chain_sku_lower', table_name='variant')
