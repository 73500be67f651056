"""The public habilitation request: an email proved by a link, then the draft steps, submission and messages.

No account: the emailed link (3 days) sets a cookie holding its token; each request checks
the token's hash in the database. Another issuer's request answers 404, as if it did not exist.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from aidants import clock, db, mail
from aidants.habilitation import queries
from aidants.habilitation import services as habilitation
from aidants.habilitation.forms import (
    AccessForm,
    AidantForm,
    ConfirmForm,
    IssuerForm,
    MessageForm,
    OrganisationForm,
    ReferentForm,
    SubmitForm,
)
from aidants.habilitation.models import KINDS, STATUS_LABELS, TERMS_VERSION, HabilitationRequest
from aidants.web import client_ip, external_url, render_error

bp = Blueprint("habilitation", __name__, url_prefix="/habilitation")

ACCESS = "habilitation_access"
Page = str | Response | tuple[str, int]
F = TypeVar("F", bound=Callable[..., Any])

#: The draft steps, in order: endpoint and title.
STEPS = (
    ("habilitation.issuer_step", "Demandeur"),
    ("habilitation.organisation_step", "Structure"),
    ("habilitation.referent_step", "Référent"),
    ("habilitation.aidants_step", "Aidants à former"),
    ("habilitation.submit_step", "Conditions et envoi"),
)


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {"HABILITATION_STATUS_LABELS": STATUS_LABELS, "HABILITATION_KINDS": KINDS,
            "HABILITATION_STEPS": STEPS}


@bp.after_request
def _no_store(response: Response) -> Response:
    """Requests hold names and emails, and the access page a token: never kept by a cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


def issuer_required(view: F) -> F:
    """An issuer whose access link (kept in the cookie) is still valid; otherwise the start page."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        g.issuer = habilitation.issuer_for_token(session.get(ACCESS), clock.now())
        if g.issuer is None:
            if session.pop(ACCESS, None):
                flash("Votre lien d'accès a expiré (il vaut 3 jours) : saisissez votre adresse e-mail pour "
                      "en recevoir un nouveau.", "info")
            else:
                flash("Pour accéder à votre demande, ouvrez le lien reçu par e-mail ou demandez-en un nouveau.",
                      "info")
            return redirect(url_for("habilitation.start"))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _request(uuid: str) -> HabilitationRequest:
    """One of the signed-in issuer's requests (locked for the change when the method writes)."""
    found = queries.issuer_request(uuid, g.issuer.id, for_update=request.method == "POST")
    if found is None:
        abort(404)
    return found


def _email(recipient: str, subject: str, template: str, **context: Any) -> None:
    mail.send(recipient, subject, render_template(template, **context), clock.now())


# --- access ----------------------------------------------------------------------------------------


@bp.route("", methods=["GET", "POST"])
def start() -> Page:
    """Explain the process and ask for an email (also the way to get a new link)."""
    form = AccessForm()
    signed_in = habilitation.issuer_for_token(session.get(ACCESS), clock.now()) is not None
    if not form.validate_on_submit():
        return render_template("habilitation/start.html", form=form, signed_in=signed_in)
    now = clock.now()
    link = habilitation.request_access(form.email.data, client_ip(), now)
    db.commit()
    if link.retry_after:
        return render_template("habilitation/start.html", form=form, signed_in=signed_in,
                               retry_after=link.retry_after), 429
    if link.token is not None:
        _email(link.email, "Votre demande d'habilitation Aidants Connect : confirmez votre adresse",
               "habilitation/emails/access.txt", link=external_url("habilitation.access", token=link.token),
               start=external_url("habilitation.start"))
    return render_template("habilitation/link_sent.html", email=link.email)


@bp.route("/acces/<token>", methods=["GET", "POST"])
def access(token: str) -> Page:
    """The emailed link: a button first, then the cookie, and the issuer's requests."""
    form = ConfirmForm()
    now = clock.now()
    if habilitation.issuer_for_token(token, now) is None:
        return render_template("habilitation/link_expired.html", form=AccessForm(formdata=None)), 400
    if request.method == "GET" or not form.validate_on_submit():
        return render_template("habilitation/link_confirm.html", form=form)
    issuer = habilitation.confirm_access(token, now)
    if issuer is None:  # expired between the two clicks
        return render_template("habilitation/link_expired.html", form=AccessForm(formdata=None)), 400
    first = None if queries.issuer_requests(issuer.id) else habilitation.start_request(issuer, now)
    db.commit()
    session[ACCESS] = token
    flash("Votre adresse e-mail est confirmée.", "success")
    if first is not None:
        return redirect(url_for("habilitation.issuer_step", uuid=first.uuid))
    return redirect(url_for("habilitation.space"))


@bp.post("/quitter")
def leave() -> Response:
    """Forget the access link on this browser."""
    session.pop(ACCESS, None)
    flash("Vous avez quitté votre espace de demande. Le lien reçu par e-mail vous permet d'y revenir.", "info")
    return redirect(url_for("habilitation.start"))


@bp.get("/mes-demandes")
@issuer_required
def space() -> str:
    return render_template("habilitation/space.html", requests=queries.issuer_requests(g.issuer.id),
                           form=ConfirmForm())


@bp.post("/mes-demandes/nouvelle")
@issuer_required
def new_request() -> Page:
    try:
        created = habilitation.start_request(g.issuer, clock.now())
    except habilitation.HabilitationError as error:
        flash(str(error), "error")
        return redirect(url_for("habilitation.space"))
    db.commit()
    return redirect(url_for("habilitation.issuer_step", uuid=created.uuid))


# --- a request -------------------------------------------------------------------------------------


@bp.get("/demandes/<uuid>")
@issuer_required
def request_page(uuid: str) -> str:
    found = _request(uuid)
    return render_template("habilitation/request.html", req=found, form=MessageForm(),
                           missing=habilitation.missing_steps(found))


@bp.post("/demandes/<uuid>/messages")
@issuer_required
def post_message(uuid: str) -> Page:
    found = _request(uuid)
    form = MessageForm()
    if form.validate_on_submit():
        try:
            habilitation.add_message(found, form.body.data, clock.now())
        except habilitation.HabilitationError as error:
            form.body.errors = [str(error)]
        else:
            db.commit()
            flash("Votre message est envoyé à l'équipe Aidants Connect.", "success")
            return redirect(url_for("habilitation.request_page", uuid=uuid, _anchor="messages"))
    db.session().rollback()
    return render_template("habilitation/request.html", req=_request(uuid), form=form,
                           missing=habilitation.missing_steps(found)), 400


@bp.route("/demandes/<uuid>/abandon", methods=["GET", "POST"])
@issuer_required
def close(uuid: str) -> Page:
    found = _request(uuid)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template("habilitation/close.html", req=found, form=form)
    try:
        habilitation.close_by_issuer(found, clock.now())
    except habilitation.HabilitationError as error:
        db.session().rollback()
        return render_error(409, str(error))
    db.commit()
    flash("Votre demande est abandonnée.", "info")
    return redirect(url_for("habilitation.request_page", uuid=uuid))


# --- the draft steps -------------------------------------------------------------------------------


def _step(template: str, found: HabilitationRequest, form: Any, status: int = 200, **context: Any) -> Page:
    if not found.is_editable and request.method == "GET":
        flash(f"Cette demande ne peut plus être modifiée : elle est « {found.status_label} ».", "info")
        return redirect(url_for("habilitation.request_page", uuid=found.uuid))
    body = render_template(template, req=found, form=form, **context)
    return (body, status) if status != 200 else body


def _refused(template: str, found: HabilitationRequest, form: Any, error: Exception, **context: Any) -> Page:
    """A change the service refused: nothing is kept, the page says why."""
    db.session().rollback()
    form.form_errors.append(str(error))
    found = _request(found.uuid)
    if not found.is_editable:
        flash(str(error), "error")
        return redirect(url_for("habilitation.request_page", uuid=found.uuid))
    return _step(template, found, form, 400, **context)


@bp.route("/demandes/<uuid>/demandeur", methods=["GET", "POST"])
@issuer_required
def issuer_step(uuid: str) -> Page:
    found = _request(uuid)
    form = IssuerForm(obj=g.issuer)
    if not form.validate_on_submit():
        return _step("habilitation/step_issuer.html", found, form, 400 if request.method == "POST" else 200)
    if not found.is_editable:
        return _refused("habilitation/step_issuer.html", found, form,
                        habilitation.HabilitationError("Cette demande ne peut plus être modifiée."))
    habilitation.update_issuer(g.issuer, first_name=form.first_name.data, last_name=form.last_name.data,
                               profession=form.profession.data, phone=form.phone.data or "")
    db.commit()
    return redirect(url_for("habilitation.organisation_step", uuid=uuid))


@bp.route("/demandes/<uuid>/structure", methods=["GET", "POST"])
@issuer_required
def organisation_step(uuid: str) -> Page:
    found = _request(uuid)
    form = OrganisationForm(obj=found)
    lookup = habilitation.lookup_available()
    template = "habilitation/step_organisation.html"
    if request.method == "POST" and form.lookup.data and lookup:
        return _lookup(found, form)
    if not form.validate_on_submit():
        return _step(template, found, form, 400 if request.method == "POST" else 200, lookup=lookup)
    try:
        habilitation.save_organisation(
            found, siret=form.siret.data, name=form.name.data, kind=form.kind.data, address=form.address.data,
            zipcode=form.zipcode.data, city=form.city.data, now=clock.now())
    except habilitation.HabilitationError as error:
        return _refused(template, found, form, error, lookup=lookup)
    db.commit()
    return redirect(url_for("habilitation.referent_step", uuid=uuid))


def _lookup(found: HabilitationRequest, form: OrganisationForm) -> Page:
    """Fill the form from the Sirene record (nothing saved until the issuer checks and saves)."""
    template = "habilitation/step_organisation.html"
    if not form.siret.validate(form):
        return _step(template, found, form, 400, lookup=True)
    try:
        establishment = habilitation.lookup_siret(form.siret.data)
    except habilitation.HabilitationError as error:
        form.siret.errors = [str(error)]
        return _step(template, found, form, 400, lookup=True)
    form.siret.data = establishment.siret or form.siret.data
    form.name.data, form.address.data = establishment.name, establishment.address
    form.zipcode.data, form.city.data = establishment.zipcode, establishment.city
    if establishment.kind:
        form.kind.data = establishment.kind
    return _step(template, found, form, lookup=True, looked_up=True)


@bp.route("/demandes/<uuid>/referent", methods=["GET", "POST"])
@issuer_required
def referent_step(uuid: str) -> Page:
    found = _request(uuid)
    form = ReferentForm(data={
        "first_name": found.referent_first_name, "last_name": found.referent_last_name,
        "email": found.referent_email, "phone": found.referent_phone, "profession": found.referent_profession,
    })
    template = "habilitation/step_referent.html"
    if not form.validate_on_submit():
        return _step(template, found, form, 400 if request.method == "POST" else 200)
    try:
        habilitation.save_referent(found, first_name=form.first_name.data, last_name=form.last_name.data,
                                   email=form.email.data, phone=form.phone.data or "",
                                   profession=form.profession.data, now=clock.now())
    except habilitation.HabilitationError as error:
        return _refused(template, found, form, error)
    db.commit()
    return redirect(url_for("habilitation.aidants_step", uuid=uuid))


@bp.route("/demandes/<uuid>/aidants", methods=["GET", "POST"])
@issuer_required
def aidants_step(uuid: str) -> Page:
    found = _request(uuid)
    form = AidantForm()
    template = "habilitation/step_aidants.html"
    remove = ConfirmForm(prefix="retirer")
    if not form.validate_on_submit():
        return _step(template, found, form, 400 if request.method == "POST" else 200, remove=remove)
    try:
        row = habilitation.add_aidant(found, first_name=form.first_name.data, last_name=form.last_name.data,
                                      email=form.email.data, profession=form.profession.data, now=clock.now(),
                                      aidant_type=form.aidant_type.data or "")
    except habilitation.HabilitationError as error:
        return _refused(template, found, form, error, remove=remove)
    db.commit()
    flash(f"{row.full_name} est ajouté à la liste des aidants à former.", "success")
    return redirect(url_for("habilitation.aidants_step", uuid=uuid))


@bp.post("/demandes/<uuid>/aidants/<int:aidant_id>/retirer")
@issuer_required
def remove_aidant(uuid: str, aidant_id: int) -> Page:
    found = _request(uuid)
    try:
        habilitation.remove_aidant(found, aidant_id, clock.now())
    except habilitation.HabilitationError as error:
        db.session().rollback()
        flash(str(error), "error")
        return redirect(url_for("habilitation.aidants_step", uuid=uuid))
    db.commit()
    flash("L'aidant est retiré de la liste.", "info")
    return redirect(url_for("habilitation.aidants_step", uuid=uuid))


@bp.route("/demandes/<uuid>/envoi", methods=["GET", "POST"])
@issuer_required
def submit_step(uuid: str) -> Page:
    found = _request(uuid)
    form = SubmitForm()
    template = "habilitation/step_submit.html"
    context = {"missing": habilitation.missing_steps(found), "terms_version": TERMS_VERSION}
    if request.method == "GET" or not form.validate_on_submit():
        return _step(template, found, form, 400 if request.method == "POST" else 200, **context)
    try:
        habilitation.submit(found, terms_accepted=bool(form.terms.data), now=clock.now())
    except habilitation.HabilitationError as error:
        return _refused(template, found, form, error, **context)
    db.commit()
    _email(g.issuer.email, "Votre demande d'habilitation Aidants Connect est envoyée",
           "habilitation/emails/submitted.txt", req=found,
           page=external_url("habilitation.request_page", uuid=uuid), start=external_url("habilitation.start"))
    if current_app.config["STAFF_EMAIL"]:
        _email(current_app.config["STAFF_EMAIL"], "Nouvelle demande d'habilitation à examiner",
               "habilitation/emails/staff_new_request.txt", req=found,
               page=external_url("staff_habilitation.detail", uuid=uuid))
    flash("Votre demande est envoyée. L'équipe Aidants Connect vous répondra par e-mail.", "success")
    return redirect(url_for("habilitation.request_page", uuid=uuid))
