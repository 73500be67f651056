"""Mandates at the desk: creation and recap, attestation, espace aidant, renewal, revocation, public verification.

Every aidant route is scoped to the aidant's current organisation: another
structure's mandate answers 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from aidants import clock, db
from aidants.mandats import attestation, queries
from aidants.mandats import services as mandats
from aidants.mandats.forms import MandatForm, RecapForm, RevokeForm, SearchForm
from aidants.mandats.models import (
    DEMARCHE_DESCRIPTIONS,
    DEMARCHE_LABELS,
    DURATION_LABELS,
    STATUS_LABELS,
    TEMPLATE_VERSION,
    Mandat,
)
from aidants.web import login_required, render_error, sensitive

bp = Blueprint("mandats", __name__)

DRAFT = "mandat_draft"
Page = str | Response | tuple[str, int]


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {"DEMARCHE_LABELS": DEMARCHE_LABELS, "DEMARCHE_DESCRIPTIONS": DEMARCHE_DESCRIPTIONS,
            "DURATION_LABELS": DURATION_LABELS,
            "STATUS_LABELS": STATUS_LABELS, "JOURNAL_LABELS": attestation.JOURNAL_LABELS}


def _code(form: RecapForm | RevokeForm) -> str:
    return "".join((form.code.data or "").split())


def _public_base() -> str:
    return str(current_app.config.get("PUBLIC_URL") or current_app.config.get("SERVER_NAME_FOR_LINKS") or "")


def _issuer() -> str:
    """Our issuer URL (PUBLIC_URL in production), the ``iss`` of mandate attestations."""
    return (_public_base() or request.url_root).rstrip("/")


def _verify_url(mandat: Mandat) -> str:
    base = _public_base()
    if base:
        return base.rstrip("/") + url_for("mandats.verify", uuid=mandat.uuid)
    return url_for("mandats.verify", uuid=mandat.uuid, _external=True)


def _organisation_id() -> int:
    organisation_id = g.aidant.current_organisation_id
    if organisation_id is None:
        abort(403)
    return int(organisation_id)


def _mandat_or_404(uuid: str) -> Mandat:
    mandat = queries.mandat_in_organisation(uuid, _organisation_id())
    if mandat is None:
        abort(404)
    return mandat


def _refused(error: mandats.MandatError) -> tuple[str, int]:
    return render_error(403, str(error))


# --- creation ------------------------------------------------------------------------------------


@bp.route("/mandats/nouveau", methods=["GET", "POST"])
@sensitive
def new() -> Page:
    """Choose the démarches and the duration, then identify the usager with FranceConnect."""
    try:
        organisation = mandats.check_may_create(g.aidant)
    except mandats.MandatError as error:
        return _refused(error)
    form = MandatForm().set_demarches(organisation.demarches)
    previous = session.get(DRAFT)
    previous = previous if isinstance(previous, dict) and previous.get("organisation_id") == organisation.id else {}
    identified = mandats.identified_usager(previous)
    context = {"form": form, "organisation": organisation, "identified": identified}
    if request.method == "GET":
        if previous:  # "Modifier" from the recap: the choices made so far
            form.demarches.data = [d for d in previous.get("demarches") or [] if d in organisation.demarches]
            form.duration.data = previous.get("duration")
        return render_template("mandats/new.html", **context)
    if not form.validate_on_submit():
        return render_template("mandats/new.html", **context), 400
    try:
        demarches = mandats.check_choices(organisation, form.demarches.data or [], form.duration.data or "")
    except mandats.MandatError as error:
        form.form_errors.append(str(error))
        return render_template("mandats/new.html", **context), 400
    session[DRAFT] = {"demarches": demarches, "duration": form.duration.data, "organisation_id": organisation.id}
    if identified is not None and request.form.get("garder_usager") == "1":
        # Changed démarches or duration for the usager FranceConnect identified a moment ago: back to the recap.
        session[DRAFT]["usager_id"] = identified.id
        return redirect(url_for("mandats.recap"))
    try:
        return redirect(url_for("franceconnect.start"))
    except BuildError:
        return render_error(503, "L'identification FranceConnect n'est pas disponible pour le moment.")


@bp.route("/mandats/recapitulatif", methods=["GET", "POST"])
@login_required
def recap() -> Page:
    """After FranceConnect: the aidant checks the mandate, types a code, and confirms the usager's consent."""
    form = RecapForm()
    draft = session.get(DRAFT)
    if request.method == "POST" and form.token.data:
        done = mandats.created_by_form(form.token.data)
        if done is not None:  # the same form again, after the first one went through
            flash("Ce mandat a déjà été créé : le formulaire avait été envoyé deux fois.", "info")
            return redirect(url_for("mandats.detail", uuid=done.uuid))
    if not isinstance(draft, dict):
        return render_template("mandats/no_draft.html"), 400
    now = clock.now()
    try:
        summary = mandats.read_draft(g.aidant, draft, now)
    except mandats.MandatError as error:
        return render_error(400, str(error))
    if "token" not in draft or draft.get("token_usager_id") != summary.usager.id:
        # One token per (draft, usager): a recap shown for another identification cannot be confirmed.
        draft["token"], draft["token_usager_id"] = mandats.new_form_token(), summary.usager.id
        session.modified = True
    page = {"form": form, "draft": summary, "preview": mandats.preview(summary, now),
            "text_template": f"mandats/textes/{TEMPLATE_VERSION}.html"}
    if request.method == "GET":
        form.token.data = draft["token"]
        return render_template("mandats/recap.html", **page)
    if not form.validate_on_submit():
        return render_template("mandats/recap.html", **page), 400
    if form.token.data != draft["token"]:
        form.form_errors.append("Ce récapitulatif a été remplacé par un autre mandat en préparation. "
                                "Vérifiez les informations ci-dessous puis validez à nouveau.")
        form.token.data = draft["token"]
        return render_template("mandats/recap.html", **page), 409
    try:
        mandat = mandats.create_mandat(
            aidant=g.aidant, usager_id=summary.usager.id, organisation_id=summary.organisation.id,
            demarches=summary.demarches, duration=summary.duration, code=_code(form),
            consent=bool(form.consent.data), form_token=draft["token"], issuer=_issuer(), now=now,
        )
    except mandats.MandatError as error:
        return _creation_failed(error, form, "mandats/recap.html", **page)
    session.pop(DRAFT, None)
    flash("Le mandat est créé. Imprimez l'attestation et faites-la signer par l'usager.", "success")
    return redirect(url_for("mandats.detail", uuid=mandat.uuid))


@bp.post("/mandats/annuler")
@login_required
def cancel_draft() -> Response:
    """« Annuler » on the recap: forget the mandate being prepared; nothing was recorded."""
    session.pop(DRAFT, None)
    flash("La création du mandat est annulée : rien n'a été enregistré.", "info")
    return redirect(url_for("accounts.dashboard"))


def _creation_failed(error: mandats.MandatError, recap_form: RecapForm, template: str, **context: Any) -> Page:
    """Answer a refused creation or renewal: nothing is kept (a wrong code's count is kept on its own)."""
    context.setdefault("form", recap_form)
    if isinstance(error, mandats.WrongCode):
        recap_form.code.errors = [str(error)]
        return render_template(template, **context), 400
    db.refuse()  # the answer may be a redirect to the twin: still keep nothing of this request
    if isinstance(error, mandats.AlreadyCreated):
        session.pop(DRAFT, None)
        flash(str(error), "info")
        return redirect(url_for("mandats.detail", uuid=error.uuid))
    twin = mandats.created_by_form(recap_form.token.data or "")
    if twin is not None:
        session.pop(DRAFT, None)
        flash("Ce mandat a déjà été créé : le formulaire avait été envoyé deux fois.", "info")
        return redirect(url_for("mandats.detail", uuid=twin.uuid))
    recap_form.form_errors.append(str(error))
    return render_template(template, **context), 400


# --- the mandate, its attestation, its public verification ---------------------------------------


@bp.get("/mandats/<uuid>")
@login_required
def detail(uuid: str) -> Page:
    mandat = _mandat_or_404(uuid)
    return render_template("mandats/detail.html", mandat=mandat, now=clock.now(),
                           journal=queries.journal_of_mandat(mandat.id))


@bp.get("/mandats/<uuid>/attestation")
@login_required
def attestation_page(uuid: str) -> Page:
    mandat = _mandat_or_404(uuid)
    url = _verify_url(mandat)
    return render_template("mandats/attestation.html", mandat=mandat, verify_url=url, qr=attestation.qr_code(url),
                           credential_qr=attestation.credential_qr(mandat.jws),
                           text_template=f"mandats/textes/{mandat.template_version}.html")


@bp.get("/verifier/<uuid>")
def verify(uuid: str) -> Page:
    """Public: the status of a mandate, for whoever scans the attestation's QR code."""
    mandat = queries.mandat_by_uuid(uuid)
    if mandat is None:
        return render_error(404, "Aucun mandat ne correspond à ce code. Vérifiez l'adresse ou le QR code scanné.")
    response = make_response(render_template("mandats/verify.html",
                                             status=attestation.public_status(mandat, clock.now())))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/verifier/<uuid>/statut.json")
def status_json(uuid: str) -> Response:
    """Public: the same status as JSON (valid, expired or revoked, and for which démarches)."""
    mandat = queries.mandat_by_uuid(uuid)
    if mandat is None:
        response = jsonify({"error": "not_found", "message": "Aucun mandat ne correspond à ce code."})
        response.status_code = 404
    else:
        response = jsonify(attestation.public_status(mandat, clock.now()))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


# --- espace aidant -------------------------------------------------------------------------------


@bp.get("/espace-aidant/usagers")
@login_required
def usagers() -> Page:
    form = SearchForm(request.args)
    tab = request.args.get("filtre", "tous")
    tab = tab if tab in queries.TABS else "tous"
    now = clock.now()
    filters = queries.UsagerFilters(search=(form.q.data or "")[:100], tab=tab)
    found = queries.usager_window(_organisation_id(), now, filters, request.args.get("curseur"))
    return render_template("mandats/usagers.html", form=form, page=found, tab=tab, now=now)


@bp.get("/espace-aidant/usagers/<int:usager_id>")
@login_required
def usager(usager_id: int) -> Page:
    organisation_id = _organisation_id()
    found = queries.usager_in_organisation(usager_id, organisation_id)
    if found is None:
        abort(404)
    return render_template("mandats/usager.html", usager=found, now=clock.now(),
                           mandats=queries.mandats_of_usager(usager_id, organisation_id))


# --- renewal -------------------------------------------------------------------------------------


@bp.route("/mandats/<uuid>/renouveler", methods=["GET", "POST"])
@sensitive
def renew(uuid: str) -> Page:
    """Renew without FranceConnect: démarches, duration, code and consent on one page."""
    mandat = _mandat_or_404(uuid)
    now = clock.now()
    try:
        organisation = mandats.check_renewable(g.aidant, mandat, now)
    except mandats.MandatError as error:
        return _refused(error)
    form = MandatForm().set_demarches(organisation.demarches)
    recap = RecapForm()
    if request.method == "GET":
        form.demarches.data = [d for d in mandat.demarches if d in organisation.demarches]
        form.duration.data = mandat.duration
        recap.token.data = mandats.new_form_token()
        return render_template("mandats/renew.html", form=form, recap=recap, mandat=mandat)
    done = mandats.created_by_form(recap.token.data or "")
    if done is not None:
        flash("Ce mandat a déjà été renouvelé : le formulaire avait été envoyé deux fois.", "info")
        return redirect(url_for("mandats.detail", uuid=done.uuid))
    valid = form.validate_on_submit()
    if not (recap.validate() and valid) or len(recap.token.data or "") < 32:
        return render_template("mandats/renew.html", form=form, recap=recap, mandat=mandat), 400
    try:
        renewed = mandats.renew_mandat(
            aidant=g.aidant, mandat=mandat, demarches=form.demarches.data or [], duration=form.duration.data or "",
            code=_code(recap), consent=bool(recap.consent.data), form_token=recap.token.data or "",
            issuer=_issuer(), now=now,
        )
    except mandats.MandatError as error:
        return _creation_failed(error, recap, "mandats/renew.html", form=form, recap=recap, mandat=mandat)
    flash("Le mandat est renouvelé. Imprimez la nouvelle attestation et faites-la signer par l'usager.", "success")
    return redirect(url_for("mandats.detail", uuid=renewed.uuid))


# --- revocation ----------------------------------------------------------------------------------


@bp.route("/mandats/<uuid>/revoquer", methods=["GET", "POST"])
@login_required
def revoke(uuid: str) -> Page:
    """Revoke every active autorisation of the mandate, after a confirmation and the aidant's code."""
    return _revoke(_mandat_or_404(uuid), None)


@bp.route("/mandats/<uuid>/autorisations/<int:autorisation_id>/revoquer", methods=["GET", "POST"])
@login_required
def revoke_autorisation(uuid: str, autorisation_id: int) -> Page:
    """Revoke one autorisation, after a confirmation and the aidant's code."""
    mandat = _mandat_or_404(uuid)
    if autorisation_id not in {a.id for a in mandat.autorisations}:
        abort(404)
    return _revoke(mandat, autorisation_id)


def _revoke(mandat: Mandat, autorisation_id: int | None) -> Page:
    now = clock.now()
    targets = [a for a in mandat.autorisations
               if a.is_active(now) and (autorisation_id is None or a.id == autorisation_id)]
    form = RevokeForm()
    context = {"form": form, "mandat": mandat, "targets": targets, "whole": autorisation_id is None}
    if not targets:
        return render_template("mandats/revoke.html", **context,
                               nothing="Il n'y a rien à révoquer : déjà révoqué ou expiré."), 409
    if request.method == "GET":
        return render_template("mandats/revoke.html", **context)
    if not form.validate_on_submit():
        return render_template("mandats/revoke.html", **context), 400
    try:
        mandats.revoke(aidant=g.aidant, mandat=mandat, code=_code(form), now=now, autorisation_id=autorisation_id)
    except mandats.WrongCode as error:  # the failed code is counted on its own
        form.code.errors = [str(error)]
        return render_template("mandats/revoke.html", **context), 400
    except mandats.MandatError as error:
        form.form_errors.append(str(error))
        return render_template("mandats/revoke.html", **context), 409
    flash("La révocation est enregistrée et s'applique dès maintenant. Imprimez l'attestation de révocation.",
          "success")
    return redirect(url_for("mandats.revocation_attestation", uuid=mandat.uuid))


@bp.get("/mandats/<uuid>/attestation-revocation")
@login_required
def revocation_attestation(uuid: str) -> Page:
    mandat = _mandat_or_404(uuid)
    revoked = [a for a in mandat.autorisations
               if a.revoked_at is not None and a.revoked_reason in ("revocation", "usager")]
    if not revoked:
        return render_error(404, "Aucune autorisation de ce mandat n'a été révoquée.")
    url = _verify_url(mandat)
    return render_template("mandats/revocation_attestation.html", mandat=mandat, revoked=revoked,
                           verify_url=url, qr=attestation.qr_code(url))
