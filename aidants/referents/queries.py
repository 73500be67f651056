"""Named selects of the référent's space. Every one is scoped to one structure by its callers' arguments."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from aidants import db
from aidants.accounts.models import Aidant, TotpDevice, aidant_organisation, referent_organisation
from aidants.journal.models import JournalEntry
from aidants.mandats.models import Autorisation
from aidants.organisations.models import Organisation
from aidants.referents.models import AidantRequest

#: Journal actions that deactivate an account on purpose (as opposed to an account awaiting its training).
DEACTIVATIONS = ("deactivate_aidant",)

ACTIVE, AWAITING_TRAINING, DEACTIVATED = "active", "awaiting_training", "deactivated"
STATUS_LABELS = {ACTIVE: "Actif", AWAITING_TRAINING: "En attente de formation", DEACTIVATED: "Désactivé"}


def _member_or_referent(organisation_id: int) -> sa.ColumnElement[bool]:
    member = sa.select(aidant_organisation.c.aidant_id).where(
        aidant_organisation.c.organisation_id == organisation_id
    )
    referent = sa.select(referent_organisation.c.aidant_id).where(
        referent_organisation.c.organisation_id == organisation_id
    )
    # The national staff never count as people of a structure, whatever their memberships.
    return sa.and_(sa.or_(Aidant.id.in_(member), Aidant.id.in_(referent)), Aidant.is_staff.is_(False))


def person_of_organisation(aidant_id: int, organisation_id: int) -> Aidant | None:
    """An aidant who works in the structure or is one of its référents; None for anyone else."""
    statement = sa.select(Aidant).where(Aidant.id == aidant_id, _member_or_referent(organisation_id))
    return db.session().scalars(statement).first()


def device_of_aidant(device_id: int, aidant_id: int) -> TotpDevice | None:
    """One of the aidant's devices; None when the id names another aidant's device."""
    statement = sa.select(TotpDevice).where(TotpDevice.id == device_id, TotpDevice.aidant_id == aidant_id)
    return db.session().scalars(statement).first()


def deactivated_on_purpose(aidant_ids: list[int]) -> set[int]:
    """Among these aidants, those that were ever deactivated (by a référent or the staff)."""
    if not aidant_ids:
        return set()
    statement = sa.select(JournalEntry.aidant_id).where(
        JournalEntry.action.in_(DEACTIVATIONS), JournalEntry.aidant_id.in_(aidant_ids)
    ).distinct()
    return {found for found in db.session().scalars(statement) if found is not None}


def status_of(aidant: Aidant, deactivated: set[int]) -> str:
    """Active; awaiting training (never active: not signed in, never deactivated); or deactivated."""
    if aidant.is_active:
        return ACTIVE
    if aidant.last_login_at is None and aidant.id not in deactivated:
        return AWAITING_TRAINING
    return DEACTIVATED


def devices_by_aidant(aidant_ids: list[int]) -> dict[int, list[TotpDevice]]:
    """Each aidant's devices worth showing: active ones and cards assigned but not validated yet."""
    found: dict[int, list[TotpDevice]] = defaultdict(list)
    if not aidant_ids:
        return found
    statement = (
        sa.select(TotpDevice)
        .where(TotpDevice.aidant_id.in_(aidant_ids))
        .where(sa.or_(TotpDevice.status == "active", sa.and_(TotpDevice.kind == "card", TotpDevice.status == "stock")))
        .order_by(TotpDevice.id)
    )
    for device in db.session().scalars(statement):
        if device.aidant_id is not None:
            found[device.aidant_id].append(device)
    return found


@dataclass
class Person:
    """A row of the structure's list: the aidant, their status, devices and roles here."""

    aidant: Aidant
    status: str
    devices: list[TotpDevice] = field(default_factory=list)
    is_member: bool = True
    is_referent: bool = False

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def card(self) -> TotpDevice | None:
        return next((d for d in self.devices if d.kind == "card"), None)

    @property
    def app(self) -> TotpDevice | None:
        return next((d for d in self.devices if d.kind == "app"), None)


def people(organisation: Organisation, only: Aidant | None = None) -> list[Person]:
    """The structure's aidants and référents (or ``only`` this one of them), by name, with what the
    référent needs to see of each."""
    statement = (
        sa.select(Aidant).where(_member_or_referent(organisation.id))
        .options(selectinload(Aidant.organisations), selectinload(Aidant.referent_of))
        .order_by(sa.func.lower(Aidant.last_name), sa.func.lower(Aidant.first_name), Aidant.id)
    )
    if only is not None:
        statement = statement.where(Aidant.id == only.id)
    aidants = list(db.session().scalars(statement))
    ids = [a.id for a in aidants]
    deactivated, devices = deactivated_on_purpose(ids), devices_by_aidant(ids)
    return [
        Person(a, status_of(a, deactivated), devices.get(a.id, []),
               is_member=organisation in a.organisations, is_referent=organisation in a.referent_of)
        for a in aidants
    ]


def active_mandat_count(organisation_id: int, now: dt.datetime) -> int:
    """Mandates of the structure with at least one autorisation usable now."""
    statement = sa.select(sa.func.count(sa.distinct(Autorisation.mandat_id))).where(
        Autorisation.organisation_id == organisation_id, Autorisation.revoked_at.is_(None),
        Autorisation.expires_at > now,
    )
    return int(db.session().scalar(statement) or 0)


def aidant_requests(organisation_id: int) -> list[AidantRequest]:
    """A structure's requests for new aidants, newest first."""
    statement = (sa.select(AidantRequest).where(AidantRequest.organisation_id == organisation_id)
                 .options(selectinload(AidantRequest.aidant))
                 .order_by(AidantRequest.created_at.desc(), AidantRequest.id.desc()))
    return list(db.session().scalars(statement))
