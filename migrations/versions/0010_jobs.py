"""jobs: issue 10 (background jobs): outbox leases, job runs, statistics snapshots, checkpoints, notices

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "job_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=60), nullable=False),
        sa.Column("period", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=500), nullable=False),
        sa.Column("triggered_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_run")),
        sa.UniqueConstraint("job", "period", name="uq_job_run_job_period"),
    )
    op.create_index("ix_job_run_job", "job_run", ["job"], unique=False)
    op.create_table(
        "stats_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_total", sa.Integer(), nullable=False),
        sa.Column("active_mandats", sa.Integer(), nullable=False),
        sa.Column("active_usagers", sa.Integer(), nullable=False),
        sa.Column("structures_active", sa.Integer(), nullable=False),
        sa.Column("aidants_active", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_snapshot")),
        sa.UniqueConstraint("day", name=op.f("uq_stats_snapshot_day")),
    )
    op.create_table(
        "aidant_inactivity_notice",
        sa.Column("aidant_id", sa.Integer(), nullable=False),
        sa.Column("warned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["aidant_id"], ["aidant.id"], name=op.f("fk_aidant_inactivity_notice_aidant_id_aidant"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("aidant_id", name=op.f("pk_aidant_inactivity_notice")),
    )
    # The development outbox is now the outbox itself (listed at /dev/outbox).
    with op.batch_alter_table("dev_outbox") as batch_op:
        batch_op.drop_index("ix_dev_outbox_recipient")
    op.drop_table("dev_outbox")


def downgrade() -> None:
    op.create_table(
        "dev_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_outbox")),
    )
    op.create_index("ix_dev_outbox_recipient", "dev_outbox", ["recipient"], unique=False)
    op.drop_table("aidant_inactivity_notice")
    op.drop_table("stats_snapshot")
    op.drop_index("ix_job_run_job", table_name="job_run")
    op.drop_table("job_run")
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.drop_column("lease_until")
