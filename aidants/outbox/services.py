"""Writing messages to the outbox, in the caller's transaction (flushed, never committed here)."""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa

from aidants import db
from aidants.journal import services as journal
from aidants.outbox.models import FAILED, PENDING, OutboxMessage

#: Set on a session whose transaction queued mail, so that its commit may wake a worker.
NUDGE = "outbox_nudge"


class OutboxError(Exception):
    """A refused action on the outbox, with a French message."""


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
    session = db.session()
    session.add(message)
    session.flush()
    session.info[NUDGE] = True
    return message


#: ``queue_mail``'s INSERT, built once: its values come as parameters.
_INSERT_MESSAGE = sa.insert(OutboxMessage)


def queue_mail(recipient: str, subject: str, body: str, *, now: dt.datetime, kind: str) -> None:
    """As ``enqueue_mail`` with a random key, for a hot path that does not need the message back (the
    sign-in link): one INSERT on the request's connection, so the same transaction (both or neither),
    without the unit of work's bookkeeping, which cost more CPU than the statement."""
    session = db.session()
    session.connection().execute(_INSERT_MESSAGE, {
        "key": f"{kind}:{secrets.token_hex(16)}", "kind": kind, "recipient": recipient, "subject": subject,
        "body": body, "created_at": now, "status": PENDING, "attempts": 0, "next_attempt_at": now,
    })
    session.info[NUDGE] = True


def enqueue_once(recipient: str, subject: str, body: str, *, now: dt.datetime, kind: str, key: str) -> bool:
    """Like ``enqueue_mail``, but nothing when a message with this key exists already (jobs run again)."""
    if db.session().scalar(sa.select(OutboxMessage.id).where(OutboxMessage.key == key)) is not None:
        return False
    enqueue_mail(recipient, subject, body, now=now, kind=kind, key=key)
    return True


def latest(limit: int = 50) -> list[OutboxMessage]:
    """The latest messages, newest first (the development outbox page, and tests)."""
    statement = sa.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    return list(db.session().scalars(statement))


def retry(message_id: int, *, staff_id: int, now: dt.datetime) -> OutboxMessage:
    """Put a failed message back in the queue, due now, with fresh tries; journaled."""
    message = db.session().get(OutboxMessage, message_id, with_for_update=True)
    if message is None or message.status != FAILED:
        raise OutboxError("Ce message n'est pas en échec : il n'y a rien à relancer.")
    message.status, message.attempts, message.next_attempt_at = PENDING, 0, now
    journal.append("retry_outbox_message", now=now, actor_kind="staff", aidant_id=staff_id,
                   extra={"message": message.id, "kind": message.kind})
    db.session().flush()
    db.session().info[NUDGE] = True
    return message
