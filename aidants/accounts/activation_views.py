"""The guided first sign-in (``/activation``): open the emailed link, add a device, accept the CGU, signed in.

The token appears in one URL only, the emailed one; a click there spends it and the path goes on at
``/activation`` with the link's id in the session. A refused step answers 422 (the boundary rolls back).
"""

from __future__ import annotations

import segno
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from aidants import clock
from aidants.accounts import activation, cgu
from aidants.accounts.activation import ActivationError
from aidants.accounts.activation_models import ActivationLink
from aidants.accounts.forms import CardForm, CodeForm, ConfirmForm
from aidants.accounts.models import Aidant

bp = Blueprint("activation", __name__, url_prefix="/activation")
Page = str | Response | tuple[str, int]
FLOW, VERIFIED = "activation", "activation_verified"

LINK_UNUSABLE = ("Ce lien d'activation a expiré ou a déjà servi (il vaut 7 jours et ne sert qu'une fois). "
                 "Demandez-en un nouveau à votre référent ou à l'équipe Aidants Connect.")
FLOW_UNUSABLE = ("Votre activation n'est plus en cours sur ce navigateur (elle dure une heure, ou trop de codes "
                 "erronés l'ont arrêtée). Demandez un nouveau lien d'activation à votre référent ou à l'équipe "
                 "Aidants Connect.")


def render_error(status: int, message: str) -> tuple[str, int]:
    """A dead end that says what happened and what to do next."""
    return render_template("activation/unusable.html", message=message), status


def _code(form: CodeForm) -> str:
    return "".join((form.code.data or "").split())


def _flow() -> ActivationLink | None:
    return activation.flow(session.get(FLOW), clock.now())


def _landing(aidant: Aidant) -> str:
    """The person's space: staff tools, the référent's space for a référent who creates no mandate, else theirs."""
    if aidant.is_staff:
        return url_for("staff.home")
    if aidant.referent_of and not aidant.can_create_mandats:
        return url_for("referents.index")
    return url_for("accounts.dashboard")


@bp.route("/<token>", methods=["GET", "POST"])
def open_link(token: str) -> Page:
    """A button first (mail scanners that open links must not spend them); the click spends the link."""
    form = ConfirmForm()
    now = clock.now()
    if not form.validate_on_submit():
        link = activation.peek(token, now)
        if link is None:
            return render_error(410, LINK_UNUSABLE)
        return render_template("activation/start.html", form=form, aidant=link.aidant)
    opened = activation.open_link(token, now)
    if opened is None:
        return render_error(410, LINK_UNUSABLE)
    session.clear()  # whoever was signed in on this browser is not the person activating
    session[FLOW] = opened.id
    return redirect(url_for("activation.step"))


@bp.get("")
def step() -> Page:
    """Where the path stands: choose a device, or type a code of the device one has; then the CGU."""
    link = _flow()
    if link is None:
        return render_error(410, FLOW_UNUSABLE)
    if session.get(VERIFIED) == link.id:
        return redirect(url_for("activation.conditions"))
    if not activation.needs_activation(link.aidant):
        return render_template("activation/existing.html", form=CodeForm(), aidant=link.aidant)
    return render_template("activation/choose.html", aidant=link.aidant)


def _verified(link: ActivationLink, message: str) -> Response:
    session[VERIFIED] = link.id
    flash(message, "success")
    return redirect(url_for("activation.conditions"))


@bp.post("/code")
def existing() -> Page:
    link = _flow()
    if link is None:
        return render_error(410, FLOW_UNUSABLE)
    form = CodeForm()
    if form.validate_on_submit():
        try:
            activation.check_existing(link, _code(form), clock.now())
        except ActivationError as exc:
            form.code.errors = [str(exc)]
        else:
            return _verified(link, "Votre code est vérifié.")
    return render_template("activation/existing.html", form=form, aidant=link.aidant), 422


@bp.route("/application", methods=["GET", "POST"])
def enrol_app() -> Page:
    link = _flow()
    if link is None:
        return render_error(410, FLOW_UNUSABLE)
    form = CodeForm()
    now = clock.now()
    status = 200
    if form.is_submitted():
        if form.validate_on_submit():
            try:
                activation.confirm_app(link, _code(form), now)
            except ActivationError as exc:
                form.code.errors = [str(exc)]
            else:
                return _verified(link, "Votre application est activée.")
        status = 422
    enrolment = activation.app_enrolment(link, now)
    qr = segno.make(enrolment.uri, error="m").svg_data_uri(scale=4, border=2)
    return render_template("activation/app.html", form=form, qr=qr, secret=enrolment.secret), status


@bp.route("/carte", methods=["GET", "POST"])
def activate_card() -> Page:
    link = _flow()
    if link is None:
        return render_error(410, FLOW_UNUSABLE)
    form = CardForm()
    if not form.is_submitted():
        return render_template("activation/card.html", form=form)
    if form.validate_on_submit():
        try:
            activation.activate_card(link, form.serial_number.data, "".join(form.first_code.data.split()),
                                     "".join(form.second_code.data.split()), clock.now())
        except ActivationError as exc:
            form.form_errors.append(str(exc))
        else:
            return _verified(link, "Votre carte est activée.")
    return render_template("activation/card.html", form=form), 422


@bp.route("/conditions", methods=["GET", "POST"])
def conditions() -> Page:
    """The CGU in force, accepted by a checkbox; then the session opens."""
    link = _flow()
    if link is None:
        return render_error(410, FLOW_UNUSABLE)
    if session.get(VERIFIED) != link.id:
        return redirect(url_for("activation.step"))
    form = ConfirmForm()
    if not form.is_submitted():
        return render_template("activation/conditions.html", form=form, version=cgu.CURRENT_CGU_VERSION)
    error = None
    if form.validate_on_submit():
        try:
            done = activation.complete(link, request.form.get("cgu") == "accept", clock.now())
        except ActivationError as exc:
            error = str(exc)
        else:
            session.clear()
            session.permanent = True
            session["sid"] = done.session_token
            flash(f"Bienvenue, {done.aidant.first_name} : votre compte est activé. Vous vous connecterez désormais "
                  "avec votre adresse e-mail et un code de votre carte ou de votre application.", "success")
            return redirect(_landing(done.aidant))
    return render_template("activation/conditions.html", form=form, version=cgu.CURRENT_CGU_VERSION,
                           error=error or "Le formulaire a expiré : rechargez la page."), 422

