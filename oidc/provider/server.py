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

import sqlalchemy as sa
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, current_app, has_request_context, request
from sqlalchemy.orm import joinedload

from aidants import clock, db
from aidants.accounts.models import Aidant
from aidants.journal import services as journal
from aidants.organisations.models import Organisation
from aidants.security import crypto
from aidants.usagers.models import Usager
from oidc.provider import mandates, tokens
from oidc.provider.models import OidcAuthorization, OidcClient, OidcToken

CODE_TTL = dt.timedelta(seconds=30)
ACCESS_TOKEN_TTL = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class Choice:
    """What the aidant chose on the authorization page: the 'user' authlib grants."""

    aidant: Aidant
    organisation: Organisation
    usager: Usager
    autorisation_id: int
    demarche: str
    auth_time: dt.datetime
    sid: str | None = None

    def get_user_id(self) -> int:
        return self.usager.id


def _per_request(name: str) -> dict[Any, Any]:
    """A memo that lives as long as the HTTP request (a fresh one outside requests)."""
    if not has_request_context():
        return {}
    memo: dict[Any, Any] = request.environ.setdefault(f"aidants.{name}", {})
    return memo


def query_client(client_id: str) -> OidcClient | None:
    """An active client by its public identifier, read once per request (authlib asks several times)."""
    known: dict[str, OidcClient | None] = _per_request("oidc_clients")
    if client_id not in known:
        statement = sa.select(OidcClient).where(OidcClient.client_id == client_id, OidcClient.is_active.is_(True))
        known[client_id] = db.session().scalars(statement).first()
    return known[client_id]


def save_token(token: dict[str, Any], request: Any) -> None:
    """Store the access token's hash and journal the use of the autorisation."""
    authorization: OidcAuthorization = request.authorization_code
    now = clock.now()
    db.session().add(OidcToken(
        token_hash=crypto.hash_token(token["access_token"]), authorization_id=authorization.id,
        scope=authorization.scope, created_at=now, expires_at=now + ACCESS_TOKEN_TTL,
    ))
    journal_use(authorization, now, "token")


def journal_use(authorization: OidcAuthorization, now: dt.datetime, endpoint: str) -> None:
    """A ``use_autorisation`` entry: aidant, usager, démarche, client, autorisation."""
    journal.append(
        "use_autorisation", now=now, aidant_id=authorization.aidant_id,
        organisation_id=authorization.organisation_id, usager_id=authorization.usager_id,
        autorisation_id=authorization.autorisation_id, demarches=[authorization.demarche],
        client_id=authorization.client.client_id, extra={"endpoint": endpoint},
    )


class CodeGrant(grants.AuthorizationCodeGrant):
    """Authorization code grant: codes hashed, 30 s, single use, replay revokes."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def generate_authorization_code(self) -> str:
        return crypto.new_token()

    def save_authorization_code(self, code: str, request: Any) -> None:
        choice: Choice = request.user
        payload = request.payload
        now = clock.now()
        db.session().add(OidcAuthorization(
            code_hash=crypto.hash_token(code), client_pk=request.client.id, redirect_uri=payload.redirect_uri,
            scope=request.scope or payload.scope, nonce=payload.data.get("nonce"),
            code_challenge=payload.data.get("code_challenge"),
            code_challenge_method=payload.data.get("code_challenge_method"),
            aidant_id=choice.aidant.id, organisation_id=choice.organisation.id, usager_id=choice.usager.id,
            autorisation_id=choice.autorisation_id, demarche=choice.demarche, auth_time=choice.auth_time,
            sid=choice.sid,
            created_at=now, expires_at=now + current_app.config.get("OIDC_CODE_TTL", CODE_TTL),
        ))
        db.session().flush()

    def query_authorization_code(self, code: str, client: OidcClient) -> OidcAuthorization | None:
        """Claim the code by one conditional UPDATE that returns the row; only a refused claim reads more."""
        now, code_hash = clock.now(), crypto.hash_token(code)
        claimed = db.session().scalars(
            sa.update(OidcAuthorization)
            .where(OidcAuthorization.code_hash == code_hash, OidcAuthorization.client_pk == client.id,
                   OidcAuthorization.used_at.is_(None))
            .values(used_at=now).returning(OidcAuthorization)
            .execution_options(synchronize_session=False, populate_existing=True)
        ).first()
        if claimed is not None:
            return None if claimed.is_expired_at(now) else claimed
        # Unknown, another client's, or a replay. The claim matched no row: end this transaction (it
        # wrote nothing), so that a replay's revocation commits on its own — the token error that
        # follows rolls the request back, never the revocation (SQLite has a single writer).
        db.session().rollback()
        found = db.session().scalars(
            sa.select(OidcAuthorization).where(OidcAuthorization.code_hash == code_hash)
        ).first()
        if found is not None and found.client_pk == client.id:  # already used: a replay
            with db.independent_transaction():
                revoke_issued(found, now)
        return None

    def delete_authorization_code(self, authorization_code: OidcAuthorization) -> None:
        """Nothing to do: the code was claimed when it was read."""

    def authenticate_user(self, authorization_code: OidcAuthorization) -> OidcAuthorization | None:
        """The identity is given only while the autorisation is still active (the usager is read with it,
        once, for the ID token)."""
        usager = mandates.usager_if_active(authorization_code.autorisation_id, clock.now())
        if usager is None:
            return None
        # Held for the request: the session's identity map keeps objects weakly, and the ID token reads it.
        _per_request("usagers")[usager.id] = usager
        return authorization_code


def revoke_issued(authorization: OidcAuthorization, now: dt.datetime) -> None:
    """A code used twice: revoke every token the first use issued (RFC 6749 §4.1.2)."""
    db.session().execute(
        sa.update(OidcToken).where(OidcToken.authorization_id == authorization.id, OidcToken.revoked_at.is_(None))
        .values(revoked_at=now).execution_options(synchronize_session=False)
    )
    journal.append("oidc_code_replay", now=now, actor_kind="system", aidant_id=authorization.aidant_id,
                   usager_id=authorization.usager_id, client_id=authorization.client.client_id)


class OpenIDExtension(OpenIDCode):
    """OpenID Connect on the code grant: nonce required and single use, ID token signed by our keys."""

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        """Whether the client already used this nonce; asked once per request (authlib validates twice)."""
        known: dict[tuple[int, str], bool] = _per_request("oidc_nonces")
        if (request.client.id, nonce) not in known:
            statement = sa.select(OidcAuthorization.id).where(
                OidcAuthorization.client_pk == request.client.id, OidcAuthorization.nonce == nonce)
            known[request.client.id, nonce] = db.session().scalars(statement.limit(1)).first() is not None
        return known[request.client.id, nonce]

    def encode_id_token(self, token: dict[str, Any], request: Any) -> str:
        return tokens.id_token(request.authorization_code, token["access_token"], clock.now())


class S256Only(CodeChallenge):
    """PKCE with S256 only; required for public clients."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]


class TokenValidator(BearerTokenValidator):
    """Access tokens by hash, valid for 60 s, unless revoked."""

    def authenticate_token(self, token_string: str) -> OidcToken | None:
        """The token with its authorization and client, in one statement."""
        return db.session().scalars(
            sa.select(OidcToken).where(OidcToken.token_hash == crypto.hash_token(token_string))
            .options(joinedload(OidcToken.authorization).joinedload(OidcAuthorization.client))
        ).first()

    def validate_token(self, token: OidcToken | None, scopes: Any, request: Any) -> None:
        from authlib.oauth2.rfc6750 import InvalidTokenError

        if token is None or not token.is_valid_at(clock.now()) or not token.authorization.client.is_active:
            raise InvalidTokenError(realm=self.realm)


def init_app(app: Flask) -> None:
    """Create the app's authorization server and resource protector."""
    server = AuthorizationServer()
    app.config.setdefault("OAUTH2_TOKEN_EXPIRES_IN", {"authorization_code": int(ACCESS_TOKEN_TTL.total_seconds())})
    app.config.setdefault("OAUTH2_ACCESS_TOKEN_GENERATOR", lambda *args, **kwargs: crypto.new_token())
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
