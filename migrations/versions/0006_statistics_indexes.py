"""statistics indexes: mandates by creation time, unrevoked autorisations by expiry

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 09:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_mandat_created_at", "mandat", ["created_at"], unique=False)
    op.create_index("ix_autorisation_unrevoked_expires", "autorisation", ["expires_at", "demarche"], unique=False,
                    sqlite_where=sa.text("revoked_at IS NULL"), postgresql_where=sa.text("revoked_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_autorisation_unrevoked_expires", table_name="autorisation")
    op.drop_index("ix_mandat_created_at", table_name="mandat")
