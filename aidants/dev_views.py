"""Development-only pages: the outbox of emails that were 'sent'. Never registered in production or training."""

from __future__ import annotations

import ipaddress

from flask import Blueprint, abort, render_template, request

from aidants import mail

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.before_request
def loopback_only() -> None:
    """The outbox shows every login link: only a browser on this very machine may read it."""
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        abort(403)


@bp.get("/outbox")
def outbox() -> str:
    return render_template("dev/outbox.html", messages=mail.outbox())
