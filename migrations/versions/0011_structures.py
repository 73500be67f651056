"""structures: issue 9 (activation links, aidant requests, aidant types, card serials)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 00:00:00
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _normalised(serial: str) -> str:
    """As aidants.accounts.cards.normalise_serial (copied: a migration must not change with the code)."""
    return re.sub(r"[\s\-‐‑‒–—]", "", serial).upper()


def _add_type_column(table: str) -> None:
    # Existing rows get "" through a server default, dropped afterwards: the models carry no server default.
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.add_column(sa.Column("aidant_type", sa.String(length=40), nullable=False, server_default=""))
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.alter_column("aidant_type", server_default=None)


def upgrade() -> None:
    op.create_table(
        "activation_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("aidant_id", sa.Integer(), nullable=False),
        sa.Column("sent_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["aidant_id"], ["aidant.id"], name=op.f("fk_activation_link_aidant_id_aidant")),
        sa.ForeignKeyConstraint(["sent_by_id"], ["aidant.id"], name=op.f("fk_activation_link_sent_by_id_aidant")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activation_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_activation_link_token_hash")),
    )
    op.create_index(op.f("ix_activation_link_aidant_id"), "activation_link", ["aidant_id"], unique=False)
    op.create_table(
        "aidant_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("aidant_id", sa.Integer(), nullable=False),
        sa.Column("aidant_type", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["aidant_id"], ["aidant.id"], name=op.f("fk_aidant_request_aidant_id_aidant")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["aidant.id"],
                                name=op.f("fk_aidant_request_decided_by_id_aidant")),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"],
                                name=op.f("fk_aidant_request_organisation_id_organisation")),
        sa.ForeignKeyConstraint(["requested_by_id"], ["aidant.id"],
                                name=op.f("fk_aidant_request_requested_by_id_aidant")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aidant_request")),
    )
    op.create_index(op.f("ix_aidant_request_aidant_id"), "aidant_request", ["aidant_id"], unique=False)
    op.create_index(op.f("ix_aidant_request_organisation_id"), "aidant_request", ["organisation_id"], unique=False)
    op.create_index(op.f("ix_aidant_request_status"), "aidant_request", ["status"], unique=False)
    _add_type_column("aidant")
    _add_type_column("habilitation_aidant")
    _normalise_serials()


def _normalise_serials() -> None:
    """Existing card serials written the one way lookups now use; a row whose normal form another row
    already holds keeps its spelling (an operator decides which card is real)."""
    connection = op.get_bind()
    device = sa.table("totp_device", sa.column("id", sa.Integer), sa.column("serial_number", sa.String))
    rows = connection.execute(sa.select(device.c.id, device.c.serial_number)
                              .where(device.c.serial_number.is_not(None)).order_by(device.c.id)).all()
    taken = {serial for _, serial in rows}
    for row_id, serial in rows:
        normal = _normalised(serial)
        if normal == serial or normal in taken:
            continue
        connection.execute(sa.update(device).where(device.c.id == row_id).values(serial_number=normal))
        taken.discard(serial)
        taken.add(normal)


def downgrade() -> None:
    # Card serials stay in their normal form: it is a valid spelling of the same card.
    for table in ("habilitation_aidant", "aidant"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("aidant_type")
    op.drop_index(op.f("ix_aidant_request_status"), table_name="aidant_request")
    op.drop_index(op.f("ix_aidant_request_organisation_id"), table_name="aidant_request")
    op.drop_index(op.f("ix_aidant_request_aidant_id"), table_name="aidant_request")
    op.drop_table("aidant_request")
    op.drop_index(op.f("ix_activation_link_aidant_id"), table_name="activation_link")
    op.drop_table("activation_link")
