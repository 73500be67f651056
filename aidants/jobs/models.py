"""Rows of the job engine: one run per (job, period), statistics snapshots, checkpoints, inactivity notices."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from aidants.db import Base

DONE, FAILED = "done", "failed"


class JobRun(Base):
    """A job's work for one period; the unique (job, period) makes two schedulers do it once."""

    __tablename__ = "job_run"
    __table_args__ = (sa.UniqueConstraint("job", "period", name="uq_job_run_job_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(sa.String(60), index=True)
    period: Mapped[str] = mapped_column(sa.String(40))
    status: Mapped[str] = mapped_column(sa.String(10))  # done | failed
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    outcome: Mapped[str] = mapped_column(sa.String(500), default="")
    triggered_by: Mapped[int | None]  # the staff member who asked for it; None for the schedule


class StatsSnapshot(Base):
    """The public figures as they were on one day (``/stats`` history reads these)."""

    __tablename__ = "stats_snapshot"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date] = mapped_column(sa.Date, unique=True)
    taken_at: Mapped[dt.datetime]
    created_total: Mapped[int]
    active_mandats: Mapped[int]
    active_usagers: Mapped[int]
    structures_active: Mapped[int]
    aidants_active: Mapped[int]


class InactivityNotice(Base):
    """When an aidant was warned of their inactivity (the deactivation comes one month later)."""

    __tablename__ = "aidant_inactivity_notice"

    aidant_id: Mapped[int] = mapped_column(sa.ForeignKey("aidant.id", ondelete="CASCADE"), primary_key=True)
    warned_at: Mapped[dt.datetime]
    last_login_at: Mapped[dt.datetime | None]  # the sign-in the warning was about; a newer one cancels it
