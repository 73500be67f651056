"""Delivering due outbox rows: claim (short transaction), send, record the outcome (short transaction).

Two workers never take the same row: the claim is a conditional UPDATE (after ``SKIP LOCKED`` on
PostgreSQL). A worker that dies after its claim leaves a lease that expires; the row is claimed
again. A row is marked ``sent`` only by the transaction that records the success, and a ``sent``
row is never claimed again. Delivery is at least once: a worker killed between the SMTP server's
answer and that transaction leaves a message that goes out a second time, with the same Message-ID.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from aidants import clock, db
from aidants.jobs import smtp
from aidants.outbox.models import FAILED, PENDING, SENDING, SENT, OutboxMessage

TABLE: sa.Table = OutboxMessage.__table__  # type: ignore[assignment]

log = logging.getLogger(__name__)

#: The longest wait between two tries.
MAX_BACKOFF = dt.timedelta(hours=6)


@dataclass(frozen=True)
class Sweep:
    """What one delivery sweep did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


def backoff(attempts: int, base_seconds: int) -> dt.timedelta:
    """The wait after the n-th failed try: base, 2×base, 4×base… at most six hours."""
    return min(dt.timedelta(seconds=base_seconds * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _due(now: dt.datetime) -> sa.ColumnElement[bool]:
    table = TABLE.c
    return sa.or_(
        sa.and_(table.status == PENDING, table.next_attempt_at <= now),
        sa.and_(table.status == SENDING, table.lease_until <= now),
    )


def claim(now: dt.datetime, limit: int = 20) -> list[int]:
    """Take up to ``limit`` due messages for this worker (committed at once); their ids."""
    table = TABLE
    lease = now + dt.timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"])
    candidates = sa.select(table.c.id).where(_due(now)).order_by(table.c.next_attempt_at, table.c.id).limit(limit)
    if db.is_postgresql():
        candidates = candidates.with_for_update(skip_locked=True)
    claimed: list[int] = []
    with db.engine().begin() as connection:
        for message_id in connection.scalars(candidates).all():
            taken = connection.execute(
                sa.update(table).where(table.c.id == message_id, _due(now))
                .values(status=SENDING, lease_until=lease, attempts=table.c.attempts + 1)
            )
            if taken.rowcount == 1:
                claimed.append(message_id)
    return claimed


def _transport(message: OutboxMessage) -> None:
    """SMTP when configured; in development without SMTP, the console (and /dev/outbox)."""
    config = current_app.config
    if config["SMTP_HOST"]:
        smtp.send(config, smtp.build(config["MAIL_FROM"], message.recipient, message.subject, message.body,
                                     message.key))
        return
    if config["DEV_OUTBOX"]:
        # Printed for the developer at the terminal of `make run`; never in production.
        print(f"\n--- email to {message.recipient}: {message.subject}\n{message.body}\n---", flush=True)
        return
    raise smtp.DeliveryError("SMTP_HOST n'est pas configuré")


def deliver(message_id: int) -> str:
    """Send one claimed message and record the outcome; its new status."""
    table = TABLE
    with db.engine().connect() as connection:
        row = connection.execute(sa.select(table).where(table.c.id == message_id)).mappings().first()
    if row is None or row["status"] != SENDING:
        return str(row["status"]) if row is not None else "missing"
    message = OutboxMessage(**row)  # a detached copy: nothing here goes through the request's session
    try:
        _transport(message)
    except smtp.DeliveryError as error:
        return _record_failure(message, str(error))
    with db.engine().begin() as connection:
        connection.execute(
            sa.update(table).where(table.c.id == message_id, table.c.status == SENDING)
            .values(status=SENT, sent_at=clock.now(), lease_until=None, last_error=None)
        )
    log.info("outbox message %s (%s) sent", message_id, message.kind)
    return SENT


def _record_failure(message: OutboxMessage, error: str) -> str:
    config = current_app.config
    now = clock.now()
    final = message.attempts >= config["OUTBOX_MAX_ATTEMPTS"]
    status = FAILED if final else PENDING
    table = TABLE
    with db.engine().begin() as connection:
        connection.execute(
            sa.update(table).where(table.c.id == message.id, table.c.status == SENDING)
            .values(status=status, lease_until=None, last_error=error[:500],
                    next_attempt_at=now + backoff(message.attempts, config["OUTBOX_BACKOFF_SECONDS"]))
        )
    log.warning("outbox message %s (%s): try %s failed%s: %s", message.id, message.kind, message.attempts,
                " for the last time" if final else "", error)
    return status


def deliver_due(limit: int = 100) -> Sweep:
    """One sweep: claim what is due and deliver it (what the periodic task and a nudge run)."""
    sent = retried = failed = 0
    while limit > 0:
        batch = claim(clock.now(), min(limit, 20))
        if not batch:
            break
        limit -= len(batch)
        for message_id in batch:
            outcome = deliver(message_id)
            sent += outcome == SENT
            retried += outcome == PENDING
            failed += outcome == FAILED
    return Sweep(sent, retried, failed)
