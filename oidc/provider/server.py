"""The authlib authorization server, wired to our tables, our clock and our signing keys.

authlib validates the protocol (parameters, client authentication, PKCE, error
forms); this module says where clients, codes and tokens live and what the
tokens say. Codes are claimed by one conditional UPDATE, so a replayed code
fails even when two requests race, and its replay revokes what it issued.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, current_app, has_request_context, request

from aidants import clock, db
from aidants.journal import services as journal
from aidants.security import crypto
from oidc.provider import store, tokens

CODE_TTL = dt.timedelta(seconds=30)
ACCESS_TOKEN_TTL = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class Choice:
    """What the aidant chose on the authorization page: the 'user' authlib grants."""

    aidant_id: int
    organisation_id: int
    usager_id: int
    autorisation_id: int
    demarche: str
    auth_time: dt.datetime
    sid: str | None = None

    def get_user_id(self) -> int:
        return self.usager_id


@dataclass(frozen=True)
class Grantee:
    """The 'user' of a token request: the claimed code and the usager it names (read once, for the ID token)."""

    code: store.CodeRecord
    identity: store.Identity

    def get_user_id(self) -> int:
        return self.identity.id


def per_request(name: str) -> dict[Any, Any]:
    """A memo that lives as long as the HTTP request (a fresh one outside requests)."""
    if not has_request_context():
        return {}
    memo: dict[Any, Any] = request.environ.setdefault(f"aidants.{name}", {})
    return memo


def query_client(client_id: str) -> store.ClientRecord | None:
    """An active client by its public identifier, read once per request (authlib asks several times)."""
    known: dict[str, store.ClientRecord | None] = per_request("oidc_clients")
    if client_id not in known:
        known[client_id] = store.active_client(client_id)
    return known[client_id]


def remember_client(client: store.ClientRecord, nonce: str | None, nonce_used: bool) -> None:
    """What /authorize read ahead (``store.authorize_context``): the client, and whether it used this nonce."""
    per_request("oidc_clients")[client.client_id] = client
    if nonce is not None:
        per_request("oidc_nonces")[client.id, nonce] = nonce_used


def new_access_token(*_args: Any, **_kwargs: Any) -> str:
    """authlib's access token generator: the token already stored with the code's claim, if any."""
    return per_request("oidc_token").pop("prepared", None) or crypto.new_token()


def save_token(token: dict[str, Any], request: Any) -> None:
    """Store the access token's hash (unless the claim stored it) and journal the use of the autorisation,
    in the same transaction."""
    code: store.CodeRecord = request.authorization_code
    now = clock.now()
    token_hash = crypto.hash_token(token["access_token"])
    if per_request("oidc_token").get("stored") != token_hash:
        store.insert_token({
            "token_hash": token_hash, "authorization_id": code.id, "scope": code.scope,
            "created_at": now, "expires_at": now + ACCESS_TOKEN_TTL, "revoked_at": None,
        })
    journal_use(code, request.client.client_id, now, "token")


def journal_use(used: store.CodeRecord | store.BearerRecord, client_id: str, now: dt.datetime,
                endpoint: str) -> None:
    """A ``use_autorisation`` entry: aidant, usager, démarche, client, autorisation."""
    journal.append(
        "use_autorisation", now=now, aidant_id=used.aidant_id, organisation_id=used.organisation_id,
        usager_id=used.usager_id, autorisation_id=used.autorisation_id, demarches=[used.demarche],
        client_id=client_id, extra={"endpoint": endpoint},
    )


class CodeGrant(grants.AuthorizationCodeGrant):
    """Authorization code grant: codes hashed, 30 s, single use, replay revokes."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def generate_authorization_code(self) -> str:
        return crypto.new_token()

    def validate_authorization_request(self) -> str:
        """Validate the request once per grant: the consent step (``get_consent_grant``) validated this
        very request, with every hook (nonce, PKCE); authlib asks again, on the same grant and payload,
        when it creates the response."""
        if self.redirect_uri is not None:
            return str(self.redirect_uri)
        return str(super().validate_authorization_request())

    def save_authorization_code(self, code: str, request: Any) -> None:
        choice: Choice = request.user
        payload = request.payload
        now = clock.now()
        store.insert_code({
            "code_hash": crypto.hash_token(code), "client_pk": request.client.id,
            "redirect_uri": payload.redirect_uri, "scope": request.scope or payload.scope,
            "nonce": payload.data.get("nonce"), "code_challenge": payload.data.get("code_challenge"),
            "code_challenge_method": payload.data.get("code_challenge_method"),
            "aidant_id": choice.aidant_id, "organisation_id": choice.organisation_id, "usager_id": choice.usager_id,
            "autorisation_id": choice.autorisation_id, "demarche": choice.demarche, "auth_time": choice.auth_time,
            "sid": choice.sid, "created_at": now,
            "expires_at": now + current_app.config.get("OIDC_CODE_TTL", CODE_TTL), "used_at": None,
        })

    def query_authorization_code(self, code: str, client: store.ClientRecord) -> store.CodeRecord | None:
        """Claim the code by one conditional UPDATE that returns the row; only a refused claim reads more.

        The identity is read with the claim; on PostgreSQL the access token is stored by the same statement
        (prepared here, handed to authlib by ``new_access_token``; any refusal that follows — redirect URI,
        PKCE — rolls the request back with it).
        """
        now, code_hash = clock.now(), crypto.hash_token(code)
        access_token = crypto.new_token()
        claim = store.claim_code_for_token(code_hash, client.id, now, crypto.hash_token(access_token),
                                           now + ACCESS_TOKEN_TTL)
        if claim is not None:
            per_request("oidc_identities")[claim.code.id] = claim.identity
            if claim.token_stored:
                per_request("oidc_token").update(prepared=access_token, stored=crypto.hash_token(access_token))
            return None if claim.code.is_expired_at(now) else claim.code
        # Unknown, another client's, or a replay. The claim matched no row: end this transaction (it
        # wrote nothing), so that a replay's revocation commits on its own — the token error that
        # follows rolls the request back, never the revocation (SQLite has a single writer).
        db.session().rollback()
        found = store.code_by_hash(code_hash)
        if found is not None and found.client_pk == client.id:  # already used: a replay
            with db.independent_transaction():
                revoke_issued(found, client.client_id, now)
        return None

    def delete_authorization_code(self, authorization_code: store.CodeRecord) -> None:
        """Nothing to do: the code was claimed when it was read."""

    def authenticate_user(self, authorization_code: store.CodeRecord) -> Grantee | None:
        """The identity is given only while the autorisation is still active (the usager is read with it,
        once, for the ID token)."""
        known: dict[int, store.Identity | None] = per_request("oidc_identities")
        if authorization_code.id in known:  # read with the claim, in this request
            identity = known[authorization_code.id]
        else:
            identity = store.identity_if_active(authorization_code.autorisation_id, clock.now())
        return Grantee(authorization_code, identity) if identity is not None else None


def revoke_issued(code: store.SpentCode, client_id: str, now: dt.datetime) -> None:
    """A code used twice: revoke every token the first use issued (RFC 6749 §4.1.2)."""
    store.revoke_tokens(code.id, now)
    journal.append("oidc_code_replay", now=now, actor_kind="system", aidant_id=code.aidant_id,
                   usager_id=code.usager_id, client_id=client_id)


class OpenIDExtension(OpenIDCode):
    """OpenID Connect on the code grant: nonce required and single use, ID token signed by our keys."""

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        """Whether the client already used this nonce; asked once per request (authlib validates twice)."""
        known: dict[tuple[int, str], bool] = per_request("oidc_nonces")
        if (request.client.id, nonce) not in known:
            known[request.client.id, nonce] = store.nonce_used(request.client.id, nonce)
        return known[request.client.id, nonce]

    def encode_id_token(self, token: dict[str, Any], request: Any) -> str:
        grantee: Grantee = request.user
        return tokens.id_token(request.client, grantee.code, grantee.identity, token["access_token"], clock.now())


class S256Only(CodeChallenge):
    """PKCE with S256 only; required for public clients."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]


class TokenValidator(BearerTokenValidator):
    """Access tokens by hash, valid for 60 s, unless revoked, for an active client."""

    def authenticate_token(self, token_string: str) -> store.BearerRecord | None:
        """The token with its authorization, client and usager (while the autorisation is active): one SELECT."""
        return store.bearer(crypto.hash_token(token_string), clock.now())

    def validate_token(self, token: store.BearerRecord | None, scopes: Any, request: Any) -> None:
        from authlib.oauth2.rfc6750 import InvalidTokenError

        if token is None or not token.is_valid_at(clock.now()):
            raise InvalidTokenError(realm=self.realm)


class Server(AuthorizationServer):
    """authlib's Flask authorization server, reading the request object itself rather than Flask's proxy.

    authlib reads the parameters through its request wrapper several thousand times per /authorize
    (``payload.data`` at each access); on ``flask.request`` each read goes through the context-local
    proxy, about a fifth of a millisecond a request in all. The object behind the proxy is this request's
    own, and the wrapper lives only as long as it.
    """

    def create_oauth2_request(self, _request: Any) -> FlaskOAuth2Request:
        return FlaskOAuth2Request(request._get_current_object())  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    """Create the app's authorization server and resource protector."""
    server = Server()
    app.config.setdefault("OAUTH2_TOKEN_EXPIRES_IN", {"authorization_code": int(ACCESS_TOKEN_TTL.total_seconds())})
    app.config.setdefault("OAUTH2_ACCESS_TOKEN_GENERATOR", new_access_token)
    server.init_app(app, query_client=query_client, save_token=save_token)
    server.register_grant(CodeGrant, [OpenIDExtension(require_nonce=True), S256Only(required=True)])
    protector = ResourceProtector()
    protector.register_token_validator(TokenValidator())
    app.extensions["oidc_server"] = server
    app.extensions["oidc_protector"] = protector


def server() -> AuthorizationServer:
    """The current app's authorization server."""
    return current_app.extensions["oidc_server"]


def protector() -> ResourceProtector:
    """The current app's resource protector (bearer tokens)."""
    return current_app.extensions["oidc_protector"]
