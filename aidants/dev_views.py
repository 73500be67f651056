"""Development-only pages: the outbox of emails that were 'sent'. Never registered in production."""

from __future__ import annotations

from flask import Blueprint, render_template

from aidants import mail

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.get("/outbox")
def outbox() -> str:
    return render_template("dev/outbox.html", messages=mail.outbox())
