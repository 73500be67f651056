"""The rules of the espace usager: sign-in, preferences, export and erasure. They flush, never commit."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from aidants import db
from aidants.espace_usager import queries, sessions
from aidants.espace_usager.models import NOTICE_KINDS, UsagerNotice, UsagerPreference, UsagerSession
from aidants.journal import services as journal
from aidants.mandats.models import Mandat, MandatUsager
from aidants.outbox.models import FAILED, OutboxMessage
from aidants.usagers import services as usagers
from aidants.usagers.models import Usager


class UsagerError(ValueError):
    """A request the rules refuse; the message (French) is for the usager."""


@dataclass(frozen=True)
class SignIn:
    """The outcome of a FranceConnect sign-in: a cookie value, or why there is none."""

    usager: Usager | None
    cookie: str | None


def sign_in(claims: Mapping[str, Any], now: dt.datetime) -> SignIn:
    """Match FranceConnect's identity by the keyed hash of its sub; open a session if they gave a mandate.

    Someone we do not know is not recorded: nothing is written for a person without a mandate.
    """
    fc_sub = claims.get("sub")
    if not isinstance(fc_sub, str) or not fc_sub:
        raise usagers.InvalidIdentity("L'identité transmise par FranceConnect ne comporte pas d'identifiant.")
    fields = usagers.pivot_identity(claims)
    usager = usagers.find_by_fc_sub(fc_sub)
    if usager is None or usager.erased_at is not None:
        return SignIn(None, None)
    if not db.session().scalar(sa.select(sa.func.count()).select_from(Mandat).where(Mandat.usager_id == usager.id)):
        return SignIn(usager, None)
    if fields["email"] and fields["email"] != usager.email:
        usager.email, usager.updated_at = fields["email"], now  # the address FranceConnect gives, for notices
        journal.append("update_email_usager", now=now, actor_kind="usager", usager_id=usager.id)
    return SignIn(usager, sessions.open_session(usager, now))


def current_usager(session_row: UsagerSession) -> Usager | None:
    return db.session().get(Usager, session_row.usager_id)


# --- preferences ---------------------------------------------------------------------------------


def notice_choices(usager_id: int) -> dict[str, bool]:
    """Each notice kind and whether it is on."""
    found = db.session().get(UsagerPreference, usager_id)
    return {kind: (found is None or found.wants(kind)) for kind in NOTICE_KINDS}


def set_notices(usager: Usager, wanted: set[str], now: dt.datetime) -> None:
    """Turn each kind of notice on (in ``wanted``) or off; journaled."""
    found = db.session().get(UsagerPreference, usager.id)
    if found is None:
        found = UsagerPreference(usager_id=usager.id, updated_at=now)
        db.session().add(found)
    for kind in NOTICE_KINDS:
        setattr(found, kind, kind in wanted)
    found.updated_at = now
    journal.append("notices_usager", now=now, actor_kind="usager", usager_id=usager.id,
                   extra={kind: kind in wanted for kind in NOTICE_KINDS})
    db.session().flush()


# --- export --------------------------------------------------------------------------------------

IDENTITY_FIELDS = ("given_name", "family_name", "preferred_username", "birthdate", "gender", "birthplace",
                   "birthcountry", "email")


def export(usager: Usager, now: dt.datetime) -> dict[str, Any]:
    """Everything held about the usager: identity as received, mandates, autorisations, uses, notices sent."""
    mandats = queries.mandats_of(usager.id)
    replaced = queries.replaced_by(mandats)
    notices = db.session().execute(
        sa.select(UsagerNotice, OutboxMessage).outerjoin(OutboxMessage, OutboxMessage.key == UsagerNotice.outbox_key)
        .where(UsagerNotice.usager_id == usager.id).order_by(UsagerNotice.id))
    return {
        "generated_at": now.isoformat(),
        "identity": {name: getattr(usager, name) for name in IDENTITY_FIELDS},
        "identifier": usager.sub,
        "first_seen_at": usager.created_at.isoformat(), "updated_at": usager.updated_at.isoformat(),
        "notices": notice_choices(usager.id),
        "mandats": [{
            "uuid": m.uuid, "status": m.status(now), "structure": {"name": m.organisation.name,
                                                                   "siret": m.organisation.siret},
            "created_at": m.created_at.isoformat(), "expires_at": m.expires_at.isoformat(),
            "replaced_by": replaced[m.id].uuid if m.id in replaced else None,
            "attestation_jws": m.jws,
            "autorisations": [{
                "demarche": a.demarche, "status": a.status(now),
                "revoked_at": a.revoked_at.isoformat() if a.revoked_at else None,
                "revoked_by": revoked_by(a.revoked_reason, a.revoked_by),
            } for a in m.autorisations],
        } for m in mandats],
        "uses": [{"at": u.when.isoformat(), "what": u.what, "service": u.service, "demarche": u.demarche,
                  "structure": u.structure, "aidant": u.aidant} for u in queries.all_uses_of(usager.id)],
        "notices_sent": [{
            "kind": notice.kind, "at": notice.created_at.isoformat(),
            "subject": message.subject if message else None, "status": message.status if message else None,
        } for notice, message in notices],
    }


def revoked_by(reason: str | None, aidant: Any) -> str | None:
    """Who revoked, in the usager's words."""
    if reason is None:
        return None
    if reason == "usager":
        return "vous"
    if reason == "replaced":
        return "remplacé par un nouveau mandat"
    return f"{aidant.first_name} {aidant.last_name[:1]}. (structure)" if aidant is not None else "la structure"


# --- erasure -------------------------------------------------------------------------------------


def check_erasable(usager: Usager, now: dt.datetime) -> None:
    """Erasure is refused while a mandate is active: it would be used without anyone to show it to."""
    if usager.erased_at is not None:
        raise UsagerError("Les données de cet usager ont déjà été effacées.")
    active = [m for m in queries.mandats_of(usager.id) if m.is_active(now)]
    if active:
        raise UsagerError(f"{len(active)} mandat(s) sont encore actifs : révoquez-les d'abord, l'effacement "
                          "sera ensuite possible.")


def erase(usager: Usager, now: dt.datetime, *, staff_id: int | None = None) -> None:
    """Remove every personal datum of the usager; mandates and journal keep only identifiers.

    The identity fields are emptied, our sub replaced by a random value (the same person signing in
    again is a stranger), the attestations' JWS (they carry the identity) and the mails sent to them
    blanked, their sessions closed. The journal never held personal data, so its chain is untouched.
    """
    check_erasable(usager, now)
    session = db.session()
    email = usager.email
    for name in (*IDENTITY_FIELDS, "search_name"):
        setattr(usager, name, "")
    usager.sub = "erased-" + secrets.token_hex(16)
    usager.erased_at, usager.updated_at = now, now
    session.execute(sa.update(Mandat).where(Mandat.usager_id == usager.id).values(jws="")
                    .execution_options(synchronize_session="fetch"))
    session.execute(sa.update(MandatUsager).where(MandatUsager.usager_id == usager.id).values(name_key="")
                    .execution_options(synchronize_session="fetch"))
    keys = sa.select(UsagerNotice.outbox_key).where(UsagerNotice.usager_id == usager.id)
    sent_to = sa.or_(OutboxMessage.key.in_(keys), OutboxMessage.recipient == email) if email \
        else OutboxMessage.key.in_(keys)
    session.execute(sa.update(OutboxMessage).where(sent_to)
                    .values(recipient="", subject="(effacé)", body="(effacé)", status=FAILED, last_error="effacé")
                    .execution_options(synchronize_session=False))
    session.execute(sa.update(UsagerSession).where(UsagerSession.usager_id == usager.id,
                                                   UsagerSession.revoked_at.is_(None))
                    .values(revoked_at=now).execution_options(synchronize_session=False))
    journal.append("erase_usager", now=now, actor_kind="staff" if staff_id else "usager", aidant_id=staff_id,
                   usager_id=usager.id)
    session.flush()
