"""Aggregate reads behind the statistics: a few GROUP BY statements, never rows brought into Python.

Each figure is one statement over an indexed column (or one scan of a table), so the public page
stays cheap on millions of mandates; ``scope`` is None for the whole service or a list of
organisation ids (a référent's structures), which the per-structure indexes serve.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from aidants import db
from aidants.accounts.aidant_types import AIDANT_TYPES
from aidants.accounts.models import Aidant, aidant_organisation
from aidants.mandats.models import Autorisation, Mandat
from aidants.organisations.models import DEMARCHES, Organisation

Scope = Sequence[int] | None


def month_starts(now: dt.datetime, months: int) -> list[dt.datetime]:
    """The first instants (UTC) of the last ``months`` calendar months, the current one last."""
    year, month = now.year, now.month
    starts = []
    for _ in range(months):
        starts.append(dt.datetime(year, month, 1, tzinfo=dt.UTC))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def mandats_per_month(now: dt.datetime, months: int, scope: Scope) -> list[tuple[str, int]]:
    """Mandates created in each of the last ``months`` months (``YYYY-MM``, count), oldest first."""
    starts = month_starts(now, months)
    if db.is_postgresql():  # date_trunc is cheaper than formatting each row
        key: sa.ColumnElement[Any] = sa.func.date_trunc("month", sa.func.timezone("UTC", Mandat.created_at))
    else:
        key = sa.func.strftime("%Y-%m", Mandat.created_at)
    statement = sa.select(key.label("month"), sa.func.count()).where(
        Mandat.created_at >= starts[0], Mandat.created_at <= now)
    if scope is not None:
        statement = statement.where(Mandat.organisation_id.in_(scope))
    counts: dict[str, int] = {}
    for month, count in db.session().execute(statement.group_by(key)):
        counts[month.strftime("%Y-%m") if isinstance(month, dt.datetime) else str(month)] = int(count)
    labels = [start.strftime("%Y-%m") for start in starts]
    return [(label, counts.get(label, 0)) for label in labels]


def mandats_created(scope: Scope) -> int:
    """Every mandate ever created (in the scope)."""
    statement = sa.select(sa.func.count()).select_from(Mandat)
    if scope is not None:
        statement = statement.where(Mandat.organisation_id.in_(scope))
    return int(db.session().scalar(statement) or 0)


def _active_autorisations(now: dt.datetime, scope: Scope) -> list[sa.ColumnElement[bool]]:
    conditions = [Autorisation.revoked_at.is_(None), Autorisation.expires_at > now]
    if scope is not None:
        conditions.append(Autorisation.organisation_id.in_(scope))
    return conditions


def active_totals(now: dt.datetime, scope: Scope) -> tuple[int, int, int]:
    """Active mandates, usagers with one, and structures holding one (one pass over active autorisations)."""
    statement = sa.select(
        sa.func.count(sa.distinct(Autorisation.mandat_id)),
        sa.func.count(sa.distinct(Autorisation.usager_id)),
        sa.func.count(sa.distinct(Autorisation.organisation_id)),
    ).where(*_active_autorisations(now, scope))
    row = db.session().execute(statement).one()
    return int(row[0]), int(row[1]), int(row[2])


def active_per_demarche(now: dt.datetime, scope: Scope) -> list[tuple[str, int]]:
    """Active autorisations per démarche, in the canonical order (zero included)."""
    statement = (
        sa.select(Autorisation.demarche, sa.func.count())
        .where(*_active_autorisations(now, scope))
        .group_by(Autorisation.demarche)
    )
    counts = {str(demarche): int(count) for demarche, count in db.session().execute(statement)}
    return [(demarche, counts.get(demarche, 0)) for demarche in DEMARCHES]


def structures(scope: Scope) -> tuple[int, int]:
    """Structures: active ones, and all of them (in the scope)."""
    statement = sa.select(
        sa.func.count().filter(Organisation.is_active.is_(True)), sa.func.count()
    ).select_from(Organisation)
    if scope is not None:
        statement = statement.where(Organisation.id.in_(scope))
    row = db.session().execute(statement).one()
    return int(row[0]), int(row[1])


def aidants(now: dt.datetime, recent: dt.timedelta, scope: Scope) -> tuple[int, int]:
    """Active aidants, and those of them who signed in within ``recent`` (in the scope)."""
    since = now - recent
    statement = sa.select(
        sa.func.count(sa.distinct(Aidant.id)),
        sa.func.count(sa.distinct(Aidant.id)).filter(Aidant.last_login_at >= since),
    ).where(Aidant.is_active.is_(True), Aidant.is_staff.is_(False))
    if scope is not None:
        statement = statement.join(aidant_organisation, aidant_organisation.c.aidant_id == Aidant.id).where(
            aidant_organisation.c.organisation_id.in_(scope))
    row = db.session().execute(statement).one()
    return int(row[0]), int(row[1])


def aidants_per_type(scope: Scope) -> list[tuple[str, int]]:
    """Active aidants (never the staff) by aidant type, in the types' order; "" for accounts without one."""
    statement = (sa.select(Aidant.aidant_type, sa.func.count(sa.distinct(Aidant.id)))
                 .where(Aidant.is_active.is_(True), Aidant.is_staff.is_(False)).group_by(Aidant.aidant_type))
    if scope is not None:
        statement = statement.join(aidant_organisation, aidant_organisation.c.aidant_id == Aidant.id).where(
            aidant_organisation.c.organisation_id.in_(scope))
    found = {str(kind or ""): int(count) for kind, count in db.session().execute(statement)}
    ordered = [(kind, found.pop(kind, 0)) for kind in AIDANT_TYPES]
    unknown = sum(found.values())
    return ordered + ([("", unknown)] if unknown else [])


def organisations_by_id(ids: Sequence[int]) -> list[Organisation]:
    """Structures by id, by name."""
    if not ids:
        return []
    statement = sa.select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.name, Organisation.id)
    return list(db.session().scalars(statement))
