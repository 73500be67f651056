"""The demo dataset of ``make run``: a structure, its référente, two aidants (an app, a card) and a staff member.

Idempotent: each missing piece is added, nothing is changed twice. The seeds are fixed so that the demo
codes can also be read from any authenticator app configured with them (``aidants totp-code EMAIL`` prints
the current one); they exist only in development and on training sites.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from aidants import db
from aidants.accounts import cgu, devices
from aidants.accounts import services as accounts
from aidants.accounts.cards import normalise_serial
from aidants.accounts.models import Aidant, TotpDevice
from aidants.organisations import services as organisations
from aidants.organisations.models import Organisation
from aidants.security import totp

DEMO_SIRET = "13002526500013"  # a valid SIRET shape (Luhn), fictitious structure
DEMO_CARD_SERIAL = "DEMO-0001"


@dataclass(frozen=True)
class DemoPerson:
    """One demo account: who they are, what they may do, and their device."""

    email: str
    first_name: str
    last_name: str
    role: str  # referent | aidant | staff
    seed: str
    device: str  # app | card
    aidant_type: str
    description: str


DEMO_PEOPLE = (
    DemoPerson("referente@demo.example.org", "Rose", "Référente", "referent", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
               "app", "conseiller_numerique", "référente de la structure, et aidante (application)"),
    DemoPerson("camille@demo.example.org", "Camille", "Aidante", "aidant", "KRUGS4ZANFZSAYLBNVSGS3TUMVZXIZLE",
               "app", "travailleur_social", "aidante (application)"),
    DemoPerson("louis@demo.example.org", "Louis", "Aidant", "aidant", "MFZWIZTHNBVGWYLTMRTGO2DKNNQXG43E",
               "card", "agent_accueil", f"aidant (carte n° {DEMO_CARD_SERIAL}, codes de 60 secondes)"),
    DemoPerson("equipe@demo.example.org", "Sacha", "National", "staff", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
               "app", "", "équipe nationale, hors de toute structure (habilitations, cartes, recherche)"),
)
#: (email, first name, last name, référent?, seed) of the original dataset, kept for older callers.
DEMO_AIDANTS = tuple((p.email, p.first_name, p.last_name, p.role == "referent", p.seed) for p in DEMO_PEOPLE
                     if p.role != "staff")


def _organisation(now: dt.datetime) -> tuple[Organisation, bool]:
    found = organisations.find_by_siret(DEMO_SIRET)
    if found is not None:
        return found, False
    return organisations.create_organisation(
        name="France Services de Démonstration", siret=DEMO_SIRET, address="1 place de la Mairie",
        zipcode="75001", city="Paris", kind="France Services", now=now,
    ), True


def _device(aidant: Aidant, person: DemoPerson, now: dt.datetime) -> None:
    seed = totp.parse_seed(person.seed)
    if person.device == "card":
        db.session().add(TotpDevice(
            kind="card", serial_number=normalise_serial(DEMO_CARD_SERIAL), aidant_id=aidant.id, status="active",
            period=devices.CARD_PERIOD, digits=6, seed_encrypted=devices.encrypt_seed("card", seed), created_at=now,
            activated_at=now,
        ))
        return
    db.session().add(TotpDevice(
        kind="app", aidant_id=aidant.id, status="active", period=devices.APP_PERIOD, digits=6,
        seed_encrypted=devices.encrypt_seed("app", seed), created_at=now, activated_at=now,
    ))


def load(now: dt.datetime) -> bool:
    """Create whatever part of the demo data is missing; True when something was created."""
    organisation, created = _organisation(now)
    for person in DEMO_PEOPLE:
        if accounts.find_aidant(person.email) is not None:
            continue
        staff = person.role == "staff"
        aidant = accounts.create_aidant(
            email=person.email, first_name=person.first_name, last_name=person.last_name,
            organisation=None if staff else organisation, profession="Conseiller numérique" if not staff else
            "Équipe nationale", is_referent=person.role == "referent", is_staff=staff, now=now,
        )
        aidant.aidant_type, aidant.cgu_version = person.aidant_type, cgu.CURRENT_CGU_VERSION
        _device(aidant, person, now)
        created = True
    db.session().flush()
    return created


def who_is_who() -> list[str]:
    """One line per demo account, for the terminal of ``make run``."""
    return [f"{p.email:<29} {p.first_name} {p.last_name} : {p.description}" for p in DEMO_PEOPLE]
