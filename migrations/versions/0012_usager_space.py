"""usager_space: issue 11 (espace usager)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usager") as batch:
        batch.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "usager_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("usager_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["usager_id"], ["usager.id"], name=op.f("fk_usager_session_usager_id_usager"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usager_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_usager_session_token_hash")),
    )
    op.create_index(op.f("ix_usager_session_usager_id"), "usager_session", ["usager_id"], unique=False)
    op.create_table(
        "usager_preference",
        sa.Column("usager_id", sa.Integer(), nullable=False),
        sa.Column("created", sa.Boolean(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("ending", sa.Boolean(), nullable=False),
        sa.Column("digest", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["usager_id"], ["usager.id"], name=op.f("fk_usager_preference_usager_id_usager"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("usager_id", name=op.f("pk_usager_preference")),
    )
    op.create_table(
        "usager_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("usager_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("mandat_id", sa.Integer(), nullable=True),
        sa.Column("outbox_key", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["mandat_id"], ["mandat.id"], name=op.f("fk_usager_notice_mandat_id_mandat"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["usager_id"], ["usager.id"], name=op.f("fk_usager_notice_usager_id_usager"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usager_notice")),
        sa.UniqueConstraint("outbox_key", name=op.f("uq_usager_notice_outbox_key")),
    )
    op.create_index(op.f("ix_usager_notice_usager_id"), "usager_notice", ["usager_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_usager_notice_usager_id"), table_name="usager_notice")
    op.drop_table("usager_notice")
    op.drop_table("usager_preference")
    op.drop_index(op.f("ix_usager_session_usager_id"), table_name="usager_session")
    op.drop_table("usager_session")
    with op.batch_alter_table("usager") as batch:
        batch.drop_column("erased_at")
