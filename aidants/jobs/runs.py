"""Running a job for its period, once: the ``job_run`` row is claimed in the work's own transaction.

The claim (an INSERT of the unique (job, period), or taking back a ``failed`` row with a conditional
UPDATE) holds until the caller commits: a second scheduler's claim waits on it, then finds the
period done and skips. A worker killed mid-job rolls back the claim with the work, so the next tick
does the period again. A job that raises is rolled back to its savepoint and recorded ``failed``
with the error, to be retried at the next tick.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from aidants import db
from aidants.jobs import schedule
from aidants.jobs.models import DONE, FAILED, JobRun
from aidants.journal import services as journal

log = logging.getLogger(__name__)


class UnknownJob(LookupError):
    """No scheduled job has this name."""


@dataclass(frozen=True)
class JobState:
    """A job as the staff page shows it."""

    job: schedule.Job
    last: JobRun | None
    next_run: dt.datetime


def get(name: str) -> schedule.Job:
    """The scheduled job of this name."""
    try:
        return schedule.JOBS[name]
    except KeyError:
        raise UnknownJob(name) from None


def _claim(name: str, period: str, now: dt.datetime, staff_id: int | None) -> JobRun | None:
    session = db.session()
    taken = session.execute(
        sa.update(JobRun).where(JobRun.job == name, JobRun.period == period, JobRun.status == FAILED)
        .values(started_at=now, triggered_by=staff_id).execution_options(synchronize_session=False)
    )
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        return session.scalars(sa.select(JobRun).where(JobRun.job == name, JobRun.period == period)).one()
    run = JobRun(job=name, period=period, status=DONE, started_at=now, outcome="", triggered_by=staff_id)
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        return None  # the period's work is done (or being done, and it will be) by someone else
    return run


def run(name: str, now: dt.datetime, *, staff_id: int | None = None) -> JobRun | None:
    """Do the job's work for the period of ``now`` unless already done; the run, or None when skipped.

    A staff member's run now (``staff_id``) is a period of its own, so it never blocks the schedule.
    """
    job = get(name)
    period = f"manuel {now.isoformat(timespec='seconds')}" if staff_id else schedule.period_key(job.period, now)
    claimed = _claim(name, period, now, staff_id)
    if claimed is None:
        return None
    session = db.session()
    try:
        with session.begin_nested():
            outcome = job.run(now)
    except Exception as error:  # recorded for staff, retried at the next tick
        log.exception("job %s (%s) failed", name, period)
        claimed.status, claimed.outcome = FAILED, f"{type(error).__name__}: {error}"[:500]
    else:
        claimed.status, claimed.outcome = DONE, outcome.text()[:500]
        if outcome.changed:
            journal.append("run_job", now=now, actor_kind="staff" if staff_id else "system", aidant_id=staff_id,
                           extra={"job": name, "period": period, **outcome.counts})
    claimed.finished_at = now
    if staff_id:
        journal.append("run_job_manually", now=now, actor_kind="staff", aidant_id=staff_id,
                       extra={"job": name, "status": claimed.status})
    session.flush()
    return claimed


def states(now: dt.datetime) -> list[JobState]:
    """Each scheduled job with its latest run and its next period."""
    latest = sa.select(JobRun.job, sa.func.max(JobRun.id).label("id")).group_by(JobRun.job).subquery()
    runs = {r.job: r for r in db.session().scalars(sa.select(JobRun).join(latest, JobRun.id == latest.c.id))}
    return [JobState(job, runs.get(job.name), schedule.next_period(job.period, now))
            for job in schedule.JOBS.values()]
