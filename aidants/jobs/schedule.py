"""Every scheduled job in one readable place: what it does, its period, how often the scheduler asks.

The scheduler (Celery beat) asks often — every ``tick`` — and each job's work is keyed by its
period (``job_run`` holds one row per job and period, claimed before the work, in the work's own
transaction): two schedulers, two workers, or a tick repeated after a crash do a period's work once,
and a period missed while everything was stopped is done at the next tick.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from aidants.jobs import notices, retention, snapshots
from aidants.jobs.outcome import Outcome

HOUR, DAY, WEEK, MONTH = "hour", "day", "week", "month"
PERIOD_LABELS = {HOUR: "toutes les heures", DAY: "chaque jour", WEEK: "chaque semaine", MONTH: "chaque mois"}

#: How often outbox delivery sweeps (seconds); a commit that queues mail also wakes a worker.
DELIVERY_EVERY = 30
#: How often the journal's sequencer integrates committed entries into the Merkle tree (its maximum merge
#: delay, in seconds); each integration signs the new tree, and the hourly job signs it even unchanged.
JOURNAL_INTEGRATION_EVERY = 5


@dataclass(frozen=True)
class Job:
    """A scheduled job: ``run(now)`` does one period's work in the caller's transaction."""

    name: str
    title: str
    period: str
    tick: int  # seconds between two asks of the scheduler
    run: Callable[[dt.datetime], Outcome]


JOBS: dict[str, Job] = {job.name: job for job in (
    Job("journal_checkpoint", "Point de contrôle signé du journal", HOUR, 60, snapshots.journal_checkpoint),
    Job("retention", "Purge des données arrivées au terme de leur conservation", DAY, 60, retention.purge),
    Job("mandats_ending", "Mandats arrivant à échéance dans 30 jours (récapitulatif par structure)", DAY, 60,
        notices.mandats_ending),
    Job("inactivity", "Aidants inactifs : avertissement à 5 mois, désactivation à 6 mois", DAY, 60,
        notices.inactivity),
    Job("usager_ending", "Usagers : leur mandat prend fin dans 30 jours ou dans 7 jours", DAY, 60,
        notices.usager_ending),
    Job("usager_uses", "Usagers : récapitulatif quotidien des utilisations de leurs mandats", DAY, 60,
        notices.usager_uses),
    Job("stats_snapshot", "Instantané quotidien des statistiques publiques", DAY, 60, snapshots.stats_snapshot),
    Job("staff_digest", "Récapitulatif hebdomadaire des demandes d'habilitation à l'équipe", WEEK, 60,
        notices.staff_digest),
    Job("referent_reminder", "Rappel mensuel aux référents : aidants sans carte ni application", MONTH, 60,
        notices.referent_reminder),
)}


def period_key(period: str, now: dt.datetime) -> str:
    """The name of the period ``now`` falls in (UTC): 2026-12-02T09, 2026-12-02, 2026-W49, 2026-12."""
    now = now.astimezone(dt.UTC)
    if period == HOUR:
        return now.strftime("%Y-%m-%dT%H")
    if period == DAY:
        return now.strftime("%Y-%m-%d")
    if period == WEEK:
        year, week, _ = now.isocalendar()
        return f"{year}-W{week:02d}"
    if period == MONTH:
        return now.strftime("%Y-%m")
    raise ValueError(f"unknown period {period!r}")


def period_start(period: str, now: dt.datetime) -> dt.datetime:
    """The first instant of the period ``now`` falls in."""
    now = now.astimezone(dt.UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    if period == HOUR:
        return hour
    day = hour.replace(hour=0)
    if period == DAY:
        return day
    if period == WEEK:
        return day - dt.timedelta(days=day.weekday())
    if period == MONTH:
        return day.replace(day=1)
    raise ValueError(f"unknown period {period!r}")


def next_period(period: str, now: dt.datetime) -> dt.datetime:
    """When the next period begins (the job's next run, give or take one tick)."""
    start = period_start(period, now)
    if period == HOUR:
        return start + dt.timedelta(hours=1)
    if period == DAY:
        return start + dt.timedelta(days=1)
    if period == WEEK:
        return start + dt.timedelta(days=7)
    return (start + dt.timedelta(days=32)).replace(day=1)


def beat_schedule() -> dict[str, dict[str, object]]:
    """The same schedule for Celery beat: delivery sweeps, then one entry per job."""
    entries: dict[str, dict[str, object]] = {
        "deliver_outbox": {"task": "aidants.deliver_outbox", "schedule": float(DELIVERY_EVERY)},
        "integrate_journal": {"task": "aidants.integrate_journal", "schedule": float(JOURNAL_INTEGRATION_EVERY)},
    }
    for job in JOBS.values():
        entries[job.name] = {"task": "aidants.run_job", "schedule": float(job.tick), "args": (job.name,)}
    return entries
