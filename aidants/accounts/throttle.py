"""Per-client-IP backoff, kept in the database so every worker and machine sees the same count."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from aidants import db
from aidants.accounts.models import Throttle

WINDOW = dt.timedelta(minutes=15)
#: Failures allowed from one address in a window before the backoff starts.
FREE_FAILURES = 10
BASE_DELAY = dt.timedelta(seconds=30)
MAX_DELAY = dt.timedelta(hours=1)


def retry_after(key: str, now: dt.datetime) -> int:
    """Seconds to wait before this key may try again (0 when it may now)."""
    row = db.session().get(Throttle, key)
    if row is None or row.blocked_until is None or row.blocked_until <= now:
        return 0
    return int((row.blocked_until - now).total_seconds()) + 1


def _delay(failures: int) -> dt.timedelta:
    excess = failures - FREE_FAILURES
    if excess < 0:
        return dt.timedelta(0)
    return min(BASE_DELAY * (2 ** min(excess, 16)), MAX_DELAY)


def record_failure(key: str, now: dt.datetime) -> None:
    """Count a failure for the key; past the free failures, block it for a doubling delay.

    In its own short transaction: the refusal that follows rolls the request back, not the count.
    """
    with db.independent_transaction() as session:
        _record_failure(session, key, now)


def _record_failure(session: Session, key: str, now: dt.datetime) -> None:
    insert = postgresql.insert if db.is_postgresql() else sqlite.insert
    statement = insert(Throttle).values(key=key, failures=1, window_start=now, blocked_until=None)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[Throttle.key],
            set_={
                "failures": sa.case(
                    (Throttle.window_start < now - WINDOW, 1), else_=Throttle.failures + 1
                ),
                "window_start": sa.case(
                    (Throttle.window_start < now - WINDOW, now), else_=Throttle.window_start
                ),
            },
        )
    )
    row = session.get(Throttle, key, populate_existing=True)
    if row is not None:
        delay = _delay(row.failures)
        row.blocked_until = now + delay if delay else None
        session.flush()


def clear(key: str) -> None:
    """Forget a key's failures (after a success)."""
    db.session().execute(sa.delete(Throttle).where(Throttle.key == key))
