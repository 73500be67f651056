"""The espace usager under ``/usager``: mandates, uses, revocation, notices, export, erasure.

Every page is scoped to the signed-in usager: another usager's mandate answers 404. The usager's
session is read from its own cookie only; an aidant's session grants nothing here.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, g, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from aidants import clock
from aidants.espace_usager import queries, services, sessions
from aidants.espace_usager.forms import ConfirmForm, EraseForm, NoticesForm
from aidants.mandats import attestation
from aidants.mandats import services as mandats
from aidants.mandats.credential import filename
from aidants.mandats.models import Mandat
from aidants.web import public_url, render_error

bp = Blueprint("usager", __name__, url_prefix="/usager")
F = TypeVar("F", bound=Callable[..., Any])
Page = str | Response | tuple[str, int]


@bp.before_request
def _load_usager() -> None:
    g.usager, g.usager_session = None, None
    found = sessions.authenticate(sessions.cookie_of(request), clock.now())
    if found is not None:
        g.usager, g.usager_session = services.current_usager(found), found


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_context_processor
def _current_usager() -> dict[str, Any]:
    return {"current_usager": g.get("usager")}


def usager_required(view: F) -> F:
    """Send visitors without a usager session to the espace usager's sign-in page."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("usager") is None:
            return redirect(url_for("usager.login"))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _mandat_or_404(uuid: str) -> Mandat:
    found = queries.mandat_of(g.usager.id, uuid)
    if found is None:
        abort(404)
    return found


# --- used by the FranceConnect callback (oidc.client.views) ---------------------------------------

REFUSALS = {
    "access_denied": ("Connexion annulée", "Vous avez annulé la connexion avec FranceConnect. Rien n'a été "
                      "enregistré."),
    "acr": ("Niveau de sécurité insuffisant", "FranceConnect vous a identifié avec un niveau de sécurité "
            "inférieur à celui qu'exige cet espace."),
    "identity": ("Identité incomplète", "L'identité transmise par FranceConnect est incomplète ou mal formée."),
    "too_late": ("Connexion expirée", "La connexion avec FranceConnect a duré trop longtemps."),
    "unreachable": ("FranceConnect ne répond pas", "FranceConnect ne répond pas pour le moment. Réessayez dans "
                    "quelques minutes."),
    "not_configured": ("FranceConnect n'est pas configuré", "Ce service n'est pas relié à FranceConnect."),
}
DEFAULT_REFUSAL = ("Connexion impossible", "La réponse de FranceConnect n'a pas pu être vérifiée, ou elle ne "
                   "correspond pas à une connexion commencée dans ce navigateur. Par sécurité, vous n'êtes pas "
                   "connecté.")


def refused(kind: str, status: int) -> tuple[str, int]:
    """The sign-in could not be completed: a French page with a way to try again."""
    title, message = REFUSALS.get(kind, DEFAULT_REFUSAL)
    return render_template("usager/error.html", title=title, message=message), status


def no_mandate() -> tuple[str, int]:
    """FranceConnect identified someone who never gave a mandate: nothing is recorded."""
    return render_template("usager/no_mandate.html"), 200


set_cookie = sessions.set_cookie


# --- pages ------------------------------------------------------------------------------------------


@bp.get("/connexion")
def login() -> Page:
    if g.get("usager") is not None:
        return redirect(url_for("usager.home"))
    return render_template("usager/login.html")


@bp.post("/deconnexion")
def logout() -> Page:
    form = ConfirmForm()
    if g.get("usager_session") is not None and form.validate_on_submit():
        sessions.close(g.usager_session, clock.now())
    response = redirect(url_for("usager.login"))
    sessions.clear_cookie(response)
    return response


@bp.get("/")
@usager_required
def home() -> Page:
    found = queries.mandats_of(g.usager.id)
    return render_template("usager/home.html", mandats=found, replaced=queries.replaced_by(found), now=clock.now())


@bp.get("/mandats/<uuid>")
@usager_required
def mandat(uuid: str) -> Page:
    found = _mandat_or_404(uuid)
    replaced = queries.replaced_by(queries.mandats_of(g.usager.id))
    return render_template("usager/mandat.html", mandat=found, replaced=replaced.get(found.id), now=clock.now(),
                           revoked_by=services.revoked_by)


def _verify_url(found: Mandat) -> str:
    return public_url() + url_for("mandats.verify", uuid=found.uuid)


@bp.get("/mandats/<uuid>/attestation")
@usager_required
def attestation_page(uuid: str) -> Page:
    found = _mandat_or_404(uuid)
    url = _verify_url(found)
    return render_template("mandats/attestation.html", mandat=found, verify_url=url, qr=attestation.qr_code(url),
                           credential_qr=attestation.credential_qr(found.jws),
                           back_url=url_for("usager.mandat", uuid=found.uuid),
                           text_template=f"mandats/textes/{found.template_version}.html")


@bp.get("/mandats/<uuid>/attestation-revocation")
@usager_required
def revocation_attestation(uuid: str) -> Page:
    found = _mandat_or_404(uuid)
    revoked = [a for a in found.autorisations if a.revoked_at is not None and a.revoked_reason != "replaced"]
    if not revoked:
        return render_error(404, "Aucune démarche de ce mandat n'a été révoquée.")
    url = _verify_url(found)
    return render_template("mandats/revocation_attestation.html", mandat=found, revoked=revoked, verify_url=url,
                           qr=attestation.qr_code(url), back_url=url_for("usager.mandat", uuid=found.uuid))


@bp.get("/mandats/<uuid>/attestation.jwt")
@usager_required
def credential(uuid: str) -> Page:
    found = _mandat_or_404(uuid)
    return credential_response(found)


def credential_response(found: Mandat) -> Response:
    """The signed attestation as a file (both spaces serve it)."""
    if not found.jws:
        abort(404)
    response = make_response(found.jws)
    response.headers["Content-Type"] = "application/jwt"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename(found)}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# --- revocation by the usager ---------------------------------------------------------------------


@bp.route("/mandats/<uuid>/revoquer", methods=["GET", "POST"])
@usager_required
def revoke(uuid: str) -> Page:
    """Revoke the whole mandate, after a page that says what follows."""
    return _revoke(_mandat_or_404(uuid), None)


@bp.route("/mandats/<uuid>/autorisations/<int:autorisation_id>/revoquer", methods=["GET", "POST"])
@usager_required
def revoke_autorisation(uuid: str, autorisation_id: int) -> Page:
    """Revoke one démarche, after a page that says what follows."""
    found = _mandat_or_404(uuid)
    if autorisation_id not in {a.id for a in found.autorisations}:
        abort(404)
    return _revoke(found, autorisation_id)


def _revoke(found: Mandat, autorisation_id: int | None) -> Page:
    now = clock.now()
    targets = [a for a in found.autorisations
               if a.is_active(now) and (autorisation_id is None or a.id == autorisation_id)]
    form = ConfirmForm()
    context = {"form": form, "mandat": found, "targets": targets, "whole": autorisation_id is None}
    if not targets:
        return render_template("usager/revoke.html", **context,
                               nothing="Il n'y a rien à révoquer : c'est déjà révoqué ou le mandat a expiré."), 409
    if request.method == "GET":
        return render_template("usager/revoke.html", **context)
    if not form.validate_on_submit():
        return render_template("usager/revoke.html", **context), 422
    try:
        mandats.revoke_by_usager(usager_id=g.usager.id, mandat=found, now=now, autorisation_id=autorisation_id)
    except mandats.MandatError as error:
        form.form_errors.append(str(error))
        return render_template("usager/revoke.html", **context), 409
    flash("La révocation est enregistrée et s'applique dès maintenant. La structure en est informée.", "success")
    return redirect(url_for("usager.revocation_attestation", uuid=found.uuid))


# --- uses -------------------------------------------------------------------------------------------


@bp.get("/utilisations")
@usager_required
def uses() -> Page:
    before = request.args.get("avant", "")
    page = queries.uses_of(g.usager.id, int(before) if before.isdigit() and len(before) < 19 else None)
    return render_template("usager/uses.html", page=page, first=not before)


@bp.get("/utilisations.csv")
@usager_required
def uses_csv() -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(["date (UTC)", "action", "service", "démarche", "structure", "aidant"])
    for use in queries.all_uses_of(g.usager.id):
        writer.writerow([use.when.isoformat(), use.what, _cell(use.service), use.demarche_label,
                         _cell(use.structure), _cell(use.aidant)])
    response = make_response("\ufeff" + buffer.getvalue())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="utilisations.csv"'
    return response


def _cell(value: str) -> str:
    """No spreadsheet formula from a name chosen by someone else."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# --- notices, export, erasure --------------------------------------------------------------------


@bp.route("/notifications", methods=["GET", "POST"])
@usager_required
def notices() -> Page:
    form = NoticesForm()
    if request.method == "GET":
        for kind, on in services.notice_choices(g.usager.id).items():
            form[kind].data = on
        return render_template("usager/notices.html", form=form)
    if not form.validate_on_submit():
        return render_template("usager/notices.html", form=form), 422
    services.set_notices(g.usager, form.wanted(), clock.now())
    flash("Vos choix de notifications sont enregistrés.", "success")
    return redirect(url_for("usager.notices"))


@bp.get("/donnees")
@usager_required
def export_page() -> Page:
    return render_template("usager/export.html", data=services.export(g.usager, clock.now()))


@bp.get("/donnees.json")
@usager_required
def export_json() -> Response:
    body = json.dumps(services.export(g.usager, clock.now()), ensure_ascii=False, indent=2)
    response = make_response(body)
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="mes-donnees-aidants-connect.json"'
    return response


@bp.route("/effacement", methods=["GET", "POST"])
@usager_required
def erase() -> Page:
    form = EraseForm()
    now = clock.now()
    try:
        services.check_erasable(g.usager, now)
        blocked = None
    except services.UsagerError as error:
        blocked = str(error)
    if request.method == "GET":
        return render_template("usager/erase.html", form=form, blocked=blocked)
    if blocked or not form.validate_on_submit():
        return render_template("usager/erase.html", form=form, blocked=blocked), 409 if blocked else 422
    services.erase(g.usager, now)
    response = make_response(render_template("usager/erased.html"))
    sessions.clear_cookie(response)
    return response
