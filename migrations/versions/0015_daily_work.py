"""daily_work: issue 9 (daily work, CGU, renewal)

The mandate that replaced an autorisation (renewal shows "remplacé par le mandat du …"); an index for the
dashboard's mandates ending within 30 days.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mandat", schema=None) as batch_op:
        batch_op.create_index("ix_mandat_organisation_expires", ["organisation_id", "expires_at"], unique=False)
    with op.batch_alter_table("autorisation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replaced_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_autorisation_replaced_by_id_mandat"), "mandat",
                                    ["replaced_by_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("autorisation", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_autorisation_replaced_by_id_mandat"), type_="foreignkey")
        batch_op.drop_column("replaced_by_id")
    with op.batch_alter_table("mandat", schema=None) as batch_op:
        batch_op.drop_index("ix_mandat_organisation_expires")
