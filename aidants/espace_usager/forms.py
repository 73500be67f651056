"""Forms of the espace usager (flask-wtf: each carries a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms.validators import DataRequired

from aidants.espace_usager.models import NOTICE_KINDS


class ConfirmForm(FlaskForm):
    """A confirmation button (revocation, sign-out): the CSRF token is the whole form."""


class EraseForm(FlaskForm):
    """Erasure asks to tick a box that says what it does."""

    confirm = BooleanField("Je comprends que mes données seront effacées définitivement",
                           validators=[DataRequired("Cochez la case pour confirmer l'effacement.")])


class NoticesForm(FlaskForm):
    """One checkbox per kind of notice."""

    created = BooleanField(NOTICE_KINDS["created"])
    revoked = BooleanField(NOTICE_KINDS["revoked"])
    ending = BooleanField(NOTICE_KINDS["ending"])
    digest = BooleanField(NOTICE_KINDS["digest"])

    def wanted(self) -> set[str]:
        return {kind for kind in NOTICE_KINDS if self[kind].data}
