"""Writing messages to the outbox, in the caller's transaction (flushed, never committed here)."""

from __future__ import annotations

import datetime as dt
import secrets

from aidants import db
from aidants.outbox.models import PENDING, OutboxMessage


def enqueue_mail(
    recipient: str, subject: str, body: str, *, now: dt.datetime, kind: str = "mail", key: str | None = None
) -> OutboxMessage:
    """Add an email to the outbox; it leaves only if the current transaction commits.

    ``key`` is the idempotency key: a second message with the same key is refused by the
    database, so a job run twice for one period cannot queue the same notice twice. Without one,
    a random key is drawn.
    """
    message = OutboxMessage(
        key=key or f"{kind}:{secrets.token_hex(16)}",
        kind=kind,
        recipient=recipient,
        subject=subject,
        body=body,
        created_at=now,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
    )
    db.session().add(message)
    db.session().flush()
    return message
