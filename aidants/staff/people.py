"""The staff's changes on people: the new-aidant queue, cards, activation links, (de)activation.

Each function checks, changes, journals and flushes; the request commits once.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from aidants import db
from aidants.accounts import activation, devices
from aidants.accounts.models import Aidant, AidantSession, TotpDevice
from aidants.journal import services as journal
from aidants.referents.models import PENDING, REFUSED, TRAINED, AidantRequest
from aidants.staff.services import StaffError


def _log(action: str, staff: Aidant, now: dt.datetime, aidant: Aidant, **extra: object) -> None:
    journal.append(action, now=now, actor_kind="staff", aidant_id=aidant.id,
                   organisation_id=aidant.current_organisation_id, extra={"staff_id": staff.id, **extra})


def _pending(found: AidantRequest) -> None:
    if found.status != PENDING:
        raise StaffError(f"Cette demande est déjà traitée (« {found.status_label} »).")


def mark_trained(found: AidantRequest, staff: Aidant, now: dt.datetime, link_for: activation.LinkBuilder) -> bool:
    """The requested aidant is trained: the account is activated and an activation link sent (True when sent)."""
    _pending(found)
    person = found.aidant
    found.status, found.decided_at, found.decided_by_id = TRAINED, now, staff.id
    person.is_active, person.can_create_mandats = True, True
    if found.aidant_type:
        person.aidant_type = found.aidant_type
    db.session().flush()
    _log("aidant_request_trained", staff, now, person, request_id=found.id)
    if not activation.needs_activation(person):
        return False
    activation.send_link(person, now, link_for, sent_by=staff, reason=(
        f"Votre formation est notée : vous êtes aidant de {found.organisation.name} sur Aidants Connect."))
    return True


def refuse(found: AidantRequest, staff: Aidant, reason: str, now: dt.datetime) -> None:
    """Refuse the request: the account made for it stays inactive and leaves the structure."""
    _pending(found)
    if not reason.strip():
        raise StaffError("Écrivez la raison du refus : le référent la verra sur la page de sa structure.")
    person, organisation = found.aidant, found.organisation
    found.status, found.decided_at, found.decided_by_id, found.reason = REFUSED, now, staff.id, reason.strip()[:2000]
    if person.last_login_at is None and not person.is_active:
        if organisation in person.organisations:
            person.organisations.remove(organisation)
        if person.current_organisation_id == organisation.id:
            person.current_organisation = None
    db.session().flush()
    journal.append("aidant_request_refused", now=now, actor_kind="staff", aidant_id=person.id,
                   organisation_id=organisation.id, extra={"staff_id": staff.id, "request_id": found.id})


def assign_card(staff: Aidant, person: Aidant, serial_number: str, now: dt.datetime) -> str:
    """Reserve a stock card for the aidant (who activates it with two codes); its serial number."""
    if any(d.kind == "card" and d.status in ("stock", "active")
           for d in db.session().scalars(sa.select(TotpDevice).where(TotpDevice.aidant_id == person.id))):
        raise StaffError("Cet aidant a déjà une carte : son référent doit d'abord la dissocier.")
    try:
        card = devices.assign_card(person, serial_number)
    except devices.CardError as exc:
        raise StaffError(str(exc)) from exc
    _log("assign_card", staff, now, person, serial_number=card.serial_number)
    return card.serial_number or ""


def resend_activation(staff: Aidant, person: Aidant, now: dt.datetime, link_for: activation.LinkBuilder) -> None:
    """A new activation link for the person (older ones stop working)."""
    try:
        activation.send_link(person, now, link_for, sent_by=staff, reason=(
            "L'équipe Aidants Connect vous envoie un nouveau lien d'activation."))
    except activation.ActivationError as exc:
        raise StaffError(str(exc)) from exc


def deactivate(staff: Aidant, person: Aidant, now: dt.datetime) -> None:
    """Deactivate an account everywhere; its sessions end at once."""
    if person.id == staff.id:
        raise StaffError("Vous ne pouvez pas désactiver votre propre compte.")
    if not person.is_active:
        raise StaffError("Ce compte est déjà désactivé.")
    person.is_active = False
    db.session().execute(sa.update(AidantSession).where(AidantSession.aidant_id == person.id,
                                                        AidantSession.revoked_at.is_(None))
                         .values(revoked_at=now).execution_options(synchronize_session=False))
    db.session().flush()
    _log("deactivate_aidant", staff, now, person)


def reactivate(staff: Aidant, person: Aidant, now: dt.datetime) -> None:
    """Reactivate an account the staff or a référent deactivated."""
    if person.is_active:
        raise StaffError("Ce compte est déjà actif.")
    person.is_active, person.failed_logins, person.locked_until = True, 0, None
    db.session().flush()
    _log("reactivate_aidant", staff, now, person)
