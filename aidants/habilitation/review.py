"""The staff's side of a habilitation request: messages, decisions, acceptance, training done.

Acceptance creates (or finds, by SIRET) the organisation, the référent's account (active,
référent of the structure) and one inactive account per aidant to train, without any device;
marking an aidant's training done activates their account. An email already known to the
service gets no second account: that aidant joins the structure instead. Every change is
journaled with identifiers only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from aidants import db
from aidants.accounts import activation
from aidants.accounts import services as accounts
from aidants.accounts.models import Aidant
from aidants.habilitation.models import (
    ACCEPTED,
    AUTHOR_STAFF,
    CHANGES_REQUIRED,
    CLOSED,
    REFUSED,
    SUBMITTED,
    HabilitationAidant,
    HabilitationRequest,
)
from aidants.habilitation.services import HabilitationError, add_message, change_status, journal_request
from aidants.organisations import services as organisations
from aidants.organisations.models import Organisation

#: What the staff may answer, from which statuses, and whether a message is required.
DECISIONS: dict[str, tuple[tuple[str, ...], bool]] = {
    CHANGES_REQUIRED: ((SUBMITTED,), True),
    REFUSED: ((SUBMITTED, CHANGES_REQUIRED), True),
    CLOSED: ((SUBMITTED, CHANGES_REQUIRED), False),
    ACCEPTED: ((SUBMITTED,), False),
}
_ACTIONS = {
    CHANGES_REQUIRED: "require_habilitation_changes",
    REFUSED: "refuse_habilitation_request",
    CLOSED: "close_habilitation_request",
    ACCEPTED: "accept_habilitation_request",
}


@dataclass
class Acceptance:
    """What an acceptance created, for the emails that follow the commit."""

    organisation: Organisation
    referent: Aidant
    referent_created: bool
    pending: list[Aidant] = field(default_factory=list)
    activation_sent: bool = False


def _check_staff(staff: Aidant) -> None:
    if not staff.is_staff or not staff.is_active:
        raise HabilitationError("Seule l'équipe Aidants Connect peut traiter les demandes d'habilitation.")


def post_message(request: HabilitationRequest, staff: Aidant, body: str, now: dt.datetime) -> None:
    """A staff message in the thread, without a change of status."""
    _check_staff(staff)
    add_message(request, body, now, author_kind=AUTHOR_STAFF, author_id=staff.id)


def decide(request: HabilitationRequest, staff: Aidant, status: str, message: str,
           now: dt.datetime, link_for: activation.LinkBuilder | None = None) -> Acceptance | None:
    """Require changes, refuse, close or accept a request, with a message to the issuer.

    On acceptance a référent who cannot sign in yet is sent an activation link (with ``link_for``).
    """
    _check_staff(staff)
    if status not in DECISIONS:
        raise HabilitationError("Choisissez une réponse : accepter, demander des modifications, refuser ou clore.")
    allowed, message_required = DECISIONS[status]
    if message_required and not message.strip():
        raise HabilitationError("Écrivez un message au demandeur pour expliquer cette réponse.")
    if request.status not in allowed:
        raise HabilitationError(f"Cette réponse n'est pas possible : la demande est « {request.status_label} ».")
    if not change_status(request, allowed, status, now, decided_at=now if status != CHANGES_REQUIRED else None,
                         decided_by_id=staff.id):
        raise HabilitationError("Cette demande vient de changer d'état : rechargez la page avant de répondre.")
    acceptance = _accept(request, staff, now) if status == ACCEPTED else None
    if acceptance is not None and link_for is not None and activation.needs_activation(acceptance.referent):
        activation.send_link(acceptance.referent, now, link_for, sent_by=staff, reason=(
            f"{request.name} est habilitée à Aidants Connect et vous en êtes le référent : vous gérez ses aidants, "
            "leurs cartes et leurs accès."))
        acceptance.activation_sent = True
    if message.strip():
        add_message(request, message, now, author_kind=AUTHOR_STAFF, author_id=staff.id, status=status)
    created: dict[str, Any] = {} if acceptance is None else {
        "referent_id": acceptance.referent.id, "pending_aidant_ids": [a.id for a in acceptance.pending]}
    journal_request(_ACTIONS[status], now, request, actor_kind="staff", aidant_id=staff.id,
                    organisation_id=request.organisation_id, **created)
    return acceptance


def _accept(request: HabilitationRequest, staff: Aidant, now: dt.datetime) -> Acceptance:
    """Create the organisation (or find it by SIRET), the référent and the pending aidants."""
    organisation = organisations.find_by_siret(request.siret)
    if organisation is None:
        try:
            organisation = organisations.create_organisation(
                name=request.name, siret=request.siret, now=now, address=request.address,
                zipcode=request.zipcode, city=request.city, kind=request.kind,
            )
        except organisations.OrganisationError as error:
            raise HabilitationError(str(error)) from None
    request.organisation_id = organisation.id
    referent = accounts.find_aidant(request.referent_email)
    referent_created = referent is None
    if referent is None:
        # A référent manages; they create mandates only once trained (when also listed among the aidants).
        referent = accounts.create_aidant(
            email=request.referent_email, first_name=request.referent_first_name,
            last_name=request.referent_last_name, profession=request.referent_profession, organisation=organisation,
            now=now, is_referent=True, can_create_mandats=False,
        )
        referent.phone = request.referent_phone
    else:
        _join(referent, organisation, request, staff, now, as_referent=True)
    acceptance = Acceptance(organisation, referent, referent_created)
    for row in request.aidants:
        row.aidant = _pending_account(row, organisation, request, staff, now)
        if row.aidant is not referent and row.aidant.id not in {a.id for a in acceptance.pending}:
            acceptance.pending.append(row.aidant)
    db.session().flush()
    return acceptance


def _pending_account(row: HabilitationAidant, organisation: Organisation, request: HabilitationRequest,
                     staff: Aidant, now: dt.datetime) -> Aidant:
    """The account of an aidant to train: a new inactive one, or the existing one joining the structure."""
    existing = accounts.find_aidant(row.email)
    if existing is not None:
        existing.aidant_type = existing.aidant_type or row.aidant_type
        _join(existing, organisation, request, staff, now, as_referent=False)
        return existing
    aidant = accounts.create_aidant(
        email=row.email, first_name=row.first_name, last_name=row.last_name, profession=row.profession,
        organisation=organisation, now=now,
    )
    aidant.is_active, aidant.aidant_type = False, row.aidant_type  # inactive until the training is done
    return aidant


def _join(aidant: Aidant, organisation: Organisation, request: HabilitationRequest, staff: Aidant,
          now: dt.datetime, *, as_referent: bool) -> None:
    """An existing account joins the structure (and becomes its référent when asked)."""
    member = organisation in aidant.organisations
    referent = organisation in aidant.referent_of
    if member and (referent or not as_referent):
        return
    if not member:
        aidant.organisations.append(organisation)
    if aidant.current_organisation_id is None:
        aidant.current_organisation = organisation
    if as_referent and not referent:
        aidant.referent_of.append(organisation)
    db.session().flush()
    journal_request("join_organisation", now, request, actor_kind="staff", aidant_id=staff.id,
                    organisation_id=organisation.id, member_aidant_id=aidant.id, referent=as_referent)


def mark_trained(request: HabilitationRequest, row_id: int, staff: Aidant, now: dt.datetime,
                 link_for: activation.LinkBuilder | None = None) -> tuple[Aidant, bool]:
    """The aidant has been trained: their account becomes active and may create mandates.

    Someone without a device yet is sent an activation link (with ``link_for``); True when one was sent.
    """
    _check_staff(staff)
    if request.status != ACCEPTED:
        raise HabilitationError("La formation se note une fois la demande acceptée.")
    row = next((row for row in request.aidants if row.id == row_id), None)
    if row is None or row.aidant is None:
        raise HabilitationError("Cet aidant ne figure pas dans la demande.")
    if row.trained_at is not None:
        raise HabilitationError(f"La formation de {row.full_name} est déjà notée.")
    row.trained_at = now
    aidant = row.aidant
    aidant.is_active, aidant.can_create_mandats = True, True
    db.session().flush()
    journal_request("habilitation_aidant_trained", now, request, actor_kind="staff", aidant_id=staff.id,
                    organisation_id=request.organisation_id, trained_aidant_id=aidant.id)
    if link_for is not None and activation.needs_activation(aidant):
        activation.send_link(aidant, now, link_for, sent_by=staff, reason=(
            f"Votre formation est notée : vous êtes aidant de {request.name} sur Aidants Connect."))
        return aidant, True
    return aidant, False
