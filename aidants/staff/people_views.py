"""The staff's people pages: the new-aidant queue, search, an aidant's page, a structure's page.

Every route is ``staff_required``. Refusals answer 4xx (the boundary rolls back); destructive changes
go through a confirmation page that says their consequence.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from aidants import clock
from aidants.accounts import aidant_types
from aidants.accounts.models import Aidant
from aidants.mandats.models import DEMARCHE_LABELS
from aidants.referents.models import AidantRequest
from aidants.referents.queries import STATUS_LABELS
from aidants.staff import people, people_queries
from aidants.staff.forms import ButtonForm, CardSerialForm, RefusalForm, SearchForm
from aidants.staff.services import StaffError
from aidants.web import external_url, staff_required

bp = Blueprint("staff_people", __name__, url_prefix="/staff")
Page = str | Response | tuple[str, int]


def activation_url(token: str) -> str:
    """The absolute URL of an activation link."""
    return external_url("activation.open_link", token=token)


@bp.app_context_processor
def _labels() -> dict[str, object]:
    return {"aidant_type_label": aidant_types.label, "person_status_labels": STATUS_LABELS}


# --- the queue of new aidants -----------------------------------------------------------------------------------


@bp.get("/demandes-aidants")
@staff_required
def requests() -> str:
    return render_template("staff/people/requests.html", requests=people_queries.pending_requests(),
                           form=ButtonForm())


def _request(request_id: int) -> AidantRequest:
    found = people_queries.aidant_request(request_id, for_update=request.method == "POST")
    if found is None:
        abort(404)
    return found


@bp.post("/demandes-aidants/<int:request_id>/formation")
@staff_required
def request_trained(request_id: int) -> Page:
    found = _request(request_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        sent = people.mark_trained(found, g.aidant, clock.now(), activation_url)
    except StaffError as error:
        flash(str(error), "error")
        return render_template("staff/people/requests.html", requests=people_queries.pending_requests(),
                               form=ButtonForm()), 409
    flash(f"La formation de {found.aidant.full_name} est notée : son compte est activé"
          + (" et un lien d'activation lui est envoyé." if sent else "."), "success")
    return redirect(url_for("staff_people.requests"))


@bp.route("/demandes-aidants/<int:request_id>/refus", methods=["GET", "POST"])
@staff_required
def request_refuse(request_id: int) -> Page:
    """The confirmation page (the consequence, the reason to give), then the refusal."""
    found = _request(request_id)
    form = RefusalForm()
    if form.validate_on_submit():
        try:
            people.refuse(found, g.aidant, form.reason.data or "", clock.now())
        except StaffError as error:
            form.form_errors.append(str(error))
        else:
            flash(f"La demande pour {found.aidant.full_name} est refusée ; le référent voit la raison sur la page de "
                  "sa structure.", "success")
            return redirect(url_for("staff_people.requests"))
    status = 422 if form.is_submitted() else 200
    return render_template("staff/people/refuse.html", req=found, form=form), status


# --- search ----------------------------------------------------------------------------------------------------


@bp.get("/recherche")
@staff_required
def search() -> Page:
    form = SearchForm(request.args)
    text = (form.q.data or "").strip() if form.validate() else ""
    body = render_template("staff/people/search.html", form=form, query=text, limit=people_queries.SEARCH_LIMIT,
                           aidants=people_queries.search_aidants(text),
                           structures=people_queries.search_organisations(text))
    return body, (400 if form.errors else 200)


# --- an aidant -------------------------------------------------------------------------------------------------


def _aidant(aidant_id: int) -> Aidant:
    found = people_queries.aidant(aidant_id)
    if found is None:
        abort(404)
    return found


def _aidant_page(person: Aidant, card_form: CardSerialForm | None = None, status: int = 200) -> tuple[str, int]:
    return render_template(
        "staff/people/aidant.html", person=person, devices=people_queries.devices_of(person.id),
        state=people_queries.status_of(person), form=ButtonForm(), card_form=card_form or CardSerialForm(),
    ), status


@bp.get("/aidants/<int:aidant_id>")
@staff_required
def aidant(aidant_id: int) -> Page:
    return _aidant_page(_aidant(aidant_id))


@bp.post("/aidants/<int:aidant_id>/carte")
@staff_required
def assign_card(aidant_id: int) -> Page:
    person = _aidant(aidant_id)
    form = CardSerialForm()
    if not form.validate_on_submit():
        return _aidant_page(person, form, 422)
    try:
        serial = people.assign_card(g.aidant, person, form.serial_number.data or "", clock.now())
    except StaffError as error:
        form.serial_number.errors = [str(error)]
        return _aidant_page(person, form, 422)
    flash(f"La carte {serial} est réservée pour {person.full_name} : elle s'activera avec deux codes consécutifs, "
          "depuis son lien d'activation ou son espace.", "success")
    return redirect(url_for("staff_people.aidant", aidant_id=person.id))


@bp.post("/aidants/<int:aidant_id>/activation")
@staff_required
def resend_activation(aidant_id: int) -> Page:
    person = _aidant(aidant_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        people.resend_activation(g.aidant, person, clock.now(), activation_url)
    except StaffError as error:
        flash(str(error), "error")
        return _aidant_page(person, status=409)
    flash(f"Un nouveau lien d'activation est envoyé à {person.email} (valable 7 jours).", "success")
    return redirect(url_for("staff_people.aidant", aidant_id=person.id))


@bp.route("/aidants/<int:aidant_id>/desactiver", methods=["GET", "POST"])
@staff_required
def deactivate(aidant_id: int) -> Page:
    person = _aidant(aidant_id)
    form = ButtonForm()
    if not form.validate_on_submit():
        return render_template("staff/people/deactivate.html", person=person, form=form)
    try:
        people.deactivate(g.aidant, person, clock.now())
    except StaffError as error:
        flash(str(error), "error")
        return _aidant_page(person, status=409)
    flash(f"Le compte de {person.full_name} est désactivé : ses sessions sont fermées.", "success")
    return redirect(url_for("staff_people.aidant", aidant_id=person.id))


@bp.post("/aidants/<int:aidant_id>/reactiver")
@staff_required
def reactivate(aidant_id: int) -> Page:
    person = _aidant(aidant_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        people.reactivate(g.aidant, person, clock.now())
    except StaffError as error:
        flash(str(error), "error")
        return _aidant_page(person, status=409)
    flash(f"Le compte de {person.full_name} est réactivé.", "success")
    return redirect(url_for("staff_people.aidant", aidant_id=person.id))


# --- a structure -----------------------------------------------------------------------------------------------


@bp.get("/structures/<int:organisation_id>")
@staff_required
def structure(organisation_id: int) -> Page:
    from aidants.referents import queries as referent_queries

    found = people_queries.organisation(organisation_id)
    if found is None:
        abort(404)
    return render_template("staff/people/structure.html", organisation=found,
                           people=referent_queries.people(found),
                           requests=referent_queries.aidant_requests(found.id),
                           figures=people_queries.structure_figures(found.id, clock.now()), labels=DEMARCHE_LABELS)
