"""The rules of mandates: creation (and renewal), revocation. Each function checks, changes, journals
and flushes; the request commits once, so a failure at any step leaves nothing behind.

Double submissions: each form carries a single-use token whose SHA-256 becomes the
mandate's ``request_key`` (unique). A second submission finds the first mandate, or,
when both race, collides on that key (or on the open-autorisation index) and is refused.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuid_lib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from aidants import db, errors
from aidants.accounts import devices, throttle
from aidants.accounts.models import Aidant
from aidants.espace_usager import notices
from aidants.journal import services as journal
from aidants.mandats import credential, queries
from aidants.mandats.models import (
    DEMARCHE_LABELS,
    DURATIONS,
    TEMPLATE_VERSION,
    Autorisation,
    Mandat,
    MandatUsager,
)
from aidants.organisations.models import DEMARCHES, Organisation
from aidants.security import crypto, jose
from aidants.usagers.models import Usager

#: The ``typ`` header of mandate attestations (RFC 8725 explicit typing: never mistaken for an ID token).
JWS_TYPE = "mandat+jwt"


class MandatError(errors.DomainError):
    """A request the rules refuse; the message (French) is for the aidant."""

    status = 403


class WrongCode(MandatError):
    """The TOTP code typed was not accepted (the failure is already counted, in its own transaction)."""

    status = 400


#: What the database says when a twin of this creation won the race: the open-autorisation index
#: or the form token's key (PostgreSQL names the constraint; SQLite names the columns).
CONCURRENT_CREATION = ("uq_autorisation_open", "uq_mandat_request_key", "mandat.request_key",
                       "autorisation.usager_id, autorisation.organisation_id, autorisation.demarche")


class AlreadyCreated(MandatError):
    """The form was already submitted: here is the mandate it created."""

    def __init__(self, mandat: Mandat) -> None:
        super().__init__("Ce mandat a déjà été créé : le formulaire avait été envoyé deux fois.")
        self.uuid = mandat.uuid


def new_form_token() -> str:
    """A single-use token for a recap form (kept in the session, sent back with the form)."""
    return crypto.new_token()


def request_key(form_token: str) -> str:
    """What the database keeps of a form token."""
    return crypto.hash_token(form_token)


def created_by_form(form_token: str) -> Mandat | None:
    """The mandate a form token already created (to answer a repeated submission)."""
    return queries.mandat_by_request_key(request_key(form_token)) if form_token else None


@dataclass(frozen=True)
class Draft:
    """A mandate being prepared: what the recap page shows before the aidant confirms."""

    organisation: Organisation
    usager: Usager
    demarches: list[str]
    duration: str
    expires_at: dt.datetime

    @property
    def demarche_labels(self) -> list[str]:
        return [DEMARCHE_LABELS[d] for d in self.demarches]


def identified_usager(draft: dict[str, Any]) -> Usager | None:
    """The usager FranceConnect identified for a draft, if it got that far."""
    usager_id = draft.get("usager_id")
    return db.session().get(Usager, usager_id) if isinstance(usager_id, int) else None


def preview(draft: Draft, now: dt.datetime) -> dict[str, Any]:
    """What the mandate text needs, before the mandate exists: the recap shows the attestation's wording."""
    return {"usager": draft.usager, "organisation": draft.organisation, "created_at": now,
            "expires_at": draft.expires_at}


def read_draft(aidant: Aidant, draft: dict[str, Any], now: dt.datetime) -> Draft:
    """Check a draft kept in the session (after FranceConnect) against the rules of today."""
    organisation = check_may_create(aidant)
    if draft.get("organisation_id") != organisation.id:
        raise MandatError("Ce mandat était préparé pour une autre structure que celle où vous agissez. "
                          "Recommencez depuis le début.")
    duration = str(draft.get("duration", ""))
    chosen = check_choices(organisation, [str(d) for d in draft.get("demarches") or []], duration)
    usager_id = draft.get("usager_id")
    usager = db.session().get(Usager, usager_id) if isinstance(usager_id, int) else None
    if usager is None:
        raise MandatError("L'usager n'a pas encore été identifié avec FranceConnect. Recommencez depuis le début.")
    return Draft(organisation, usager, chosen, duration, now + dt.timedelta(days=DURATIONS[duration]))


# --- checks --------------------------------------------------------------------------------------


def check_may_create(aidant: Aidant) -> Organisation:
    """The aidant's current organisation, if they may create mandates there."""
    organisation = aidant.current_organisation
    if not aidant.can_create_mandats:
        raise MandatError("Votre compte ne permet pas de créer des mandats. Contactez votre référent.")
    if organisation is None or not organisation.is_active:
        raise MandatError("Vous n'êtes rattaché à aucune structure active : impossible de créer un mandat.")
    return organisation


def check_choices(organisation: Organisation, demarches: Sequence[str], duration: str) -> list[str]:
    """The démarches in canonical order, once checked against the structure's and the duration."""
    if duration not in DURATIONS:
        raise MandatError("Durée inconnue : choisissez 1 jour, 1 mois, 6 mois ou 1 an.")
    chosen = set(demarches)
    if not chosen:
        raise MandatError("Choisissez au moins une démarche.")
    unknown = chosen - set(DEMARCHES)
    if unknown:
        raise MandatError(f"Démarche inconnue : {', '.join(sorted(unknown))}.")
    refused = chosen - set(organisation.demarches)
    if refused:
        raise MandatError(f"Votre structure n'est pas habilitée pour : {', '.join(sorted(refused))}.")
    return [d for d in DEMARCHES if d in chosen]


def _check_code(aidant: Aidant, code: str, now: dt.datetime, form_token: str | None = None) -> None:
    """Spend the aidant's code, or raise; wrong codes are throttled per aidant."""
    key = f"mandat-code:{aidant.id}"
    wait = throttle.retry_after(key, now)
    if wait:
        raise WrongCode(f"Trop de codes erronés : réessayez dans {wait} secondes.")
    if devices.check_aidant_code(aidant, code, now) is None:
        # The twin of a double submission spent the code first: point to its mandate.
        existing = queries.mandat_by_request_key(request_key(form_token)) if form_token else None
        if existing is not None:
            raise AlreadyCreated(existing)
        with throttle.own_transaction():
            throttle.record_failure(key, now)
        raise WrongCode("Ce code n'est pas valable ou a déjà servi. Attendez le code suivant et réessayez.")


# --- creation ------------------------------------------------------------------------------------


def create_mandat(
    *, aidant: Aidant, usager_id: int, organisation_id: int, demarches: Sequence[str], duration: str,
    code: str, consent: bool, form_token: str, issuer: str, now: dt.datetime, renewal_of: Mandat | None = None,
) -> Mandat:
    """Create a mandate, one autorisation per démarche, and their journal entries; close the
    open autorisations of the same usager, structure and démarches first."""
    organisation = check_may_create(aidant)
    if organisation.id != organisation_id:
        raise MandatError("Ce mandat était préparé pour une autre structure que celle où vous agissez. "
                          "Recommencez depuis le début.")
    chosen = check_choices(organisation, demarches, duration)
    if not consent:
        raise MandatError("Cochez la case confirmant que l'usager a été informé et a donné son accord.")
    existing = queries.mandat_by_request_key(request_key(form_token))
    if existing is not None:
        raise AlreadyCreated(existing)
    session = db.session()
    usager = session.get(Usager, usager_id)
    if usager is None:
        raise MandatError("L'usager de ce mandat est introuvable. Recommencez l'identification.")
    if usager.erased_at is not None:  # a renewal would otherwise give an erased usager an active mandate
        raise MandatError("Les données de cet usager ont été effacées à sa demande : aucun mandat ne peut plus "
                          "être créé ni renouvelé pour lui.")
    _check_code(aidant, code, now, form_token)
    lock_usager(usager.id)
    existing = queries.mandat_by_request_key(request_key(form_token))
    if existing is not None:
        raise AlreadyCreated(existing)
    try:
        with session.begin_nested():  # a lost race leaves the session usable, to find the twin
            mandat = _insert(aidant, organisation, usager, chosen, duration, form_token, issuer, now, renewal_of)
    except IntegrityError as exc:
        if not any(name in errors.constraint_name(exc) for name in CONCURRENT_CREATION):
            raise
        # A concurrent twin got there first (only this is a conflict: a full or lost database is a 503).
        raise MandatError("Un autre mandat vient d'être enregistré pour cet usager au même moment : "
                          "rien n'a été créé. Vérifiez la liste de ses mandats.", status=409) from exc
    throttle.clear(f"mandat-code:{aidant.id}")
    return mandat


def lock_usager(usager_id: int) -> None:
    """The first lock of every writer of a usager's autorisations (creation, revocation), so they queue.

    ``FOR NO KEY UPDATE``: it serialises creations and revocations for this usager, while the
    foreign-key checks of rows inserted elsewhere (an authorization code, a journal-side row), which
    take ``FOR KEY SHARE``, never wait for it, so no cycle can form with the journal's lock.
    """
    # key_share=True renders FOR NO KEY UPDATE on PostgreSQL (SQLite has one writer and ignores it).
    db.session().execute(sa.select(Usager.id).where(Usager.id == usager_id).with_for_update(key_share=True))


def _insert(aidant: Aidant, organisation: Organisation, usager: Usager, demarches: list[str], duration: str,
            form_token: str, issuer: str, now: dt.datetime, renewal_of: Mandat | None) -> Mandat:
    session = db.session()
    expires_at = now + dt.timedelta(days=DURATIONS[duration])
    mandat_uuid = str(uuid_lib.uuid4())
    claims = {
        "iss": issuer, "sub": usager.sub, "jti": mandat_uuid, "mandat": mandat_uuid,
        "siret": organisation.siret, "demarches": demarches,
        "iat": int(now.timestamp()), "nbf": int(now.timestamp()), "exp": int(expires_at.timestamp()),
    }
    mandat = Mandat(
        uuid=mandat_uuid, organisation_id=organisation.id, usager_id=usager.id, aidant_id=aidant.id,
        created_at=now, expires_at=expires_at, duration=duration, template_version=TEMPLATE_VERSION,
        jws=jose.sign_jwt(claims, "ES256", typ=JWS_TYPE, now=now), request_key=request_key(form_token),
        renewed_from_id=renewal_of.id if renewal_of else None,
    )
    session.add(mandat)
    session.flush()
    _close_open_autorisations(aidant, organisation.id, usager.id, demarches, mandat, now)
    if renewal_of is not None:
        journal.append("init_renew_mandat", now=now, aidant_id=aidant.id, organisation_id=organisation.id,
                       usager_id=usager.id, mandat_id=mandat.id, demarches=demarches,
                       extra={"renewed_from": renewal_of.uuid, "duration": duration})
    for demarche in demarches:
        autorisation = Autorisation(mandat=mandat, demarche=demarche, usager_id=usager.id,
                                    organisation_id=organisation.id, expires_at=expires_at)
        session.add(autorisation)
        session.flush()
        journal.append("create_autorisation", now=now, aidant_id=aidant.id, organisation_id=organisation.id,
                       usager_id=usager.id, mandat_id=mandat.id, autorisation_id=autorisation.id,
                       demarches=[demarche], extra={"expires_at": expires_at.isoformat()})
    # The credential is signed once the autorisations have ids: each démarche points to its status bit.
    mandat.jws = credential.issue(mandat, organisation, usager, list(mandat.autorisations), issuer, now)
    journal.append("create_attestation", now=now, aidant_id=aidant.id, organisation_id=organisation.id,
                   usager_id=usager.id, mandat_id=mandat.id, demarches=demarches,
                   extra={"uuid": mandat_uuid, "duration": duration, "template_version": TEMPLATE_VERSION,
                          "jws_sha256": crypto.sha256_hex(mandat.jws.encode())})
    _index_usager(organisation.id, usager, now)
    session.flush()
    notices.created(mandat, usager, now)
    return mandat


def _close_open_autorisations(aidant: Aidant, organisation_id: int, usager_id: int, demarches: list[str],
                              new: Mandat, now: dt.datetime) -> None:
    """Revoke the active autorisations the new mandate replaces; mark the expired ones replaced."""
    statement = sa.select(Autorisation).where(
        Autorisation.usager_id == usager_id, Autorisation.organisation_id == organisation_id,
        Autorisation.demarche.in_(demarches), Autorisation.revoked_at.is_(None), Autorisation.replaced_at.is_(None),
        Autorisation.mandat_id != new.id,
    ).with_for_update()
    for old in db.session().scalars(statement):
        if old.is_active(now):
            old.revoked_at, old.revoked_by_id, old.revoked_reason = now, aidant.id, "replaced"
            old.replaced_by_id = new.id
            journal.append("cancel_autorisation", now=now, aidant_id=aidant.id, organisation_id=organisation_id,
                           usager_id=usager_id, mandat_id=old.mandat_id, autorisation_id=old.id,
                           demarches=[old.demarche], extra={"reason": "replaced", "by_mandat": new.uuid})
        else:
            old.replaced_at, old.replaced_by_id = now, new.id
    db.session().flush()


def _index_usager(organisation_id: int, usager: Usager, now: dt.datetime) -> None:
    """Add (or refresh) the usager in the structure's list."""
    insert = postgresql.insert if db.is_postgresql() else sqlite.insert
    key = queries.name_key(f"{usager.given_name} {usager.family_name}")
    statement = insert(MandatUsager).values(organisation_id=organisation_id, usager_id=usager.id, name_key=key,
                                            since=now)
    # Written only when the name changed: an unchanged row stays as it is (no dead tuple to vacuum).
    db.session().execute(statement.on_conflict_do_update(
        index_elements=[MandatUsager.organisation_id, MandatUsager.usager_id],
        set_={"name_key": key}, where=MandatUsager.name_key != key,
    ))


# --- renewal -------------------------------------------------------------------------------------


def check_renewable(aidant: Aidant, mandat: Mandat, now: dt.datetime) -> Organisation:
    """Renewal without FranceConnect: by an aidant who may create mandates, for a mandate of their
    structure that is active or ended (expired or revoked) less than a year ago."""
    organisation = check_may_create(aidant)
    if mandat.organisation_id != organisation.id:
        raise MandatError("Ce mandat n'appartient pas à votre structure.")
    if not mandat.may_be_renewed(now):
        raise MandatError("Ce mandat a pris fin il y a plus d'un an : il ne peut plus être renouvelé. "
                          "Créez un nouveau mandat, avec l'identification FranceConnect de l'usager.")
    return organisation


def renew_mandat(*, aidant: Aidant, mandat: Mandat, demarches: Sequence[str], duration: str, code: str,
                 consent: bool, form_token: str, issuer: str, now: dt.datetime) -> Mandat:
    """A new mandate for the same usager and structure, without FranceConnect; journaled as a renewal."""
    organisation = check_renewable(aidant, mandat, now)
    return create_mandat(aidant=aidant, usager_id=mandat.usager_id, organisation_id=organisation.id,
                         demarches=demarches, duration=duration, code=code, consent=consent,
                         form_token=form_token, issuer=issuer, now=now, renewal_of=mandat)


# --- revocation ----------------------------------------------------------------------------------


def revoke(*, aidant: Aidant, mandat: Mandat, code: str, now: dt.datetime,
           autorisation_id: int | None = None) -> list[Autorisation]:
    """Revoke one autorisation, or every active one of the mandate; journaled. Effective at once:
    every later check reads ``revoked_at``."""
    organisation = aidant.current_organisation
    if organisation is None or mandat.organisation_id != organisation.id:
        raise MandatError("Ce mandat n'appartient pas à votre structure.")
    targets = [a for a in mandat.autorisations
               if a.is_active(now) and (autorisation_id is None or a.id == autorisation_id)]
    if not targets:
        raise MandatError("Il n'y a rien à révoquer : cette autorisation est déjà révoquée ou expirée.")
    _check_code(aidant, code, now)
    lock_usager(mandat.usager_id)  # the same first lock as a creation: they queue, never deadlock
    _record_revocation(mandat, targets, now, actor_kind="aidant", aidant_id=aidant.id,
                       organisation_id=organisation.id, reason="revocation")
    throttle.clear(f"mandat-code:{aidant.id}")
    db.session().flush()
    return targets


def revoke_by_usager(*, usager_id: int, mandat: Mandat, now: dt.datetime,
                     autorisation_id: int | None = None) -> list[Autorisation]:
    """The usager revokes one autorisation, or every active one, of their own mandate; journaled with the
    usager as actor, effective at once, the structure and the usager told."""
    if mandat.usager_id != usager_id:
        raise MandatError("Ce mandat n'a pas été donné par vous.")
    targets = [a for a in mandat.autorisations
               if a.is_active(now) and (autorisation_id is None or a.id == autorisation_id)]
    if not targets:
        raise MandatError("Il n'y a rien à révoquer : cette démarche est déjà révoquée ou le mandat a expiré.")
    lock_usager(mandat.usager_id)  # the same first lock as a creation: they queue, never deadlock
    _record_revocation(mandat, targets, now, actor_kind="usager", aidant_id=None,
                       organisation_id=mandat.organisation_id, reason="usager")
    db.session().flush()
    return targets


def _record_revocation(mandat: Mandat, targets: list[Autorisation], now: dt.datetime, *, actor_kind: str,
                       aidant_id: int | None, organisation_id: int, reason: str) -> None:
    """The core of every revocation: close the autorisations (once, under concurrency), journal, notify."""
    ids = [a.id for a in targets]
    result = db.session().execute(
        sa.update(Autorisation)
        .where(Autorisation.id.in_(ids), Autorisation.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by_id=aidant_id, revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != len(ids):  # type: ignore[attr-defined]
        raise MandatError("Ce mandat vient d'être modifié par quelqu'un d'autre : rien n'a été révoqué. "
                          "Rechargez la page.")
    for autorisation in targets:
        # Mirror what the UPDATE wrote, without a second UPDATE (whose foreign-key checks took locks).
        for name, value in (("revoked_at", now), ("revoked_by_id", aidant_id), ("revoked_reason", reason)):
            set_committed_value(autorisation, name, value)
        journal.append("cancel_autorisation", now=now, actor_kind=actor_kind, aidant_id=aidant_id,
                       organisation_id=organisation_id, usager_id=mandat.usager_id, mandat_id=mandat.id,
                       autorisation_id=autorisation.id, demarches=[autorisation.demarche],
                       extra={"reason": reason})
    if mandat.status(now) != "active":
        journal.append("cancel_mandat", now=now, actor_kind=actor_kind, aidant_id=aidant_id,
                       organisation_id=organisation_id, usager_id=mandat.usager_id, mandat_id=mandat.id,
                       demarches=[a.demarche for a in targets], extra={"uuid": mandat.uuid})
    notices.revoked(mandat, targets, now, by_usager=actor_kind == "usager")
