"""Forms of the référent's space and of the structure switch (flask-wtf: each carries a CSRF token).

Choices are checked again by the services; the forms only give clear messages early.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from aidants.accounts.aidant_types import aidant_type_field
from aidants.accounts.forms import code_field
from aidants.mandats.models import DEMARCHE_LABELS
from aidants.organisations.models import DEMARCHES, Organisation

RETIRE_LABELS = {
    "lost": "Carte ou téléphone perdu",
    "broken": "Cassé",
    "faulty": "Défectueux (codes refusés, écran illisible)",
    "departure": "Départ de l'aidant",
    "error": "Erreur d'attribution",
    "other": "Autre raison",
}


def _name(label: str, message: str) -> StringField:
    return StringField(label, validators=[DataRequired(message), Length(max=150, message="150 caractères au plus.")])


class ActionForm(FlaskForm):
    """A button only: the CSRF token proves the click came from our page."""


class PersonForm(FlaskForm):
    """Who to add: a new aidant to train, or a co-référent."""

    first_name = _name("Prénom", "Saisissez le prénom.")
    last_name = _name("Nom", "Saisissez le nom.")
    email = EmailField("Adresse e-mail professionnelle", validators=[
        DataRequired("Saisissez l'adresse e-mail professionnelle."),
        Length(max=254, message="Cette adresse e-mail est trop longue."),
        Email("Saisissez une adresse e-mail valide, par exemple nom@exemple.fr.", check_deliverability=False),
    ])
    profession = _name("Profession", "Saisissez la profession (par exemple : conseiller numérique).")
    confirmed = HiddenField()  # "yes" once the confirmation page said what the change does


class NewAidantForm(PersonForm):
    """A new aidant to train, with their type."""

    aidant_type = aidant_type_field()


class AssignCardForm(FlaskForm):
    serial_number = StringField("Numéro de série de la carte", validators=[
        DataRequired("Saisissez le numéro de série inscrit au dos de la carte."),
        Length(max=64, message="Ce numéro de série est trop long."),
    ])


class CodeForm(FlaskForm):
    code = code_field("Code affiché")


class RetireForm(FlaskForm):
    reason = RadioField("Raison", choices=[SelectChoice(value, label) for value, label in RETIRE_LABELS.items()],
                        validators=[InputRequired("Choisissez la raison de la dissociation.")])


class MoveForm(FlaskForm):
    target = SelectField("Structure de destination", coerce=int,
                         validators=[InputRequired("Choisissez la structure de destination.")])
    keep = BooleanField("Garder aussi l'aidant dans la structure actuelle (il travaillera dans les deux)")

    def set_targets(self, organisations: list[Organisation]) -> MoveForm:
        self.target.choices = [SelectChoice(o.id, o.name) for o in organisations]
        return self


class DemarchesForm(FlaskForm):
    demarches = SelectMultipleField(
        "Démarches", choices=[SelectChoice(d, DEMARCHE_LABELS[d]) for d in DEMARCHES],
        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
        validators=[DataRequired("Choisissez au moins une démarche.")],
    )


class SwitchForm(FlaskForm):
    organisation = RadioField("Structure", coerce=int,
                              validators=[InputRequired("Choisissez la structure pour laquelle vous agissez.")])

    def set_organisations(self, organisations: list[Organisation]) -> SwitchForm:
        self.organisation.choices = [SelectChoice(o.id, o.name) for o in organisations]
        return self
