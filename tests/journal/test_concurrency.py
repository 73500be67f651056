"""Concurrent writers take no lock and each entry lands in the tree exactly once, whatever the order of commits;
concurrent sequencers never integrate an entry twice."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from flask import Flask

from aidants import clock, db
from aidants.journal import sequencer
from aidants.journal import services as journal
from aidants.journal.models import JournalEntry, JournalLeaf

WRITERS = 8
PER_WRITER = 25


def test_concurrent_writers_and_sequencers_build_one_tree(app: Flask, fixed_clock: clock.FixedClock) -> None:
    start = threading.Barrier(WRITERS + 2)
    done = threading.Event()
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            with app.app_context():  # its own session, hence its own connection and transactions
                start.wait()
                for n in range(PER_WRITER):
                    journal.append("concurrent", now=clock.now(), actor_kind="system",
                                   extra={"writer": number, "n": n})
                    db.commit()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    def integrator() -> None:
        try:
            with app.app_context():
                start.wait()
                while not done.is_set():
                    sequencer.integrate(clock.now(), max_batch=7)
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(number,)) for number in range(WRITERS)]
    integrators = [threading.Thread(target=integrator) for _ in range(2)]
    for thread in writers + integrators:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in integrators:
        thread.join()
    assert errors == []
    sequencer.integrate_all(clock.now())

    total = WRITERS * PER_WRITER
    result = journal.verify_chain()
    assert result.ok, result
    assert result.checked == total and result.pending == 0
    session = db.session()
    seqs = set(session.scalars(sa.select(JournalEntry.seq)))
    integrated = list(session.scalars(sa.select(JournalLeaf.entry_seq).order_by(JournalLeaf.leaf_index)))
    assert sorted(integrated) == sorted(seqs) and len(integrated) == total  # each once, none forgotten
    written = {(entry.extra or {})["writer"] for entry in session.scalars(sa.select(JournalEntry))}
    assert written == set(range(WRITERS))


def test_an_entry_committed_after_a_later_one_is_not_forgotten(app: Flask, fixed_clock: clock.FixedClock) -> None:
    """PostgreSQL commits out of order: the earlier insert (lower seq) commits after the sequencer ran."""
    if not db.is_postgresql():
        pytest.skip("SQLite serialises writers: entries commit in seq order")
    with db.engine().connect() as slow:
        slow.execute(sa.text("INSERT INTO journal_entry (created_at, action, actor_kind, txid) VALUES "
                             "(:t, 'slow', 'system', pg_current_xact_id()::text::bigint)"), {"t": clock.now()})
        journal.append("fast", now=clock.now(), actor_kind="system")
        db.commit()
        assert sequencer.integrate(clock.now()) == 1  # only 'fast' is visible
        journal.append("later", now=clock.now(), actor_kind="system")
        db.commit()
        assert sequencer.integrate(clock.now()) == 1
        slow.commit()
    assert sequencer.integrate(clock.now()) == 1  # 'slow', though its seq is below those integrated
    actions = db.session().execute(sa.select(JournalEntry.action).join(
        JournalLeaf, JournalLeaf.entry_seq == JournalEntry.seq).order_by(JournalLeaf.leaf_index)).scalars().all()
    assert actions == ["fast", "later", "slow"]
    assert journal.verify_chain().ok


def test_a_sequencer_finding_the_lock_taken_does_nothing(app: Flask, fixed_clock: clock.FixedClock) -> None:
    journal.append("waiting", now=clock.now(), actor_kind="system")
    db.commit()
    if db.is_postgresql():
        with db.engine().connect() as other:
            other.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": sequencer._SEQUENCER_LOCK_ID})
            assert sequencer.integrate(clock.now()) == 0
            assert sequencer.record_checkpoint(clock.now()) is None
            other.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": sequencer._SEQUENCER_LOCK_ID})
    assert sequencer.integrate(clock.now()) == 1
    with pytest.raises(ValueError):
        sequencer.integrate(clock.now(), max_batch=0)
