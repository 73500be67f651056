"""Provider endpoints: discovery, authorize (the aidant's choice), token, userinfo, end-session."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6750 import InvalidTokenError
from flask import Blueprint, Response, current_app, g, jsonify, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from aidants import clock, csrf
from aidants.accounts import services as accounts
from oidc.provider import authorize as rules
from oidc.provider import claims, logout, server, store, tokens

bp = Blueprint("oidc_provider", __name__)


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    """The provider's metadata, serialised once per process for each issuer and mount point.

    It depends only on configuration (PUBLIC_URL, the routes, what we support), never on stored state,
    so there is nothing to re-read; the mount point (``script_root``) is part of the key because the
    endpoints' paths include it.
    """
    key = (tokens.issuer(), request.script_root)
    known: dict[tuple[str, str], bytes] = current_app.extensions.setdefault("oidc_discovery", {})
    body = known.get(key)
    if body is None:
        body = json.dumps(_metadata(key[0]), separators=(",", ":")).encode()
        if len(known) < 8:  # a deployment has one or two; never let the memo grow with odd requests
            known[key] = body
    return Response(body, mimetype="application/json")


def _metadata(base: str) -> dict[str, Any]:
    return {
        "issuer": base,
        "authorization_endpoint": base + url_for("oidc_provider.authorize"),
        "token_endpoint": base + url_for("oidc_provider.token"),
        "userinfo_endpoint": base + url_for("oidc_provider.userinfo"),
        "end_session_endpoint": base + url_for("oidc_provider.end_session"),
        "jwks_uri": base + url_for("keys.jwks"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "userinfo_signing_alg_values_supported": ["ES256", "RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", "birth", "given_name", "family_name", "birthdate",
                             "gender", "birthplace", "birthcountry", "preferred_username"],
        "claims_supported": ["sub", "given_name", "family_name", "birthdate", "gender", "birthplace",
                             "birthcountry", "email", "preferred_username", "rep_scope", "act", "acr",
                             "auth_time", "nonce"],
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "acr_values_supported": ["eidas1"],
        "prompt_values_supported": ["login", "consent", "none"],
    }


def _error_page(message: str, status: int = 400) -> tuple[str, int]:
    return render_template("oidc/error.html", message=message), status


def _with_iss(response: WerkzeugResponse) -> WerkzeugResponse:
    """RFC 9207: every authorization response to the client (success or error) names us in ``iss``."""
    location = response.headers.get("Location")
    if location and 300 <= response.status_code < 400:
        response.headers["Location"] = add_params_to_uri(location, [("iss", tokens.issuer())])
    return response


def _to_client(error: OAuth2Error, redirect_uri: str | None = None) -> WerkzeugResponse:
    """An OIDC error sent back to the client's (already checked) redirect URI, with its state."""
    error.redirect_uri = error.redirect_uri or redirect_uri
    error.state = request.args.get("state")
    return _with_iss(server.server().handle_error_response(None, error))


#: The authorization request under way in this browser and when it first reached us (for prompt=login).
STARTED = "oidc_request"


def _started_at(client_id: str, redirect_uri: str, now: dt.datetime) -> dt.datetime:
    """When this authorization request first reached us in this browser (kept across the sign-in)."""
    key = rules.request_key(client_id, redirect_uri, request.args.get("state", ""), request.args.get("nonce", ""))
    found = session.get(STARTED)
    if isinstance(found, list) and len(found) == 2 and found[0] == key:
        try:
            return dt.datetime.fromisoformat(str(found[1]))
        except ValueError:
            pass
    session[STARTED] = [key, now.isoformat()]
    return now


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    """Validate, make sure a recently verified aidant is here, let them choose usager and démarche."""
    now = clock.now()
    rules.read_ahead(request.args, request.form if request.method == "POST" else None, g.aidant, now)
    try:
        client, redirect_uri = rules.check_client(request.args)
    except rules.PageError as error:
        return _error_page(str(error))
    try:
        checked = rules.check_request(request.args, client, redirect_uri,
                                      _started_at(client.client_id, redirect_uri, now))
        grant = server.server().get_consent_grant(end_user=g.aidant)
    except OAuth2Error as error:
        return _to_client(error, redirect_uri)
    if g.aidant is None or g.aidant.current_organisation is None:
        return redirect(url_for("accounts.login", next=request.full_path))
    refusal = rules.refusal_to_use(g.aidant)
    if refusal is not None:
        return _error_page(refusal, 403)
    if request.method == "POST":
        return _decide(checked, grant, now)
    usager_id = request.args.get("usager", type=int)  # not a number: the list of usagers
    if usager_id is not None:
        usager_id = rules.form_id(str(usager_id))  # beyond the range: names no usager
    if usager_id is None:
        found = rules.usagers(checked, g.aidant, now, request.args.get("q", ""))
        if not found and not request.args.get("q"):
            return _to_client(rules.nothing_to_offer(), checked.redirect_uri)
        return render_template("oidc/choose_usager.html", usagers=found, client=client,
                               query=request.args.get("q", ""), params=_oidc_params())
    offers = rules.offers(checked, g.aidant, usager_id, now)
    if not offers:
        return _to_client(rules.nothing_to_offer(), checked.redirect_uri)
    return render_template("oidc/choose_demarche.html", offers=offers, client=client, usager=offers[0].usager,
                           needs_code=rules.needs_code(checked, g.aidant_session, now), params=_oidc_params(),
                           labels=claims.REP_SCOPE_LABELS)


def _oidc_params() -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.args.items(multi=True) if k in rules.KNOWN_PARAMS]


def _decide(checked: rules.Request, grant: Any, now: Any) -> Any:
    if request.form.get("action") == "refuser":
        return _with_iss(server.server().create_authorization_response(grant.request, grant_user=None, grant=grant))
    usager_id = rules.form_id(request.form.get("usager_id"))
    choice = rules.choose(checked, g.aidant, g.aidant_session, usager_id,
                          rules.form_id(request.form.get("autorisation_id")),
                          "".join(request.form.get("code", "").split()), now)
    if isinstance(choice, str):  # a wrong code was counted towards the lockout, in its own transaction
        offers = rules.offers(checked, g.aidant, usager_id, now)
        if not offers or g.aidant_session.revoked_at is not None:
            return _to_client(rules.nothing_to_offer(), checked.redirect_uri)
        return render_template("oidc/choose_demarche.html", offers=offers, client=checked.client,
                               usager=offers[0].usager, needs_code=rules.needs_code(checked, g.aidant_session, now),
                               params=_oidc_params(), labels=claims.REP_SCOPE_LABELS, error=choice), 400
    response = _with_iss(server.server().create_authorization_response(grant.request, grant_user=choice, grant=grant))
    return response


@bp.get("/authorize/usagers")
def search_usagers() -> Any:
    """Search as you type on the authorization page (same rules as the page)."""
    if g.aidant is None or g.aidant.current_organisation_id is None:
        return jsonify({"error": "login_required"}), 401
    try:
        client, redirect_uri = rules.check_client(request.args)
        checked = rules.check_request(request.args, client, redirect_uri, clock.now())
    except (rules.PageError, OAuth2Error):
        return jsonify({"error": "invalid_request"}), 400
    if rules.refusal_to_use(g.aidant) is not None:
        return jsonify({"error": "access_denied"}), 403
    found = rules.usagers(checked, g.aidant, clock.now(), request.args.get("q", ""))
    return jsonify([{"id": u.id, "name": u.full_name, "birthdate": u.birthdate} for u in found])


@bp.post("/token")
@csrf.exempt
def token() -> Any:
    if not _basic_credentials_readable(request.headers.get("Authorization", "")):
        return jsonify({"error": "invalid_client",
                        "error_description": "Basic credentials must be base64 of UTF-8 text."}), 401
    # The token and its journal entry are committed by the boundary; a replayed code's revocation
    # was written in its own transaction (oidc.provider.server), so the error answer keeps it.
    return server.server().create_token_response()


def _basic_credentials_readable(header: str) -> bool:
    """Whether HTTP Basic credentials (if any) decode as base64 then UTF-8 (authlib assumes they do)."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return True
    try:
        base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    return True


@bp.route("/userinfo", methods=["GET", "POST"])
@csrf.exempt
def userinfo() -> Any:
    """The usager's identity, only while the autorisation is still active; each call journaled."""
    try:
        found: store.BearerRecord = server.protector().acquire_token()
    except OAuth2Error as error:
        return _bearer_error(error)
    now = clock.now()
    if found.identity is None:  # read with the token, at this very request: a revocation counts at once
        return _bearer_error(InvalidTokenError(description="The mandate behind this token is no longer active."))
    info = claims.userinfo(found.client.client_id, found.identity, found.scope)
    server.journal_use(found, found.client.client_id, now, "userinfo")
    if found.client.userinfo_alg:
        body = tokens.signed_userinfo(found.client, info, now)
        return Response(body, content_type="application/jwt", headers={"Cache-Control": "no-store"})
    response = jsonify(info)
    response.headers["Cache-Control"] = "no-store"
    return response


def _bearer_error(error: OAuth2Error) -> Response:
    """An RFC 6750 error: JSON body and a WWW-Authenticate header."""
    status, body, headers = error(None)
    return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")


@bp.route("/session/end", methods=["GET", "POST"])
def end_session() -> Any:
    """RP-initiated logout: a fresh hint naming this browser's session ends it at once; otherwise ask first.

    A missing, expired or foreign hint (another session's ``sid``) gets a confirmation page whose POST
    (CSRF-protected) ends this browser's session only; the return URI must be registered for the client.
    """
    source = request.form if request.method == "POST" else request.args
    try:
        ending = logout.read(source, g.aidant_session, clock.now())
    except logout.LogoutError as error:
        return _error_page(str(error))
    if request.method == "GET" and not ending.confirmed:
        return render_template("oidc/confirm_logout.html", ending=ending, signed_in=g.aidant is not None)
    if g.aidant_session is not None:
        accounts.end_session(g.aidant_session, clock.now())
    session.clear()
    if not ending.target:
        return render_template("oidc/logged_out.html")
    return redirect(ending.redirect_url())
