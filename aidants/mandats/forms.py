"""Mandate forms (flask-wtf: every form carries a CSRF token). Choices are checked again by the services."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectChoice, SelectMultipleField, StringField
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from aidants.accounts.forms import code_field
from aidants.mandats.models import DEMARCHE_LABELS, DURATION_LABELS, DURATIONS


class CheckboxesField(SelectMultipleField):
    """Checkboxes whose unknown values get a French message (the service refuses them too)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form: Any) -> None:
        known = {choice.value for choice in self.choices or []}
        unknown = [value for value in self.data or [] if value not in known]
        if unknown:
            raise ValidationError(f"Démarche inconnue ou non autorisée pour votre structure : {', '.join(unknown)}.")
        if not self.data:
            raise ValidationError("Choisissez au moins une démarche.")


class DurationField(RadioField):
    def pre_validate(self, form: Any) -> None:
        if self.data not in DURATIONS:
            raise ValidationError("Choisissez une durée : 1 jour, 1 mois, 6 mois ou 1 an.")


class MandatForm(FlaskForm):
    """The démarches (among the structure's) and the duration."""

    demarches = CheckboxesField("Démarches", choices=[])
    duration = DurationField("Durée du mandat",
                             choices=[SelectChoice(value, label) for value, label in DURATION_LABELS.items()])

    def set_demarches(self, allowed: list[str]) -> MandatForm:
        self.demarches.choices = [SelectChoice(d, DEMARCHE_LABELS[d]) for d in allowed]
        return self


class RecapForm(FlaskForm):
    """The aidant's code again, and the usager's informed consent."""

    code = code_field("Votre code à usage unique")
    consent = BooleanField(
        "J'ai informé l'usager des démarches et de la durée de ce mandat, et il m'a donné son accord."
    )
    token = HiddenField()

    def validate_consent(self, field: BooleanField) -> None:
        if not field.data:
            raise ValidationError("Cochez cette case : le mandat ne peut être créé sans l'accord de l'usager.")


class RevokeForm(FlaskForm):
    """The aidant's code, to confirm a revocation."""

    code = code_field("Votre code à usage unique")


class SearchForm(FlaskForm):
    """The espace aidant's search (GET, no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    q = StringField("Rechercher un usager")
