"""Activation links: the first way in for a référent or an aidant who has no device yet."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aidants.accounts.models import Aidant
from aidants.db import Base

#: How long a guided path opened from a link stays open before it must be asked for again.
FLOW_LIFETIME = dt.timedelta(hours=1)
#: Wrong codes allowed in one guided path before it is closed.
MAX_FLOW_FAILURES = 10


class ActivationLink(Base):
    """A single-use link (7 days, SHA-256 only): opening it starts the guided path in that browser.

    The link is spent when opened (``opened_at``); the path then lives in the browser's
    session for ``FLOW_LIFETIME`` and ends with ``completed_at``. Sending a new link revokes the older ones.
    """

    __tablename__ = "activation_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    aidant_id: Mapped[int] = mapped_column(sa.ForeignKey("aidant.id"), index=True)
    sent_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("aidant.id"))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    opened_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    failures: Mapped[int] = mapped_column(default=0)

    aidant: Mapped[Aidant] = relationship(foreign_keys=[aidant_id])

    def can_open(self, now: dt.datetime) -> bool:
        """Whether the emailed link may still start a guided path."""
        return self.opened_at is None and self.revoked_at is None and now < self.expires_at

    def flow_open(self, now: dt.datetime) -> bool:
        """Whether the guided path started from this link may go on."""
        return (self.opened_at is not None and self.completed_at is None and self.revoked_at is None
                and now < self.opened_at + FLOW_LIFETIME and self.failures < MAX_FLOW_FAILURES)
