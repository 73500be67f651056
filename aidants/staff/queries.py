"""Named reads of the staff back-office: the journal (filtered, by pages and as a stream), inactive aidants,
the usagers and mandates of a structure for a transfer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from aidants import db
from aidants.accounts.models import Aidant
from aidants.journal.models import JournalEntry, JournalLeaf
from aidants.mandats.models import Autorisation, Mandat, MandatUsager
from aidants.organisations.models import Organisation

#: Bind parameters per IN list: well under SQLite's limit, and small statements for PostgreSQL.
CHUNK = 1000


def chunks(values: Sequence[int], size: int = CHUNK) -> Iterator[list[int]]:
    """``values`` in slices of ``size``."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


# --- the journal -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JournalFilters:
    """What the staff filter the journal on; empty fields filter nothing. Times are UTC bounds [start, end)."""

    action: str = ""
    aidant_id: int | None = None
    organisation_id: int | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        found: list[sa.ColumnElement[bool]] = []
        if self.action:
            found.append(JournalEntry.action == self.action)
        if self.aidant_id is not None:
            found.append(JournalEntry.aidant_id == self.aidant_id)
        if self.organisation_id is not None:
            found.append(JournalEntry.organisation_id == self.organisation_id)
        if self.start is not None:
            found.append(JournalEntry.created_at >= self.start)
        if self.end is not None:
            found.append(JournalEntry.created_at < self.end)
        return found

    def as_extra(self) -> dict[str, Any]:
        """The filters as the journal may record them (identifiers and dates only)."""
        return {
            "action": self.action or None, "aidant": self.aidant_id, "organisation": self.organisation_id,
            "start": self.start.isoformat() if self.start else None, "end": self.end.isoformat() if self.end else None,
        }


@dataclass(frozen=True)
class JournalRow:
    """A journal entry with the names staff may see: the aidant's and the structure's (never a usager's)."""

    entry: JournalEntry
    aidant_name: str | None
    organisation_name: str | None


@dataclass(frozen=True)
class JournalPage:
    """Entries newest first, and the sequence numbers to page on (keyset: fast at any depth)."""

    rows: list[JournalRow]
    older_than: int | None  # link to the next (older) page: entries before this seq
    newer_than: int | None  # link to the previous (newer) page: entries after this seq


def journal_page(filters: JournalFilters, *, before: int | None = None, after: int | None = None,
                 per_page: int = 50) -> JournalPage:
    """One page of the filtered journal: the newest entries, or those just before/after a sequence number."""
    statement = (
        sa.select(JournalEntry, Aidant.first_name, Aidant.last_name, Organisation.name)
        .outerjoin(Aidant, Aidant.id == JournalEntry.aidant_id)
        .outerjoin(Organisation, Organisation.id == JournalEntry.organisation_id)
        .where(*filters.conditions())
    )
    if after is not None:  # the newer page, read upwards then shown newest first
        statement = statement.where(JournalEntry.seq > after).order_by(JournalEntry.seq.asc())
    else:
        if before is not None:
            statement = statement.where(JournalEntry.seq < before)
        statement = statement.order_by(JournalEntry.seq.desc())
    found = list(db.session().execute(statement.limit(per_page + 1)))
    more = len(found) > per_page
    found = found[:per_page]
    if after is not None:
        found.reverse()
    rows = [JournalRow(entry, f"{first} {last}" if first is not None else None, organisation)
            for entry, first, last, organisation in found]
    if not rows:
        return JournalPage([], None, None)
    if after is not None:  # older entries exist (the one we came from); newer ones if the page overflowed
        return JournalPage(rows, rows[-1].entry.seq, rows[0].entry.seq if more else None)
    return JournalPage(rows, rows[-1].entry.seq if more else None, rows[0].entry.seq if before is not None else None)


JOURNAL_COLUMNS = ("seq", "created_at", "action", "actor_kind", "aidant_id", "organisation_id", "usager_id",
                   "mandat_id", "autorisation_id", "demarches", "client_id", "extra", "leaf_index", "leaf_hash")


def journal_stream(filters: JournalFilters, batch: int = 2000) -> Iterator[tuple[Any, ...]]:
    """Every filtered entry, oldest first, as plain tuples in ``JOURNAL_COLUMNS`` order, ``batch`` at a time."""
    columns = [getattr(JournalEntry, name) for name in JOURNAL_COLUMNS[:-2]]
    last = 0
    while True:
        statement = (sa.select(*columns, JournalLeaf.leaf_index, JournalLeaf.leaf_hash)
                     .outerjoin(JournalLeaf, JournalLeaf.entry_seq == JournalEntry.seq)
                     .where(*filters.conditions(), JournalEntry.seq > last)
                     .order_by(JournalEntry.seq).limit(batch))
        rows = db.session().execute(statement).all()
        for row in rows:
            yield tuple(row)
        if len(rows) < batch:
            return
        last = rows[-1][0]


#: The distinct actions by skipping along the index on ``action`` (one probe per action, not a scan of
#: millions of entries); both databases run it as written.
_DISTINCT_ACTIONS = sa.text("""
    WITH RECURSIVE found(action) AS (
        SELECT MIN(action) FROM journal_entry
        UNION ALL
        SELECT (SELECT MIN(action) FROM journal_entry WHERE action > found.action) FROM found
        WHERE found.action IS NOT NULL
    )
    SELECT action FROM found WHERE action IS NOT NULL
""")


def known_actions() -> list[str]:
    """The actions seen in the journal, for the filter's suggestions."""
    return [str(action) for action in db.session().scalars(_DISTINCT_ACTIONS)]


# --- inactive aidants ------------------------------------------------------------------------------------------


def _inactive_conditions(cutoff: dt.datetime, exclude_id: int | None) -> list[sa.ColumnElement[bool]]:
    """Active, and no sign-in since ``cutoff`` (never signed in: created before it)."""
    conditions: list[sa.ColumnElement[bool]] = [
        Aidant.is_active.is_(True),
        sa.or_(Aidant.last_login_at < cutoff, sa.and_(Aidant.last_login_at.is_(None), Aidant.created_at < cutoff)),
    ]
    if exclude_id is not None:
        conditions.append(Aidant.id != exclude_id)
    return conditions


@dataclass(frozen=True)
class AidantPage:
    rows: list[Aidant]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def inactive_aidants(cutoff: dt.datetime, exclude_id: int | None, page: int = 1, per_page: int = 100) -> AidantPage:
    """Active aidants with no sign-in since ``cutoff``, the longest inactive first, with their structures."""
    conditions = _inactive_conditions(cutoff, exclude_id)
    session = db.session()
    total = int(session.scalar(sa.select(sa.func.count()).select_from(Aidant).where(*conditions)) or 0)
    pages = max(1, -(-total // per_page))
    page = max(1, min(page, pages))
    statement = (
        sa.select(Aidant).where(*conditions)
        .order_by(sa.func.coalesce(Aidant.last_login_at, Aidant.created_at), Aidant.id)
        .options(selectinload(Aidant.organisations))
        .offset((page - 1) * per_page).limit(per_page)
    )
    return AidantPage(list(session.scalars(statement)), total, page, per_page)


def inactive_among(ids: Sequence[int], cutoff: dt.datetime, exclude_id: int | None) -> list[Aidant]:
    """Those of ``ids`` who are still active and still inactive since ``cutoff`` (locked for the update)."""
    found: list[Aidant] = []
    for chunk in chunks(sorted(set(ids))):
        statement = (sa.select(Aidant).where(Aidant.id.in_(chunk), *_inactive_conditions(cutoff, exclude_id))
                     .order_by(Aidant.id).with_for_update())
        found.extend(db.session().scalars(statement))
    return found


# --- transfer of mandates --------------------------------------------------------------------------------------


def organisation_by_siret(siret: str) -> Organisation | None:
    return db.session().scalars(sa.select(Organisation).where(Organisation.siret == siret)).first()


def organisation(organisation_id: int) -> Organisation | None:
    return db.session().get(Organisation, organisation_id)


def mandats_to_move(source_id: int, usager_ids: Sequence[int] | None, limit: int) -> list[tuple[int, int]]:
    """(mandat id, usager id) of the source's mandates (of the given usagers), oldest first, ``limit`` at most."""
    statement = sa.select(Mandat.id, Mandat.usager_id).where(Mandat.organisation_id == source_id)
    if usager_ids is not None:
        statement = statement.where(Mandat.usager_id.in_(sorted(set(usager_ids))))
    statement = statement.order_by(Mandat.id).limit(limit)
    return [(int(m), int(u)) for m, u in db.session().execute(statement)]


def count_mandats(organisation_id: int, usager_ids: Sequence[int] | None) -> int:
    statement = sa.select(sa.func.count()).select_from(Mandat).where(Mandat.organisation_id == organisation_id)
    if usager_ids is not None:
        statement = statement.where(Mandat.usager_id.in_(sorted(set(usager_ids))))
    return int(db.session().scalar(statement) or 0)


def open_autorisations_of_mandats(mandat_ids: Sequence[int], lock: bool = False) -> list[Autorisation]:
    """The autorisations of these mandates that still count as open (not revoked, not replaced)."""
    found: list[Autorisation] = []
    for chunk in chunks(mandat_ids):
        statement = sa.select(Autorisation).where(
            Autorisation.mandat_id.in_(chunk), Autorisation.revoked_at.is_(None), Autorisation.replaced_at.is_(None))
        if lock:
            statement = statement.with_for_update()
        found.extend(db.session().scalars(statement))
    return found


def open_autorisations_of_usagers(organisation_id: int, usager_ids: Sequence[int],
                                  lock: bool = False) -> list[Autorisation]:
    """The open autorisations a structure holds for these usagers."""
    found: list[Autorisation] = []
    for chunk in chunks(sorted(set(usager_ids))):
        statement = sa.select(Autorisation).where(
            Autorisation.organisation_id == organisation_id, Autorisation.usager_id.in_(chunk),
            Autorisation.revoked_at.is_(None), Autorisation.replaced_at.is_(None))
        if lock:
            statement = statement.with_for_update()
        found.extend(db.session().scalars(statement))
    return found


def usager_index_rows(organisation_id: int, usager_ids: Sequence[int]) -> list[MandatUsager]:
    found: list[MandatUsager] = []
    for chunk in chunks(sorted(set(usager_ids))):
        statement = sa.select(MandatUsager).where(MandatUsager.organisation_id == organisation_id,
                                                  MandatUsager.usager_id.in_(chunk))
        found.extend(db.session().scalars(statement))
    return found


def usagers_still_with_mandats(organisation_id: int, usager_ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for chunk in chunks(sorted(set(usager_ids))):
        statement = (sa.select(Mandat.usager_id).where(Mandat.organisation_id == organisation_id,
                                                       Mandat.usager_id.in_(chunk)).distinct())
        found.update(int(u) for u in db.session().scalars(statement))
    return found
