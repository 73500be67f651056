"""The rules of the authorization page: which request is acceptable, what the aidant may choose."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import AccessDeniedError, InvalidRequestError, InvalidScopeError
from authlib.oidc.core.errors import LoginRequiredError, RequestNotSupportedError, RequestURINotSupportedError
from flask import current_app
from werkzeug.datastructures import MultiDict

from aidants.accounts import services as accounts
from aidants.accounts.models import Aidant, AidantSession
from aidants.security import crypto
from aidants.usagers.models import Usager
from oidc.provider import claims, mandates, store
from oidc.provider.server import Choice, per_request, query_client, remember_client
from oidc.provider.store import ClientRecord

KNOWN_PARAMS = {
    "response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "prompt", "acr_values", "claims",
    "ui_locales", "code_challenge", "code_challenge_method", "max_age", "login_hint", "display",
}


class UnsupportedResponseType(OAuth2Error):
    """Only ``code``; the value asked for is not echoed (it may hold characters an error may not carry)."""

    error = "unsupported_response_type"
    description = "Only the 'code' response type is supported."


class PageError(Exception):
    """An error shown on our page, because the client or its redirect URI cannot be trusted."""


@dataclass(frozen=True)
class Request:
    """A validated authorization request, as far as our own rules go."""

    client: ClientRecord
    redirect_uri: str
    allowed_demarches: set[str] | None  # from a claims request's rep_scope values; None: any
    prompt: set[str]
    max_age: int | None = None
    started_at: dt.datetime | None = None  # when this authorization request first reached us
    state: str = ""
    nonce: str = ""

    @property
    def key(self) -> str:
        """What identifies this authorization request in the browser's session."""
        return request_key(self.client.client_id, self.redirect_uri, self.state, self.nonce)


def request_key(client_id: str, redirect_uri: str, state: str, nonce: str) -> str:
    """A digest naming one authorization request (client, redirect URI, state, nonce)."""
    return crypto.sha256_hex("\n".join((client_id, redirect_uri, state, nonce)).encode())


def read_ahead(args: MultiDict[str, str], form: MultiDict[str, str] | None, aidant: Aidant | None,
               now: dt.datetime) -> None:
    """Ask the database at once what this request will ask (one SELECT where there were four).

    The client, whether it already sent this nonce, whether the aidant belongs to their current structure
    and (for a choice, ``form``) the démarche of the chosen autorisation if it may be used now: the
    answers are kept for this request, where ``check_client``, authlib's nonce check, ``refusal_to_use``
    and ``choose`` look first.
    """
    organisation_id = aidant.current_organisation_id if aidant is not None else None
    usager_id = form_id(form.get("usager_id")) if form is not None else 0
    autorisation_id = form_id(form.get("autorisation_id")) if form is not None else 0
    nonce = args.get("nonce")
    context = store.authorize_context(args.get("client_id", ""), nonce or "", aidant.id if aidant else 0,
                                      organisation_id or 0, usager_id, autorisation_id, now)
    if context is None:
        per_request("oidc_clients")[args.get("client_id", "")] = None
        return
    remember_client(context.client, nonce, context.nonce_used)
    if aidant is not None and organisation_id is not None:
        per_request("oidc_members")[aidant.id, organisation_id] = context.is_member
        if usager_id and autorisation_id:
            per_request("oidc_offers")[autorisation_id, usager_id, organisation_id, now] = context.demarche


#: The largest id the database holds (PostgreSQL ``integer``).
MAX_ID = 2**31 - 1


def form_id(raw: str | None) -> int:
    """An id sent by the page (a usager, an autorisation), or 0 when it cannot name a row: beyond the
    database's integer range PostgreSQL would refuse the statement itself (a 500, not an answer)."""
    try:
        value = int(raw or "0")
    except ValueError:
        return 0
    return value if 0 < value <= MAX_ID else 0


def _is_member(aidant_id: int, organisation_id: int) -> bool:
    known: dict[tuple[int, int], bool] = per_request("oidc_members")
    if (aidant_id, organisation_id) not in known:
        known[aidant_id, organisation_id] = store.is_member(aidant_id, organisation_id)
    return known[aidant_id, organisation_id]


def _active_demarche(autorisation_id: int, usager_id: int, organisation_id: int, now: dt.datetime) -> str | None:
    known: dict[tuple[int, int, int, dt.datetime], str | None] = per_request("oidc_offers")
    key = (autorisation_id, usager_id, organisation_id, now)
    if key not in known:
        known[key] = store.active_demarche(autorisation_id, usager_id, organisation_id, now)
    return known[key]


def check_client(args: MultiDict[str, str]) -> tuple[ClientRecord, str]:
    """The client and redirect URI, checked before anything may be sent back to it."""
    client = query_client(args.get("client_id", ""))
    if client is None:
        raise PageError("Le service qui vous a envoyé ici n'est pas reconnu ou a été désactivé.")
    redirect_uri = args.get("redirect_uri", "")
    if len(args.getlist("redirect_uri")) != 1 or not client.check_redirect_uri(redirect_uri):
        raise PageError("L'adresse de retour demandée par ce service n'est pas enregistrée.")
    return client, redirect_uri


def check_request(args: MultiDict[str, str], client: ClientRecord, redirect_uri: str,
                  started_at: dt.datetime | None = None) -> Request:
    """Our rules on top of authlib's: openid scope, the client's scopes, JSON claims, no prompt=none,
    no request objects, no repeated parameter."""
    for name in KNOWN_PARAMS:
        if len(args.getlist(name)) > 1:
            raise _redirect_error(InvalidRequestError(f"Parameter '{name}' repeated."), redirect_uri)
    if args.get("response_type") != "code":
        raise _redirect_error(UnsupportedResponseType(), redirect_uri)
    if "request" in args:
        raise _redirect_error(RequestNotSupportedError(), redirect_uri)
    if "request_uri" in args:
        raise _redirect_error(RequestURINotSupportedError(), redirect_uri)
    scope = args.get("scope", "")
    if "openid" not in scope.split():
        raise _redirect_error(InvalidScopeError("The 'openid' scope is required."), redirect_uri)
    refused = client.refused_scopes(scope)
    if refused:
        raise _redirect_error(InvalidScopeError(f"Scope not allowed for this client: {' '.join(refused)}."),
                              redirect_uri)
    prompt = set(args.get("prompt", "").split())
    if "none" in prompt:
        raise _redirect_error(LoginRequiredError(), redirect_uri)
    return Request(client, redirect_uri, _requested_demarches(args.get("claims"), redirect_uri), prompt,
                   max_age=_max_age(args.get("max_age"), redirect_uri), started_at=started_at,
                   state=args.get("state", ""), nonce=args.get("nonce", ""))


#: A max_age beyond this (a year) is no constraint at all; it also keeps the number within bounds.
MAX_AGE_LIMIT = 366 * 24 * 3600


def _max_age(raw: str | None, redirect_uri: str) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit():
        raise _redirect_error(InvalidRequestError("'max_age' must be a non-negative integer."), redirect_uri)
    return min(int(raw[:12]), MAX_AGE_LIMIT)


def _requested_demarches(raw: str | None, redirect_uri: str) -> set[str] | None:
    if not raw:
        return None
    try:
        parsed: Any = json.loads(raw)
    except ValueError:
        raise _redirect_error(InvalidRequestError("'claims' is not valid JSON."), redirect_uri) from None
    if not isinstance(parsed, dict):
        raise _redirect_error(InvalidRequestError("'claims' must be a JSON object."), redirect_uri)
    shape = claims.claims_shape_error(parsed)
    if shape is not None:
        raise _redirect_error(InvalidRequestError(shape), redirect_uri)
    return claims.requested_rep_scopes(parsed)


def _redirect_error(error: OAuth2Error, redirect_uri: str) -> OAuth2Error:
    error.redirect_uri = redirect_uri
    return error


def refusal_to_use(aidant: Aidant) -> str | None:
    """Using a mandate needs the same habilitation as creating one; the reason in French, or None."""
    organisation = aidant.current_organisation  # loaded with the session (accounts.authenticate)
    if not aidant.can_create_mandats:
        return ("Votre compte ne permet pas d'utiliser les mandats de la structure : seuls les aidants "
                "habilités à créer des mandats le peuvent. Contactez votre référent.")
    if organisation is None or not organisation.is_active or not _is_member(aidant.id, organisation.id):
        return "Vous n'êtes rattaché à aucune structure active : impossible d'utiliser un mandat."
    return None


def needs_code(request: Request, current: AidantSession, now: dt.datetime) -> bool:
    """Whether the aidant must type a TOTP code before the service gets an identity.

    ``prompt=login`` needs a code typed during this authorization (after the request first reached
    us: the sign-in it led to counts); ``max_age`` needs one typed at most that many seconds ago.
    """
    if accounts.needs_reauth(current, now):
        return True
    if "login" in request.prompt and (request.started_at is None or current.verified_at < request.started_at):
        return True
    return request.max_age is not None and (now - current.verified_at).total_seconds() > request.max_age


def usagers(request: Request, aidant: Aidant, now: dt.datetime, query: str, limit: int = 20) -> list[Usager]:
    """Usagers with an active mandate in the aidant's current structure, for the démarches on offer."""
    assert aidant.current_organisation_id is not None
    return mandates.usagers_with_active_mandate(aidant.current_organisation_id, now, query,
                                                request.allowed_demarches, limit)


def offers(request: Request, aidant: Aidant, usager_id: int, now: dt.datetime) -> list[mandates.Offer]:
    """The démarches the aidant may use for this usager now: in an active mandate and in the request."""
    assert aidant.current_organisation_id is not None
    return mandates.active_offers(usager_id, aidant.current_organisation_id, now, request.allowed_demarches)


def choose(request: Request, aidant: Aidant, current: AidantSession, usager_id: int, autorisation_id: int,
           code: str, now: dt.datetime) -> Choice | str:
    """Check the aidant's choice (and code); return what to grant, or a message in French.

    The choice is checked against the database by one statement (the autorisation, for this usager, in
    the aidant's structure, active now) rather than by listing the offers again.
    """
    organisation_id = aidant.current_organisation_id
    assert organisation_id is not None
    demarche = _active_demarche(autorisation_id, usager_id, organisation_id, now)
    if demarche is None or (request.allowed_demarches is not None and demarche not in request.allowed_demarches):
        return "Ce mandat n'est plus actif pour cette démarche. Choisissez-en une autre."
    if needs_code(request, current, now) and not accounts.reverify(current, code, now):
        return "Ce code n'est pas valable. Attendez le code suivant et réessayez."
    return Choice(aidant.id, organisation_id, usager_id, autorisation_id, demarche, current.verified_at,
                  session_sid(current))


def session_sid(current: AidantSession) -> str:
    """The ``sid`` of an aidant's session in ID tokens: stable for the session, meaningless elsewhere."""
    return crypto.keyed_hash(current_app.config["SECRET_KEY"].encode(), f"oidc-sid|{current.id}")


def nothing_to_offer() -> OAuth2Error:
    """The request's démarches and the usager's mandates do not meet."""
    return AccessDeniedError("No active mandate covers the requested demarches.")
