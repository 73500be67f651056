"""Fixtures: a real database per test (SQLite file, or PostgreSQL when DATABASE_URL says so), the real app.

Each test gets a fresh database copied from a migrated template, so journal
triggers, constraints and migrations are the real ones and no test sees another's rows.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidants import clock, create_app, db, migrate

TEST_SECRETS = {
    "SECRET_KEY": "test-secret-key-not-for-production",
    "SEED_ENCRYPTION_KEYS": "t1:" + base64.urlsafe_b64encode(b"k" * 32).decode(),
    "JOURNAL_SIGNING_KEY": base64.urlsafe_b64encode(b"s" * 32).decode(),
    "USAGER_SUB_KEY": "test-usager-sub-key",
}
#: Secrets strong enough for a production start (production refuses TEST_SECRETS: they are not random).
PRODUCTION_SECRETS = {
    "SECRET_KEY": "7LvCQWtSRJ-Q3Uk_pwneOCLyHiVgUnqpj7NG_Va_r2Q",
    "SEED_ENCRYPTION_KEYS": "p1:R0lUNAZhiVwOs0s91AMyQdkFwE9K-XtNRuQXvMlczlU=",
    "JOURNAL_SIGNING_KEY": "OeNhaYy2c1GUs9rzZNhr7jElfskS47hGMuAg91xJrbc=",
    "USAGER_SUB_KEY": "EWs5LAG6h-Byv0u1ptKq-QF09kqVvkIKVR4PhddacoQ",
}
START = dt.datetime(2026, 11, 27, 9, 0, 0, tzinfo=dt.UTC)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(available: bool, reason: str) -> None:
    """Skip on a developer's machine when a component is missing; fail in CI, where nothing may be missing."""
    if available:
        return
    if in_ci():
        pytest.fail(f"missing component in CI: {reason}")
    pytest.skip(reason)


class Databases:
    """Creates one database per test from a migrated template."""

    def __init__(self, base_url: str | None, workdir: Path, worker: str) -> None:
        self.base_url, self.workdir, self.worker = base_url, workdir, worker
        self.template: str = ""

    @property
    def postgres(self) -> bool:
        return bool(self.base_url and self.base_url.startswith("postgresql"))

    def _admin(self) -> sa.Engine:
        assert self.base_url
        return sa.create_engine(self.base_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)

    def _url(self, name: str) -> str:
        assert self.base_url
        return sa.make_url(self.base_url).set(database=name).render_as_string(hide_password=False)

    def prepare(self) -> None:
        if self.postgres:
            self.template = f"aidants_tpl_{self.worker}_{os.getpid()}"
            admin = self._admin()
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)'))
                connection.execute(sa.text(f'CREATE DATABASE "{self.template}"'))
            admin.dispose()
            engine = sa.create_engine(self._url(self.template), poolclass=sa.pool.NullPool)
        else:
            self.template = str(self.workdir / "template.sqlite3")
            engine = sa.create_engine(f"sqlite:///{self.template}", poolclass=sa.pool.NullPool)
        migrate.upgrade(engine)
        engine.dispose()

    def new(self) -> str:
        """A migrated database with no rows; its URL.

        SQLite: a copy of the migrated template file. PostgreSQL: the worker's own database
        (migrated once), emptied after each test by ``drop`` — creating a database per test
        costs seconds on PostgreSQL, emptying one costs milliseconds.
        """
        if self.postgres:
            return self._url(self.template)
        path = self.workdir / f"aidants_t_{self.worker}_{uuid.uuid4().hex[:10]}.sqlite3"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"

    def drop(self, url: str) -> None:
        """Forget what a test wrote: delete its SQLite file, or empty every PostgreSQL table.

        The journal's triggers forbid emptying it, on purpose; the test harness alone steps
        around them with ``session_replication_role = replica`` (superuser only), and turns them
        back on in case a test disabled them.
        """
        if not self.postgres:
            Path(sa.make_url(url).database or "").unlink(missing_ok=True)
            return
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.begin() as connection:
            tables = [name for name in sa.inspect(connection).get_table_names() if name != "alembic_version"]
            connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
            connection.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            connection.execute(sa.text("ALTER TABLE journal_entry ENABLE TRIGGER USER"))
        engine.dispose()

    def cleanup(self) -> None:
        if self.postgres:
            admin = self._admin()
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)'))
            admin.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[Databases]:
    found = Databases(os.environ.get("DATABASE_URL"), tmp_path_factory.mktemp("db"), worker_id)
    found.prepare()
    yield found
    found.cleanup()


@pytest.fixture
def database_url(databases: Databases) -> Iterator[str]:
    url = databases.new()
    yield url
    databases.drop(url)


def build_app(database_url: str, tmp_path: Path, **overrides: object) -> Flask:
    """The real app on a test database, with the test secrets."""
    environ = {"AIDANTS_ENV": "test", "DATABASE_URL": database_url, **TEST_SECRETS}
    os.environ["AIDANTS_INSTANCE"] = str(tmp_path / "instance")
    app = create_app({"TESTING": True, **overrides}, environ=environ)
    return app


@pytest.fixture
def fixed_clock() -> clock.FixedClock:
    return clock.FixedClock(START)


@pytest.fixture
def app(database_url: str, tmp_path: Path, fixed_clock: clock.FixedClock) -> Iterator[Flask]:
    application = build_app(database_url, tmp_path, WTF_CSRF_ENABLED=False)
    clock.set_clock(application, fixed_clock)
    with application.app_context():
        yield application
    application.extensions["db_engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def session(app: Flask) -> sa.orm.Session:
    """The app's database session (the same one services use in this app context)."""
    return db.session()
