"""The Celery tasks: thin calls into the delivery sweep and the period-keyed job runner."""

from __future__ import annotations

from aidants import clock
from aidants.jobs import delivery, runs
from aidants.jobs.celery_app import celery
from aidants.journal import sequencer


@celery.task(name="aidants.deliver_outbox")
def deliver_outbox() -> dict[str, int]:
    """Deliver what is due in the outbox (up to a thousand messages a sweep; the next sweep takes the rest)."""
    sweep = delivery.deliver_due(limit=1000)
    return {"sent": sweep.sent, "retried": sweep.retried, "failed": sweep.failed}


@celery.task(name="aidants.run_job")
def run_job(name: str) -> str:
    """Do a scheduled job's work for the current period, unless it is done already."""
    run = runs.run(name, clock.now())
    return "skipped" if run is None else run.status


@celery.task(name="aidants.integrate_journal")
def integrate_journal() -> int:
    """Integrate committed journal entries into the Merkle tree (the sequencer; safe to run twice at once)."""
    return sequencer.integrate(clock.now())
