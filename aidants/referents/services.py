"""The référent's rules: which structure and which people they may act on, and what each change does.

A référent acts only on the structures they are référent of, and only on the people
of those structures (its aidants and its référents). Anything else is ``NotManaged``,
which the views answer as 404, so that ids typed in a URL reveal nothing.

Journal entries name the aidant concerned in ``aidant_id`` and the référent who acted
in ``extra.referent_id``; the structure in ``organisation_id``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aidants import db
from aidants.accounts import activation, devices
from aidants.accounts import services as accounts
from aidants.accounts.models import Aidant, TotpDevice
from aidants.journal import services as journal
from aidants.organisations.models import DEMARCHES, Organisation
from aidants.referents import queries
from aidants.referents.models import AidantRequest


class ReferentError(ValueError):
    """A change refused, with a message in French for the référent."""


class NotManaged(ReferentError):
    """A structure, person or device outside the référent's structures (answered as 404)."""

    def __init__(self) -> None:
        super().__init__("Cette page n'existe pas ou ne concerne pas vos structures.")


def _log(action: str, referent: Aidant, organisation: Organisation, now: dt.datetime,
         aidant: Aidant | None = None, **extra: Any) -> None:
    journal.append(action, now=now, aidant_id=(aidant or referent).id, organisation_id=organisation.id,
                   extra={"referent_id": referent.id, **extra})


# --- scope -----------------------------------------------------------------------------------------


def organisation_for(referent: Aidant, organisation_id: int) -> Organisation:
    """One of the référent's structures, or NotManaged."""
    found = next((o for o in referent.referent_of if o.id == organisation_id), None)
    if found is None:
        raise NotManaged()
    return found


def person_for(referent: Aidant, organisation_id: int, aidant_id: int) -> tuple[Organisation, Aidant]:
    """A structure of the référent and one of its people, or NotManaged."""
    organisation = organisation_for(referent, organisation_id)
    aidant = queries.person_of_organisation(aidant_id, organisation.id)
    if aidant is None:
        raise NotManaged()
    return organisation, aidant


def status_of(aidant: Aidant) -> str:
    """active, awaiting_training or deactivated."""
    return queries.status_of(aidant, queries.deactivated_on_purpose([aidant.id]))


# --- people ----------------------------------------------------------------------------------------


def _check_new_email(email: str) -> None:
    if accounts.find_aidant(email) is not None:
        raise ReferentError("Un compte existe déjà avec cette adresse e-mail. S'il s'agit d'un aidant déjà habilité "
                            "dans une autre structure, contactez l'équipe Aidants Connect pour l'ajouter à la vôtre.")


def request_aidant(referent: Aidant, organisation: Organisation, *, first_name: str, last_name: str, email: str,
                   profession: str, now: dt.datetime, aidant_type: str = "") -> Aidant:
    """Ask for a new aidant: an inactive account in the structure, and a request in the staff's queue."""
    _check_new_email(email)
    aidant = accounts.create_aidant(email=email, first_name=first_name, last_name=last_name,
                                    organisation=organisation, profession=profession.strip(), now=now)
    aidant.is_active, aidant.aidant_type = False, aidant_type
    db.session().add(AidantRequest(organisation_id=organisation.id, requested_by_id=referent.id, aidant_id=aidant.id,
                                   aidant_type=aidant_type, status="pending", created_at=now, reason=""))
    db.session().flush()
    _log("request_aidant", referent, organisation, now, aidant, awaiting_training=True, aidant_type=aidant_type)
    return aidant


def create_co_referent(referent: Aidant, organisation: Organisation, *, first_name: str, last_name: str, email: str,
                       profession: str, now: dt.datetime, link_for: activation.LinkBuilder | None = None) -> Aidant:
    """A co-référent who manages the structure but may not create mandates (so needs no aidant training);
    they are sent an activation link (with ``link_for``)."""
    _check_new_email(email)
    co_referent = accounts.create_aidant(email=email, first_name=first_name, last_name=last_name,
                                         organisation=organisation, profession=profession.strip(), now=now,
                                         is_referent=True, can_create_mandats=False)
    _log("appoint_referent", referent, organisation, now, co_referent, new_account=True, can_create_mandats=False)
    if link_for is not None:
        activation.send_link(co_referent, now, link_for, sent_by=referent, reason=(
            f"{referent.full_name} vous a nommé co-référent de {organisation.name} : vous gérez avec lui ses aidants "
            "et leurs cartes."))
    return co_referent


def resend_activation(referent: Aidant, organisation: Organisation, aidant: Aidant, now: dt.datetime,
                      link_for: activation.LinkBuilder) -> None:
    """Send the person a new activation link (older ones stop working)."""
    if not aidant.is_active:
        raise ReferentError("Ce compte n'est pas actif : l'équipe Aidants Connect l'activera après la formation, "
                            "et lui enverra alors son lien d'activation.")
    activation.send_link(aidant, now, link_for, sent_by=referent, reason=(
        f"{referent.full_name}, référent de {organisation.name}, vous envoie un nouveau lien d'activation."))
    _log("resend_activation_link", referent, organisation, now, aidant)


def requests_of(organisation: Organisation) -> list[AidantRequest]:
    """The structure's requests for new aidants, newest first (the référent follows their state)."""
    return queries.aidant_requests(organisation.id)


def structures_besides(aidant: Aidant, organisation: Organisation) -> list[Organisation]:
    """The other structures the aidant works in or is référent of."""
    return [o for o in {*aidant.organisations, *aidant.referent_of} if o.id != organisation.id]


def deactivate(referent: Aidant, organisation: Organisation, aidant: Aidant, now: dt.datetime) -> str:
    """Stop the aidant acting for this structure: the account is deactivated, or, when the aidant also
    belongs to other structures, only taken out of this one. Returns ``deactivated`` or ``removed``."""
    if aidant.id == referent.id:
        raise ReferentError("Vous ne pouvez pas vous désactiver vous-même. Demandez-le à un autre référent.")
    if structures_besides(aidant, organisation):
        _leave(aidant, organisation)
        db.session().flush()
        _log("remove_aidant_from_organisation", referent, organisation, now, aidant)
        return "removed"
    if not aidant.is_active:
        raise ReferentError("Ce compte est déjà désactivé.")
    aidant.is_active = False
    db.session().flush()
    _log("deactivate_aidant", referent, organisation, now, aidant)
    return "deactivated"


def _leave(aidant: Aidant, organisation: Organisation) -> None:
    """Take the aidant out of a structure (membership and référent role); another becomes current."""
    if organisation in aidant.organisations:
        aidant.organisations.remove(organisation)
    if organisation in aidant.referent_of:
        aidant.referent_of.remove(organisation)
    if aidant.current_organisation_id == organisation.id:
        remaining = sorted((o for o in aidant.organisations if o.is_active), key=lambda o: o.id)
        aidant.current_organisation = remaining[0] if remaining else None


def reactivate(referent: Aidant, organisation: Organisation, aidant: Aidant, now: dt.datetime) -> None:
    """Reactivate an account deactivated before; an account awaiting training waits for the staff."""
    state = status_of(aidant)
    if state == queries.ACTIVE:
        raise ReferentError("Ce compte est déjà actif.")
    if state == queries.AWAITING_TRAINING:
        raise ReferentError("Ce compte attend la formation de l'aidant : l'équipe Aidants Connect l'activera "
                            "une fois la formation suivie.")
    aidant.is_active, aidant.failed_logins, aidant.locked_until = True, 0, None
    db.session().flush()
    _log("reactivate_aidant", referent, organisation, now, aidant)


def move(referent: Aidant, organisation: Organisation, aidant: Aidant, target_id: int, *, keep: bool,
         now: dt.datetime) -> Organisation:
    """Move an aidant to another of the référent's structures (or add them to it when ``keep``)."""
    target = next((o for o in referent.referent_of if o.id == target_id), None)
    if target is None or target.id == organisation.id:
        raise ReferentError("Choisissez une autre de vos structures.")
    if not target.is_active:
        raise ReferentError("Cette structure n'est plus active : impossible d'y ajouter un aidant.")
    if organisation not in aidant.organisations:
        raise ReferentError("Cette personne est référente de la structure sans y être aidante : il n'y a rien à "
                            "déplacer.")
    if target not in aidant.organisations:
        aidant.organisations.append(target)
    if not keep:
        aidant.organisations.remove(organisation)
        if aidant.current_organisation_id == organisation.id:
            aidant.current_organisation = target
    if aidant.current_organisation_id is None:
        aidant.current_organisation = target
    db.session().flush()
    _log("move_aidant", referent, organisation, now, aidant, to_organisation_id=target.id, kept=keep)
    return target


def appoint_referent(referent: Aidant, organisation: Organisation, aidant: Aidant, now: dt.datetime) -> None:
    """Make an aidant of the structure a co-référent of it (their right to create mandates is unchanged)."""
    if organisation in aidant.referent_of:
        raise ReferentError("Cette personne est déjà référente de la structure.")
    if not aidant.is_active:
        raise ReferentError("Réactivez d'abord ce compte : un compte désactivé ne peut pas être référent.")
    aidant.referent_of.append(organisation)
    db.session().flush()
    _log("appoint_referent", referent, organisation, now, aidant, new_account=False)


def revoke_referent(referent: Aidant, organisation: Organisation, aidant: Aidant, now: dt.datetime) -> None:
    """Take the référent role of this structure from someone else."""
    if aidant.id == referent.id:
        raise ReferentError("Vous ne pouvez pas retirer votre propre rôle de référent. Demandez-le à un autre "
                            "référent.")
    if organisation not in aidant.referent_of:
        raise ReferentError("Cette personne n'est pas référente de la structure.")
    aidant.referent_of.remove(organisation)
    db.session().flush()
    _log("revoke_referent", referent, organisation, now, aidant)


# --- cards and apps --------------------------------------------------------------------------------


def device_for(aidant: Aidant, device_id: int) -> TotpDevice:
    """One of the aidant's devices, or NotManaged."""
    device = queries.device_of_aidant(device_id, aidant.id)
    if device is None:
        raise NotManaged()
    return device


def assign_card(referent: Aidant, organisation: Organisation, aidant: Aidant, serial_number: str,
                now: dt.datetime) -> TotpDevice:
    """Reserve a card in stock for the aidant, by its serial number; a code of the card validates it next."""
    if any(d.kind == "card" for d in queries.devices_by_aidant([aidant.id]).get(aidant.id, [])):
        raise ReferentError("Cet aidant a déjà une carte. Dissociez-la d'abord si elle doit être remplacée.")
    try:
        card = devices.assign_card(aidant, serial_number)
    except devices.CardError as exc:
        raise ReferentError(str(exc)) from exc
    _log("assign_card", referent, organisation, now, aidant, serial_number=card.serial_number)
    return card


def card_to_validate(aidant: Aidant) -> TotpDevice:
    """The card assigned to the aidant and waiting for its first code."""
    card = devices.assigned_card(aidant)
    if card is None:
        raise ReferentError("Aucune carte n'attend d'être validée pour cet aidant : attribuez d'abord une carte.")
    return card


def validate_card(referent: Aidant, organisation: Organisation, aidant: Aidant, code: str,
                  now: dt.datetime) -> TotpDevice:
    """Activate the aidant's assigned card with a code it shows now (the card is then in the aidant's hands)."""
    card = card_to_validate(aidant)
    if not devices.validate_card(aidant, card, code, now):
        raise ReferentError("Ce code ne correspond pas à la carte. Appuyez de nouveau sur le bouton de la carte "
                            "et saisissez le code affiché.")
    _log("validate_card", referent, organisation, now, aidant, serial_number=card.serial_number,
         drift_steps=card.drift)
    return card


def retire_device(referent: Aidant, organisation: Organisation, aidant: Aidant, device: TotpDevice, reason: str,
                  now: dt.datetime) -> str:
    """Take a card or an app from the aidant, with the reason; it can no longer sign anyone in.

    Returns the device's new status: ``retired``, or ``stock`` for a card that was never validated
    and is not at risk (it may be assigned again).
    """
    if reason not in devices.RETIRE_REASONS:
        raise ReferentError("Choisissez la raison de la dissociation.")
    if device.status not in ("active", "stock") or (device.status == "stock" and device.kind != "card"):
        raise ReferentError("Ce moyen de connexion n'est plus actif.")
    details = {"device_id": device.id, "kind": device.kind, "serial_number": device.serial_number}
    status = devices.retire_device(device, reason)
    _log("retire_device", referent, organisation, now, aidant, reason=reason, status=status, **details)
    return status


def app_enrolment(aidant: Aidant, now: dt.datetime) -> devices.Enrolment:
    """The app enrolment under way for the aidant, or a new one (its QR code is shown to the aidant)."""
    return devices.pending_enrolment(aidant) or devices.start_app_enrolment(aidant, now)


def confirm_app(referent: Aidant, organisation: Organisation, aidant: Aidant, code: str, now: dt.datetime) -> None:
    """Activate the aidant's pending app with the code it shows (journaled as the aidant's enrolment, and ours)."""
    if not devices.confirm_app_enrolment(aidant, code, now):
        raise ReferentError("Ce code ne correspond pas. Vérifiez l'heure du téléphone et saisissez le code affiché.")
    _log("referent_enrol_app", referent, organisation, now, aidant)


# --- the structure ---------------------------------------------------------------------------------


def set_demarches(referent: Aidant, organisation: Organisation, demarches: list[str], now: dt.datetime) -> None:
    """Restrict (or widen again) the démarches the structure's mandates may cover; existing mandates stay."""
    chosen = [d for d in DEMARCHES if d in set(demarches)]
    if not chosen or len(chosen) != len(set(demarches)):
        raise ReferentError("Choisissez au moins une démarche, parmi celles proposées.")
    before = organisation.demarches
    organisation.allowed_demarches = ",".join(chosen)
    db.session().flush()
    journal.append("update_demarches", now=now, aidant_id=referent.id, organisation_id=organisation.id,
                   demarches=chosen, extra={"referent_id": referent.id, "before": before})


# --- the aidant's own structure switch ---------------------------------------------------------------


def switch_organisation(aidant: Aidant, organisation_id: int, now: dt.datetime) -> Organisation:
    """Make another of the aidant's active structures the current one: new mandates are created there."""
    target = next((o for o in aidant.organisations if o.id == organisation_id and o.is_active), None)
    if target is None:
        raise ReferentError("Choisissez l'une de vos structures.")
    previous = aidant.current_organisation_id
    if previous == target.id:
        return target
    aidant.current_organisation = target
    db.session().flush()
    journal.append("switch_organisation", now=now, aidant_id=aidant.id, organisation_id=target.id,
                   extra={"from_organisation_id": previous})
    return target
