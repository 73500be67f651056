"""The staff's review of habilitation requests: list and filter, read, answer, note trainings.

Staff sign in like every aidant (email + TOTP) and hold ``Aidant.is_staff``; every route
here is ``staff_required`` (403 for other aidants, the sign-in page for visitors).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from aidants import clock, db, mail
from aidants.habilitation import queries, review
from aidants.habilitation.forms import ANSWERS, AnswerForm, ConfirmForm, FilterForm
from aidants.habilitation.models import STATUS_LABELS, HabilitationRequest
from aidants.habilitation.services import HabilitationError
from aidants.organisations import services as organisations
from aidants.web import external_url, staff_required

bp = Blueprint("staff_habilitation", __name__, url_prefix="/staff/habilitations")

Page = str | Response | tuple[str, int]

#: The subject of the email the issuer receives for each answer.
SUBJECTS = {
    "message": "Nouveau message sur votre demande d'habilitation Aidants Connect",
    "changes_required": "Votre demande d'habilitation Aidants Connect : des modifications sont demandées",
    "accepted": "Votre demande d'habilitation Aidants Connect est acceptée",
    "refused": "Votre demande d'habilitation Aidants Connect est refusée",
    "closed": "Votre demande d'habilitation Aidants Connect est close",
}


def _request(uuid: str) -> HabilitationRequest:
    found = queries.request_by_uuid(uuid, for_update=request.method == "POST")
    if found is None:
        abort(404)
    return found


def _detail(found: HabilitationRequest, form: AnswerForm, status: int = 200) -> Page:
    existing = organisations.find_by_siret(found.siret) if found.siret and found.organisation_id is None else None
    body = render_template("staff/habilitation/detail.html", req=found, form=form, answers=ANSWERS,
                           decisions=review.DECISIONS, existing=existing)
    return (body, status) if status != 200 else body


#: Decisions that end a request for good, confirmed on a page that says so first.
CONFIRMED_FIRST = ("refused", "closed")


def activation_url(token: str) -> str:
    """The absolute URL of an activation link."""
    return external_url("activation.open_link", token=token)


def _email(recipient: str, subject: str, template: str, **context: Any) -> None:
    mail.send(recipient, subject, render_template(template, **context), clock.now())


@bp.get("")
@staff_required
def index() -> str:
    form = FilterForm(formdata=request.args)
    status = form.status.data if form.status.data in STATUS_LABELS else ""
    page = request.args.get("page", 1, type=int) or 1
    found = queries.staff_page(status=status, search=form.q.data or "", page=page)
    return render_template("staff/habilitation/index.html", form=form, page=found, status=status,
                           counts=queries.status_counts())


@bp.get("/<uuid>")
@staff_required
def detail(uuid: str) -> Page:
    return _detail(_request(uuid), AnswerForm())


@bp.post("/<uuid>/reponse")
@staff_required
def answer(uuid: str) -> Page:
    """A message alone, or a decision with its message; the issuer is emailed after the commit."""
    found = _request(uuid)
    form = AnswerForm()
    action = request.form.get("action", "")
    if not form.validate_on_submit():
        return _detail(found, form, 400)
    if action in CONFIRMED_FIRST and request.form.get("confirmed") != "yes" and (
            action == "closed" or (form.body.data or "").strip()):
        # Refusing or closing ends the request for good: say so, and ask again.
        return render_template("staff/habilitation/confirm.html", req=found, action=action,
                               body=form.body.data or "", form=form)
    now = clock.now()
    try:
        if action == "message":
            review.post_message(found, g.aidant, form.body.data or "", now)
            acceptance = None
        else:
            acceptance = review.decide(found, g.aidant, action, form.body.data or "", now, link_for=activation_url)
    except HabilitationError as error:
        db.session().rollback()
        form.form_errors.append(str(error))
        return _detail(_request(uuid), form, 400)
    db.commit()
    context = {"req": found, "action": action, "message": (form.body.data or "").strip(),
               "page": external_url("habilitation.request_page", uuid=uuid),
               "start": external_url("habilitation.start")}
    _email(found.issuer.email, SUBJECTS[action], "habilitation/emails/answer.txt", **context)
    if acceptance is not None and acceptance.referent_created and not acceptance.activation_sent:
        _email(acceptance.referent.email, "Votre structure est habilitée à Aidants Connect",
               "habilitation/emails/referent.txt", req=found, referent=acceptance.referent,
               login=external_url("accounts.login"))
    flash({
        "message": "Le message est envoyé au demandeur.",
        "changes_required": "Les modifications sont demandées ; le demandeur est prévenu par e-mail.",
        "accepted": "La demande est acceptée : la structure, son référent et les aidants à former sont créés ; le "
                    "référent reçoit un lien d'activation (valable 7 jours) pour choisir son moyen de connexion.",
        "refused": "La demande est refusée ; le demandeur est prévenu par e-mail.",
        "closed": "La demande est close ; le demandeur est prévenu par e-mail.",
    }[action], "success")
    return redirect(url_for("staff_habilitation.detail", uuid=uuid))


@bp.post("/<uuid>/aidants/<int:aidant_id>/formation")
@staff_required
def trained(uuid: str, aidant_id: int) -> Page:
    """The aidant's training is done: their account is activated and they are emailed."""
    found = _request(uuid)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        aidant, link_sent = review.mark_trained(found, aidant_id, g.aidant, clock.now(), link_for=activation_url)
    except HabilitationError as error:
        db.session().rollback()
        flash(str(error), "error")
        return redirect(url_for("staff_habilitation.detail", uuid=uuid))
    db.commit()
    if link_sent:
        flash(f"La formation de {aidant.full_name} est notée : un lien d'activation lui est envoyé par e-mail "
              "(valable 7 jours) pour installer une application ou activer sa carte.", "success")
        return redirect(url_for("staff_habilitation.detail", uuid=uuid, _anchor="aidants"))
    _email(aidant.email, "Votre compte Aidants Connect est activé", "habilitation/emails/aidant_activated.txt",
           aidant=aidant, organisation=found.organisation, login=external_url("accounts.login"))
    flash(f"La formation de {aidant.full_name} est notée : son compte est activé et un e-mail lui est envoyé.",
          "success")
    return redirect(url_for("staff_habilitation.detail", uuid=uuid, _anchor="aidants"))

