"""Sign-in and device forms (flask-wtf: every form carries a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, StringField
from wtforms.validators import DataRequired, Email, Length, Regexp

CODE_MESSAGE = "Le code compte 6 chiffres."


def code_field(label: str = "Code à usage unique") -> StringField:
    """A 6-digit code field."""
    return StringField(label, validators=[
        DataRequired("Saisissez le code affiché par votre carte ou votre application."),
        Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=CODE_MESSAGE),
    ])


class LoginForm(FlaskForm):
    email = EmailField("Adresse e-mail professionnelle", validators=[
        DataRequired("Saisissez votre adresse e-mail."),
        Length(max=254, message="Cette adresse e-mail est trop longue."),
        Email("Saisissez une adresse e-mail valide, par exemple nom@exemple.fr.", check_deliverability=False),
    ])
    code = code_field()
    next = HiddenField()


class CodeForm(FlaskForm):
    code = code_field()
    next = HiddenField()


class ConfirmForm(FlaskForm):
    """A button only: the CSRF token proves the click came from our page."""


class CardForm(FlaskForm):
    serial_number = StringField("Numéro de série de la carte", validators=[
        DataRequired("Saisissez le numéro de série inscrit au dos de la carte."),
        Length(max=64, message="Ce numéro de série est trop long."),
    ])
    first_code = code_field("Premier code")
    second_code = code_field("Code suivant")
