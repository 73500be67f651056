"""PostgreSQL: the application runs as a role that inserts into and reads the journal, but can neither
change it, empty it, nor alter or drop its triggers (it does not own the tables); the service still works."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from aidants import clock, db
from aidants.journal import sequencer
from aidants.journal import services as journal
from aidants.organisations import services as organisations
from tests.conftest import build_app
from tests.journal.test_journal import cli

REFUSED = [
    "UPDATE journal_entry SET action = 'x'",
    "DELETE FROM journal_entry",
    "TRUNCATE journal_entry",
    "UPDATE journal_leaf SET entry_seq = 0",
    "DELETE FROM journal_leaf",
    "TRUNCATE journal_node",
    "DELETE FROM journal_checkpoint",
    "DROP TRIGGER journal_entry_no_update_delete ON journal_entry",
    "ALTER TABLE journal_entry DISABLE TRIGGER USER",
    "ALTER TABLE journal_leaf DROP COLUMN leaf_hash",
    "DROP TABLE journal_checkpoint",
    "DROP FUNCTION journal_append_only() CASCADE",
    "CREATE TABLE intruder (id int)",
    "SET session_replication_role = replica",
]


@pytest.fixture
def app_role(app: Flask, database_url: str) -> str:
    if not db.is_postgresql():
        pytest.skip("database roles: PostgreSQL only (SQLite has none; make run is SQLite by default)")
    name = f"aidants_app_{uuid.uuid4().hex[:10]}"
    result = cli(app, "db", "create-app-role", "--name", name)
    assert result.exit_code == 0, result.output
    yield name
    with db.engine().begin() as connection:
        connection.exec_driver_sql(f"DROP OWNED BY {name}")
        connection.exec_driver_sql(f"DROP ROLE {name}")


def test_the_application_role_appends_and_reads_but_cannot_alter_the_journal(
        app: Flask, app_role: str, database_url: str, tmp_path: Path, fixed_clock: clock.FixedClock) -> None:
    url = sa.make_url(database_url).set(username=app_role, password=None).render_as_string(hide_password=False)
    role_app = build_app(url, tmp_path / "role", WTF_CSRF_ENABLED=False)
    clock.set_clock(role_app, fixed_clock)
    try:
        with role_app.app_context():
            assert db.session().execute(sa.text("SELECT current_user")).scalar() == app_role
            organisation = organisations.create_organisation(
                name="Mairie du rôle", siret="21750001600019", address="1 place", zipcode="75001", city="Paris",
                kind="mairie", now=fixed_clock.now())
            journal.append("role_probe", now=fixed_clock.now(), organisation_id=organisation.id)
            db.commit()
            assert sequencer.integrate(fixed_clock.now()) >= 2
            assert sequencer.record_checkpoint(fixed_clock.now()) is not None
            assert journal.verify_chain().ok
            assert role_app.test_client().get("/healthz").status_code == 200
            with db.engine().begin() as connection:  # the app updates and deletes its other tables
                connection.exec_driver_sql("UPDATE organisation SET city = city")
            for sql in REFUSED:
                with pytest.raises(sa.exc.DBAPIError, match=r"permission denied|must be owner"), \
                        db.engine().begin() as connection:
                    connection.exec_driver_sql(sql)
            assert journal.verify_chain().ok
    finally:
        role_app.extensions["db_engine"].dispose()


def test_create_app_role_refuses_a_bad_name_and_the_owner(app: Flask) -> None:
    if not db.is_postgresql():
        result = cli(app, "db", "create-app-role", "--name", "aidants_app")
        assert result.exit_code == 1 and "PostgreSQL" in result.output
        return
    for name in ("Robert'); DROP TABLE x;--", "postgres"):
        result = cli(app, "db", "create-app-role", "--name", name)
        assert result.exit_code == 1
