"""The journal: entries appended by requests, and the Merkle tree the sequencer builds over them.

An entry holds identifiers only (never names, emails or identities), so a usager can be anonymised
later without breaking the tree. A request only inserts its entry (``seq`` is an insertion id, with
gaps where a transaction rolled back); the sequencer alone gives it a leaf index (``journal_leaf``),
stores the hash of every perfect subtree completed (``journal_node``) and signs the tree head
(``journal_checkpoint``). The database refuses UPDATE, DELETE and TRUNCATE on all four tables
(triggers, created by the migrations), and the application's role may only insert into and read them.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from aidants.db import Base

#: The fields covered by an entry's leaf hash, in the canonical encoding.
HASHED_FIELDS = (
    "seq",
    "created_at",
    "action",
    "actor_kind",
    "aidant_id",
    "organisation_id",
    "usager_id",
    "mandat_id",
    "autorisation_id",
    "demarches",
    "client_id",
    "extra",
)

_BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")


class CanonicalJSON(TypeDecorator[Any]):
    """JSON stored in its canonical text (sorted keys, compact, ASCII), so that the database itself can
    splice it into an entry's canonical encoding (the fast path of verification on PostgreSQL)."""

    impl = sa.JSON
    cache_ok = True

    def bind_processor(self, dialect: sa.Dialect) -> Any:
        encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode
        if dialect.name == "postgresql" and dialect.driver == "psycopg":
            from psycopg.types.json import Json

            return lambda value: None if value is None else Json(value, dumps=encode)
        return lambda value: None if value is None else encode(value)


class JournalEntry(Base):
    """One line of the journal, as the request wrote it."""

    __tablename__ = "journal_entry"

    seq: Mapped[int] = mapped_column(_BIGINT, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(sa.String(50), index=True)
    actor_kind: Mapped[str] = mapped_column(sa.String(10))  # aidant | staff | system | usager
    aidant_id: Mapped[int | None] = mapped_column(index=True)
    organisation_id: Mapped[int | None] = mapped_column(index=True)
    usager_id: Mapped[int | None] = mapped_column(index=True)
    mandat_id: Mapped[int | None] = mapped_column(index=True)
    autorisation_id: Mapped[int | None]
    demarches: Mapped[str | None] = mapped_column(sa.String(200))
    client_id: Mapped[str | None] = mapped_column(sa.String(100))
    extra: Mapped[dict[str, Any] | None] = mapped_column(CanonicalJSON)
    #: PostgreSQL: the inserting transaction's id, so that the sequencer finds late commits without a scan
    #: (0 on SQLite, where writers are serialised and commit in ``seq`` order).
    txid: Mapped[int] = mapped_column(sa.BigInteger, default=0, index=True)


class JournalLeaf(Base):
    """An entry's place in the Merkle tree, and its leaf hash; written by the sequencer only."""

    __tablename__ = "journal_leaf"

    leaf_index: Mapped[int] = mapped_column(_BIGINT, primary_key=True, autoincrement=False)
    entry_seq: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    leaf_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))


class JournalNode(Base):
    """The hash of a perfect subtree of ``2**level`` leaves (level ≥ 1), for proofs without the whole tree."""

    __tablename__ = "journal_node"

    level: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))


class JournalCheckpoint(Base):
    """A signed tree head: the tree's size and root at a time, as a C2SP signed note."""

    __tablename__ = "journal_checkpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(index=True)
    tree_size: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    root_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    note: Mapped[str] = mapped_column(sa.Text)
    #: PostgreSQL: every transaction below this id had ended when the sequencer integrated this tree.
    txid_floor: Mapped[int | None] = mapped_column(sa.BigInteger)


# The canonical encoding is ``json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)``
# with the time in UTC ISO 8601 (microseconds). One encoder and a dict literal do the same faster than
# json.dumps with a dict comprehension: verifying a long chain spends much of its time here.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def canonical_encoding(
    seq: Any, created_at: Any, action: Any, actor_kind: Any, aidant_id: Any, organisation_id: Any, usager_id: Any,
    mandat_id: Any, autorisation_id: Any, demarches: Any, client_id: Any, extra: Any,
) -> bytes:
    """The canonical encoding of an entry's hashed fields (parameters in ``HASHED_FIELDS`` order)."""
    if isinstance(created_at, dt.datetime):
        created_at = created_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return _ENCODER.encode({
        "seq": seq, "created_at": created_at, "action": action, "actor_kind": actor_kind, "aidant_id": aidant_id,
        "organisation_id": organisation_id, "usager_id": usager_id, "mandat_id": mandat_id,
        "autorisation_id": autorisation_id, "demarches": demarches, "client_id": client_id, "extra": extra,
    }).encode()


def canonical_bytes(fields: dict[str, Any]) -> bytes:
    """The canonical encoding of an entry's hashed fields: sorted JSON, UTC ISO time."""
    return canonical_encoding(*[fields.get(name) for name in HASHED_FIELDS])
