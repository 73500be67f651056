"""Staff forms. POST forms carry a CSRF token (flask-wtf); the filter forms are GET forms without one
(they change nothing). The services check every value again."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    Field,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

from aidants.staff.queries import JournalFilters
from aidants.staff.services import INACTIVITY_MONTHS

PARIS = ZoneInfo("Europe/Paris")
SIRET_FIELD = [DataRequired("Saisissez un SIRET."),
               Regexp(r"^\s*(\d\s*){14}$", message="Un SIRET compte 14 chiffres.")]


class IdListField(Field):
    """Several positive integers sent under one name (checkboxes, hidden inputs)."""

    data: list[int]

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = []
        for value in valuelist:
            text = str(value).strip()
            if not (text.isascii() and text.isdigit()) or len(text) > 12:
                self.data = []
                raise ValueError("Identifiant invalide dans la sélection : rechargez la page.")
            self.data.append(int(text))

    def _value(self) -> str:
        return ""


class GetForm(FlaskForm):
    """A filter form sent by GET: nothing to protect, so no CSRF token."""

    class Meta:
        csrf = False


class CardImportForm(FlaskForm):
    file = FileField("Fichier du fabricant (CSV)", validators=[FileRequired("Choisissez le fichier à importer.")])
    skip_invalid = BooleanField("Importer les lignes valides même si d'autres sont invalides")


# --- transfer --------------------------------------------------------------------------------------------------


class TransferChooseForm(GetForm):
    source = StringField("SIRET de la structure d'origine", validators=SIRET_FIELD)
    cible = StringField("SIRET de la structure d'arrivée", validators=SIRET_FIELD)
    q = StringField("Rechercher un usager de la structure d'origine", validators=[Optional(), Length(max=100)])
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, max=1_000_000)], default=1)


class TransferForm(FlaskForm):
    """The transfer asked for: both structures, and all mandates or only the chosen usagers'."""

    source_id = IntegerField(validators=[DataRequired()])
    target_id = IntegerField(validators=[DataRequired()])
    scope = RadioField("Mandats à transférer", choices=[
        SelectChoice("tous", "Tous les mandats de la structure d'origine"),
        SelectChoice("choisis", "Seulement ceux des usagers cochés"),
    ], default="tous")
    usagers = IdListField()

    def usager_ids(self) -> list[int] | None:
        return None if self.scope.data == "tous" else list(self.usagers.data or [])


# --- inactive aidants ------------------------------------------------------------------------------------------

MONTH_CHOICES = [SelectChoice(str(m), f"{m} mois") for m in INACTIVITY_MONTHS]


class InactiveFilterForm(GetForm):
    mois = SelectField("Sans connexion depuis au moins", choices=MONTH_CHOICES, default="6")
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, max=1_000_000)], default=1)


class DeactivateForm(FlaskForm):
    mois = SelectField(choices=MONTH_CHOICES, validators=[DataRequired()])
    aidants = IdListField()


# --- journal ---------------------------------------------------------------------------------------------------


class JournalFilterForm(GetForm):
    action = StringField("Action", validators=[
        Optional(), Regexp(r"^[a-z0-9_]{1,50}$", message="Une action s'écrit en minuscules et tirets bas, "
                                                           "par exemple create_attestation.")])
    aidant = IntegerField("Identifiant de l'aidant", validators=[Optional(), NumberRange(min=1)])
    organisation = IntegerField("Identifiant de la structure", validators=[Optional(), NumberRange(min=1)])
    du = DateField("Du (inclus)", validators=[Optional()])
    au = DateField("Au (inclus)", validators=[Optional()])
    avant = HiddenField()
    apres = HiddenField()

    def validate_au(self, field: DateField) -> None:
        if field.data and self.du.data and field.data < self.du.data:
            raise ValidationError("La date de fin précède la date de début.")

    def filters(self) -> JournalFilters:
        """The filters; days are Paris days (as shown), turned into UTC bounds."""
        start = dt.datetime.combine(self.du.data, dt.time.min, PARIS) if self.du.data else None
        end = (dt.datetime.combine(self.au.data + dt.timedelta(days=1), dt.time.min, PARIS)
               if self.au.data else None)
        return JournalFilters(
            action=self.action.data or "", aidant_id=self.aidant.data, organisation_id=self.organisation.data,
            start=start.astimezone(dt.UTC) if start else None, end=end.astimezone(dt.UTC) if end else None,
        )

    def cursor(self, name: str) -> int | None:
        value = (getattr(self, name).data or "").strip()
        return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None

    def query_args(self) -> dict[str, str]:
        """The filters as URL parameters (for the pages and the export links)."""
        args = {"action": self.action.data or "", "aidant": self.aidant.raw_data[0] if self.aidant.raw_data else "",
                "organisation": self.organisation.raw_data[0] if self.organisation.raw_data else "",
                "du": self.du.data.isoformat() if self.du.data else "",
                "au": self.au.data.isoformat() if self.au.data else ""}
        return {key: value for key, value in args.items() if value}


class ButtonForm(FlaskForm):
    """A button only: the CSRF token proves the click came from our page."""


# --- people ----------------------------------------------------------------------------------------------------


class SearchForm(GetForm):
    q = StringField("Nom, adresse e-mail, nom de structure ou SIRET", validators=[
        Optional(), Length(max=100, message="100 caractères au plus.")])


class CardSerialForm(FlaskForm):
    serial_number = StringField("Numéro de série d'une carte en stock", validators=[
        DataRequired("Saisissez le numéro de série inscrit au dos de la carte."),
        Length(max=64, message="Ce numéro de série est trop long.")])


class RefusalForm(FlaskForm):
    reason = TextAreaField("Raison du refus, pour le référent", validators=[
        DataRequired("Écrivez la raison du refus : le référent la verra sur la page de sa structure."),
        Length(max=2000, message="2 000 caractères au plus.")])
