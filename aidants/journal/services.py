"""Writing to the journal, in the caller's transaction, and checking the chain.

``append`` serialises writers (an advisory lock on PostgreSQL, the database's write
lock on SQLite, both taken before the head is read and held until the transaction
ends) so that two concurrent transactions can never both chain onto the same entry;
the primary key on ``seq`` and the unique ``hash`` are a second guard.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from aidants import db
from aidants.journal.models import GENESIS_HASH, HASHED_FIELDS, JournalEntry, canonical_bytes, canonical_encoding
from aidants.security import crypto

# An arbitrary constant naming the journal's advisory lock on PostgreSQL.
_JOURNAL_LOCK_ID = 0x41494A4E

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
    """Chain a new entry onto the journal, in the current transaction (flushed, not committed).

    Raises ValueError when ``extra``, ``client_id`` or ``demarches`` look like personal data.
    """
    found = _personal_data([extra, client_id, demarches])
    if found:
        raise ValueError(f"le journal ne contient que des identifiants, pas de données personnelles ({found})")
    session = db.session()
    if db.is_postgresql():
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _JOURNAL_LOCK_ID})
    else:
        # Take SQLite's write lock *before* reading the head: a statement that writes, on no row (so no
        # trigger fires). A plain SELECT would read a head that another writer may chain onto first.
        session.execute(sa.text("UPDATE journal_entry SET seq = seq WHERE 0 = 1"))
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


def _verify_sql(postgresql: bool) -> str:
    """The columns in HASHED_FIELDS order, then the two hashes; ``extra`` as its JSON text.

    PostgreSQL writes the time as the canonical encoding does (UTC ISO 8601, microseconds), on its
    own core; SQLite's stored text goes through the column type's own parsing, as the ORM would.
    """
    columns = []
    for name in HASHED_FIELDS:
        if name == "extra":
            columns.append("CAST(extra AS TEXT)")
        elif name == "created_at" and postgresql:
            columns.append("""to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')""")
        else:
            columns.append(name)
    # Only our own column names go into this text.
    return f"SELECT {', '.join(columns)}, prev_hash, hash FROM journal_entry ORDER BY seq"  # noqa: S608


def _read(engine: sa.Engine, batch: int) -> Iterator[Sequence[Any]]:
    """The table in ``seq`` order, ``batch`` raw rows at a time, read through the driver without the ORM."""
    postgresql = engine.dialect.name == "postgresql"
    raw = engine.raw_connection()
    try:
        # On PostgreSQL a server-side cursor streams the table; binary results load fastest.
        cursor = (raw.driver_connection.cursor(name="journal_verify", binary=True)  # type: ignore[union-attr]
                  if postgresql else raw.cursor())
        try:
            cursor.execute(_verify_sql(postgresql))
            while chunk := cursor.fetchmany(batch):
                yield chunk
        finally:
            cursor.close()
    finally:
        raw.rollback()
        raw.close()


_END = object()


def _batches(batch: int) -> Iterator[Sequence[Any]]:
    """Like ``_read``; on PostgreSQL a thread fetches the next batches while the caller hashes this one.

    The server prepares rows on one core while Python hashes on another; reading in the same
    thread would leave each waiting for the other.
    """
    engine = db.engine()
    if engine.dialect.name != "postgresql":
        yield from _read(engine, batch)
        return
    ready: queue.Queue[Any] = queue.Queue(maxsize=3)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for chunk in _read(engine, batch):
                ready.put(chunk)
                if stop.is_set():
                    break
        except BaseException as exc:  # handed to the caller's thread
            ready.put(exc)
        ready.put(_END)

    reader = threading.Thread(target=fetch, name="journal-verify-reader", daemon=True)
    reader.start()
    item: Any = None
    try:
        while (item := ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while item is not _END:  # let the reader finish (it may be waiting for room in the queue)
            item = ready.get()
        reader.join()


def verify_chain(batch: int = 10000) -> Verification:
    """Recompute the whole chain; name the first entry that was edited, removed, inserted or moved.

    Rows are read through the driver, without the ORM, and hashed as ``entry_hash`` does: a
    million entries would otherwise spend most of their time in result processing.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    engine = db.engine()
    to_time = None  # PostgreSQL's text is already the canonical one
    if engine.dialect.name != "postgresql":
        created_type = JournalEntry.__table__.c.created_at.type.dialect_impl(engine.dialect)
        to_time = created_type.result_processor(engine.dialect, None)
    loads = json.JSONDecoder().decode
    sha256_hex = crypto.sha256_hex
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    for chunk in _batches(batch):
        for (seq, created_at, action, actor_kind, aidant_id, organisation_id, usager_id, mandat_id,
             autorisation_id, demarches, client_id, extra, stored_prev, stored_hash) in chunk:
            if seq != expected_seq:
                return Verification(checked, expected_seq, "numéro manquant ou en trop", expected_seq - 1, prev_hash)
            if stored_prev != prev_hash:
                return Verification(checked, seq, "chaînage rompu", expected_seq - 1, prev_hash)
            if to_time is not None:
                created_at = to_time(created_at)
            canonical = canonical_encoding(
                seq, created_at, action, actor_kind, aidant_id, organisation_id, usager_id, mandat_id,
                autorisation_id, demarches, client_id, None if extra is None else loads(extra))
            # What entry_hash computes, inlined. A plain comparison: both hashes are public.
            if sha256_hex(prev_hash.encode() + b"\n" + canonical) != stored_hash:
                return Verification(checked, seq, "contenu modifié", expected_seq - 1, prev_hash)
            prev_hash, expected_seq, checked = stored_hash, expected_seq + 1, checked + 1
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
