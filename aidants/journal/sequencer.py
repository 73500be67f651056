"""The sequencer: the only writer of the Merkle tree. It integrates committed entries in batches, in its
own short transaction, and signs a checkpoint of each new tree.

Requests never wait for it: they only insert their entry. Two sequencers may run at once (two workers,
the CLI and the scheduler): a lock that only sequencers take (an advisory lock on PostgreSQL, SQLite's
write lock) lets one integrate while the other finds nothing left to do.

Which entries are pending. SQLite serialises writers, so entries commit in ``seq`` order: pending means
``seq`` above the last integrated one. PostgreSQL commits out of order (a lower ``seq`` may commit after a
higher one), so each entry records its inserting transaction's id (``txid``); a checkpoint records the
oldest transaction still running when it was built (``txid_floor``): every entry of an older transaction
was visible then, hence integrated, and only entries with ``txid >= floor`` need looking at.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from aidants import db
from aidants.journal import checkpoint as notes
from aidants.journal import tree
from aidants.journal.models import JournalCheckpoint, JournalLeaf, JournalNode
from aidants.journal.verification import entry_columns, leaf_hasher

# An arbitrary constant naming the sequencer's advisory lock on PostgreSQL (requests never take it).
_SEQUENCER_LOCK_ID = 0x41494A53

DEFAULT_BATCH = 10_000


def _lock(connection: sa.Connection) -> bool:
    """Take the sequencer's lock for this transaction; False when another sequencer holds it."""
    if connection.dialect.name == "postgresql":
        return bool(connection.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"),
                                       {"k": _SEQUENCER_LOCK_ID}).scalar())
    # SQLite: a write that touches no row (so no trigger fires) takes the database's write lock now,
    # before anything is read; a second sequencer waits for it, then finds the entries integrated.
    connection.exec_driver_sql("UPDATE journal_checkpoint SET id = id WHERE 0 = 1")
    return True


def _latest(connection: sa.Connection) -> Any:
    return connection.execute(sa.select(JournalCheckpoint.tree_size, JournalCheckpoint.txid_floor)
                              .order_by(JournalCheckpoint.id.desc()).limit(1)).first()


def _pending(connection: sa.Connection, size: int, floor: int | None, limit: int) -> list[Any]:
    postgresql = connection.dialect.name == "postgresql"
    columns = entry_columns(postgresql)
    if postgresql:
        condition = "" if floor is None else "e.txid >= :floor AND "
        sql = (f"SELECT {columns} FROM journal_entry e WHERE {condition}NOT EXISTS "  # noqa: S608 (our columns)
               "(SELECT 1 FROM journal_leaf l WHERE l.entry_seq = e.seq) ORDER BY e.seq LIMIT :limit")
        return list(connection.execute(sa.text(sql), {"floor": floor, "limit": limit}))
    last = connection.execute(sa.select(JournalLeaf.entry_seq).where(JournalLeaf.leaf_index == size - 1)).scalar()
    sql = f"SELECT {columns} FROM journal_entry e WHERE e.seq > :last ORDER BY e.seq LIMIT :limit"  # noqa: S608
    return list(connection.execute(sa.text(sql), {"last": last or 0, "limit": limit}))


def _sign(connection: sa.Connection, now: dt.datetime, size: int, root: bytes, floor: int | None) -> None:
    connection.execute(sa.insert(JournalCheckpoint).values(
        created_at=now.astimezone(dt.UTC), tree_size=size, root_hash=root, note=notes.sign(size, root),
        txid_floor=floor))


def integrate(now: dt.datetime, max_batch: int = DEFAULT_BATCH) -> int:
    """Give up to ``max_batch`` committed entries their leaf index and sign the new tree; how many.

    0 when nothing was pending or another sequencer is at work. Commits its own transaction.
    """
    if max_batch < 1:
        raise ValueError("max_batch must be at least 1")
    with db.engine().begin() as connection:
        return _integrate_on(connection, now, max_batch)


def _integrate_on(connection: sa.Connection, now: dt.datetime, max_batch: int) -> int:
    """``integrate`` inside the given connection's transaction (the caller commits)."""
    engine = connection.engine
    if not _lock(connection):
        return 0
    latest = _latest(connection)
    floor = latest.txid_floor if latest else None
    next_floor = None
    if connection.dialect.name == "postgresql":
        # Taken before the entries are read: any entry not visible below is from a later transaction.
        next_floor = int(connection.execute(sa.text(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")).scalar_one())
    size = tree.size(connection)
    rows = _pending(connection, size, floor, max_batch + 1)
    if not rows:
        return 0
    if len(rows) > max_batch:  # more than one batch: the floor stays until the backlog is gone
        rows, next_floor = rows[:max_batch], floor
    leaf = leaf_hasher(engine)
    frontier = tree.frontier(connection, size)
    leaves = []
    completed: list[tuple[int, int, bytes]] = []
    for row in rows:
        digest = leaf(tuple(row))
        leaves.append({"leaf_index": frontier.size, "entry_seq": row[0], "leaf_hash": digest})
        frontier.append(digest, completed)
    nodes = [{"level": level, "idx": index, "hash": digest} for level, index, digest in completed]
    connection.execute(sa.insert(JournalLeaf), leaves)
    if nodes:
        connection.execute(sa.insert(JournalNode), nodes)
    _sign(connection, now, frontier.size, frontier.root(), next_floor)
    return len(rows)


def integrate_all(now: dt.datetime, max_batch: int = DEFAULT_BATCH) -> int:
    """Integrate batch after batch until nothing is pending (the CLI); how many in all."""
    total = 0
    while count := integrate(now, max_batch):
        total += count
    return total


def record_checkpoint(now: dt.datetime) -> JournalCheckpoint | None:
    """The hourly checkpoint: integrate what is pending, then sign the tree as it stands, even unchanged.

    None when another sequencer held the lock (its own checkpoint covers the tree). Commits.
    """
    integrate_all(now)
    with db.engine().begin() as connection:
        return _checkpoint_on(connection, now)


def record_checkpoint_in(connection: sa.Connection, now: dt.datetime) -> JournalCheckpoint | None:
    """``record_checkpoint`` in the caller's transaction (the scheduled job's, which commits it with its run)."""
    while _integrate_on(connection, now, DEFAULT_BATCH):
        pass
    return _checkpoint_on(connection, now)


def _checkpoint_on(connection: sa.Connection, now: dt.datetime) -> JournalCheckpoint | None:
    if not _lock(connection):
        return None
    latest = _latest(connection)
    size = tree.size(connection)
    _sign(connection, now, size, tree.root_at(size, connection), latest.txid_floor if latest else None)
    created = connection.execute(sa.select(*JournalCheckpoint.__table__.c)
                                 .order_by(JournalCheckpoint.id.desc()).limit(1)).mappings().one()
    return JournalCheckpoint(**created)  # a detached copy: the caller's session may not see it yet
