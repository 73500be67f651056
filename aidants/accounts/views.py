"""Sign-in, sign-out, activity check, the aidant's space and their TOTP devices."""

from __future__ import annotations

import segno
from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from aidants import clock
from aidants.accounts import devices
from aidants.accounts import services as accounts
from aidants.accounts.forms import CardForm, CodeForm, ConfirmForm, LoginForm
from aidants.mandats import queries as mandat_queries
from aidants.outbox.services import queue_mail
from aidants.security import crypto
from aidants.web import client_ip, external_url, login_required, render_error, safe_next, sensitive

bp = Blueprint("accounts", __name__)

GENERIC_FAILURE = ("Adresse e-mail ou code incorrect, ou compte temporairement bloqué. "
                   "Vérifiez votre saisie et réessayez avec le code suivant.")


def _code(form: CodeForm | LoginForm) -> str:
    return "".join(form.code.data.split())


@bp.get("/")
def home() -> str | Response:
    if g.aidant is not None:
        return redirect(url_for("accounts.dashboard"))
    return render_template("home.html")


@bp.route("/connexion", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if g.aidant is not None:
        return redirect(url_for("accounts.dashboard"))
    form = LoginForm(next=request.args.get("next", ""))
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    now = clock.now()
    target = safe_next(form.next.data, "")
    binding = session.get(BINDING) or crypto.new_token()
    session[BINDING] = binding  # the link will open a session in this browser only
    attempt = accounts.request_login(form.email.data, _code(form), client_ip(), now, target, binding)
    if attempt.ok and attempt.aidant is not None and attempt.link_token is not None:
        # Queued in the same transaction as the link itself: both or neither (a worker sends it).
        link = external_url("accounts.login_link", token=attempt.link_token)
        queue_mail(attempt.aidant.email, "Votre lien de connexion à Aidants Connect",
                   render_template("auth/login_email.txt", aidant=attempt.aidant, link=link), now=now,
                   kind="login_link")
    if attempt.retry_after:
        return render_template("auth/login.html", form=form, retry_after=attempt.retry_after), 429
    if not attempt.ok or attempt.aidant is None or attempt.link_token is None:
        form.form_errors.append(GENERIC_FAILURE)
        return render_template("auth/login.html", form=form), 200
    return render_template("auth/link_sent.html", email=attempt.aidant.email)


#: The random value that binds a login link to the browser that asked for it (its hash is kept with the link).
BINDING = "login_binding"
#: The link being opened, kept here so that the address bar (and the logs) lose the token at once.
PENDING = "login_link"


@bp.route("/connexion/lien/<token>", methods=["GET", "POST"])
def login_link(token: str) -> str | Response | tuple[str, int]:
    """The emailed link: keep its token in this browser's cookie and go on at an address without it."""
    link = accounts.peek_login_link(token, clock.now())
    if link is None:
        return _link_unusable()
    if accounts.opened_elsewhere(link, session.get(BINDING, "")):
        return _link_elsewhere()
    session[PENDING] = token
    if request.method == "POST":  # a form of before the clean address: same as confirming there
        return open_login_link()
    return redirect(url_for("accounts.open_login_link"))


@bp.route("/connexion/lien", methods=["GET", "POST"])
def open_login_link() -> str | Response | tuple[str, int]:
    """Show a button first (mail scanners that open links must not spend them), then open the session."""
    form = ConfirmForm()
    now = clock.now()
    token = str(session.get(PENDING) or "")
    if request.method == "GET" or not form.validate_on_submit():
        if not token or accounts.peek_login_link(token, now) is None:
            return _link_unusable()
        return render_template("auth/link_confirm.html", form=form)
    opened = accounts.use_login_link(token, client_ip(), now, session.get(BINDING, "")) if token else None
    if opened is None:
        return _link_unusable()
    under_way = session.get("oidc_request")  # an authorization that led here: its sign-in counts for it
    session.clear()
    session.permanent = True
    session["sid"] = opened.token
    if under_way is not None:
        session["oidc_request"] = under_way
    flash(f"Bienvenue, {opened.aidant.first_name}.", "success")
    return redirect(safe_next(opened.next_url, url_for("accounts.dashboard")))


def _link_unusable() -> tuple[str, int]:
    """Say what happened (expired or used) and offer a new link."""
    return render_template("auth/link_expired.html"), 400


def _link_elsewhere() -> tuple[str, int]:
    return render_error(400, "Ce lien de connexion ne s'ouvre que dans le navigateur où vous avez saisi votre "
                             "code. Ouvrez-le dans ce navigateur-là (sur le même poste), ou connectez-vous à "
                             "nouveau depuis celui-ci pour recevoir un nouveau lien.")


@bp.route("/connexion/verification", methods=["GET", "POST"])
@login_required
def reverify() -> str | Response:
    form = CodeForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        ok = accounts.reverify(g.aidant_session, _code(form), clock.now())  # failures count on their own
        if ok:
            return redirect(safe_next(form.next.data, url_for("accounts.dashboard")))
        if g.aidant_session.revoked_at is not None:
            session.clear()
            flash("Trop de codes erronés : votre compte est bloqué pendant 15 minutes.", "error")
            return redirect(url_for("accounts.login"))
        form.code.errors = ["Ce code n'est pas valable. Attendez le code suivant et réessayez."]
    return render_template("auth/reverify.html", form=form)


@bp.post("/deconnexion")
@login_required
def logout() -> Response:
    accounts.logout(g.aidant_session, clock.now())
    session.clear()
    flash("Vous êtes déconnecté. Vos sessions ouvertes sur d'autres postes sont fermées aussi.", "info")
    return redirect(url_for("accounts.login"))


@bp.get("/espace-aidant")
@login_required
def dashboard() -> str:
    """Tiles to the daily work, the structure's mandates ending within 30 days, the aidant's devices, help."""
    now = clock.now()
    organisation_id = g.aidant.current_organisation_id
    expiring = mandat_queries.expiring_mandats(organisation_id, now) if organisation_id is not None else []
    return render_template("accounts/dashboard.html", devices=devices.usable_devices(g.aidant), expiring=expiring,
                           now=now)


@bp.route("/espace-aidant/application", methods=["GET", "POST"])
@sensitive
def enrol_app() -> str | Response:
    """Show the QR code of a pending app device (kept across reloads) until a code confirms it."""
    form = CodeForm()
    now = clock.now()
    enrolment = devices.pending_enrolment(g.aidant)
    if enrolment is not None and form.validate_on_submit():
        if devices.confirm_app_enrolment(g.aidant, _code(form), now):
            flash("Votre application est activée : vous pouvez l'utiliser pour vous connecter.", "success")
            return redirect(url_for("accounts.dashboard"))
        form.code.errors = ["Ce code ne correspond pas. Vérifiez l'heure de votre téléphone et réessayez."]
    if enrolment is None:
        enrolment = devices.start_app_enrolment(g.aidant, now)
    qr = segno.make(enrolment.uri, error="m").svg_data_uri(scale=4, border=2)
    return render_template("accounts/enrol_app.html", form=form, qr=qr, secret=enrolment.secret)


@bp.route("/espace-aidant/carte", methods=["GET", "POST"])
@sensitive
def activate_card() -> str | Response | tuple[str, int]:
    form = CardForm()
    if form.validate_on_submit():
        error = devices.activate_card(
            g.aidant, form.serial_number.data, "".join(form.first_code.data.split()),
            "".join(form.second_code.data.split()), clock.now(),
        )
        if error is None:
            flash("Votre carte est activée : vous pouvez l'utiliser pour vous connecter.", "success")
            return redirect(url_for("accounts.dashboard"))
        current_app.logger.info("card activation refused for aidant %s", g.aidant.id)
        form.form_errors.append(error)
        return render_template("accounts/activate_card.html", form=form), 422
    return render_template("accounts/activate_card.html", form=form)
