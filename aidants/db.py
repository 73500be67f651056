"""Database: declarative base with a naming convention, engine and one session per request.

Services ``flush()``; the request (or the CLI command) commits once, so a
request is all or nothing. Tests and the CLI use the same session helpers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Base of every model."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime()}


def make_engine(url: str) -> Engine:
    """Create the engine; SQLite gets foreign keys, a busy timeout and WAL."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 15})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it costs a round trip at every checkout. A connection that the server dropped fails
    # its request once; SQLAlchemy then invalidates it and the pool's older connections, and the next
    # request connects afresh. Connections are also recycled before the server's idle limits.
    return sa.create_engine(url, pool_pre_ping=False, pool_recycle=1800, pool_size=5, max_overflow=5)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def init_app(app: Flask) -> None:
    """Attach an engine and a session factory to the app; close sessions after each request."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    app.after_request(_end_unit_of_work)
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    """The current app's engine."""
    return current_app.extensions["db_engine"]


def session() -> Session:
    """The session of the current request or CLI command, created on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db_sessionmaker"]()
    return g.db_session


def commit() -> None:
    """Commit the current unit of work (called by views and CLI commands, never by services)."""
    session().commit()


def _end_unit_of_work(response: Any) -> Any:
    """The request's one transaction boundary: commit after a normal answer, roll back after an error.

    A view that answers below 400 has its work committed here; a 4xx or 5xx answer (a refusal, a
    form with errors answered 422, an error page) rolls back everything the request wrote. What must
    survive a refusal (failure counters, lockouts) is written in its own short transaction by the
    service that counts it. A commit that fails raises here and becomes the error page.
    """
    db_session = g.get("db_session")
    if db_session is None:
        return response
    if response.status_code < 400:
        db_session.commit()
    else:
        db_session.rollback()
    return response


def _close_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.rollback()
        db_session.close()


def is_postgresql() -> bool:
    """Whether the current database is PostgreSQL (for the few dialect-specific statements)."""
    return engine().dialect.name == "postgresql"
