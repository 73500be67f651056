"""Named reads of the staff's people pages: search, an aidant's page, a structure's page, the request queue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from aidants import db
from aidants.accounts.models import Aidant, TotpDevice
from aidants.mandats.models import Mandat
from aidants.organisations.models import Organisation
from aidants.referents import queries as referent_queries
from aidants.referents.models import PENDING, AidantRequest

SEARCH_LIMIT = 50


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def search_aidants(text: str) -> list[Aidant]:
    """Aidants whose name or email contains the text (case-insensitive), by name."""
    words = text.split()
    if not words:
        return []
    conditions = [sa.or_(sa.func.lower(Aidant.first_name).like(_like(w), escape="\\"),
                         sa.func.lower(Aidant.last_name).like(_like(w), escape="\\"),
                         Aidant.email.like(_like(w), escape="\\")) for w in words]
    statement = (sa.select(Aidant).where(*conditions).options(selectinload(Aidant.organisations))
                 .order_by(sa.func.lower(Aidant.last_name), sa.func.lower(Aidant.first_name), Aidant.id)
                 .limit(SEARCH_LIMIT))
    return list(db.session().scalars(statement))


def search_organisations(text: str) -> list[Organisation]:
    """Structures whose name contains the text, or whose SIRET starts with its digits."""
    text = text.strip()
    if not text:
        return []
    digits = "".join(text.split())
    condition: sa.ColumnElement[bool] = sa.func.lower(Organisation.name).like(_like(text), escape="\\")
    if digits.isdigit():
        condition = sa.or_(condition, Organisation.siret.startswith(digits))
    statement = (sa.select(Organisation).where(condition).order_by(sa.func.lower(Organisation.name), Organisation.id)
                 .limit(SEARCH_LIMIT))
    return list(db.session().scalars(statement))


def aidant(aidant_id: int) -> Aidant | None:
    return db.session().get(Aidant, aidant_id)


def organisation(organisation_id: int) -> Organisation | None:
    return db.session().get(Organisation, organisation_id)


def devices_of(aidant_id: int) -> list[TotpDevice]:
    """Every device the aidant ever had, newest first (retired ones too: the staff see the history)."""
    statement = sa.select(TotpDevice).where(TotpDevice.aidant_id == aidant_id).order_by(TotpDevice.id.desc())
    return list(db.session().scalars(statement))


def status_of(found: Aidant) -> str:
    """active, awaiting_training or deactivated (as the référents see it)."""
    return referent_queries.status_of(found, referent_queries.deactivated_on_purpose([found.id]))


@dataclass(frozen=True)
class StructureFigures:
    mandats: int
    active_mandats: int


def structure_figures(organisation_id: int, now: dt.datetime) -> StructureFigures:
    total = db.session().scalar(sa.select(sa.func.count()).select_from(Mandat)
                                .where(Mandat.organisation_id == organisation_id))
    return StructureFigures(int(total or 0), referent_queries.active_mandat_count(organisation_id, now))


def pending_requests() -> list[AidantRequest]:
    """Requests for new aidants awaiting the staff, oldest first (first come, first trained)."""
    statement = (sa.select(AidantRequest).where(AidantRequest.status == PENDING)
                 .options(selectinload(AidantRequest.organisation), selectinload(AidantRequest.aidant),
                          selectinload(AidantRequest.requested_by))
                 .order_by(AidantRequest.created_at, AidantRequest.id))
    return list(db.session().scalars(statement))


def aidant_request(request_id: int, for_update: bool = False) -> AidantRequest | None:
    statement = sa.select(AidantRequest).where(AidantRequest.id == request_id)
    if for_update:
        statement = statement.with_for_update()
    return db.session().scalars(statement).first()
