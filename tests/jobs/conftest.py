"""Fixtures of the job engine's tests: a local SMTP sink, and an app that sends to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from aidants import clock
from tests.conftest import build_app
from tests.jobs.sink import SmtpSink


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    found = SmtpSink()
    yield found
    found.release.set()
    found.stop()


@pytest.fixture
def smtp_app(database_url: str, tmp_path: Path, fixed_clock: clock.FixedClock, sink: SmtpSink) -> Iterator[Flask]:
    """The app with SMTP pointing at the sink (which starts down: tests bring it up)."""
    application = build_app(database_url, tmp_path, WTF_CSRF_ENABLED=False, SMTP_HOST="127.0.0.1",
                            SMTP_PORT=sink.port, SMTP_STARTTLS=False, SMTP_TIMEOUT=5.0)
    clock.set_clock(application, fixed_clock)
    with application.app_context():
        yield application
    application.extensions["db_engine"].dispose()
