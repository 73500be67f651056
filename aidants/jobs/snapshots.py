"""Jobs that keep a record: the daily statistics snapshot and the hourly signed journal checkpoint."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from aidants import db
from aidants.jobs.models import StatsSnapshot
from aidants.jobs.outcome import Outcome
from aidants.journal import sequencer
from aidants.stats import services as stats


def stats_snapshot(now: dt.datetime) -> Outcome:
    """The public figures of the day, kept once per day."""
    day = now.astimezone(dt.UTC).date()
    if db.session().scalar(sa.select(StatsSnapshot.id).where(StatsSnapshot.day == day)) is not None:
        return Outcome({"snapshots": 0}, "instantané du jour déjà pris")
    figures = stats.compute(now, None)
    db.session().add(StatsSnapshot(
        day=day, taken_at=now, created_total=figures.created_total, active_mandats=figures.active_mandats,
        active_usagers=figures.active_usagers, structures_active=figures.structures_active,
        aidants_active=figures.aidants_active,
    ))
    db.session().flush()
    return Outcome({"snapshots": 1})


@dataclass(frozen=True)
class MonthFigures:
    """The last snapshot of a month: the figures as they stood at its end (or today, this month)."""

    month: str  # YYYY-MM
    day: dt.date
    created_total: int
    active_mandats: int
    active_usagers: int
    structures_active: int
    aidants_active: int


def monthly_history(months: int = 24) -> list[MonthFigures]:
    """Month by month, newest first, from the snapshots (nothing is recomputed)."""
    month = sa.func.substr(sa.cast(StatsSnapshot.day, sa.String), 1, 7)
    last_days = sa.select(sa.func.max(StatsSnapshot.day).label("day")).group_by(month).subquery()
    rows = db.session().scalars(
        sa.select(StatsSnapshot).join(last_days, StatsSnapshot.day == last_days.c.day)
        .order_by(StatsSnapshot.day.desc()).limit(months))
    return [MonthFigures(f"{r.day:%Y-%m}", r.day, r.created_total, r.active_mandats, r.active_usagers,
                         r.structures_active, r.aidants_active) for r in rows]


def journal_checkpoint(now: dt.datetime) -> Outcome:
    """Integrate what is pending into the journal's Merkle tree and sign the tree (C2SP signed note)."""
    found = sequencer.record_checkpoint_in(db.session().connection(), now)
    if found is None:
        return Outcome({"checkpoints": 0}, "un autre intégrateur signait déjà l'arbre du journal")
    return Outcome({"checkpoints": 1}, f"point de contrôle signé : arbre de {found.tree_size} entrée(s)")

