"""Named selects of the staff jobs page: the outbox by status, one page at a time."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from aidants import db
from aidants.outbox.models import STATUS_LABELS, OutboxMessage

PER_PAGE = 25


@dataclass(frozen=True)
class OutboxPage:
    """One page of outbox messages, newest first."""

    items: list[OutboxMessage]
    page: int
    pages: int
    total: int


def outbox_counts() -> dict[str, int]:
    """How many messages in each status (every status listed, zero included)."""
    rows = db.session().execute(sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status))
    found = {status: int(count) for status, count in rows}
    return {status: found.get(status, 0) for status in STATUS_LABELS}


def outbox_page(status: str, page: int) -> OutboxPage:
    """The messages of one status (all when empty), page ``page`` (from 1)."""
    where = [OutboxMessage.status == status] if status else []
    total = int(db.session().scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(*where)) or 0)
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(page, 1), pages)
    items = list(db.session().scalars(
        sa.select(OutboxMessage).where(*where).order_by(OutboxMessage.id.desc())
        .offset((page - 1) * PER_PAGE).limit(PER_PAGE)))
    return OutboxPage(items, page, pages, total)
