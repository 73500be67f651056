"""The usager's own sessions, notice preferences and the notices sent to them.

A usager session is separate from the aidants' (its own table, cookie and lifetime): the
cookie holds a random token whose SHA-256 is kept here, as for aidants.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from aidants.db import Base

#: The kinds of notices a usager may turn off, with their French label.
NOTICE_KINDS = {
    "created": "Un mandat est créé en mon nom",
    "revoked": "Un mandat ou une démarche est révoqué (par la structure ou par moi)",
    "ending": "Un mandat prend fin dans 30 jours, puis dans 7 jours",
    "digest": "Chaque jour où un mandat a servi : le résumé des utilisations",
}


class UsagerSession(Base):
    """A signed-in usager: 30 minutes without activity or 2 hours at most."""

    __tablename__ = "usager_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    usager_id: Mapped[int] = mapped_column(sa.ForeignKey("usager.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    last_active_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]

    def is_valid(self, now: dt.datetime, idle: dt.timedelta) -> bool:
        """Not revoked, not past its end, and used recently enough."""
        return self.revoked_at is None and now < self.expires_at and now - self.last_active_at <= idle


class UsagerPreference(Base):
    """Which notices a usager wants (every kind is on until they turn it off)."""

    __tablename__ = "usager_preference"

    usager_id: Mapped[int] = mapped_column(sa.ForeignKey("usager.id", ondelete="CASCADE"), primary_key=True)
    created: Mapped[bool] = mapped_column(default=True)
    revoked: Mapped[bool] = mapped_column(default=True)
    ending: Mapped[bool] = mapped_column(default=True)
    digest: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[dt.datetime]

    def wants(self, kind: str) -> bool:
        return bool(getattr(self, kind))


class UsagerNotice(Base):
    """A notice queued for a usager (the mail itself is an outbox row, found by its key): for the export."""

    __tablename__ = "usager_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    usager_id: Mapped[int] = mapped_column(sa.ForeignKey("usager.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # created | revoked | ending-30 | ending-7 | digest
    mandat_id: Mapped[int | None] = mapped_column(sa.ForeignKey("mandat.id", ondelete="SET NULL"))
    outbox_key: Mapped[str] = mapped_column(sa.String(100), unique=True)
    created_at: Mapped[dt.datetime]
