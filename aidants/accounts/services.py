"""Aidant sign-in: email + TOTP code, a one-time emailed link, revocable server-side sessions.

Every outcome that matters for security (sign-in, failed code, lockout, logout,
activity check) is journaled in the same transaction as the change it records.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from aidants import db
from aidants.accounts import devices, throttle
from aidants.accounts.models import Aidant, AidantSession, LoginLink, TotpDevice
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


def _sign_in_read_statement() -> sa.Select[Any]:
    """What a sign-in reads, built once with bound parameters (``keys``, ``now``, ``email``): building the
    statement from ORM expressions at each POST cost more CPU than running it (the compiled form is cached
    either way).

    The statement starts from the throttle's answer and joins the aidant to it, so that an unknown email gets
    the wait too (one row, aidant and device empty)."""
    blocked = throttle.BLOCKED_UNTIL.scalar_subquery().label("blocked_until")
    anchor = sa.select(blocked).subquery("wait")
    return (
        sa.select(anchor.c.blocked_until, Aidant, TotpDevice)
        .select_from(anchor)
        .outerjoin(Aidant, Aidant.email == sa.bindparam("email"))
        .outerjoin(TotpDevice, sa.and_(TotpDevice.aidant_id == Aidant.id, TotpDevice.status == "active"))
        .order_by(TotpDevice.id)
    )


_SIGN_IN_READ = _sign_in_read_statement()


def _sign_in_read(email: str, keys: list[str], now: dt.datetime) -> tuple[int, Aidant | None, list[TotpDevice]]:
    """What a sign-in reads, in one round trip: the seconds its throttle keys must still wait
    (as ``throttle.longest_wait``), the aidant by email and their usable devices."""
    rows = db.session().execute(_SIGN_IN_READ, {"keys": keys, "now": now, "email": normalise_email(email)}).all()
    wait = throttle.seconds_until(rows[0][0], now) if rows else 0
    aidant = rows[0][1] if rows else None
    return wait, aidant, [device for _blocked, _aidant, device in rows if device is not None]


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


#: One account from one client address: five wrong codes, then that client waits 15 minutes.
PER_ACCOUNT_AND_CLIENT = throttle.Rule(free=MAX_FAILURES, base=LOCKOUT, max_delay=LOCKOUT)
#: One account from anywhere: a slower cap against guesses spread over many addresses (a delay, not a lock).
PER_ACCOUNT = throttle.Rule(free=30, base=dt.timedelta(minutes=1), max_delay=LOCKOUT)


def _login_keys(email: str, client_ip: str) -> tuple[str, str]:
    """The per-(account, client) and per-account counter keys; unknown emails count alike (no enumeration)."""
    account = crypto.sha256_hex(normalise_email(email).encode())[:32]
    return f"login:{account}|{client_ip}"[:100], f"login:{account}"


def browser_hash(binding: str) -> str:
    """What is stored of the random value the asking browser keeps in its cookie."""
    return crypto.hash_token(binding)


#: The link's INSERT, built once: its values come as parameters.
_INSERT_LINK = sa.insert(LoginLink)


def request_login(email: str, code: str, client_ip: str, now: dt.datetime, next_url: str = "",
                  binding: str = "") -> LoginAttempt:
    """Check email + code; on success create a one-time link (5 minutes, single use) for this browser.

    Failures count per client address, per (account, client address) and, more slowly, per account,
    each in its own short transaction; a correct code that another request spent first is not a failure.
    """
    ip_key = f"ip:{client_ip}"
    pair_key, account_key = _login_keys(email, client_ip)
    wait, aidant, usable = _sign_in_read(email, [ip_key, pair_key, account_key], now)
    if wait:
        return LoginAttempt(retry_after=wait)
    if aidant is None or not aidant.is_active or aidant.is_locked(now):
        _count_login_failure(None, ip_key, pair_key, account_key, now)
        return LoginAttempt()
    device = devices.check_aidant_code(aidant, code, now, usable)
    if device is None:
        if devices.is_current_code(aidant, code, now, usable):  # spent by a simultaneous sign-in: not a guess
            return LoginAttempt()
        return LoginAttempt(just_locked=_count_login_failure(aidant.id, ip_key, pair_key, account_key, now))
    token = crypto.new_token()
    ttl: dt.timedelta = current_app.config["LOGIN_LINK_TTL"]
    # A plain INSERT on the request's connection (same transaction): nothing reads the link back as an object,
    # and the unit of work's bookkeeping cost more than the statement.
    db.session().connection().execute(_INSERT_LINK, {
        "token_hash": crypto.hash_token(token), "aidant_id": aidant.id, "device_id": device.id,
        "next_url": next_url[:500], "created_at": now, "expires_at": now + ttl,
        "browser_hash": browser_hash(binding) if binding else None,
    })
    return LoginAttempt(aidant=aidant, link_token=token)


def _count_login_failure(aidant_id: int | None, ip_key: str, pair_key: str, account_key: str,
                         now: dt.datetime) -> bool:
    """Count a failed sign-in in its own transaction; True when this client is now locked out of the account."""
    with throttle.own_transaction():
        throttle.record_failure(ip_key, now)
        failures = throttle.record_failure(pair_key, now, PER_ACCOUNT_AND_CLIENT)
        throttle.record_failure(account_key, now, PER_ACCOUNT)
        if aidant_id is None:
            return failures >= MAX_FAILURES
        journal.append("failed_code", now=now, aidant_id=aidant_id, extra={"failures": failures})
        if failures == MAX_FAILURES:
            journal.append("lockout_aidant", now=now, aidant_id=aidant_id,
                           extra={"minutes": 15, "scope": "client"})
        return failures >= MAX_FAILURES


def _count_failure(aidant: Aidant, now: dt.datetime) -> bool:
    """Count a wrong code (atomically); lock the account at the fifth. True when it locks now.

    In its own short transaction, with its journal entries: no rollback of the request can lose it.
    """
    with db.independent_transaction() as counting:
        failures = counting.execute(
            sa.update(Aidant).where(Aidant.id == aidant.id)
            .values(failed_logins=Aidant.failed_logins + 1).returning(Aidant.failed_logins)
            .execution_options(synchronize_session=False)
        ).scalar_one()
        journal.append("failed_code", now=now, aidant_id=aidant.id, extra={"failures": failures})
        locked = failures >= MAX_FAILURES
        if locked:
            counting.execute(sa.update(Aidant).where(Aidant.id == aidant.id)
                             .values(failed_logins=0, locked_until=now + LOCKOUT)
                             .execution_options(synchronize_session=False))
            journal.append("lockout_aidant", now=now, aidant_id=aidant.id, extra={"minutes": 15})
    set_committed_value(aidant, "failed_logins", 0 if locked else failures)
    if locked:
        set_committed_value(aidant, "locked_until", now + LOCKOUT)
    return locked


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


def opened_elsewhere(link: LoginLink, binding: str) -> bool:
    """Whether a link is opened in another browser than the one that asked for it."""
    return link.browser_hash is not None and not (binding and crypto.equal(link.browser_hash,
                                                                            browser_hash(binding)))


def use_login_link(token: str, client_ip: str, now: dt.datetime, binding: str = "") -> NewSession | None:
    """Spend a link (once, even under concurrent clicks, and only in the browser that asked for it) and
    open a session. A lockout caused by others' failures does not void it: it was sent to the owner."""
    same_browser: sa.ColumnElement[bool] = LoginLink.browser_hash.is_(None)
    if binding:
        same_browser = sa.or_(same_browser, LoginLink.browser_hash == browser_hash(binding))
    row = db.session().execute(
        sa.update(LoginLink)
        .where(LoginLink.token_hash == crypto.hash_token(token), LoginLink.used_at.is_(None),
               LoginLink.expires_at > now, same_browser)
        .values(used_at=now).returning(LoginLink.aidant_id, LoginLink.next_url, LoginLink.created_at)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        return None
    aidant = db.session().get(Aidant, row.aidant_id)
    if aidant is None or not aidant.is_active:
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


def _session_lookup() -> sa.Select[AidantSession]:
    """The session, its aidant, their structure and référent structures, by the token's hash (bound later).

    One round trip for what every page reads: the header names the structure and offers the référent's
    space (``referent_of``, a few rows at most), so neither is loaded lazily afterwards. Built once per
    process (the same statement object each time, so SQLAlchemy's compiled cache is hit without rebuilding
    it), and marked to run before BEGIN: a page that reads nothing else costs one round trip, not three
    (``db.outside_transaction``).
    """
    aidant = joinedload(AidantSession.aidant)
    statement = (
        sa.select(AidantSession).where(AidantSession.token_hash == sa.bindparam("token_hash"))
        .options(aidant.joinedload(Aidant.current_organisation), aidant.joinedload(Aidant.referent_of))
    )
    return db.outside_transaction(statement)


_SESSION_LOOKUP = _session_lookup()


def authenticate(token: str, now: dt.datetime) -> AidantSession | None:
    """The valid session behind a cookie value; notes activity and staleness."""
    found = db.session().scalars(_SESSION_LOOKUP, {"token_hash": crypto.hash_token(token)}).unique().first()
    if found is None or not found.is_valid(now) or not found.aidant.is_active:
        return None
    idle = now - found.last_active_at
    if idle > current_app.config["REAUTH_AFTER"]:
        found.reauth_required = True
    if idle >= ACTIVITY_GRANULARITY or found.reauth_required:
        found.last_active_at = now
    return found


def needs_reauth(current: AidantSession, now: dt.datetime) -> bool:
    """Whether a sensitive action must first ask the TOTP code again.

    ``last_active_at`` is written at most every ``ACTIVITY_GRANULARITY`` (``authenticate``), so that most
    requests write nothing; the idle time measured from it may exceed the real one by that much. The
    error is on the safe side: the code is asked again after 14 min 30 s of real inactivity at the
    earliest, and never later than after 15 minutes.
    """
    return current.reauth_required or now - current.last_active_at > current_app.config["REAUTH_AFTER"]


def reverify(current: AidantSession, code: str, now: dt.datetime) -> bool:
    """Ask the code again after inactivity; a wrong code counts towards the lockout."""
    aidant = current.aidant
    if aidant.is_locked(now):
        return False
    if devices.check_aidant_code(aidant, code, now) is None:
        if devices.is_current_code(aidant, code, now):  # spent by a simultaneous request: not a guess
            return False
        if _count_failure(aidant, now):
            with db.independent_transaction():  # the lockout's logout survives the refusal too
                logout(current, now)
            set_committed_value(current, "revoked_at", now)
        return False
    aidant.failed_logins = 0
    current.reauth_required, current.verified_at, current.last_active_at = False, now, now
    journal.append("activity_check_aidant", now=now, aidant_id=aidant.id,
                   organisation_id=aidant.current_organisation_id)
    return True


def end_session(current: AidantSession, now: dt.datetime) -> None:
    """End one session (a service's logout request): the aidant's other browsers stay signed in."""
    if current.revoked_at is None:
        current.revoked_at = now
    journal.append("logout_aidant", now=now, aidant_id=current.aidant_id,
                   organisation_id=current.aidant.current_organisation_id, extra={"scope": "session"})
    db.session().flush()


def logout(current: AidantSession, now: dt.datetime) -> None:
    """End the aidant's sessions everywhere: every cookie of theirs stops working at once."""
    db.session().execute(
        sa.update(AidantSession)
        .where(AidantSession.aidant_id == current.aidant_id, AidantSession.revoked_at.is_(None))
        .values(revoked_at=now).execution_options(synchronize_session=False)
    )
    journal.append("logout_aidant", now=now, aidant_id=current.aidant_id,
                   organisation_id=current.aidant.current_organisation_id)
