"""The usager's session: its own cookie (path ``/usager``), short lifetime, a hashed server-side row.

The cookie holds a random token and an HMAC of it under a key derived from ``SECRET_KEY``; the
database keeps only the token's SHA-256. An aidant's session (the Flask session's ``sid``) is
never read here, and this cookie is never read by the aidants' pages.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Request, current_app
from werkzeug.wrappers import Response

from aidants import db
from aidants.espace_usager.models import UsagerSession
from aidants.journal import services as journal
from aidants.security import crypto
from aidants.usagers.models import Usager

COOKIE = "usager_session"
COOKIE_PATH = "/usager"
IDLE = dt.timedelta(minutes=30)
MAX_AGE = dt.timedelta(hours=2)
#: Activity is written at most this often, so most requests do not write.
ACTIVITY_GRANULARITY = dt.timedelta(seconds=30)


def _idle() -> dt.timedelta:
    minutes = current_app.config.get("USAGER_SESSION_IDLE_MINUTES")
    return dt.timedelta(minutes=int(minutes)) if minutes else IDLE


def _max_age() -> dt.timedelta:
    minutes = current_app.config.get("USAGER_SESSION_MAX_MINUTES")
    return dt.timedelta(minutes=int(minutes)) if minutes else MAX_AGE


def _mac(token: str) -> str:
    key = crypto.keyed_hash(str(current_app.config["SECRET_KEY"]).encode(), "usager-session-cookie")
    return crypto.keyed_hash(key.encode(), token)


def open_session(usager: Usager, now: dt.datetime) -> str:
    """A new session for the usager; the cookie value (token and its MAC)."""
    token = crypto.new_token()
    db.session().add(UsagerSession(token_hash=crypto.hash_token(token), usager_id=usager.id, created_at=now,
                                   expires_at=now + _max_age(), last_active_at=now))
    journal.append("connect_usager", now=now, actor_kind="usager", usager_id=usager.id)
    db.session().flush()
    return f"{token}.{_mac(token)}"


def _token(cookie: str | None) -> str | None:
    if not cookie or len(cookie) > 200 or "." not in cookie:
        return None
    token, _, mac = cookie.partition(".")
    return token if crypto.equal(mac, _mac(token)) else None


def authenticate(cookie: str | None, now: dt.datetime) -> UsagerSession | None:
    """The valid session behind a cookie value (None when absent, forged, idle or expired)."""
    token = _token(cookie)
    if token is None:
        return None
    found = db.session().scalars(
        sa.select(UsagerSession).where(UsagerSession.token_hash == crypto.hash_token(token))).first()
    if found is None or not found.is_valid(now, _idle()):
        return None
    if now - found.last_active_at >= ACTIVITY_GRANULARITY:
        found.last_active_at = now
    return found


def close(current: UsagerSession, now: dt.datetime) -> None:
    """End every session of the usager."""
    db.session().execute(
        sa.update(UsagerSession).where(UsagerSession.usager_id == current.usager_id,
                                       UsagerSession.revoked_at.is_(None))
        .values(revoked_at=now).execution_options(synchronize_session=False))
    journal.append("logout_usager", now=now, actor_kind="usager", usager_id=current.usager_id)


def set_cookie(response: Response, value: str) -> None:
    """Put the session cookie on a response: path /usager, HttpOnly, SameSite=Lax, Secure in production."""
    response.set_cookie(COOKIE, value, max_age=int(_max_age().total_seconds()), path=COOKIE_PATH, httponly=True,
                        secure=bool(current_app.config.get("ENV_IS_PRODUCTION")), samesite="Lax")


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH)


def cookie_of(request: Request) -> str | None:
    return request.cookies.get(COOKIE)
