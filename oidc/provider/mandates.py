"""What the provider asks of the mandates: who can be chosen, which démarches, still active or not.

A thin adapter over ``aidants.mandats.queries`` so that the provider's rules read in its own words.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from aidants.mandats import queries
from aidants.mandats.models import DEMARCHE_LABELS
from aidants.organisations.models import DEMARCHES
from aidants.usagers.models import Usager
from oidc.provider.claims import REP_SCOPE_LABELS


@dataclass(frozen=True)
class Offer:
    """One démarche the aidant may use for a usager right now."""

    autorisation_id: int
    demarche: str
    expires_at: dt.datetime
    usager: Usager

    @property
    def label(self) -> str:
        return DEMARCHE_LABELS[self.demarche]

    @property
    def rep_scope(self) -> str:
        return REP_SCOPE_LABELS[self.demarche]


def usagers_with_active_mandate(organisation_id: int, now: dt.datetime, query: str,
                                demarches: set[str] | None, limit: int) -> list[Usager]:
    """Usagers of the structure with an active autorisation (among ``demarches`` when given)."""
    return queries.usagers_with_active_autorisation(organisation_id, now, query=query,
                                                    demarches=demarches, limit=limit)


def active_offers(usager_id: int, organisation_id: int, now: dt.datetime,
                  demarches: set[str] | None) -> list[Offer]:
    """The usager's active autorisations in the structure, in the canonical démarche order."""
    found = [
        Offer(autorisation.id, autorisation.demarche, autorisation.expires_at, autorisation.mandat.usager)
        for autorisation in queries.active_autorisations(usager_id, organisation_id, now)
        if demarches is None or autorisation.demarche in demarches
    ]
    return sorted(found, key=lambda offer: DEMARCHES.index(offer.demarche))


def usager_if_active(autorisation_id: int, now: dt.datetime) -> Usager | None:
    """The usager behind an autorisation that may still be used, else None (one statement)."""
    return queries.usager_of_active_autorisation(autorisation_id, now)


def autorisation_is_active(autorisation_id: int, now: dt.datetime) -> bool:
    """Whether an autorisation may still be used: not revoked, its mandate not expired."""
    return queries.autorisation_is_active(autorisation_id, now)
