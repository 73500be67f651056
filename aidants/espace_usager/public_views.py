"""Routes of the usager's issue outside ``/usager``: the public status lists, the signed attestation in the
espace aidant, and the staff's erasure of a usager for a request received otherwise."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from aidants import clock, db
from aidants.espace_usager import services
from aidants.espace_usager.forms import EraseForm
from aidants.espace_usager.views import credential_response
from aidants.mandats import queries as mandat_queries
from aidants.mandats import status_list
from aidants.usagers.models import Usager
from aidants.web import login_required, public_url, staff_required

bp = Blueprint("credentials", __name__)


@bp.get("/statuslists/<int:list_id>")
def status_list_token(list_id: int) -> Response:
    """Public: a signed Token Status List (1: mandates, 2: autorisations), built from the database now."""
    if list_id not in status_list.LISTS:
        abort(404)
    response = make_response(status_list.signed_list(list_id, public_url(), clock.now()))
    response.headers["Content-Type"] = status_list.MEDIA_TYPE
    response.headers["Cache-Control"] = f"public, max-age={status_list.TTL}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/mandats/<uuid>/attestation.jwt")
@login_required
def aidant_credential(uuid: str) -> Response:
    """The signed attestation of one of the structure's mandates, for the aidant to hand over."""
    organisation_id = g.aidant.current_organisation_id
    found = mandat_queries.mandat_in_organisation(uuid, organisation_id) if organisation_id else None
    if found is None:
        abort(404)
    return credential_response(found)


@bp.route("/staff/usagers/<int:usager_id>/effacement", methods=["GET", "POST"])
@staff_required
def staff_erase(usager_id: int) -> Response | str | tuple[str, int]:
    """Staff carry out an erasure asked for by post or at a desk, after a confirmation."""
    usager = db.session().get(Usager, usager_id)
    if usager is None:
        abort(404)
    form = EraseForm()
    now = clock.now()
    try:
        services.check_erasable(usager, now)
        blocked = None
    except services.UsagerError as error:
        blocked = str(error)
    if request.method == "GET":
        return render_template("usager/staff_erase.html", form=form, blocked=blocked, usager=usager)
    if blocked or not form.validate_on_submit():
        status = 409 if blocked else 422
        return render_template("usager/staff_erase.html", form=form, blocked=blocked, usager=usager), status
    services.erase(usager, now, staff_id=g.aidant.id)
    flash("Les données personnelles de l'usager sont effacées.", "success")
    return redirect(url_for("credentials.staff_erase", usager_id=usager_id))
