"""Writing to the journal, in the caller's transaction, and checking the chain.

``append`` serialises writers (an advisory lock on PostgreSQL, the database lock on
SQLite) so that two concurrent transactions can never both chain onto the same
entry; the primary key on ``seq`` and the unique ``hash`` are a second guard.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from aidants import db
from aidants.journal.models import GENESIS_HASH, HASHED_FIELDS, JournalEntry, canonical_bytes
from aidants.security import crypto

# An arbitrary constant naming the journal's advisory lock on PostgreSQL.
_JOURNAL_LOCK_ID = 0x41494A4E


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """The hash of an entry: SHA-256 over the previous hash and the canonical fields."""
    return crypto.sha256_hex(prev_hash.encode() + b"\n" + canonical_bytes(fields))


def append(
    action: str,
    *,
    now: dt.datetime,
    actor_kind: str = "aidant",
    aidant_id: int | None = None,
    organisation_id: int | None = None,
    usager_id: int | None = None,
    mandat_id: int | None = None,
    autorisation_id: int | None = None,
    demarches: list[str] | None = None,
    client_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> JournalEntry:
    """Chain a new entry onto the journal, in the current transaction (flushed, not committed)."""
    session = db.session()
    if db.is_postgresql():
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _JOURNAL_LOCK_ID})
    head = session.execute(
        sa.select(JournalEntry.seq, JournalEntry.hash).order_by(JournalEntry.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS_HASH)
    fields: dict[str, Any] = {
        "seq": seq,
        "created_at": now.astimezone(dt.UTC),
        "action": action,
        "actor_kind": actor_kind,
        "aidant_id": aidant_id,
        "organisation_id": organisation_id,
        "usager_id": usager_id,
        "mandat_id": mandat_id,
        "autorisation_id": autorisation_id,
        "demarches": ",".join(demarches) if demarches else None,
        "client_id": client_id,
        "extra": extra or None,
    }
    entry = JournalEntry(**fields, prev_hash=prev_hash, hash=entry_hash(prev_hash, fields))
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class Verification:
    """The outcome of a chain verification."""

    checked: int
    first_bad_seq: int | None
    reason: str
    head_seq: int
    head_hash: str

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None


def _rows(batch: int) -> Iterator[Any]:
    columns = [getattr(JournalEntry, name) for name in HASHED_FIELDS]
    statement = sa.select(*columns, JournalEntry.prev_hash, JournalEntry.hash).order_by(JournalEntry.seq)
    with db.engine().connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=batch).execute(statement)
        yield from result


def verify_chain(batch: int = 5000) -> Verification:
    """Recompute the whole chain; name the first entry that was edited, removed, inserted or moved."""
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    for row in _rows(batch):
        fields = {name: getattr(row, name) for name in HASHED_FIELDS}
        if row.seq != expected_seq:
            return Verification(checked, expected_seq, "numéro manquant ou en trop", expected_seq - 1, prev_hash)
        if row.prev_hash != prev_hash:
            return Verification(checked, row.seq, "chaînage rompu", expected_seq - 1, prev_hash)
        if not crypto.equal(entry_hash(prev_hash, fields), row.hash):
            return Verification(checked, row.seq, "contenu modifié", expected_seq - 1, prev_hash)
        prev_hash, expected_seq, checked = row.hash, expected_seq + 1, checked + 1
    return Verification(checked, None, "", expected_seq - 1, prev_hash)


def head() -> tuple[int, str]:
    """The last sequence number and hash (0 and the genesis hash when empty)."""
    row = db.session().execute(
        sa.select(JournalEntry.seq, JournalEntry.hash).order_by(JournalEntry.seq.desc()).limit(1)
    ).first()
    return (row.seq, row.hash) if row else (0, GENESIS_HASH)


def hash_at(seq: int) -> str | None:
    """The stored hash of one entry."""
    return db.session().execute(sa.select(JournalEntry.hash).where(JournalEntry.seq == seq)).scalar()
