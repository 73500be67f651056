"""Development-only pages: the outbox (every queued email, sent or not). Never registered in production."""

from __future__ import annotations

from flask import Blueprint, render_template

from aidants.outbox import services as outbox_services
from aidants.outbox.models import STATUS_LABELS

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.get("/outbox")
def outbox() -> str:
    return render_template("dev/outbox.html", messages=outbox_services.latest(), labels=STATUS_LABELS)
