"""A FranceConnect stand-in (bac à sable) speaking FranceConnect v2's protocol, with fictitious identities.

For training aidants and for local runs; ``create_app`` registers it only outside
production (``FC_SANDBOX``). It knows one client, the app's own FranceConnect client
(FC_CLIENT_ID / FC_CLIENT_SECRET, redirect and post-logout URIs), keeps nothing in
memory or in the database (see ``signing``), and is reached over real HTTP by the
client, like any FranceConnect: discovery, /authorize (a page where the person picks
an identity), /token (client_secret_post), /userinfo (a signed JWT), /jwks, /session/end.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField

from aidants import clock, csrf
from aidants.security import crypto
from aidants.web import render_error
from oidc.sandbox.identities import BY_KEY, IDENTITIES, FictitiousIdentity
from oidc.sandbox.signing import ALG, keys

bp = Blueprint("fc_sandbox", __name__, url_prefix="/sandbox/franceconnect")

WELL_KNOWN = "/.well-known/openid-configuration"
CODE_TTL = 30
TOKEN_TTL = 60
ID_TOKEN_TTL = 60
REQUEST_TTL = 15 * 60
MIN_NONCE = 22
ACR = "eidas1"
SCOPE_CLAIMS = {
    "given_name": ("given_name",), "family_name": ("family_name",), "birthdate": ("birthdate",),
    "gender": ("gender",), "birthplace": ("birthplace",), "birthcountry": ("birthcountry",),
    "email": ("email",), "preferred_username": ("preferred_username",),
    "profile": ("given_name", "family_name", "birthdate", "gender", "preferred_username"),
    "birth": ("birthplace", "birthcountry"),
}


class ChooseIdentityForm(FlaskForm):
    """The person picks who to be; the authorization request rides along, sealed."""

    identity = StringField("Identité fictive")  # one of IDENTITIES' keys, checked by the view
    authz = HiddenField()


# --- helpers -------------------------------------------------------------------------------


def _issuer() -> str:
    return url_for("fc_sandbox.discovery", _external=True).removesuffix(WELL_KNOWN)


def _registered(config_key: str, endpoint: str) -> set[str]:
    """The client's registered URI: the configured one, else the app's own route."""
    return {current_app.config[config_key] or url_for(endpoint, _external=True)}


def _now() -> int:
    return int(clock.now().timestamp())


def _sub(identity: FictitiousIdentity, client_id: str) -> str:
    """A pairwise sub, like FranceConnect's: one per person and per service."""
    return crypto.keyed_hash(keys().sub_key, f"{client_id}|{identity.key}") + "v1"


def _with_query(uri: str, params: dict[str, str]) -> str:
    return f"{uri}{'&' if '?' in uri else '?'}{urlencode(params)}"


def _error_redirect(redirect_uri: str, error: str, description: str, state: str) -> Response:
    params = {"error": error, "error_description": description, "iss": _issuer()}
    if state:
        params["state"] = state
    return redirect(_with_query(redirect_uri, params))  # type: ignore[return-value]


def _oauth_error(error: str, description: str, status: int = 400) -> tuple[Response, int]:
    response = jsonify(error=error, error_description=description)
    response.headers["Cache-Control"] = "no-store"
    if status == 401:
        response.headers["WWW-Authenticate"] = f'Bearer error="{error}"'
    return response, status


# --- metadata ------------------------------------------------------------------------------


@bp.get(WELL_KNOWN)
def discovery() -> Response:
    issuer = _issuer()
    return jsonify({
        "issuer": issuer,
        "authorization_endpoint": issuer + "/authorize",
        "token_endpoint": issuer + "/token",
        "userinfo_endpoint": issuer + "/userinfo",
        "jwks_uri": issuer + "/jwks",
        "end_session_endpoint": issuer + "/session/end",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": [ALG],
        "userinfo_signing_alg_values_supported": [ALG],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "acr_values_supported": [ACR],
        "scopes_supported": ["openid", *SCOPE_CLAIMS],
        "claims_supported": ["sub", *sorted({c for claims in SCOPE_CLAIMS.values() for c in claims})],
        "authorization_response_iss_parameter_supported": True,
    })


@bp.get("/jwks")
def jwks() -> Response:
    return jsonify(keys().jwks())


# --- authorize -----------------------------------------------------------------------------


def _check_authorization_request(args: Any) -> tuple[dict[str, str] | None, Response | tuple[str, int] | None]:
    """The request's parameters when acceptable; else the answer to give (an error page or redirect)."""
    client_id, redirect_uri = args.get("client_id", ""), args.get("redirect_uri", "")
    if client_id != current_app.config["FC_CLIENT_ID"] or redirect_uri not in _registered(
            "FC_REDIRECT_URI", "franceconnect.callback"):
        return None, render_error(400, "Bac à sable FranceConnect : service inconnu ou adresse de retour "
                                       "non enregistrée. Aucune redirection n'a été faite.")
    state = args.get("state", "")
    scopes = args.get("scope", "").split()
    problem = None
    if args.get("response_type") != "code":
        problem = ("unsupported_response_type", "response_type must be code")
    elif "openid" not in scopes:
        problem = ("invalid_scope", "the openid scope is required")
    elif not state:
        problem = ("invalid_request", "state is required")
    elif len(args.get("nonce", "")) < MIN_NONCE:
        problem = ("invalid_request", f"nonce must be at least {MIN_NONCE} characters")
    elif ACR not in args.get("acr_values", "").split():
        problem = ("invalid_request", "acr_values must include eidas1")
    if problem is not None:
        return None, _error_redirect(redirect_uri, *problem, state)
    return {"client_id": client_id, "redirect_uri": redirect_uri, "state": state, "nonce": args["nonce"],
            "scope": " ".join(s for s in scopes if s == "openid" or s in SCOPE_CLAIMS)}, None


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Response | str | tuple[str, int]:
    """Show the fictitious identities; on choice, send a code back to the client."""
    form = ChooseIdentityForm()
    if request.method == "GET":
        params, answer = _check_authorization_request(request.args)
        if params is None:
            return answer  # type: ignore[return-value]
        form.authz.data = keys().seal("authz", {**params, "exp": _now() + REQUEST_TTL})
        return render_template("sandbox/authorize.html", form=form, identities=IDENTITIES)
    sealed = keys().unseal("authz", request.form.get("authz", ""))
    if sealed is None or sealed.get("exp", 0) < _now():
        return render_error(400, "Bac à sable FranceConnect : cette demande a expiré. Recommencez depuis le "
                                 "service qui vous a envoyé ici.")
    if not form.validate_on_submit():
        return render_error(400, "Le formulaire a expiré ou n'a pas été envoyé depuis ce site. Recommencez.")
    if request.form.get("action") == "refuser":
        return _error_redirect(sealed["redirect_uri"], "access_denied", "the person cancelled", sealed["state"])
    identity = BY_KEY.get(form.identity.data or "")
    if identity is None:
        form.identity.errors = ["Choisissez l'identité avec laquelle vous connecter."]
        return render_template("sandbox/authorize.html", form=form, identities=IDENTITIES), 200
    now = _now()
    code = keys().seal("code", {"cid": sealed["client_id"], "ruri": sealed["redirect_uri"], "idn": identity.key,
                                "nonce": sealed["nonce"], "scope": sealed["scope"], "auth_time": now,
                                "exp": now + CODE_TTL})
    return redirect(_with_query(sealed["redirect_uri"],  # type: ignore[return-value]
                                {"code": code, "state": sealed["state"], "iss": _issuer()}))


# --- token and userinfo --------------------------------------------------------------------


@bp.post("/token")
@csrf.exempt
def token() -> tuple[Response, int] | Response:
    """client_secret_post, authorization_code only; returns an access token and an ES256 ID token."""
    form = request.form
    if form.get("client_id") != current_app.config["FC_CLIENT_ID"] or not crypto.equal(
            form.get("client_secret", ""), current_app.config["FC_CLIENT_SECRET"]):
        return _oauth_error("invalid_client", "client authentication failed", 401)
    if form.get("grant_type") != "authorization_code":
        return _oauth_error("unsupported_grant_type", "authorization_code only")
    code = keys().unseal("code", form.get("code", ""))
    now = _now()
    if (code is None or code.get("exp", 0) < now or code.get("cid") != form["client_id"]
            or code.get("ruri") != form.get("redirect_uri")):
        return _oauth_error("invalid_grant", "code invalid, expired, or issued for another redirect_uri")
    identity = BY_KEY[code["idn"]]
    sub = _sub(identity, code["cid"])
    id_token = keys().sign({
        "iss": _issuer(), "sub": sub, "aud": code["cid"], "exp": now + ID_TOKEN_TTL, "iat": now,
        "auth_time": code["auth_time"], "nonce": code["nonce"], "acr": ACR, "amr": ["pwd"],
    })
    access_token = keys().seal("access", {"cid": code["cid"], "idn": identity.key, "scope": code["scope"],
                                          "exp": now + TOKEN_TTL})
    response = jsonify({"access_token": access_token, "token_type": "Bearer", "expires_in": TOKEN_TTL,
                        "id_token": id_token, "scope": code["scope"]})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/userinfo", methods=["GET", "POST"])
@csrf.exempt
def userinfo() -> tuple[Response, int] | Response:
    """The claims of the token's scopes, as a signed JWT (application/jwt), like FranceConnect v2."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    access = keys().unseal("access", value.strip()) if scheme.lower() == "bearer" else None
    if access is None or access.get("exp", 0) < _now():
        return _oauth_error("invalid_token", "access token invalid or expired", 401)
    identity = BY_KEY[access["idn"]]
    everything = identity.claims()
    claims: dict[str, Any] = {"iss": _issuer(), "aud": access["cid"], "sub": _sub(identity, access["cid"]),
                              "iat": _now()}
    for scope in access["scope"].split():
        for name in SCOPE_CLAIMS.get(scope, ()):
            claims[name] = everything[name]
    return Response(keys().sign(claims), mimetype="application/jwt", headers={"Cache-Control": "no-store"})


# --- logout --------------------------------------------------------------------------------


@bp.get("/session/end")
def end_session() -> Response | tuple[str, int]:
    """Log out (there is no sandbox session to end) and go back to a registered URI with the state."""
    hint = keys().verify(request.args.get("id_token_hint", ""))
    target = request.args.get("post_logout_redirect_uri", "")
    if hint is None or hint.get("iss") != _issuer() or hint.get("aud") != current_app.config["FC_CLIENT_ID"]:
        return render_error(400, "Bac à sable FranceConnect : déconnexion refusée, l'id_token_hint n'est pas valable.")
    if target not in _registered("FC_POST_LOGOUT_REDIRECT_URI", "franceconnect.logged_out"):
        return render_error(400, "Bac à sable FranceConnect : adresse de retour après déconnexion non enregistrée.")
    state = request.args.get("state", "")
    return redirect(_with_query(target, {"state": state}) if state else target)  # type: ignore[return-value]
