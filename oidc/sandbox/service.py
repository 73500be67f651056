"""A sandbox administrative website ("service de démonstration") that logs in through this very provider.

Development and training only (registered when the FranceConnect sandbox is, never in
production). It is an ordinary relying party: it reuses the FranceConnect client's flow
(oidc.client.flow) with settings that point at our own provider, and shows the identity
and the claims it received. Its client is registered on first use, with a secret derived
from SECRET_KEY, so every worker knows it and nothing lives in memory.
"""

from __future__ import annotations

import base64
import hmac
import json
from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.wrappers import Response

from aidants import clock, db
from aidants.mandats.models import DEMARCHE_LABELS
from aidants.web import public_url
from oidc.client import flow
from oidc.client.settings import Settings
from oidc.client.views import PAGES
from oidc.provider import clients
from oidc.provider.claims import REP_SCOPE_LABELS

bp = Blueprint("sandbox_service", __name__, url_prefix="/sandbox/service")

CLIENT_ID = "sandbox-service"
#: The service keeps its own cookie, as a website on another domain would: the aidant's sign-in at the
#: provider (which renews the provider's session cookie) must not touch it.
COOKIE = "sandbox_service"
COOKIE_PATH = "/sandbox/service"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(str(current_app.config["SECRET_KEY"]), salt="sandbox-service-cookie")


def _load() -> dict[str, Any]:
    try:
        data = _serializer().loads(request.cookies.get(COOKIE, ""))
    except BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def _save(response: Response, data: dict[str, Any] | None) -> Response:
    if data is None:
        response.delete_cookie(COOKIE, path=COOKIE_PATH)
    else:
        response.set_cookie(COOKIE, _serializer().dumps(data), path=COOKIE_PATH, httponly=True, samesite="Lax",
                            secure=request.is_secure)
    return response


def _secret() -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, b"sandbox-service-client-secret", "sha256").hexdigest()


def _settings() -> Settings:
    return Settings(
        # The provider in the service's own process (make run), else this very app.
        issuer=(current_app.config.get("SANDBOX_PROVIDER_URL") or public_url()).rstrip("/"),
        client_id=CLIENT_ID, client_secret=_secret(),
        redirect_uri=url_for("sandbox_service.callback", _external=True),
        post_logout_redirect_uri=url_for("sandbox_service.home", _external=True),
        scopes="openid profile email birth", acr_values="eidas1", algorithms=("ES256",), timeout=(3.0, 5.0),
    )


def _error_page(error: flow.FranceConnectError) -> Response:
    """The refusal in French, as an HTML page (the provider's kinds of refusal share the client's wording)."""
    title, explanation = PAGES.get(error.kind, PAGES["invalid"])
    explanation = explanation.replace("FranceConnect", "Aidants Connect")
    page = render_template("sandbox/service_error.html", title=title.replace("FranceConnect", "Aidants Connect"),
                           explanation=explanation)
    return Response(page, status=error.status, mimetype="text/html")


def _ensure_client(settings: Settings) -> None:
    """Register the sandbox service (or the URIs of this host and port) on first use.

    In a transaction of its own: the registration stands whatever the provider then answers (an error page
    rolls the request back).
    """
    with db.independent_transaction():
        client = clients.find(CLIENT_ID)
        if client is None:
            clients.register(
                name="Service administratif de démonstration", redirect_uris=[settings.redirect_uri],
                post_logout_redirect_uris=[settings.post_logout_redirect_uri], auth_method="client_secret_post",
                userinfo_alg="ES256", id_token_alg="ES256", act_claim=True, now=clock.now(),  # noqa: S106
                client_id=CLIENT_ID, secret=settings.client_secret, scopes=settings.scopes.split(),
            )
        else:
            clients.add_redirect_uris(client, settings.redirect_uri, settings.post_logout_redirect_uri)


@bp.get("/")
def home() -> str:
    """The service's landing page: identify a usager through Aidants Connect."""
    return render_template("sandbox/service_home.html", labels=REP_SCOPE_LABELS, titles=DEMARCHE_LABELS,
                           result=_load().get("result"))


@bp.get("/connexion")
def login() -> Response:
    """Start the authorization, optionally asking for one démarche (rep_scope)."""
    settings = _settings()
    _ensure_client(settings)
    try:
        url, pending = flow.begin(settings, 0, clock.now())
    except flow.FranceConnectError as error:
        return _error_page(error)
    demarche = request.args.get("demarche", "")
    if demarche in REP_SCOPE_LABELS:
        wanted = {"id_token": {"rep_scope": {"essential": True, "values": [REP_SCOPE_LABELS[demarche]]}}}
        url += "&claims=" + quote(json.dumps(wanted))
    return _save(redirect(url), {"pending": pending.as_session()})


@bp.get("/retour")
def callback() -> Response:
    """Verify what the provider returned and show it."""
    pending = flow.Pending.from_session(_load().get("pending"))
    try:
        identity = flow.complete(_settings(), pending, request.args, 0, clock.now())
    except flow.FranceConnectError as error:
        return _save(_error_page(error), None)
    result = {"userinfo": identity.claims, "id_token_claims": _payload(identity.id_token)}
    return _save(redirect(url_for("sandbox_service.home")), {"result": result, "id_token": identity.id_token})


@bp.post("/deconnexion")
def logout() -> Response:
    """Log out at the provider too (RP-initiated logout), then come back here."""
    data = _load()
    if not data.get("id_token"):
        return _save(redirect(url_for("sandbox_service.home")), None)
    query = urlencode({"id_token_hint": data["id_token"], "state": "sandbox",
                       "post_logout_redirect_uri": url_for("sandbox_service.home", _external=True)})
    return _save(redirect(_settings().issuer + url_for("oidc_provider.end_session") + "?" + query), None)


def _payload(token: str) -> dict[str, Any]:
    """The claims of an ID token that flow.complete has just verified (for display only)."""
    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))
