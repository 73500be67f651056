"""Forms of the habilitation request and of its review (flask-wtf: every POST form carries a CSRF token).

The services check everything again; the forms give each field its French message.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectChoice, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp, ValidationError

from aidants.accounts.aidant_types import aidant_type_field
from aidants.habilitation.models import KINDS, STATUS_LABELS
from aidants.organisations.models import siret_is_valid

PHONE = Regexp(r"^[0-9+ .()-]{6,30}$", message="Saisissez un numéro de téléphone, par exemple 01 23 45 67 89.")


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def email_field(label: str) -> EmailField:
    return EmailField(label, filters=[_strip], validators=[
        DataRequired("Saisissez une adresse e-mail."),
        Length(max=254, message="Cette adresse e-mail est trop longue."),
        Email("Saisissez une adresse e-mail valide, par exemple nom@exemple.fr.", check_deliverability=False),
    ])


def name_field(label: str, required: str) -> StringField:
    return StringField(label, filters=[_strip],
                       validators=[DataRequired(required), Length(max=150, message="Ce champ est trop long.")])


class AccessForm(FlaskForm):
    """The first step, and the way to get a new link: an email."""

    email = email_field("Adresse e-mail professionnelle")


class ConfirmForm(FlaskForm):
    """A button only (mail scanners that open links must not act on them)."""


class IssuerForm(FlaskForm):
    first_name = name_field("Prénom", "Saisissez votre prénom.")
    last_name = name_field("Nom", "Saisissez votre nom.")
    profession = name_field("Fonction", "Saisissez votre fonction dans la structure.")
    phone = StringField("Téléphone (facultatif)", validators=[Optional(), PHONE])


class SiretField(StringField):
    """14 digits with a valid check digit; spaces and dots are allowed while typing."""

    def pre_validate(self, form: Any) -> None:
        digits = "".join(c for c in (self.data or "") if c not in " .\u00a0")
        if not digits:
            raise ValidationError("Saisissez le numéro SIRET de la structure (14 chiffres).")
        if not siret_is_valid(digits):
            raise ValidationError("Ce numéro SIRET n'est pas valide : il compte 14 chiffres et sa clé de contrôle "
                                  "ne correspond pas. Vérifiez-le sur l'avis de situation Sirene de la structure.")


class KindField(SelectField):
    def pre_validate(self, form: Any) -> None:
        if self.data not in KINDS:
            raise ValidationError("Choisissez le type de structure dans la liste.")


class OrganisationForm(FlaskForm):
    siret = SiretField("Numéro SIRET")
    lookup = SubmitField("Rechercher ce SIRET")
    name = StringField("Nom de la structure", validators=[
        DataRequired("Saisissez le nom de la structure."), Length(max=200, message="Ce nom est trop long.")])
    kind = KindField("Type de structure", choices=[SelectChoice("", "Choisissez un type"),
                                                    *(SelectChoice(k, v) for k, v in KINDS.items())])
    address = StringField("Adresse", validators=[
        DataRequired("Saisissez l'adresse de la structure."),
        Length(max=300, message="Cette adresse est trop longue.")])
    zipcode = StringField("Code postal", validators=[
        DataRequired("Saisissez le code postal."), Regexp(r"^\d{5}$", message="Le code postal compte 5 chiffres.")])
    city = StringField("Commune", validators=[
        DataRequired("Saisissez la commune."), Length(max=100, message="Ce nom de commune est trop long.")])


class ReferentForm(FlaskForm):
    first_name = name_field("Prénom", "Saisissez le prénom du référent.")
    last_name = name_field("Nom", "Saisissez le nom du référent.")
    email = email_field("Adresse e-mail professionnelle")
    profession = name_field("Fonction", "Saisissez la fonction du référent.")
    phone = StringField("Téléphone (facultatif)", validators=[Optional(), PHONE])


class AidantForm(FlaskForm):
    first_name = name_field("Prénom", "Saisissez le prénom de l'aidant.")
    last_name = name_field("Nom", "Saisissez le nom de l'aidant.")
    email = email_field("Adresse e-mail professionnelle")
    profession = name_field("Fonction", "Saisissez la fonction de l'aidant.")
    aidant_type = aidant_type_field()


class SubmitForm(FlaskForm):
    terms = BooleanField("J'ai lu et j'accepte les conditions générales d'utilisation d'Aidants Connect, "
                         "au nom de la structure.")


class MessageForm(FlaskForm):
    body = TextAreaField("Votre message", validators=[
        DataRequired("Écrivez votre message."),
        Length(max=5000, message="Le message compte 5 000 caractères au plus.")])


#: The staff's possible answers (the button pressed), in the order shown.
ANSWERS = {
    "message": "Envoyer le message seul",
    "changes_required": "Demander des modifications",
    "accepted": "Accepter la demande",
    "refused": "Refuser la demande",
    "closed": "Clore la demande",
}


class AnswerForm(FlaskForm):
    """A message and the answer chosen with the button pressed (``action``)."""

    body = TextAreaField("Message au demandeur", validators=[
        Optional(), Length(max=5000, message="Le message compte 5 000 caractères au plus.")])


class FilterForm(FlaskForm):
    """The staff list's filters (a GET form: no CSRF token needed)."""

    class Meta:
        csrf = False

    status = SelectField("Statut", choices=[SelectChoice("", "Toutes, hors brouillons"),
                                            *(SelectChoice(k, v) for k, v in STATUS_LABELS.items())],
                         validators=[Optional()])
    q = StringField("Nom, SIRET ou adresse e-mail", validators=[Optional(), Length(max=100)])
