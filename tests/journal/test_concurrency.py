"""Concurrent writers never fork the chain nor leave a gap.

Written for PostgreSQL (an advisory lock serialises appends); it runs on SQLite too, where
appends take the database's write lock before reading the head: without it, concurrent
writers (two gunicorn workers of ``make run``) failed on the primary key.
"""

from __future__ import annotations

import threading

import sqlalchemy as sa
from flask import Flask

from aidants import clock, db
from aidants.journal import services as journal
from aidants.journal.models import JournalEntry

WRITERS = 8
PER_WRITER = 25


def test_concurrent_writers_build_one_chain(app: Flask, fixed_clock: clock.FixedClock) -> None:
    start = threading.Barrier(WRITERS)
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

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    total = WRITERS * PER_WRITER
    result = journal.verify_chain()
    assert result.ok, result
    assert result.checked == total and result.head_seq == total
    session = db.session()
    seqs = list(session.scalars(sa.select(JournalEntry.seq).order_by(JournalEntry.seq)))
    assert seqs == list(range(1, total + 1))
    prevs = list(session.scalars(sa.select(JournalEntry.prev_hash)))
    assert len(set(prevs)) == total  # no two entries chain onto the same one: no fork
    written = {(entry.extra or {})["writer"] for entry in session.scalars(sa.select(JournalEntry))}
    assert written == set(range(WRITERS))
