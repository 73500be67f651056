"""Aidant sign-in: email + TOTP code, a one-time emailed link, revocable server-side sessions.

Every outcome that matters for security (sign-in, failed code, lockout, logout,
activity check) is journaled in the same transaction as the change it records.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from aidants import db
from aidants.accounts import devices, throttle
from aidants.accounts.models import Aidant, AidantSession, LoginLink
from aidants.journal import services as journal
from aidants.organisations.models import Organisation
from aidants.security import crypto

MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=15)


def normalise_email(email: str) -> str:
    """Emails are unique case-insensitively: keep them lower-cased and trimmed."""
    return email.strip().lower()


def find_aidant(email: str) -> Aidant | None:
    """An aidant by email, whatever its case."""
    statement = sa.select(Aidant).where(Aidant.email == normalise_email(email))
    return db.session().scalars(statement).first()


def create_aidant(
    *, email: str, first_name: str, last_name: str, organisation: Organisation | None, now: dt.datetime,
    profession: str = "", is_referent: bool = False, is_staff: bool = False, can_create_mandats: bool = True,
) -> Aidant:
    """Create an aidant in an organisation (no password: they sign in with TOTP).

    Only a member of the national staff may belong to no structure (and then creates no mandate).
    """
    if organisation is None and not is_staff:
        raise ValueError("an aidant belongs to a structure; only staff may have none")
    aidant = Aidant(
        email=normalise_email(email), first_name=first_name.strip(), last_name=last_name.strip(),
        profession=profession, current_organisation=organisation, organisations=[organisation] if organisation else [],
        referent_of=[organisation] if is_referent and organisation else [], is_staff=is_staff,
        can_create_mandats=can_create_mandats and organisation is not None, created_at=now,
    )
    db.session().add(aidant)
    db.session().flush()
    journal.append("create_aidant", now=now, actor_kind="system", aidant_id=aidant.id,
                   organisation_id=organisation.id if organisation else None)
    return aidant


# --- step 1: email + code -------------------------------------------------------------


@dataclass(frozen=True)
class LoginAttempt:
    """What the login form tells the person: the link token to email, or a reason to wait."""

    aidant: Aidant | None = None
    link_token: str | None = None
    retry_after: int = 0
    just_locked: bool = False

    @property
    def ok(self) -> bool:
        return self.link_token is not None


def request_login(email: str, code: str, client_ip: str, now: dt.datetime, next_url: str = "") -> LoginAttempt:
    """Check email + code; on success create a one-time link (5 minutes, single use)."""
    ip_key = f"ip:{client_ip}"
    wait = throttle.retry_after(ip_key, now)
    if wait:
        return LoginAttempt(retry_after=wait)
    aidant = find_aidant(email)
    if aidant is None or not aidant.is_active or aidant.is_locked(now):
        throttle.record_failure(ip_key, now)
        return LoginAttempt()
    device = devices.check_aidant_code(aidant, code, now)
    if device is None:
        throttle.record_failure(ip_key, now)
        return LoginAttempt(just_locked=_count_failure(aidant, now))
    aidant.failed_logins = 0
    token = crypto.new_token()
    ttl: dt.timedelta = current_app.config["LOGIN_LINK_TTL"]
    db.session().add(LoginLink(
        token_hash=crypto.hash_token(token), aidant_id=aidant.id, device_id=device.id,
        next_url=next_url[:500], created_at=now, expires_at=now + ttl,
    ))
    db.session().flush()
    return LoginAttempt(aidant=aidant, link_token=token)


def _count_failure(aidant: Aidant, now: dt.datetime) -> bool:
    """Count a wrong code (atomically); lock the account at the fifth. True when it locks now."""
    failures = db.session().execute(
        sa.update(Aidant).where(Aidant.id == aidant.id)
        .values(failed_logins=Aidant.failed_logins + 1).returning(Aidant.failed_logins)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    journal.append("failed_code", now=now, aidant_id=aidant.id, extra={"failures": failures})
    if failures < MAX_FAILURES:
        return False
    aidant.failed_logins, aidant.locked_until = 0, now + LOCKOUT
    journal.append("lockout_aidant", now=now, aidant_id=aidant.id, extra={"minutes": 15})
    db.session().flush()
    return True


# --- step 2: the emailed link -----------------------------------------------------------


def peek_login_link(token: str, now: dt.datetime) -> LoginLink | None:
    """The link if it can still be used (shown before the person confirms with a click)."""
    link = db.session().scalars(
        sa.select(LoginLink).where(LoginLink.token_hash == crypto.hash_token(token))
    ).first()
    return link if link is not None and link.is_usable(now) else None


@dataclass(frozen=True)
class NewSession:
    """A session just opened: the cookie value and where to go next."""

    token: str
    aidant: Aidant
    next_url: str


def use_login_link(token: str, client_ip: str, now: dt.datetime) -> NewSession | None:
    """Spend a link (once, even under concurrent clicks) and open a session."""
    row = db.session().execute(
        sa.update(LoginLink)
        .where(LoginLink.token_hash == crypto.hash_token(token), LoginLink.used_at.is_(None),
               LoginLink.expires_at > now)
        .values(used_at=now).returning(LoginLink.aidant_id, LoginLink.next_url, LoginLink.created_at)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        return None
    aidant = db.session().get(Aidant, row.aidant_id)
    if aidant is None or not aidant.is_active or aidant.is_locked(now):
        return None
    session_token = crypto.new_token()
    max_age: dt.timedelta = current_app.config["SESSION_MAX_AGE"]
    db.session().add(AidantSession(
        token_hash=crypto.hash_token(session_token), aidant_id=aidant.id, created_at=now,
        expires_at=now + max_age, last_active_at=now, verified_at=row.created_at,
    ))
    aidant.last_login_at = now
    journal.append("connect_aidant", now=now, aidant_id=aidant.id,
                   organisation_id=aidant.current_organisation_id)
    db.session().flush()
    return NewSession(session_token, aidant, row.next_url)


# --- sessions ---------------------------------------------------------------------------------

#: Activity is written at most this often, so most requests do not write.
ACTIVITY_GRANULARITY = dt.timedelta(seconds=30)


def authenticate(token: str, now: dt.datetime) -> AidantSession | None:
    """The valid session behind a cookie value; notes activity and staleness."""
    found = db.session().scalars(
        sa.select(AidantSession).where(AidantSession.token_hash == crypto.hash_token(token))
    ).first()
    if found is None or not found.is_valid(now) or not found.aidant.is_active:
        return None
    idle = now - found.last_active_at
    if idle > current_app.config["REAUTH_AFTER"]:
        found.reauth_required = True
    if idle >= ACTIVITY_GRANULARITY or found.reauth_required:
        found.last_active_at = now
    return found


def needs_reauth(current: AidantSession, now: dt.datetime) -> bool:
    """Whether a sensitive action must first ask the TOTP code again."""
    return current.reauth_required or now - current.last_active_at > current_app.config["REAUTH_AFTER"]


def reverify(current: AidantSession, code: str, now: dt.datetime) -> bool:
    """Ask the code again after inactivity; a wrong code counts towards the lockout."""
    aidant = current.aidant
    if aidant.is_locked(now):
        return False
    if devices.check_aidant_code(aidant, code, now) is None:
        if _count_failure(aidant, now):
            logout(current, now)
        return False
    aidant.failed_logins = 0
    current.reauth_required, current.verified_at, current.last_active_at = False, now, now
    journal.append("activity_check_aidant", now=now, aidant_id=aidant.id,
                   organisation_id=aidant.current_organisation_id)
    return True


def logout(current: AidantSession, now: dt.datetime) -> None:
    """End the aidant's sessions everywhere: every cookie of theirs stops working at once."""
    db.session().execute(
        sa.update(AidantSession)
        .where(AidantSession.aidant_id == current.aidant_id, AidantSession.revoked_at.is_(None))
        .values(revoked_at=now).execution_options(synchronize_session=False)
    )
    journal.append("logout_aidant", now=now, aidant_id=current.aidant_id,
                   organisation_id=current.aidant.current_organisation_id)
