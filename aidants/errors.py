"""The one error hierarchy: domain refusals with a French message and an HTTP status, and database faults.

Services raise a ``DomainError`` (or a subclass of their area); ``aidants.web`` renders every one
of them in one place, with its status, so the request boundary rolls back. Database faults are
sorted here once: a deadlock or serialization failure is worth one transparent retry; an
unreachable, full or stuck database answers 503 with Retry-After; anything else is a bug (500).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


class DomainError(Exception):
    """A request the rules refuse; ``message`` (French) is for the person, ``status`` for HTTP."""

    status: int = 400
    retry_after: int | None = None

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class Forbidden(DomainError):
    """The person may not do this here."""

    status = 403


class NotFound(DomainError):
    """The object does not exist (or belongs to another structure, which looks the same)."""

    status = 404


class Conflict(DomainError):
    """Someone else changed the same thing first."""

    status = 409


class Invalid(DomainError):
    """A form the rules refuse (answered 422 so nothing of the request is kept)."""

    status = 422


class Unavailable(DomainError):
    """A dependency (database, mail server, FranceConnect) cannot answer now: try again shortly."""

    status = 503
    retry_after = 10

    def __init__(self, message: str = "", retry_after: int | None = None) -> None:
        super().__init__(message or UNAVAILABLE_MESSAGE)
        if retry_after is not None:
            self.retry_after = retry_after


UNAVAILABLE_MESSAGE = ("Le service est momentanément indisponible. Rien n'a été enregistré : "
                       "réessayez dans quelques instants.")
BUSY_MESSAGE = ("Le service est très sollicité en ce moment. Rien n'a été enregistré : "
                "réessayez dans quelques secondes.")

#: SQLSTATEs of a transaction PostgreSQL aborted to break a deadlock, or could not serialize.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
#: SQLSTATE classes of a database that cannot serve now: connection (08), resources (53: disk full, out
#: of memory, too many connections), operator intervention (57: shutdown, statement_timeout), lock_timeout.
UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")
UNAVAILABLE_SQLSTATES = frozenset({"55P03"})
#: What SQLite says when its busy timeout or disk space is exhausted.
SQLITE_UNAVAILABLE = ("database is locked", "database or disk is full", "disk i/o error", "unable to open")


def sqlstate(exc: BaseException) -> str:
    """The SQLSTATE behind a SQLAlchemy error (PostgreSQL), or ''."""
    orig = getattr(exc, "orig", None)
    return str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")


def is_retryable(exc: BaseException) -> bool:
    """A deadlock victim or a serialization failure: the same transaction, run again, may succeed."""
    return isinstance(exc, sa.exc.DBAPIError) and sqlstate(exc) in RETRYABLE_SQLSTATES


def is_unavailable(exc: BaseException) -> bool:
    """The database cannot serve now (down, unreachable, full, a bound on a wait was hit)."""
    if isinstance(exc, sa.exc.TimeoutError | sa.exc.DisconnectionError):
        return True
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        return False
    code = sqlstate(exc)
    if code:
        return code in UNAVAILABLE_SQLSTATES or code[:2] in UNAVAILABLE_SQLSTATE_CLASSES
    if isinstance(exc, sa.exc.InterfaceError):
        return True
    text = str(getattr(exc, "orig", exc)).lower()
    # No SQLSTATE: psycopg's connection failures, or SQLite.
    return any(part in text for part in SQLITE_UNAVAILABLE) or "connection" in text or "server" in text


def constraint_name(exc: BaseException) -> str:
    """The constraint an IntegrityError names (PostgreSQL diagnostics, or SQLite's message)."""
    orig: Any = getattr(exc, "orig", None)
    diag = getattr(orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name:
        return str(name)
    return str(orig or exc)


def _chain(exc: BaseException) -> list[BaseException]:
    """The error and what it was raised from or during (a full SQLite disk also loses the savepoint)."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(found) < 6 and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def is_retryable_chain(exc: BaseException) -> bool:
    """Whether the error, or one it came from, is a deadlock or serialization victim."""
    return any(is_retryable(item) for item in _chain(exc))


def as_domain_error(exc: BaseException) -> DomainError | None:
    """The refusal to show for a database fault, or None when it is a bug."""
    if isinstance(exc, DomainError):
        return exc
    chain = _chain(exc)
    if any(is_retryable(item) for item in chain):
        return Unavailable(BUSY_MESSAGE, retry_after=2)
    if any(is_unavailable(item) for item in chain):
        return Unavailable()
    return None
