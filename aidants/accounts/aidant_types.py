"""Aidant types: the kind of job the aidant does, recorded at the request and shown in the statistics."""

from __future__ import annotations

#: Value → French label, in the order the forms show them.
AIDANT_TYPES = {
    "conseiller_numerique": "Conseiller numérique France Services",
    "travailleur_social": "Travailleur social",
    "agent_accueil": "Agent d'accueil",
    "secretaire_mairie": "Secrétaire de mairie",
    "autre": "Autre",
}


def label(value: str) -> str:
    """The French label of a type; "Non renseigné" for accounts made before types existed."""
    return AIDANT_TYPES.get(value, "Non renseigné")
