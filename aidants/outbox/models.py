"""An outgoing message, written in the same transaction as the change that justifies it.

A worker delivers it after commit (at least once; the idempotency ``key`` lets delivery
skip a message already sent). A rolled-back transaction leaves no row, so nothing is sent.
A worker claims a row (``sending`` with a lease) before talking to SMTP; a worker that dies
leaves the lease to expire and the row to be claimed again.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from aidants.db import Base

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
STATUS_LABELS = {PENDING: "En attente", SENDING: "En cours d'envoi", SENT: "Envoyé", FAILED: "Échec"}


class OutboxMessage(Base):
    """One email (or notice) to deliver."""

    __tablename__ = "outbox_message"
    __table_args__ = (sa.Index("ix_outbox_message_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(100), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(40), default="mail")
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(sa.String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    sent_at: Mapped[dt.datetime | None]
    # While ``sending``: the time after which another worker may take the row again.
    lease_until: Mapped[dt.datetime | None]

    def is_due(self, now: dt.datetime) -> bool:
        """Whether a worker should try to deliver it now."""
        if self.status == SENDING:
            return self.lease_until is not None and self.lease_until <= now
        return self.status == PENDING and self.next_attempt_at <= now
