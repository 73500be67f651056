"""Aidant types: the kind of job the aidant does, recorded at the request and shown in the statistics."""

from __future__ import annotations

from wtforms import SelectChoice, SelectField
from wtforms.validators import DataRequired

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


def aidant_type_field() -> SelectField:
    """The kind of aidant (shown in the statistics)."""
    placeholder = SelectChoice("", "Choisissez un type", render_kw={"disabled": True})
    return SelectField("Type d'aidant", choices=[placeholder] + [
        SelectChoice(value, label) for value, label in AIDANT_TYPES.items()], default="",
        validators=[DataRequired("Choisissez le type d'aidant.")])
