"""Activation: a single-use emailed link opens a guided path (a device, the CGU) that ends signed in.

The link (256 bits, only its SHA-256 kept, valid 7 days) is spent when the person opens it in
their browser; the path then lives in that browser's session for an hour, on a URL without the
token. Sending a new link revokes the older ones. The path's device step proves possession: a new
authenticator app confirmed by its code, a card received by post (serial number + two consecutive
codes), or, for someone who already has a device, one of its codes. Wrong codes are counted on the
link in their own transaction (they survive the refusal's rollback); ten close the path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app, render_template

from aidants import db
from aidants.accounts import cgu, devices
from aidants.accounts.activation_models import ActivationLink
from aidants.accounts.models import Aidant, AidantSession
from aidants.journal import services as journal
from aidants.outbox.services import enqueue_mail
from aidants.security import crypto

LINK_LIFETIME = dt.timedelta(days=7)
SUBJECT = "Activez votre compte Aidants Connect"

#: Builds the absolute URL of a link from its token (the views pass one made with ``external_url``).
LinkBuilder = Callable[[str], str]


class ActivationError(ValueError):
    """A step refused, with a message in French for the person."""


def send_link(aidant: Aidant, now: dt.datetime, link_for: LinkBuilder, *, sent_by: Aidant | None = None,
              reason: str = "") -> ActivationLink:
    """Issue a new activation link (revoking older ones) and queue its email, in the caller's transaction."""
    if not aidant.is_active:
        raise ActivationError("Ce compte n'est pas actif : il ne peut pas recevoir de lien d'activation.")
    session = db.session()
    session.execute(
        sa.update(ActivationLink)
        .where(ActivationLink.aidant_id == aidant.id, ActivationLink.completed_at.is_(None),
               ActivationLink.revoked_at.is_(None))
        .values(revoked_at=now).execution_options(synchronize_session=False)
    )
    token = crypto.new_token()
    link = ActivationLink(token_hash=crypto.hash_token(token), aidant_id=aidant.id,
                          sent_by_id=sent_by.id if sent_by else None, created_at=now,
                          expires_at=now + LINK_LIFETIME, failures=0)
    session.add(link)
    session.flush()
    body = render_template("activation/email.txt", aidant=aidant, link=link_for(token), reason=reason,
                           expires_at=link.expires_at, has_device=bool(devices.usable_devices(aidant)))
    enqueue_mail(aidant.email, SUBJECT, body, now=now, kind="activation", key=f"activation:{link.id}")
    journal.append("send_activation_link", now=now, actor_kind="staff" if sent_by and sent_by.is_staff else
                   ("aidant" if sent_by else "system"), aidant_id=aidant.id,
                   organisation_id=aidant.current_organisation_id,
                   extra={"link_id": link.id, "sent_by_id": sent_by.id if sent_by else None})
    return link


def needs_activation(aidant: Aidant) -> bool:
    """Whether the person cannot sign in yet (no device of theirs is usable)."""
    return not devices.usable_devices(aidant)


def peek(token: str, now: dt.datetime) -> ActivationLink | None:
    """The link behind a token if it may still be opened (shown before the person clicks)."""
    link = db.session().scalars(
        sa.select(ActivationLink).where(ActivationLink.token_hash == crypto.hash_token(token))
    ).first()
    return link if link is not None and link.can_open(now) and link.aidant.is_active else None


def open_link(token: str, now: dt.datetime) -> ActivationLink | None:
    """Spend the link (once, even under concurrent clicks): the guided path starts; None when unusable."""
    link_id = db.session().execute(
        sa.update(ActivationLink)
        .where(ActivationLink.token_hash == crypto.hash_token(token), ActivationLink.opened_at.is_(None),
               ActivationLink.revoked_at.is_(None), ActivationLink.expires_at > now)
        .values(opened_at=now).returning(ActivationLink.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    if link_id is None:
        return None
    link = db.session().get(ActivationLink, link_id)
    if link is None or not link.aidant.is_active:
        return None
    db.session().refresh(link)
    journal.append("open_activation_link", now=now, aidant_id=link.aidant_id,
                   organisation_id=link.aidant.current_organisation_id, extra={"link_id": link.id})
    return link


def flow(link_id: int | None, now: dt.datetime) -> ActivationLink | None:
    """The guided path this browser is in, if it may go on."""
    if link_id is None:
        return None
    link = db.session().get(ActivationLink, link_id)
    if link is None or not link.flow_open(now) or not link.aidant.is_active:
        return None
    return link


def _failed(link: ActivationLink) -> None:
    """Count a wrong code in its own transaction: the refusal's rollback must not erase it."""
    with db.engine().begin() as connection:
        connection.execute(sa.update(ActivationLink).where(ActivationLink.id == link.id)
                           .values(failures=ActivationLink.failures + 1))


def _refuse(link: ActivationLink, message: str) -> ActivationError:
    _failed(link)
    return ActivationError(message)


def app_enrolment(link: ActivationLink, now: dt.datetime) -> devices.Enrolment:
    """The QR code of the app being added (the same across reloads)."""
    return devices.pending_enrolment(link.aidant) or devices.start_app_enrolment(link.aidant, now)


def confirm_app(link: ActivationLink, code: str, now: dt.datetime) -> None:
    """Activate the new app with the code it shows."""
    if not devices.confirm_app_enrolment(link.aidant, code, now):
        raise _refuse(link, "Ce code ne correspond pas. Vérifiez que l'heure de votre téléphone est juste et "
                            "saisissez le code affiché maintenant.")


def activate_card(link: ActivationLink, serial_number: str, first: str, second: str, now: dt.datetime) -> None:
    """Activate a card received by post, with its serial number and two consecutive codes."""
    error = devices.activate_card(link.aidant, serial_number, first, second, now)
    if error is not None:
        raise _refuse(link, error)


def check_existing(link: ActivationLink, code: str, now: dt.datetime) -> None:
    """Someone who already has a device proves it with one of its codes."""
    if devices.check_aidant_code(link.aidant, code, now) is None:
        raise _refuse(link, "Ce code n'est pas valable. Attendez le code suivant et réessayez.")


@dataclass(frozen=True)
class Completed:
    """The path is done: the session cookie value and the person's space."""

    session_token: str
    aidant: Aidant


def complete(link: ActivationLink, accepted: bool, now: dt.datetime) -> Completed:
    """Accept the CGU, close the path and open a session (the device step proved possession)."""
    if not accepted:
        raise ActivationError("Cochez la case pour accepter les conditions générales d'utilisation.")
    aidant = link.aidant
    if not devices.usable_devices(aidant):
        raise ActivationError("Ajoutez d'abord une application ou activez votre carte.")
    done = db.session().execute(
        sa.update(ActivationLink).where(ActivationLink.id == link.id, ActivationLink.completed_at.is_(None))
        .values(completed_at=now).execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if done != 1:
        raise ActivationError("Cette activation vient d'être terminée dans un autre onglet.")
    cgu.accept(aidant, now)
    token = crypto.new_token()
    max_age: dt.timedelta = current_app.config["SESSION_MAX_AGE"]
    db.session().add(AidantSession(
        token_hash=crypto.hash_token(token), aidant_id=aidant.id, created_at=now, expires_at=now + max_age,
        last_active_at=now, verified_at=now,
    ))
    aidant.failed_logins, aidant.locked_until, aidant.last_login_at = 0, None, now
    journal.append("complete_activation", now=now, aidant_id=aidant.id,
                   organisation_id=aidant.current_organisation_id, extra={"link_id": link.id})
    journal.append("connect_aidant", now=now, aidant_id=aidant.id, organisation_id=aidant.current_organisation_id)
    db.session().flush()
    return Completed(token, aidant)
