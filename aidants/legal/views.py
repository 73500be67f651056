"""Public pages a French public service must have, the help page, and the CGU acceptance gate.

The gate runs before every request of a signed-in aidant: whoever has not accepted the current
CGU (first sign-in, or a new version) is sent to the acceptance page before anything else.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from aidants import clock
from aidants.jobs.retention import RETENTION_LABELS
from aidants.legal import cgu
from aidants.legal import services as legal
from aidants.legal.forms import CguForm
from aidants.retention_periods import RETENTION_PERIODS
from aidants.web import login_required, safe_next

bp = Blueprint("legal", __name__)

#: Reachable without having accepted the CGU: reading them, the legal pages, help, signing out, assets.
_OPEN_ENDPOINTS = frozenset({"accounts.logout", "static", "dsfr", "healthz", "csp_report"})

Page = str | Response | tuple[str, int]
#: Where people write when STAFF_EMAIL is not set (the national team's public address).
DEFAULT_CONTACT = "contact@aidantsconnect.beta.gouv.fr"


@bp.app_context_processor
def _contact() -> dict[str, str]:
    return {"contact_email": str(current_app.config.get("STAFF_EMAIL") or DEFAULT_CONTACT)}


@bp.before_app_request
def _cgu_gate() -> Response | None:
    """Send a signed-in aidant who has not accepted the current CGU to the acceptance page."""
    aidant = g.get("aidant")
    endpoint = request.endpoint or ""
    if aidant is None or endpoint.startswith("legal.") or endpoint in _OPEN_ENDPOINTS:
        return None
    if not legal.needs_cgu(aidant):
        return None
    target = request.full_path.rstrip("?") if request.method == "GET" else ""
    return redirect(url_for("legal.accept_cgu", next=target or None), 303)


@bp.get("/mentions-legales")
def mentions() -> str:
    return render_template("legal/mentions.html")


@bp.get("/donnees-personnelles")
def donnees() -> str:
    """Purposes, legal bases, recipients, retention periods (from aidants.retention_periods), rights."""
    return render_template("legal/donnees.html", periods=RETENTION_PERIODS, technical=RETENTION_LABELS)


@bp.get("/accessibilite")
def accessibilite() -> str:
    return render_template("legal/accessibilite.html")


@bp.get("/cgu")
def cgu_page() -> Page:
    """The current CGU, or an earlier version (``?version=v1``) for whoever accepted it."""
    version = request.args.get("version", cgu.CURRENT_CGU_VERSION)
    if version not in cgu.CGU_VERSIONS:
        abort(404)
    return render_template("legal/cgu.html", version=version, published=cgu.CGU_VERSIONS[version],
                           current=cgu.CURRENT_CGU_VERSION, versions=cgu.CGU_VERSIONS,
                           text_template=cgu.template_of(version))


@bp.route("/cgu/acceptation", methods=["GET", "POST"])
@login_required
def accept_cgu() -> Page:
    """Read the current CGU and accept them (journaled); then go where the aidant was going."""
    form = CguForm(next=request.args.get("next", ""), version=cgu.CURRENT_CGU_VERSION)
    current = cgu.CURRENT_CGU_VERSION
    context = {"form": form, "version": current, "published": cgu.CGU_VERSIONS[current],
               "text_template": cgu.template_of(current), "previous": g.aidant.cgu_version}
    if request.method == "GET":
        if not legal.needs_cgu(g.aidant):
            return redirect(safe_next(form.next.data, url_for("accounts.dashboard")))
        return render_template("legal/accept.html", **context)
    if not form.validate_on_submit():
        return render_template("legal/accept.html", **context), 422
    try:
        legal.accept_cgu(g.aidant, form.version.data or "", clock.now())
    except legal.CguError as error:
        form.form_errors.append(str(error))
        form.version.data = cgu.CURRENT_CGU_VERSION
        return render_template("legal/accept.html", **context), 409
    flash("Merci : vous avez accepté les conditions générales d'utilisation.", "success")
    return redirect(safe_next(form.next.data, url_for("accounts.dashboard")))


@bp.get("/aide/connexion")
def help_login() -> str:
    """« Je n'arrive pas à me connecter »: expired link, card, phone, locked account; what to do, whom to ask."""
    return render_template("legal/help_login.html")
