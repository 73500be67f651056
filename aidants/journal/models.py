"""Journal entry: one security-relevant action, chained to the previous entry by its hash.

The entry holds identifiers only (never names, emails or identities), so a usager
can be anonymised later without breaking the chain. The database refuses UPDATE
and DELETE on this table (triggers, created by the migrations).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from aidants.db import Base

GENESIS_HASH = "0" * 64

#: The fields covered by an entry's hash, in the canonical encoding.
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


class JournalEntry(Base):
    """One line of the journal."""

    __tablename__ = "journal_entry"

    seq: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
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
    extra: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)


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
