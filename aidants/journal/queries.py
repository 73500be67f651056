"""Named reads of the journal's checkpoints, for the staff pages and their export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from aidants import db
from aidants.journal.models import JournalCheckpoint

CHECKPOINT_COLUMNS = ("id", "created_at", "tree_size", "root_hash", "note")


def checkpoints_page(before: int | None = None, per_page: int = 50) -> tuple[list[JournalCheckpoint], int | None]:
    """The newest checkpoints (before an id), and the id to continue from when there are more."""
    statement = sa.select(JournalCheckpoint).order_by(JournalCheckpoint.id.desc()).limit(per_page + 1)
    if before is not None:
        statement = statement.where(JournalCheckpoint.id < before)
    found = list(db.session().scalars(statement))
    more = len(found) > per_page
    found = found[:per_page]
    return found, found[-1].id if more and found else None


def latest_checkpoint() -> JournalCheckpoint | None:
    """The newest signed checkpoint."""
    return db.session().scalars(sa.select(JournalCheckpoint).order_by(JournalCheckpoint.id.desc()).limit(1)).first()


def checkpoint(checkpoint_id: int) -> JournalCheckpoint | None:
    """One checkpoint."""
    return db.session().get(JournalCheckpoint, checkpoint_id)


def checkpoint_stream(batch: int = 2000) -> Iterator[tuple[Any, ...]]:
    """Every checkpoint, oldest first, in ``CHECKPOINT_COLUMNS`` order (root hash in hex)."""
    last = 0
    columns = [getattr(JournalCheckpoint, name) for name in CHECKPOINT_COLUMNS]
    while True:
        rows = db.session().execute(sa.select(*columns).where(JournalCheckpoint.id > last)
                                    .order_by(JournalCheckpoint.id).limit(batch)).all()
        for row in rows:
            yield (row[0], row[1].isoformat(), row[2], bytes(row[3]).hex(), row[4])
        if len(rows) < batch:
            return
        last = rows[-1][0]
