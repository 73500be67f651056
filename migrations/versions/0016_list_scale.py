"""list_scale: issue 12 (espace aidant lists and card import at scale)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 00:00:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


INDEX = "ix_autorisation_organisation_usager"
COLUMNS = ["organisation_id", "usager_id", "expires_at"]


def upgrade() -> None:
    """The autorisations' (organisation, usager) index covers what the usager list counts and filters on
    (the mandate, the revocation and its reason): index-only scans on PostgreSQL (SQLite has no INCLUDE)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(INDEX, table_name="autorisation")
    op.create_index(INDEX, "autorisation", COLUMNS, postgresql_include=["mandat_id", "revoked_at", "revoked_reason"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(INDEX, table_name="autorisation")
    op.create_index(INDEX, "autorisation", COLUMNS)
