"""Rules for structures."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from aidants import db, errors
from aidants.journal import services as journal
from aidants.organisations.models import DEMARCHES, Organisation, siret_is_valid


class OrganisationError(errors.DomainError):
    """A structure that cannot be created as asked (message in French)."""


def find_by_siret(siret: str) -> Organisation | None:
    """A structure by SIRET."""
    return db.session().scalars(sa.select(Organisation).where(Organisation.siret == siret)).first()


def create_organisation(
    *, name: str, siret: str, now: dt.datetime, address: str = "", zipcode: str = "", city: str = "",
    kind: str = "", demarches: list[str] | None = None,
) -> Organisation:
    """Create a structure after checking its SIRET and démarches."""
    siret = siret.replace(" ", "")
    if not siret_is_valid(siret):
        raise OrganisationError(f"SIRET invalide : {siret!r} (14 chiffres et une clé de contrôle valide)")
    if find_by_siret(siret) is not None:
        raise OrganisationError(f"Une structure porte déjà le SIRET {siret}.")
    unknown = set(demarches or []) - set(DEMARCHES)
    if unknown:
        raise OrganisationError(f"Démarche(s) inconnue(s) : {', '.join(sorted(unknown))}")
    organisation = Organisation(
        name=name.strip(), siret=siret, address=address, zipcode=zipcode, city=city, kind=kind,
        allowed_demarches=",".join(demarches or DEMARCHES), created_at=now,
    )
    db.session().add(organisation)
    db.session().flush()
    journal.append("create_organisation", now=now, actor_kind="system", organisation_id=organisation.id)
    return organisation
