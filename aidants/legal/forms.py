"""The CGU acceptance form (flask-wtf: CSRF token included)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField
from wtforms.validators import ValidationError


class CguForm(FlaskForm):
    """A checkbox the aidant ticks, the version they read, and where to go next."""

    accept = BooleanField("J'ai lu les conditions générales d'utilisation et je les accepte.")
    version = HiddenField()
    next = HiddenField()

    def validate_accept(self, field: BooleanField) -> None:
        if not field.data:
            raise ValidationError("Cochez cette case pour accepter les conditions générales d'utilisation : "
                                  "elles sont nécessaires pour utiliser le service.")
