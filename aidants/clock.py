"""The one source of 'now', so tests can set the time.

Code asks ``clock.now()``; tests install a ``FixedClock`` on the app with
``set_clock(app, clock)``.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from flask import Flask, current_app


class Clock(Protocol):
    """Something that tells the current UTC time."""

    def now(self) -> dt.datetime: ...


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FixedClock:
    """A clock that only moves when told to (for tests)."""

    def __init__(self, start: dt.datetime) -> None:
        self.current = start

    def now(self) -> dt.datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += dt.timedelta(**delta)


def set_clock(app: Flask, clock: Clock) -> None:
    """Install a clock on an app."""
    app.extensions["clock"] = clock


def now() -> dt.datetime:
    """The current UTC time according to the app's clock."""
    clock: Clock = current_app.extensions.get("clock") or SystemClock()
    return clock.now()
