"""Named reads of mandates and autorisations, for the espace aidant and the identity provider.

Every query that an aidant's request reaches is scoped by organisation: callers pass
the aidant's current organisation, never an id taken from the request alone.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from aidants import db
from aidants.accounts.models import Aidant
from aidants.journal.models import JournalEntry
from aidants.mandats.models import EXPIRES_SOON, Autorisation, Mandat, MandatUsager
from aidants.usagers.models import Usager

PAGE_SIZE = 20
_NOT_WORD = re.compile(r"[^a-z0-9]+")
#: Birth dates as people type them: 14/03/1950, 14-03-1950, 14.03.1950, 1950-03-14, 03/1950, 1950.
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTH_YEAR = re.compile(r"^(\d{1,2})[/.-](\d{4})$")
_YEAR = re.compile(r"^(1[89]|20)\d{2}$")

#: The tabs of the usager list: every usager, or those whose mandates are active / ended / revoked.
#: Why an autorisation was closed, when it is a revocation (by the structure, or by the usager alone); a
#: renewal's "replaced" is an end, not a revocation.
REVOCATION_REASONS = ("revocation", "usager")
TABS = ("tous", "actifs", "termines", "revoques")


def name_key(text: str) -> str:
    """A name as the search compares it: no accents, no punctuation, lower-case, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(_NOT_WORD.sub(" ", bare).split())


def birthdate_pattern(term: str) -> str | None:
    """A typed birth date as a LIKE pattern on FranceConnect's ``YYYY-MM-DD`` (None: not a date)."""
    term = term.strip()
    if found := _DAY_MONTH_YEAR.match(term):
        day, month, year = (int(part) for part in found.groups())
        return f"{year:04d}-{month:02d}-{day:02d}" if 1 <= month <= 12 and 1 <= day <= 31 else None
    if found := _ISO_DATE.match(term):
        return term if 1 <= int(found.group(2)) <= 12 else None
    if found := _MONTH_YEAR.match(term):
        month, year = int(found.group(1)), int(found.group(2))
        return f"{year:04d}-{month:02d}-%" if 1 <= month <= 12 else None
    if _YEAR.match(term):
        return f"{term}-%"
    return None


def split_search(search: str) -> tuple[str, list[str]]:
    """The words of a search that are a name, and the birth date patterns among them."""
    words, dates = [], []
    for word in search.split()[:6]:
        pattern = birthdate_pattern(word)
        if pattern is None:
            words.append(word)
        else:
            dates.append(pattern)
    return " ".join(words), dates


def _birthdate_filter(patterns: list[str] | list[sa.BindParameter[str]]) -> sa.ColumnElement[bool] | None:
    """The usager was born on each date typed (an exact date, a month, a year)."""
    if not patterns:
        return None
    born = sa.select(Usager.id).where(*(Usager.birthdate.like(pattern) for pattern in patterns))
    return MandatUsager.usager_id.in_(born)


def _tab_filter(tab: str, now: dt.datetime | sa.BindParameter[dt.datetime]) -> sa.ColumnElement[bool] | None:
    """actifs: at least one active autorisation; termines: none active, one expired or replaced by a
    renewal; revoques: none active, one revoked by a revocation.

    Read from the usager's row alone: its summary (``active_until``, ``has_replaced``, ``has_revocation``) is kept
    by the database's triggers on every write of an autorisation. "None active but one expired" is "one
    unrevoked autorisation, ended": ``active_until`` set and past."""
    active = MandatUsager.active_until > now
    not_active = sa.or_(MandatUsager.active_until.is_(None), MandatUsager.active_until <= now)
    if tab == "actifs":
        return active
    if tab == "termines":
        return sa.and_(not_active, sa.or_(MandatUsager.active_until.is_not(None), MandatUsager.has_replaced))
    if tab == "revoques":
        return sa.and_(MandatUsager.has_revocation, not_active)
    return None


def _name_filter(search: str) -> sa.ColumnElement[bool] | None:
    """Every word typed must start a word of the name (``dup`` finds « Jean Dupont »)."""
    return _name_condition([(f"{term}%", f"% {term}%") for term in name_terms(search)])


def name_terms(search: str) -> list[str]:
    """The words of a search that the name must hold, as ``name_key`` writes them (five at most)."""
    return name_key(search).split()[:5]


def _name_condition(patterns: list[tuple[Any, Any]]) -> sa.ColumnElement[bool] | None:
    """Each (word start, inner word start) pair of LIKE patterns matches the name."""
    if not patterns:
        return None
    return sa.and_(*(sa.or_(MandatUsager.name_key.like(start), MandatUsager.name_key.like(inner))
                     for start, inner in patterns))


# --- the espace aidant ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ListedUsager:
    """What a list row shows of a usager: read as plain columns, not as a whole ORM object (a page of the
    espace aidant builds twenty of them on every request)."""

    id: int
    family_name: str
    given_name: str
    birthdate: str


def _no_counts() -> dict[str, int]:
    return {"active": 0, "expired": 0, "revoked": 0}


@dataclass
class UsagerRow:
    """One usager of the list, with the count of their mandates by status."""

    usager: ListedUsager
    counts: dict[str, int] = field(default_factory=_no_counts)
    next_expiry: dt.datetime | None = None  # the soonest end of an active mandate

    def expires_soon(self, now: dt.datetime) -> bool:
        """An active mandate of this usager ends within 30 days."""
        return self.next_expiry is not None and self.next_expiry - now <= EXPIRES_SOON


@dataclass(frozen=True)
class UsagerPage:
    """One page of the usagers of a structure."""

    rows: list[UsagerRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def usager_page(organisation_id: int, now: dt.datetime, search: str = "", page: int = 1,
                per_page: int = PAGE_SIZE, tab: str = "tous") -> UsagerPage:
    """The usagers who have or had a mandate with the structure, by name, with their mandates' statuses;
    ``search`` holds words of the name and birth dates, ``tab`` one of TABS."""
    conditions = [MandatUsager.organisation_id == organisation_id]
    words, dates = split_search(search)
    for condition in (_name_filter(words), _birthdate_filter(dates), _tab_filter(tab, now)):
        if condition is not None:
            conditions.append(condition)
    session = db.session()
    total = session.scalar(sa.select(sa.func.count()).select_from(MandatUsager).where(*conditions)) or 0
    page = max(1, min(page, max(1, -(-total // per_page))))
    ids = list(session.scalars(
        sa.select(MandatUsager.usager_id).where(*conditions)
        .order_by(MandatUsager.name_key, MandatUsager.usager_id)
        .offset((page - 1) * per_page).limit(per_page)
    ))
    rows = _rows_with_counts(organisation_id, ids, now) if ids else []
    return UsagerPage(rows, total, page, per_page)


#: The list counts its usagers up to this many, then says "more than" (counting is the one O(n) part).
COUNT_CAP = 10_000


@dataclass(frozen=True)
class UsagerFilters:
    """What narrows the espace aidant's list; new filters (status tabs, birth date) are new fields here."""

    search: str = ""  # words of the name and birth dates
    tab: str = "tous"  # one of TABS

    def parts(self) -> tuple[list[str], list[str]]:
        """The name's words and the birth date patterns of the search."""
        words, dates = split_search(self.search)
        return name_terms(words), dates

    def params(self) -> dict[str, str]:
        """The values of the filter's parameters in ``_window_conditions``' statement."""
        terms, dates = self.parts()
        values = {f"born{n}": pattern for n, pattern in enumerate(dates)}
        for n, term in enumerate(terms):
            values[f"word{n}"], values[f"inner{n}"] = f"{term}%", f"% {term}%"
        return values


def _window_conditions(tab: str, words: int, dates: int,
                       now: sa.BindParameter[dt.datetime]) -> list[sa.ColumnElement[bool]]:
    """The list's conditions for a tab, a number of name words and of birth dates, with parameters for the
    structure (``org``), the words (``word<n>``, ``inner<n>``) and the dates (``born<n>``)."""
    conditions: list[sa.ColumnElement[bool] | None] = [
        MandatUsager.organisation_id == sa.bindparam("org", type_=sa.Integer()),
        _name_condition([(sa.bindparam(f"word{n}", type_=sa.String()), sa.bindparam(f"inner{n}", type_=sa.String()))
                         for n in range(words)]),
        _birthdate_filter([sa.bindparam(f"born{n}", type_=sa.String()) for n in range(dates)]),
        _tab_filter(tab, now),
    ]
    return [condition for condition in conditions if condition is not None]


@dataclass(frozen=True)
class UsagerWindow:
    """One page of the list, reached by keyset: opaque cursors to the next and previous pages."""

    rows: list[UsagerRow]
    total: int  # capped at COUNT_CAP
    next_cursor: str | None
    prev_cursor: str | None

    @property
    def total_is_capped(self) -> bool:
        return self.total >= COUNT_CAP


def encode_cursor(direction: str, name_key: str, usager_id: int) -> str:
    """An opaque position in the list: after (``n``) or before (``p``) one row of the order."""
    raw = json.dumps([direction, name_key, usager_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[str, str, int] | None:
    """The position a cursor names, or None for a missing or malformed one (the first page)."""
    if not cursor or len(cursor) > 1200:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        return None
    if (not isinstance(value, list) or len(value) != 3 or value[0] not in ("n", "p")
            or not isinstance(value[1], str) or not isinstance(value[2], int) or isinstance(value[2], bool)):
        return None
    return value[0], value[1], value[2]


def usager_window(organisation_id: int, now: dt.datetime, filters: UsagerFilters | None = None,
                  cursor: str | None = None, per_page: int = PAGE_SIZE) -> UsagerWindow:
    """The structure's usagers by name, one page after or before a cursor: an index range, whatever the page
    (OFFSET would read every row before it).

    One statement reads the page's rows, their names and their mandates' counts by status (and, past the first
    page, the capped count of the whole list): each round trip costs more than the rows it brings."""
    filters = filters or UsagerFilters()
    terms, dates = filters.parts()
    position = decode_cursor(cursor)
    params: dict[str, Any] = {"org": organisation_id, "now": now, "size": per_page + 1, "cap": COUNT_CAP,
                              **filters.params()}
    if position is not None:
        params["after_name"], params["after_id"] = position[1], position[2]
    direction = position[0] if position is not None else None
    # A first page usually holds the whole list of a search or a small structure: counted by its rows alone.
    statement = _window_statement(filters.tab, len(terms), len(dates), direction, counted=position is not None)
    found = list(db.session().connection().execute(statement, params))
    more = len(found) > per_page
    total: int | None = found[0].total if found and position is not None else None
    found = found[:per_page]
    if direction == "p":
        found.reverse()
    if not found and position is not None:  # a stale cursor (its rows gone): the first page
        return usager_window(organisation_id, now, filters, None, per_page)
    if total is None:
        total = min(len(found), COUNT_CAP) if not more else _capped_count(filters, params)
    if not found:
        return UsagerWindow([], total, None, None)
    first, last = found[0], found[-1]
    has_next = more if direction != "p" else True
    has_prev = more if direction == "p" else position is not None
    return UsagerWindow([_usager_row(row) for row in found], total,
                        encode_cursor("n", last.name_key, last.usager_id) if has_next else None,
                        encode_cursor("p", first.name_key, first.usager_id) if has_prev else None)


@functools.lru_cache(maxsize=512)
def _window_statement(tab: str, words: int, dates: int, direction: str | None, counted: bool) -> sa.Select[Any]:
    """The page statement of one shape of request (tab, number of words and dates, cursor direction), built
    once per process: building and caching the expression costs more CPU than running it. Parameters: those of
    ``_window_conditions``, ``now``, ``size`` (rows), ``cap`` and ``after_name``/``after_id`` (the cursor)."""
    now = sa.bindparam("now", type_=db.UTCDateTime())
    conditions = _window_conditions(tab, words, dates, now)
    order = (MandatUsager.name_key, MandatUsager.usager_id)
    keyset = sa.select(MandatUsager.usager_id, MandatUsager.name_key).where(*conditions)
    backwards = direction == "p"
    if direction is not None:  # organisation = x AND (name, id) > (…): PostgreSQL starts its index range there
        key = sa.tuple_(*order)
        bound = sa.tuple_(sa.bindparam("after_name", type_=sa.String()), sa.bindparam("after_id", type_=sa.Integer()))
        keyset = keyset.where(key < bound if backwards else key > bound)
    keyset = keyset.order_by(*(c.desc() for c in order) if backwards else order)
    page = keyset.limit(sa.bindparam("size", type_=sa.Integer())).cte("page")
    counts = _status_counts(sa.bindparam("org", type_=sa.Integer()), sa.select(page.c.usager_id), now)
    total = _count_statement(conditions).scalar_subquery() if counted else sa.null()
    page_order = (page.c.name_key, page.c.usager_id)
    return (
        sa.select(page.c.usager_id, page.c.name_key, Usager.family_name, Usager.given_name, Usager.birthdate,
                  counts.c.mandates, counts.c.active, counts.c.revoked, counts.c.next_expiry, total.label("total"))
        .join_from(page, Usager, Usager.id == page.c.usager_id)
        .outerjoin(counts, counts.c.usager_id == page.c.usager_id)
        .order_by(*(c.desc() for c in page_order) if backwards else page_order)
    )


def _count_statement(conditions: list[sa.ColumnElement[bool]]) -> sa.Select[Any]:
    """How many usagers the list holds, up to the ``cap`` parameter (the only part that grows with the list)."""
    capped = sa.select(MandatUsager.usager_id).where(*conditions).limit(sa.bindparam("cap", type_=sa.Integer()))
    return sa.select(sa.func.count()).select_from(capped.subquery())


@functools.lru_cache(maxsize=128)
def _count_only_statement(tab: str, words: int, dates: int) -> sa.Select[Any]:
    return _count_statement(_window_conditions(tab, words, dates, sa.bindparam("now", type_=db.UTCDateTime())))


def _capped_count(filters: UsagerFilters, params: dict[str, Any]) -> int:
    """The capped count alone: a first page that does not hold the whole list."""
    terms, dates = filters.parts()
    statement = _count_only_statement(filters.tab, len(terms), len(dates))
    return int(db.session().connection().execute(statement, params).scalar() or 0)


def _usager_row(row: sa.Row[Any]) -> UsagerRow:
    listed = UsagerRow(ListedUsager(row.usager_id, row.family_name, row.given_name, row.birthdate))
    _set_counts(listed, row.mandates, row.active, row.revoked, row.next_expiry)
    return listed


def _status_counts(organisation_id: int | sa.BindParameter[int], usager_ids: sa.Select[Any] | list[int],
                   now: dt.datetime | sa.BindParameter[dt.datetime]) -> sa.Subquery:
    """Per usager of ``usager_ids``: their mandates with the structure, how many are active and revoked (the
    rest ended), and the soonest end of an active one; computed by the database, one row per usager.

    It reads the autorisations alone: each carries its mandate's usager, structure (moved with it by a transfer)
    and end, so grouping them by mandate gives the mandates without reading the mandate table, from the covering
    (organisation, usager) index. A mandate is revoked when none of its autorisations is left unrevoked and one
    was revoked by the structure or the usager; replaced by renewals only, it ended (``status_of``)."""
    unrevoked = sa.func.sum(sa.case((Autorisation.revoked_at.is_(None), 1), else_=0))
    revocations = sa.func.sum(sa.case((Autorisation.revoked_reason.in_(REVOCATION_REASONS), 1), else_=0))
    mandates = (
        sa.select(Autorisation.usager_id, Autorisation.expires_at, unrevoked.label("unrevoked"),
                  revocations.label("revocations"))
        .where(Autorisation.organisation_id == organisation_id, Autorisation.usager_id.in_(usager_ids))
        .group_by(Autorisation.mandat_id, Autorisation.usager_id, Autorisation.expires_at)
        .subquery("mandates")
    )
    active = sa.and_(mandates.c.unrevoked > 0, mandates.c.expires_at > now)
    revoked = sa.and_(mandates.c.unrevoked == 0, mandates.c.revocations > 0)
    return (
        sa.select(mandates.c.usager_id, sa.func.count().label("mandates"),
                  sa.func.sum(sa.case((active, 1), else_=0)).label("active"),
                  sa.func.sum(sa.case((revoked, 1), else_=0)).label("revoked"),
                  sa.func.min(sa.case((active, mandates.c.expires_at), else_=None)).label("next_expiry"))
        .group_by(mandates.c.usager_id)
        .subquery("counts")
    )


def _set_counts(row: UsagerRow, mandates: int | None, active: int | None, revoked: int | None,
                next_expiry: dt.datetime | None) -> None:
    active, revoked = int(active or 0), int(revoked or 0)
    row.counts = {"active": active, "expired": int(mandates or 0) - active - revoked, "revoked": revoked}
    row.next_expiry = next_expiry


def _rows_with_counts(organisation_id: int, ids: list[int], now: dt.datetime) -> list[UsagerRow]:
    """The usagers of a page (by id, as ``ids`` orders them) with the count of their mandates by status, in
    one statement."""
    counts = _status_counts(organisation_id, ids, now)
    statement = (
        sa.select(Usager.id, Usager.family_name, Usager.given_name, Usager.birthdate, counts.c.mandates,
                  counts.c.active, counts.c.revoked, counts.c.next_expiry)
        .outerjoin(counts, counts.c.usager_id == Usager.id)
        .where(Usager.id.in_(ids))
    )
    rows: dict[int, UsagerRow] = {}
    for row in db.session().connection().execute(statement):
        rows[row[0]] = listed = UsagerRow(ListedUsager(row[0], row[1], row[2], row[3]))
        _set_counts(listed, row[4], row[5], row[6], row[7])
    return [rows[usager_id] for usager_id in ids if usager_id in rows]


def expiring_mandats(organisation_id: int, now: dt.datetime, within: dt.timedelta = EXPIRES_SOON,
                     limit: int = 20) -> list[Mandat]:
    """The structure's active mandates that end within 30 days, soonest first (the dashboard's list)."""
    unrevoked = sa.select(Autorisation.id).where(Autorisation.mandat_id == Mandat.id,
                                                 Autorisation.revoked_at.is_(None)).exists()
    statement = (
        sa.select(Mandat)
        .where(Mandat.organisation_id == organisation_id, Mandat.expires_at > now,
               Mandat.expires_at <= now + within, unrevoked)
        .options(joinedload(Mandat.usager), selectinload(Mandat.autorisations))
        .order_by(Mandat.expires_at, Mandat.id)
        .limit(limit)
    )
    return list(db.session().scalars(statement))


def usager_in_organisation(usager_id: int, organisation_id: int) -> Usager | None:
    """A usager, only if they have (or had) a mandate with the structure."""
    statement = (
        sa.select(Usager)
        .join(MandatUsager, MandatUsager.usager_id == Usager.id)
        .where(Usager.id == usager_id, MandatUsager.organisation_id == organisation_id)
    )
    return db.session().scalars(statement).first()


def mandats_of_usager(usager_id: int, organisation_id: int) -> list[Mandat]:
    """A usager's mandates with the structure, newest first, with their autorisations."""
    statement = (
        sa.select(Mandat)
        .where(Mandat.usager_id == usager_id, Mandat.organisation_id == organisation_id)
        .options(selectinload(Mandat.autorisations))
        .order_by(Mandat.created_at.desc(), Mandat.id.desc())
    )
    return list(db.session().scalars(statement))


def mandat_by_uuid(uuid: str) -> Mandat | None:
    """A mandate by its public uuid, with its autorisations, usager and organisation."""
    if not _looks_like_uuid(uuid):
        return None
    statement = (
        sa.select(Mandat).where(Mandat.uuid == uuid.lower())
        .options(selectinload(Mandat.autorisations), joinedload(Mandat.usager), joinedload(Mandat.organisation))
    )
    return db.session().scalars(statement).first()


def mandat_in_organisation(uuid: str, organisation_id: int) -> Mandat | None:
    """A mandate of the structure (None for another structure's: the caller answers 404)."""
    mandat = mandat_by_uuid(uuid)
    return mandat if mandat is not None and mandat.organisation_id == organisation_id else None


def mandat_by_request_key(request_key: str) -> Mandat | None:
    """The mandate created by a form's single-use token, if any."""
    return db.session().scalars(sa.select(Mandat).where(Mandat.request_key == request_key)).first()


def _looks_like_uuid(value: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", value))


@dataclass(frozen=True)
class JournalLine:
    """A journal entry of a mandate, with the aidant's name."""

    entry: JournalEntry
    aidant_name: str


def journal_of_mandat(mandat_id: int, limit: int = 200) -> list[JournalLine]:
    """The journal entries about a mandate, oldest first."""
    statement = (
        sa.select(JournalEntry, Aidant)
        .outerjoin(Aidant, Aidant.id == JournalEntry.aidant_id)
        .where(JournalEntry.mandat_id == mandat_id)
        .order_by(JournalEntry.seq)
        .limit(limit)
    )
    rows = db.session().execute(statement)
    return [JournalLine(entry, aidant.full_name if aidant else "—") for entry, aidant in rows]


# --- for the identity provider ------------------------------------------------------------------


def _usable_now(now: dt.datetime) -> list[sa.ColumnElement[bool]]:
    """The rule of an autorisation that may be used now: not revoked, not expired, and its usager not erased
    (an erased usager's data is gone: nobody may act in their name, whatever a mandate row still says)."""
    not_erased = sa.select(Usager.id).where(Usager.id == Autorisation.usager_id, Usager.erased_at.is_(None))
    return [
        Autorisation.revoked_at.is_(None),
        Autorisation.expires_at > now,
        not_erased.correlate(Autorisation).exists(),
    ]


def _active_autorisation_conditions(organisation_id: int, now: dt.datetime) -> list[sa.ColumnElement[bool]]:
    return [Autorisation.organisation_id == organisation_id, *_usable_now(now)]


def usagers_with_active_autorisation(organisation_id: int, now: dt.datetime, *, query: str = "",
                                     demarches: set[str] | None = None, limit: int = 20) -> list[Usager]:
    """Usagers with at least one active autorisation in the structure (among ``demarches`` if given), by name."""
    active = sa.select(Autorisation.id).where(
        Autorisation.usager_id == MandatUsager.usager_id, *_active_autorisation_conditions(organisation_id, now)
    )
    if demarches is not None:
        active = active.where(Autorisation.demarche.in_(sorted(demarches)))
    statement = (
        sa.select(Usager)
        .join(MandatUsager, MandatUsager.usager_id == Usager.id)
        .where(MandatUsager.organisation_id == organisation_id, active.exists())
        .order_by(MandatUsager.name_key, MandatUsager.usager_id)
        .limit(limit)
    )
    name_filter = _name_filter(query)
    if name_filter is not None:
        statement = statement.where(name_filter)
    return list(db.session().scalars(statement))


def active_autorisations(usager_id: int, organisation_id: int, now: dt.datetime) -> list[Autorisation]:
    """A usager's autorisations usable now in the structure, with their mandate (and its usager)."""
    statement = (
        sa.select(Autorisation)
        .where(Autorisation.usager_id == usager_id, *_active_autorisation_conditions(organisation_id, now))
        .options(joinedload(Autorisation.mandat).joinedload(Mandat.usager))
        .order_by(Autorisation.id)
    )
    return list(db.session().scalars(statement))


def autorisation_with_mandat(autorisation_id: int) -> Autorisation | None:
    """An autorisation by id, with its mandate, the mandate's usager and organisation."""
    statement = (
        sa.select(Autorisation).where(Autorisation.id == autorisation_id)
        .options(joinedload(Autorisation.mandat).joinedload(Mandat.usager),
                 joinedload(Autorisation.mandat).joinedload(Mandat.organisation))
    )
    return db.session().scalars(statement).first()


def usager_of_active_autorisation(autorisation_id: int, now: dt.datetime) -> Usager | None:
    """The usager of an autorisation that may be used now (None once revoked or expired), in one statement:
    read at each call, so a revocation takes effect at once."""
    statement = (
        sa.select(Usager).join(Autorisation, Autorisation.usager_id == Usager.id)
        .where(Autorisation.id == autorisation_id, *_usable_now(now))
    )
    return db.session().scalars(statement).first()


def autorisation_is_active(autorisation_id: int, now: dt.datetime) -> bool:
    """Whether an autorisation may be used now: read from the database at each call, so a revocation
    takes effect at once."""
    statement = sa.select(Autorisation.id).where(Autorisation.id == autorisation_id, *_usable_now(now))
    return db.session().scalar(statement) is not None
