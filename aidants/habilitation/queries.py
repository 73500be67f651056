"""Named reads of habilitation requests: the issuer's (always scoped to them) and the staff's list."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from aidants import db
from aidants.habilitation.models import DRAFT, OPEN, HabilitationRequest, Issuer, IssuerLink

PAGE_SIZE = 20


def issuer_by_email(email: str) -> Issuer | None:
    """An issuer by (lower-cased) email."""
    return db.session().scalars(sa.select(Issuer).where(Issuer.email == email)).first()


def links_sent_since(issuer_id: int, since: dt.datetime) -> int:
    """How many access links were made for an issuer since a time."""
    statement = sa.select(sa.func.count()).select_from(IssuerLink).where(
        IssuerLink.issuer_id == issuer_id, IssuerLink.created_at >= since)
    return db.session().scalar(statement) or 0


def link_by_hash(token_hash: str) -> IssuerLink | None:
    """An access link by the SHA-256 of its token."""
    return db.session().scalars(sa.select(IssuerLink).where(IssuerLink.token_hash == token_hash)).first()


def open_request_count(issuer_id: int) -> int:
    """The issuer's requests that are neither decided nor closed."""
    statement = sa.select(sa.func.count()).select_from(HabilitationRequest).where(
        HabilitationRequest.issuer_id == issuer_id, HabilitationRequest.status.in_(OPEN))
    return db.session().scalar(statement) or 0


def issuer_requests(issuer_id: int) -> list[HabilitationRequest]:
    """The issuer's requests, newest first."""
    statement = (sa.select(HabilitationRequest).where(HabilitationRequest.issuer_id == issuer_id)
                 .order_by(HabilitationRequest.created_at.desc(), HabilitationRequest.id.desc()))
    return list(db.session().scalars(statement))


def _one(statement: sa.Select[HabilitationRequest], for_update: bool) -> HabilitationRequest | None:
    if for_update:
        # PostgreSQL locks the row until the commit: a change and a decision never interleave.
        statement = statement.with_for_update()
    statement = statement.options(selectinload(HabilitationRequest.aidants),
                                  selectinload(HabilitationRequest.messages))
    return db.session().scalars(statement).first()


def issuer_request(uuid: str, issuer_id: int, *, for_update: bool = False) -> HabilitationRequest | None:
    """One of the issuer's requests (another issuer's answers None, as if it did not exist)."""
    statement = sa.select(HabilitationRequest).where(HabilitationRequest.uuid == uuid,
                                                     HabilitationRequest.issuer_id == issuer_id)
    return _one(statement, for_update)


def request_by_uuid(uuid: str, *, for_update: bool = False) -> HabilitationRequest | None:
    """Any request (for the staff)."""
    return _one(sa.select(HabilitationRequest).where(HabilitationRequest.uuid == uuid), for_update)


@dataclass(frozen=True)
class RequestPage:
    """One page of the staff's list."""

    rows: list[HabilitationRequest]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def staff_page(status: str = "", search: str = "", page: int = 1, per_page: int = PAGE_SIZE) -> RequestPage:
    """Requests for the staff, filtered by status (drafts only when asked) and by name, SIRET or email."""
    conditions: list[sa.ColumnElement[bool]] = []
    if status:
        conditions.append(HabilitationRequest.status == status)
    else:
        conditions.append(HabilitationRequest.status != DRAFT)
    search = search.strip().lower()[:100]
    if search:
        pattern = f"%{_escape_like(search)}%"
        conditions.append(sa.or_(
            sa.func.lower(HabilitationRequest.name).like(pattern, escape="\\"),
            HabilitationRequest.siret.like(pattern.replace(" ", ""), escape="\\"),
            HabilitationRequest.referent_email.like(pattern, escape="\\"),
            HabilitationRequest.issuer_id.in_(
                sa.select(Issuer.id).where(Issuer.email.like(pattern, escape="\\"))
            ),
        ))
    session = db.session()
    total = session.scalar(sa.select(sa.func.count()).select_from(HabilitationRequest).where(*conditions)) or 0
    page = max(1, min(page, max(1, -(-total // per_page))))
    statement = (sa.select(HabilitationRequest).where(*conditions)
                 .options(selectinload(HabilitationRequest.issuer), selectinload(HabilitationRequest.aidants))
                 .order_by(HabilitationRequest.updated_at.desc(), HabilitationRequest.id.desc())
                 .offset((page - 1) * per_page).limit(per_page))
    return RequestPage(list(session.scalars(statement)), total, page, per_page)


def status_counts() -> dict[str, int]:
    """How many requests are in each status."""
    rows = db.session().execute(
        sa.select(HabilitationRequest.status, sa.func.count()).group_by(HabilitationRequest.status))
    return {status: count for status, count in rows}
