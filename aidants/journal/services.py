"""Writing to the journal, in the caller's transaction, without any lock.

``append`` inserts the entry and nothing else: it reads no head and takes no lock, so writers never wait
for one another. The sequencer (``aidants.journal.sequencer``) later gives committed entries their leaf
index in the Merkle tree and signs a checkpoint; ``verification`` checks the whole of it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from psycopg.types.json import Json

from aidants import db
from aidants.journal.merkle import EMPTY_ROOT
from aidants.journal.models import JournalCheckpoint, JournalEntry, JournalLeaf
from aidants.journal.verification import Verification, verify

__all__ = ["PERSONAL_KEYS", "AppendedEntry", "Verification", "append", "head", "leaf_of", "pending_count",
           "verify_chain"]

#: Keys of ``extra`` that would carry personal data: the journal holds identifiers only.
PERSONAL_KEYS = frozenset({
    "email", "first_name", "last_name", "given_name", "family_name", "preferred_username", "birthdate",
    "birthplace", "birthcountry", "gender", "phone",
})
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _personal_data(value: Any) -> str | None:
    """The first personal-looking key or value found in a journal field, if any."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if str(key).lower() in PERSONAL_KEYS:
                return str(key)
            found = _personal_data(inner)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for inner in value:
            found = _personal_data(inner)
            if found:
                return found
    elif isinstance(value, str) and _EMAIL.search(value):
        return "adresse e-mail"
    return None


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
) -> AppendedEntry:
    """Insert a new entry in the current transaction (flushed, not committed); the sequencer integrates it.

    Raises ValueError when ``extra``, ``client_id`` or ``demarches`` look like personal data.
    """
    found = _personal_data([extra, client_id, demarches])
    if found:
        raise ValueError(f"le journal ne contient que des identifiants, pas de données personnelles ({found})")
    created_at = now.astimezone(dt.UTC)
    joined = ",".join(demarches) if demarches else None
    extra = extra or None
    connection = db.session().connection()  # the caller's transaction (what it had pending is flushed)
    if connection.dialect.name == "postgresql":
        parameters = (created_at, action, actor_kind, aidant_id, organisation_id, usager_id, mandat_id,
                      autorisation_id, joined, client_id, None if extra is None else Json(extra, dumps=_CANONICAL))
        seq = _insert_postgresql(connection, parameters)
    else:
        seq = connection.execute(_INSERT_SQLITE, {
            "created_at": created_at, "action": action, "actor_kind": actor_kind, "aidant_id": aidant_id,
            "organisation_id": organisation_id, "usager_id": usager_id, "mandat_id": mandat_id,
            "autorisation_id": autorisation_id, "demarches": joined, "client_id": client_id, "extra": extra,
        }).scalar_one()
    return AppendedEntry(seq, created_at, action, actor_kind, aidant_id, organisation_id, usager_id, mandat_id,
                         autorisation_id, joined, client_id, extra)


def _insert_postgresql(connection: sa.Connection, parameters: tuple[Any, ...]) -> int:
    """Send the entry's INSERT on the transaction's own psycopg connection, as a prepared statement.

    The hot path of every writing request: SQLAlchemy's execution machinery (an execution context, a
    cursor result, about 40 µs of CPU) is skipped, but not what it guarantees here. The engine's
    ``before_cursor_execute`` listeners run as SQLAlchemy runs them (``db`` notes the write, the input
    guard refuses unstorable values, the benches count the statement), and a driver error goes through
    SQLAlchemy's own handling (wrapped in ``sa.exc.DBAPIError``, the connection invalidated when it was
    lost), so the boundary and the error pages see what they would see from ``execute``.
    """
    statement = _INSERT_POSTGRESQL
    for listener in connection.dispatch.before_cursor_execute:
        statement, parameters = listener(connection, None, statement, parameters, None, False)
    driver = connection.connection.driver_connection
    try:
        row = driver.execute(statement, parameters, prepare=True).fetchone()  # type: ignore[union-attr]
    except Exception as exc:
        connection._handle_dbapi_exception(exc, statement, parameters, None, None)
    if row is None:  # INSERT … RETURNING answers one row, or raises
        raise RuntimeError("the journal's INSERT returned no row")
    return int(row[0])


@dataclass(frozen=True, slots=True)
class AppendedEntry:
    """The entry just written, as the caller gave it, with its insertion id."""

    seq: int
    created_at: dt.datetime
    action: str
    actor_kind: str
    aidant_id: int | None
    organisation_id: int | None
    usager_id: int | None
    mandat_id: int | None
    autorisation_id: int | None
    demarches: str | None
    client_id: str | None
    extra: dict[str, Any] | None


#: ``extra`` as ``CanonicalJSON`` stores it (sorted keys, compact, ASCII): verification splices this text.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode
#: The inserting transaction's id on PostgreSQL (xid8, which never wraps around), as a bigint; 0 on SQLite.
#: Prepared once per connection on the server (``prepare=True``): each append then sends only its values.
_INSERT_POSTGRESQL = (
    "INSERT INTO journal_entry (created_at, action, actor_kind, aidant_id, organisation_id, usager_id, mandat_id, "
    "autorisation_id, demarches, client_id, extra, txid) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
    "CAST(CAST(pg_current_xact_id() AS TEXT) AS BIGINT)) RETURNING seq"
)
_TABLE: sa.Table = JournalEntry.__table__  # type: ignore[assignment]
_INSERT_SQLITE = sa.insert(_TABLE).values(txid=0).returning(_TABLE.c.seq)


def head() -> tuple[int, str]:
    """The size and root hash (hex) of the latest signed checkpoint (0 and the empty root when none)."""
    row = db.session().execute(
        sa.select(JournalCheckpoint.tree_size, JournalCheckpoint.root_hash)
        .order_by(JournalCheckpoint.id.desc()).limit(1)
    ).first()
    return (row.tree_size, bytes(row.root_hash).hex()) if row else (0, EMPTY_ROOT.hex())


def pending_count() -> int:
    """How many committed entries wait for the sequencer."""
    waiting = sa.select(JournalEntry.seq).where(
        ~sa.exists().where(JournalLeaf.entry_seq == JournalEntry.seq)).subquery()
    return int(db.session().scalar(sa.select(sa.func.count()).select_from(waiting)) or 0)


def leaf_of(seq: int) -> int | None:
    """The leaf index of an entry, once integrated."""
    return db.session().scalar(sa.select(JournalLeaf.leaf_index).where(JournalLeaf.entry_seq == seq))


def verify_chain(batch: int = 10000) -> Verification:
    """Check every integrated and pending entry and the latest checkpoint (see ``verification.verify``)."""
    return verify(batch=batch)
