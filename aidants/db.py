"""Database: declarative base with a naming convention, engine and one session per request.

Services ``flush()``; the request (or the CLI command) commits once, so a
request is all or nothing. Tests and the CLI use the same session helpers.
What must survive a rollback (failure counters, lockouts) is written inside
``independent_transaction()``; what must wait for the commit (an email) is
registered with ``after_commit()``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.pool import Pool
from sqlalchemy.sql import Executable
from sqlalchemy.types import TypeDecorator

#: psycopg's "no transaction in progress" status (``psycopg.pq.TransactionStatus.IDLE``), without importing it.
_IDLE = 0

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


#: Default bounds on every wait in the database (milliseconds); see ``make_engine``.
STATEMENT_TIMEOUT_MS = 15_000
LOCK_TIMEOUT_MS = 5_000
CONNECT_TIMEOUT_S = 5


def make_engine(url: str, *, statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
                lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> Engine:
    """Create the engine; SQLite gets foreign keys, a busy timeout and WAL; PostgreSQL bounded waits.

    On PostgreSQL every connection gets ``statement_timeout`` and ``lock_timeout`` (and a connect
    timeout), so no request waits behind a stuck writer for longer than that: the error it then
    raises becomes a 503 with Retry-After (``aidants.errors``).
    """
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": max(1.0, lock_timeout_ms / 1000)})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    options = f"-c statement_timeout={int(statement_timeout_ms)} -c lock_timeout={int(lock_timeout_ms)}"
    # No pre-ping: it costs a round trip at every checkout. A connection that the server dropped fails
    # its request once; SQLAlchemy then invalidates it and the pool's older connections, and the next
    # request connects afresh. Connections are also recycled before the server's idle limits.
    return sa.create_engine(url, pool_pre_ping=False, pool_recycle=1800, pool_size=5, max_overflow=5, pool_timeout=5,
                            connect_args={"options": options, "connect_timeout": CONNECT_TIMEOUT_S})


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def init_app(app: Flask) -> None:
    """Attach an engine and a session factory to the app; close sessions after each request."""
    engine = make_engine(app.config["DATABASE_URL"],
                         statement_timeout_ms=app.config.get("DB_STATEMENT_TIMEOUT_MS", STATEMENT_TIMEOUT_MS),
                         lock_timeout_ms=app.config.get("DB_LOCK_TIMEOUT_MS", LOCK_TIMEOUT_MS))
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    # The boundary itself (end_unit_of_work) is installed by aidants.web, which renders its failures.
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    """The current app's engine."""
    return current_app.extensions["db_engine"]


def session() -> Session:
    """The session of the current request or CLI command (or of the independent transaction in progress)."""
    ctx_g = g._get_current_object()  # one lookup through the proxy; services call this many times a request
    stack = getattr(ctx_g, "db_independent", None)
    if stack:
        return stack[-1]
    found: Session | None = getattr(ctx_g, "db_session", None)
    if found is None:
        found = ctx_g.db_session = current_app.extensions["db_sessionmaker"]()
    return found


def commit() -> None:
    """Commit the current unit of work: for tests and ``cli_unit_of_work`` only, never views or services."""
    session().commit()


@contextmanager
def independent_transaction() -> Iterator[Session]:
    """Work that no rollback of the request may lose (failure counters, lockouts and their journal entries).

    Inside the block ``session()`` is a short session of its own, committed when the block ends. Enter
    it before the request has written anything: SQLite has a single writer, and on PostgreSQL the
    block would wait for the request's own row locks.
    """
    main = g.get("db_session")
    if main is not None and _has_written(main):
        raise RuntimeError("independent_transaction() after the request already wrote: count failures first")
    inner = current_app.extensions["db_sessionmaker"]()
    stack = g.setdefault("db_independent", [])
    stack.append(inner)
    try:
        yield inner
        inner.commit()
    except BaseException:
        inner.rollback()
        raise
    finally:
        stack.pop()
        inner.close()


#: How long bookkeeping (``save_independently``) waits for a row lock before giving up on this request.
BOOKKEEPING_LOCK_TIMEOUT_MS = 200


def save_independently(obj: Any) -> bool:
    """Write the pending attribute changes of one loaded object in their own transaction, now.

    For bookkeeping that must not depend on the request's outcome (a session's last activity): the
    values are written by one UPDATE and marked as committed, so the request never writes them again.
    Best effort: when the row is locked by a writer, the bookkeeping waits for the next request rather
    than making a read-only page wait (False then).
    """
    state = sa.inspect(obj)
    changes = {attr.key: attr.value for attr in state.attrs if attr.history.has_changes()}
    if not changes:
        return True
    mapper = state.mapper
    keys = mapper.primary_key_from_instance(obj)
    try:
        with independent_transaction() as inner:
            if inner.get_bind().dialect.name == "postgresql":
                inner.execute(sa.text(f"SET LOCAL lock_timeout = {BOOKKEEPING_LOCK_TIMEOUT_MS}"))
            inner.execute(sa.update(mapper.class_).where(
                *[column == value for column, value in zip(mapper.primary_key, keys, strict=True)]
            ).values(**changes).execution_options(synchronize_session=False))
    except sa.exc.OperationalError:
        for name in changes:  # forget the change: the request must not write it either
            set_committed_value(obj, name, state.committed_state.get(name, getattr(obj, name)))
        return False
    for name, value in changes.items():
        set_committed_value(obj, name, value)
    return True


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the request's unit of work has committed (never after a rollback)."""
    g.setdefault("db_after_commit", []).append(callback)


def refuse() -> None:
    """Mark the unit of work refused: the boundary rolls it back even if the answer is a redirect."""
    g.db_refused = True


def end_unit_of_work(status: int) -> None:
    """The one transaction boundary: commit after a normal answer, roll back after a refusal or an error.

    Below 400 (and not ``refuse()``d) the session commits, then the ``after_commit`` callbacks run; a
    4xx or 5xx answer (a refusal, a form with errors answered 422, an error page) rolls back everything
    the request wrote. What must survive a refusal is written in ``independent_transaction()``. A
    failing commit or callback raises: the caller (``aidants.web``) renders it.
    """
    callbacks: list[Callable[[], None]] = g.pop("db_after_commit", [])
    refused = g.pop("db_refused", False)
    db_session = g.get("db_session")
    if status >= 400 or refused:
        if db_session is not None:
            discard(db_session)
        return
    if db_session is not None:
        db_session.commit()
    for callback in callbacks:
        callback()


def discard(db_session: Session | None = None) -> None:
    """Roll the request's work back, even on a connection that is already gone."""
    db_session = db_session if db_session is not None else g.get("db_session")
    if db_session is None:
        return
    try:
        db_session.rollback()
    except sa.exc.SQLAlchemyError:
        db_session.invalidate()


@contextmanager
def cli_unit_of_work() -> Iterator[None]:
    """The CLI's boundary: commit when the command ends normally, roll back when it fails (or exits)."""
    try:
        yield
    except BaseException:
        discard()
        g.pop("db_after_commit", None)
        raise
    end_unit_of_work(200)


#: Execution option naming a statement that may run before the transaction begins (``outside_transaction``).
OUTSIDE_TRANSACTION = "aidants_outside_transaction"
#: What such a statement must look like: one plain SELECT, without a locking clause (FOR UPDATE/SHARE…).
_PLAIN_SELECT = re.compile(r"\s*SELECT\b(?![\s\S]*\bFOR\s+(UPDATE|SHARE|NO\s+KEY|KEY)\b)", re.IGNORECASE)
#: An effect (a lock, a sequence, a setting, the transaction's id, SELECT INTO) that no such SELECT may have.
_EFFECTS = re.compile(r"pg_advisory|pg_try_advisory|nextval|setval|set_config|txid_current|pg_current_xact_id"
                      r"|pg_notify|\blo_\w+\s*\(|\bINTO\b", re.IGNORECASE)
_AUTOCOMMITTED = "aidants_autocommitted"


Statement = TypeVar("Statement", bound=Executable)


def outside_transaction(statement: Statement) -> Statement:
    """Mark a read so that, when it is the first statement of a transaction, it runs before BEGIN.

    Why: on PostgreSQL a request that only reads the session (most pages, once signed in) paid three round
    trips, BEGIN, its SELECT and COMMIT, for one read. The rule is explicit and narrow, so that no write can
    ever be committed on its own: only statements marked here, only when the connection has no transaction
    yet, and only plain SELECTs (no locking clause, no function with an effect: anything else ignores the
    mark) run in autocommit; every other statement, marked or not, starts the transaction as before, and
    everything after it stays inside. A read in autocommit sees the same data as the first read of a READ
    COMMITTED transaction (each statement takes its own snapshot there too). SQLite is unchanged: its
    driver begins a transaction only before a write.
    """
    return statement.execution_options(**{OUTSIDE_TRANSACTION: True})


def _may_run_outside(statement: str, context: Any) -> bool:
    if context is None or not context.execution_options.get(OUTSIDE_TRANSACTION):
        return False
    return bool(_PLAIN_SELECT.match(statement)) and not _EFFECTS.search(statement)


@event.listens_for(Engine, "before_cursor_execute")
def _begin_when_needed(connection: sa.Connection, cursor: Any, statement: str, _parameters: Any, context: Any,
                       _executemany: bool) -> None:
    """Run a marked plain SELECT before BEGIN on PostgreSQL (``outside_transaction``); all else as before."""
    if connection.dialect.name != "postgresql":
        return
    marked = _may_run_outside(statement, context)
    if not marked and _AUTOCOMMITTED not in connection.info:
        return  # the common case; also statements sent without a cursor object (the journal's fast INSERT)
    dbapi: Any = cursor.connection if cursor is not None else connection.connection.dbapi_connection
    if connection.info.pop(_AUTOCOMMITTED, False):  # a marked statement failed before its reset
        dbapi.autocommit = False
    if (marked and not dbapi.autocommit
            and dbapi.info.transaction_status == _IDLE):
        dbapi.autocommit = True
        connection.info[_AUTOCOMMITTED] = True


@event.listens_for(Engine, "after_cursor_execute")
def _end_autocommit(connection: sa.Connection, cursor: Any, *_args: Any) -> None:
    """Back to transactions at once after the marked statement: the next one begins one."""
    if connection.info.pop(_AUTOCOMMITTED, False):
        dbapi: Any = cursor.connection if cursor is not None else connection.connection.dbapi_connection
        dbapi.autocommit = False


@event.listens_for(Engine, "handle_error")
def _end_autocommit_after_error(context: Any) -> None:
    connection = context.connection
    if connection is None or not connection.info.pop(_AUTOCOMMITTED, False):
        return
    if connection.invalidated:
        return
    dbapi = connection.connection.dbapi_connection
    if dbapi is not None and not dbapi.closed:
        dbapi.autocommit = False


@event.listens_for(Pool, "checkin")
def _never_pool_autocommit(dbapi_connection: Any, record: Any) -> None:
    """A connection that ``_begin_when_needed`` left in autocommit (an interrupted statement) goes back to
    the pool in transaction mode; a connection in autocommit by its engine's own setting is left alone."""
    if record is None or not record.info.pop(_AUTOCOMMITTED, False):
        return
    if not getattr(dbapi_connection, "closed", True):
        dbapi_connection.autocommit = False


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


@event.listens_for(Engine, "before_cursor_execute")
def _note_write(connection: sa.Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    """Remember that this transaction wrote (or locked rows): an independent one would wait for it."""
    text = statement.lstrip()[:8].upper()
    if text.startswith(_WRITES) or "FOR UPDATE" in statement or "FOR NO KEY UPDATE" in statement:
        connection.info["wrote"] = True


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _forget_writes(connection: sa.Connection) -> None:
    connection.info.pop("wrote", None)


def _has_written(db_session: Session) -> bool:
    if not db_session.in_transaction():
        return False
    return bool(db_session.connection().info.get("wrote"))


def _close_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        discard(db_session)
        db_session.close()


def is_postgresql() -> bool:
    """Whether the current database is PostgreSQL (for the few dialect-specific statements)."""
    return engine().dialect.name == "postgresql"
