"""Failure counters and backoff, kept in the database so every worker and machine sees the same count.

Keys name what is counted: ``ip:…`` (one client address), ``login:<account>|<address>`` (one account
from one client) and ``login:<account>`` (one account from anywhere, a slower cap). Counters are
written by ``own_transaction`` so that no rollback of the request can lose them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from aidants import db
from aidants.accounts.models import Throttle

WINDOW = dt.timedelta(minutes=15)
#: Failures allowed from one address in a window before the backoff starts.
FREE_FAILURES = 10
BASE_DELAY = dt.timedelta(seconds=30)
MAX_DELAY = dt.timedelta(hours=1)


def retry_after(key: str, now: dt.datetime) -> int:
    """Seconds to wait before this key may try again (0 when it may now)."""
    return longest_wait([key], now)


def longest_wait(keys: Sequence[str], now: dt.datetime) -> int:
    """Seconds to wait before every one of these keys may try again (0 when they all may now).

    One SELECT for all of them: a sign-in checks three keys, and each round trip costs more than the row
    (the sign-in even reads them with the aidant, through ``BLOCKED_UNTIL``).
    """
    return seconds_until(db.session().scalar(BLOCKED_UNTIL, {"keys": list(keys), "now": now}), now)


#: The latest end of a block among the keys ``keys`` that is still running at ``now`` (NULL when none is).
#: Built once with bound parameters: building it at each sign-in cost more CPU than running it.
BLOCKED_UNTIL = (sa.select(sa.func.max(Throttle.blocked_until))
                 .where(Throttle.key.in_(sa.bindparam("keys", expanding=True)),
                        Throttle.blocked_until > sa.bindparam("now")))


def seconds_until(latest: dt.datetime | None, now: dt.datetime) -> int:
    """Whole seconds from now until a block's end, rounded up (0 without a block)."""
    if latest is None:
        return 0
    return int((latest - now).total_seconds()) + 1


@dataclass(frozen=True)
class Rule:
    """How many failures a key gets for free in a window, then how long it waits (doubling each time)."""

    free: int = FREE_FAILURES
    base: dt.timedelta = BASE_DELAY
    max_delay: dt.timedelta = MAX_DELAY


PER_CLIENT_IP = Rule()


def _delay(failures: int, rule: Rule) -> dt.timedelta:
    excess = failures - rule.free
    if excess < 0:
        return dt.timedelta(0)
    return min(rule.base * (2 ** min(excess, 16)), rule.max_delay)


@contextmanager
def own_transaction() -> Iterator[None]:
    """Run the block in a session of its own, committed at its end: what it writes survives a rollback
    of the request (failure counters, lockouts and their journal entries). See ``db.independent_transaction``."""
    with db.independent_transaction():
        yield


def record_failure(key: str, now: dt.datetime, rule: Rule = PER_CLIENT_IP) -> int:
    """Count a failure for the key (inside ``own_transaction``); past the free failures, block it for a
    doubling delay. The count."""
    session = db.session()
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
    if row is None:
        return 0
    delay = _delay(row.failures, rule)
    row.blocked_until = now + delay if delay else None
    session.flush()
    return row.failures


def clear(key: str) -> None:
    """Forget a key's failures (after a success)."""
    db.session().execute(sa.delete(Throttle).where(Throttle.key == key))
