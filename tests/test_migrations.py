"""Migrations: applied to an empty database they give exactly the models' schema, and they can be undone."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import aidants.models  # noqa: F401  (every table on the metadata)
from aidants import db, migrate
from aidants.db import Base


def postgres_base_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An engine on a database with no table at all (built through db.make_engine, like the app's)."""
    if request.param == "sqlite":
        engine = db.make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
        yield engine
        engine.dispose()
        return
    base = postgres_base_url()
    if base is None:
        pytest.skip("PostgreSQL variant: runs when DATABASE_URL points to PostgreSQL (the second pass of CI)")
    name = f"aidants_mig_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = db.make_engine(sa.make_url(base).set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def schema_differences(engine: sa.Engine) -> list[Any]:
    """What autogenerate would write to bring the database to the models (empty when they agree)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                               "compare_server_default": True})
        return compare_metadata(context, Base.metadata)


def table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_migrations_form_a_single_line():
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, f"several heads: {script.get_heads()} (merge them)"
    assert len(script.get_bases()) == 1


def test_upgrade_gives_exactly_the_models_schema(empty_engine):
    assert table_names(empty_engine) == set()
    migrate.upgrade(empty_engine)
    assert table_names(empty_engine) == {*Base.metadata.tables, "alembic_version"}
    differences = schema_differences(empty_engine)
    assert differences == [], "migrations and models disagree:\n" + "\n".join(map(repr, differences))


def test_downgrade_to_base_then_upgrade_again(empty_engine):
    migrate.upgrade(empty_engine)
    migrate.downgrade(empty_engine, "base")
    assert table_names(empty_engine) <= {"alembic_version"}
    migrate.upgrade(empty_engine)
    assert schema_differences(empty_engine) == []


def test_each_revision_downgrades_and_upgrades_on_its_own(empty_engine):
    """Step by step, so that a broken downgrade is found at the revision that holds it."""
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    revisions = [revision.revision for revision in reversed(list(script.walk_revisions()))]
    for revision in revisions:
        migrate.upgrade(empty_engine, revision)
        migrate.downgrade(empty_engine, "-1")
        migrate.upgrade(empty_engine, revision)
    assert schema_differences(empty_engine) == []
