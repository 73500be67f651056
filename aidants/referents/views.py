"""The référent's space (``/referent``) and the aidant's structure switch (``/espace-aidant/structure``).

Views are thin: scope (404 outside the référent's structures), form, one service call, commit, redirect.
A refused change renders its page again with the message, status 400, after a rollback.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import segno
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from aidants import clock, db
from aidants.accounts import aidant_types
from aidants.accounts.models import Aidant
from aidants.mandats.models import DEMARCHE_LABELS
from aidants.organisations.models import Organisation
from aidants.referents import forms, queries, services
from aidants.referents.confirmations import CONFIRMATIONS
from aidants.referents.services import NotManaged, ReferentError
from aidants.web import external_url, login_required, referent_required

bp = Blueprint("referents", __name__)
Page = str | Response | tuple[str, int]
Change = Callable[[Aidant, Organisation, Aidant, dt.datetime], object]
R = "/referent/structures/<int:organisation_id>"
A = R + "/aidants/<int:aidant_id>"


@bp.app_context_processor
def _labels() -> dict[str, object]:
    return {"aidant_type_label": aidant_types.label}


def _organisation(organisation_id: int) -> Organisation:
    try:
        return services.organisation_for(g.aidant, organisation_id)
    except NotManaged:
        abort(404)


def _person(organisation_id: int, aidant_id: int) -> tuple[Organisation, Aidant]:
    try:
        return services.person_for(g.aidant, organisation_id, aidant_id)
    except NotManaged:
        abort(404)


def _code(form: forms.CodeForm) -> str:
    return "".join((form.code.data or "").split())


def _refused(exc: ReferentError, form: forms.FlaskForm | None = None) -> None:
    """Undo anything half-done; show the reason on the form, or as a message."""
    db.session().rollback()
    if form is not None:
        form.form_errors.append(str(exc))
    else:
        flash(str(exc), "error")


def _to_aidant(organisation: Organisation, aidant: Aidant) -> Response:
    return redirect(url_for("referents.aidant", organisation_id=organisation.id, aidant_id=aidant.id))


# --- the structure ---------------------------------------------------------------------------------


@bp.get("/referent")
@referent_required
def index() -> Page:
    structures = sorted(g.aidant.referent_of, key=lambda o: o.name.lower())
    if len(structures) == 1:
        return redirect(url_for("referents.structure", organisation_id=structures[0].id))
    return render_template("referent/index.html", structures=structures)


@bp.get(R)
@referent_required
def structure(organisation_id: int) -> Page:
    organisation = _organisation(organisation_id)
    people = queries.people(organisation)
    counts = {state: sum(1 for p in people if p.is_member and p.status == state) for state in queries.STATUS_LABELS}
    cards = sum(1 for p in people if p.card is not None and p.card.status == "active")
    return render_template(
        "referent/structure.html", organisation=organisation, people=people, counts=counts, active_cards=cards,
        active_mandats=queries.active_mandat_count(organisation.id, clock.now()), labels=DEMARCHE_LABELS,
        requests=services.requests_of(organisation),
    )


@bp.route(R + "/aidants/nouveau", methods=["GET", "POST"])
@referent_required
def new_aidant(organisation_id: int) -> Page:
    return _new_person(_organisation(organisation_id), co_referent=False)


@bp.route(R + "/co-referents/nouveau", methods=["GET", "POST"])
@referent_required
def new_co_referent(organisation_id: int) -> Page:
    return _new_person(_organisation(organisation_id), co_referent=True)


def activation_url(token: str) -> str:
    """The absolute URL of an activation link."""
    return external_url("activation.open_link", token=token)


def _new_person(organisation: Organisation, *, co_referent: bool) -> Page:
    form = forms.PersonForm() if co_referent else forms.NewAidantForm()
    valid = form.validate_on_submit()
    if valid and co_referent and form.confirmed.data != "yes":
        # Appointing a co-référent gives them the structure's management: say it before doing it.
        return render_template("referent/confirm_co_referent.html", form=form, organisation=organisation)
    if valid:
        now = clock.now()
        try:
            if co_referent:
                person = services.create_co_referent(
                    g.aidant, organisation, first_name=form.first_name.data, last_name=form.last_name.data,
                    email=form.email.data, profession=form.profession.data, now=now, link_for=activation_url)
            else:
                person = services.request_aidant(
                    g.aidant, organisation, first_name=form.first_name.data, last_name=form.last_name.data,
                    email=form.email.data, profession=form.profession.data, now=now,
                    aidant_type=form.aidant_type.data)
        except ReferentError as exc:
            _refused(exc, form)
        else:
            db.commit()
            flash(f"{person.full_name} est désigné co-référent de la structure : un lien d'activation lui est envoyé "
                  "par e-mail." if co_referent else
                  f"La demande pour {person.full_name} est transmise à l'équipe Aidants Connect : le compte sera "
                  "activé après la formation, et un lien d'activation lui sera alors envoyé.", "success")
            return redirect(url_for("referents.structure", organisation_id=organisation.id))
    status = 400 if form.is_submitted() else 200
    return render_template("referent/new_person.html", form=form, organisation=organisation,
                           co_referent=co_referent), status


@bp.route(R + "/demarches", methods=["GET", "POST"])
@referent_required
def demarches(organisation_id: int) -> Page:
    organisation = _organisation(organisation_id)
    form = forms.DemarchesForm()
    if request.method == "GET":
        form.demarches.data = organisation.demarches
    if form.validate_on_submit():
        try:
            services.set_demarches(g.aidant, organisation, form.demarches.data or [], clock.now())
        except ReferentError as exc:
            _refused(exc, form)
        else:
            db.commit()
            flash("Les démarches de la structure sont enregistrées. Les mandats déjà signés ne changent pas.",
                  "success")
            return redirect(url_for("referents.structure", organisation_id=organisation.id))
    status = 400 if form.is_submitted() else 200
    return render_template("referent/demarches.html", form=form, organisation=organisation), status


# --- one person --------------------------------------------------------------------------------------


def _aidant_page(organisation: Organisation, aidant: Aidant, status: int = 200) -> tuple[str, int]:
    found = queries.people(organisation, only=aidant)
    if not found:  # taken out of the structure by a concurrent request
        abort(404)
    person = found[0]
    others = [o for o in g.aidant.referent_of if o.id != organisation.id]
    return render_template(
        "referent/aidant.html", organisation=organisation, person=person, aidant=aidant, other_structures=others,
        action=forms.ActionForm(), card_form=forms.AssignCardForm(), code_form=forms.CodeForm(),
        leaves_only=bool(services.structures_besides(aidant, organisation)),
    ), status


@bp.get(A)
@referent_required
def aidant(organisation_id: int, aidant_id: int) -> Page:
    return _aidant_page(*_person(organisation_id, aidant_id))


def _button(organisation_id: int, aidant_id: int, change: Change, done: str) -> Page:
    """A POST button on the aidant's page: one change, then back to the page (or the structure's, once gone)."""
    organisation, person = _person(organisation_id, aidant_id)
    if not forms.ActionForm().validate_on_submit():
        abort(400)
    try:
        outcome = change(g.aidant, organisation, person, clock.now())
    except ReferentError as exc:
        _refused(exc)
        return _aidant_page(organisation, person, 400)
    db.commit()
    flash(done.format(name=person.full_name), "success")
    if outcome == "removed":
        return redirect(url_for("referents.structure", organisation_id=organisation.id))
    return _to_aidant(organisation, person)


def _confirm_or_do(organisation_id: int, aidant_id: int, kind: str, change: Change, done: str) -> Page:
    """GET: the confirmation page that says the consequence; POST: the change."""
    if request.method == "POST":
        return _button(organisation_id, aidant_id, change, done)
    organisation, person = _person(organisation_id, aidant_id)
    if kind == "deactivate" and services.structures_besides(person, organisation):
        kind = "remove"
    title, consequence, button = (text.format(name=person.full_name, organisation=organisation.name)
                                  for text in CONFIRMATIONS[kind])
    return render_template("referent/confirm.html", organisation=organisation, aidant=person, title=title,
                           consequence=consequence, button=button, action=forms.ActionForm())


@bp.route(A + "/desactiver", methods=["GET", "POST"])
@referent_required
def deactivate(organisation_id: int, aidant_id: int) -> Page:
    return _confirm_or_do(organisation_id, aidant_id, "deactivate", services.deactivate,
                          "{name} ne peut plus agir pour cette structure.")


@bp.post(A + "/reactiver")
@referent_required
def reactivate(organisation_id: int, aidant_id: int) -> Page:
    return _button(organisation_id, aidant_id, services.reactivate, "Le compte de {name} est réactivé.")


@bp.route(A + "/referent", methods=["GET", "POST"])
@referent_required
def appoint(organisation_id: int, aidant_id: int) -> Page:
    return _confirm_or_do(organisation_id, aidant_id, "appoint", services.appoint_referent,
                          "{name} est désormais référent de la structure.")


@bp.route(A + "/retirer-referent", methods=["GET", "POST"])
@referent_required
def revoke(organisation_id: int, aidant_id: int) -> Page:
    return _confirm_or_do(organisation_id, aidant_id, "revoke", services.revoke_referent,
                          "{name} n'est plus référent de la structure.")


def _resend(referent: Aidant, organisation: Organisation, person: Aidant, now: dt.datetime) -> None:
    services.resend_activation(referent, organisation, person, now, activation_url)


@bp.post(A + "/activation")
@referent_required
def resend_activation(organisation_id: int, aidant_id: int) -> Page:
    return _button(organisation_id, aidant_id, _resend,
                   "Un nouveau lien d'activation est envoyé à {name} (valable 7 jours ; les précédents ne servent "
                   "plus).")


@bp.route(A + "/deplacer", methods=["GET", "POST"])
@referent_required
def move(organisation_id: int, aidant_id: int) -> Page:
    organisation, person = _person(organisation_id, aidant_id)
    targets = sorted((o for o in g.aidant.referent_of if o.id != organisation.id), key=lambda o: o.name.lower())
    form = forms.MoveForm().set_targets(targets)
    if targets and form.validate_on_submit():
        try:
            target = services.move(g.aidant, organisation, person, form.target.data, keep=bool(form.keep.data),
                                   now=clock.now())
        except ReferentError as exc:
            _refused(exc, form)
        else:
            db.commit()
            flash(f"{person.full_name} travaille désormais pour {target.name}.", "success")
            return _to_aidant(organisation if form.keep.data else target, person)
    status = 400 if form.is_submitted() else 200
    return render_template("referent/move.html", form=form, organisation=organisation, aidant=person,
                           targets=targets), status


# --- cards and apps ----------------------------------------------------------------------------------


@bp.route(A + "/carte", methods=["GET", "POST"])
@referent_required
def assign_card(organisation_id: int, aidant_id: int) -> Page:
    organisation, person = _person(organisation_id, aidant_id)
    form = forms.AssignCardForm()
    if form.validate_on_submit():
        try:
            card = services.assign_card(g.aidant, organisation, person, form.serial_number.data, clock.now())
        except ReferentError as exc:
            _refused(exc, form)
        else:
            db.commit()
            flash(f"La carte {card.serial_number} est attribuée à {person.full_name}. Validez-la maintenant avec "
                  "un code qu'elle affiche.", "success")
            return redirect(url_for("referents.validate_card", organisation_id=organisation.id, aidant_id=person.id))
    status = 400 if form.is_submitted() else 200
    return render_template("referent/assign_card.html", form=form, organisation=organisation, aidant=person), status


@bp.route(A + "/carte/valider", methods=["GET", "POST"])
@referent_required
def validate_card(organisation_id: int, aidant_id: int) -> Page:
    organisation, person = _person(organisation_id, aidant_id)
    form = forms.CodeForm()
    try:
        card = services.card_to_validate(person)
    except ReferentError as exc:
        _refused(exc)
        return _to_aidant(organisation, person)
    if form.validate_on_submit():
        try:
            services.validate_card(g.aidant, organisation, person, _code(form), clock.now())
        except ReferentError as exc:
            _refused(exc, form)
        else:
            db.commit()
            flash(f"La carte {card.serial_number} est activée : {person.full_name} peut s'en servir pour se "
                  "connecter.", "success")
            return _to_aidant(organisation, person)
    status = 400 if form.is_submitted() else 200
    return render_template("referent/validate_card.html", form=form, organisation=organisation, aidant=person,
                           card=card), status


@bp.route(A + "/appareils/<int:device_id>/dissocier", methods=["GET", "POST"])
@referent_required
def retire_device(organisation_id: int, aidant_id: int, device_id: int) -> Page:
    organisation, person = _person(organisation_id, aidant_id)
    try:
        device = services.device_for(person, device_id)
    except NotManaged:
        abort(404)
    form = forms.RetireForm()
    if form.validate_on_submit():
        try:
            status = services.retire_device(g.aidant, organisation, person, device, form.reason.data, clock.now())
        except ReferentError as exc:
            _refused(exc, form)
        else:
            db.commit()
            flash("La carte est dissociée et remise en stock : elle pourra être attribuée de nouveau."
                  if status == "stock" else "Ce moyen de connexion est désactivé : il ne permet plus de se "
                  "connecter.", "success")
            return _to_aidant(organisation, person)
    status_code = 400 if form.is_submitted() else 200
    return render_template("referent/retire_device.html", form=form, organisation=organisation, aidant=person,
                           device=device), status_code


@bp.route(A + "/application", methods=["GET", "POST"])
@referent_required
def enrol_app(organisation_id: int, aidant_id: int) -> Page:
    organisation, person = _person(organisation_id, aidant_id)
    form = forms.CodeForm()
    now = clock.now()
    if form.validate_on_submit():
        try:
            services.confirm_app(g.aidant, organisation, person, _code(form), now)
        except ReferentError as exc:
            _refused(exc, form)
        else:
            db.commit()
            flash(f"L'application de {person.full_name} est activée.", "success")
            return _to_aidant(organisation, person)
    enrolment = services.app_enrolment(person, now)
    db.commit()
    qr = segno.make(enrolment.uri, error="m").svg_data_uri(scale=4, border=2)
    status = 400 if form.is_submitted() else 200
    return render_template("referent/enrol_app.html", form=form, organisation=organisation, aidant=person, qr=qr,
                           secret=enrolment.secret), status


# --- the aidant's current structure --------------------------------------------------------------------


@bp.route("/espace-aidant/structure", methods=["GET", "POST"])
@login_required
def switch() -> Page:
    structures = sorted((o for o in g.aidant.organisations if o.is_active), key=lambda o: o.name.lower())
    form = forms.SwitchForm().set_organisations(structures)
    if request.method == "GET":
        form.organisation.data = g.aidant.current_organisation_id
    if form.validate_on_submit():
        try:
            target = services.switch_organisation(g.aidant, form.organisation.data, clock.now())
        except ReferentError as exc:
            _refused(exc, form)
        else:
            db.commit()
            flash(f"Vous agissez désormais pour {target.name}.", "success")
            return redirect(url_for("accounts.dashboard"))
    status = 400 if form.is_submitted() else 200
    return render_template("referent/switch.html", form=form, structures=structures), status
