"""Registered services (clients), authorization codes and access tokens.

Client secrets, codes and tokens are 256-bit (or longer) random values: only
their SHA-256 is stored, and compared in constant time.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aidants.db import Base
from aidants.security import crypto

AUTH_METHODS = ("client_secret_post", "client_secret_basic", "none")
SIGNING_ALGS = ("ES256", "RS256")
SCOPES = ("openid", "profile", "email", "birth", "given_name", "family_name", "birthdate", "gender",
          "birthplace", "birthcountry", "preferred_username")


def _lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line]


class ClientRules:
    """authlib's ClientMixin as pure predicates over a client's columns.

    Shared by the ORM class (registration, the CLI) and the plain record the hot path reads with one Core
    statement (``oidc.provider.store``): both have the same columns, so the rules are written once.
    """

    if TYPE_CHECKING:  # the columns the rules read (declared by each concrete class)
        client_id: str
        secret_hash: str | None
        auth_method: str
        redirect_uris: str
        post_logout_redirect_uris: str
        allowed_scopes: str
        is_active: bool

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = _lines(self.redirect_uris)
        return uris[0] if len(uris) == 1 else None

    @property
    def scopes(self) -> list[str]:
        """The scopes this client may receive, in the canonical order."""
        allowed = set(self.allowed_scopes.split())
        return [scope for scope in SCOPES if scope in allowed]

    def refused_scopes(self, scope: str) -> list[str]:
        """The requested scopes this client was not registered for."""
        return [s for s in scope.split() if s not in self.scopes]

    def get_allowed_scope(self, scope: str) -> str:
        if not scope:
            return ""
        return " ".join(s for s in scope.split() if s in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in _lines(self.redirect_uris)

    def check_post_logout_redirect_uri(self, uri: str) -> bool:
        return uri in _lines(self.post_logout_redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        if self.secret_hash is None or not client_secret:
            return False
        return crypto.equal(self.secret_hash, crypto.hash_token(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint == "token":
            return bool(self.is_active and method == self.auth_method)
        return True

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"

    @property
    def is_public(self) -> bool:
        return self.auth_method == "none"


class OidcClient(ClientRules, Base):
    """A service (or FranceConnect itself) allowed to ask for a usager's identity."""

    __tablename__ = "oidc_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    secret_hash: Mapped[str | None] = mapped_column(sa.String(64))  # None for public clients (PKCE)
    auth_method: Mapped[str] = mapped_column(sa.String(30), default="client_secret_post")
    redirect_uris: Mapped[str] = mapped_column(sa.Text)  # one per line, compared exactly
    post_logout_redirect_uris: Mapped[str] = mapped_column(sa.Text, default="")
    id_token_alg: Mapped[str] = mapped_column(sa.String(10), default="ES256")
    userinfo_alg: Mapped[str | None] = mapped_column(sa.String(10))  # None: JSON userinfo
    act_claim: Mapped[bool] = mapped_column(default=False)
    allowed_scopes: Mapped[str] = mapped_column(sa.String(300), default="openid")  # space-separated
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime]
    disabled_at: Mapped[dt.datetime | None]


class CodeRules:
    """authlib's AuthorizationCodeMixin (and its OIDC part) over an authorization's columns.

    Shared by the ORM class and the plain record that /token claims with one Core UPDATE … RETURNING.
    """

    if TYPE_CHECKING:  # the columns the rules read (declared by each concrete class)
        redirect_uri: str
        scope: str
        nonce: str | None
        auth_time: dt.datetime
        expires_at: dt.datetime

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.auth_time.timestamp())

    def get_acr(self) -> str:
        return "eidas1"

    def get_amr(self) -> list[str]:
        return ["otp"]

    def is_expired_at(self, now: dt.datetime) -> bool:
        return now >= self.expires_at


class OidcAuthorization(CodeRules, Base):
    """An authorization code: what the aidant chose, for one client, used once within 30 s."""

    __tablename__ = "oidc_authorization"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(sa.ForeignKey("oidc_client.id"), index=True)
    redirect_uri: Mapped[str] = mapped_column(sa.String(500))
    scope: Mapped[str] = mapped_column(sa.String(300))
    nonce: Mapped[str | None] = mapped_column(sa.String(200))
    code_challenge: Mapped[str | None] = mapped_column(sa.String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(sa.String(10))
    aidant_id: Mapped[int] = mapped_column(sa.ForeignKey("aidant.id"))
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"))
    usager_id: Mapped[int] = mapped_column(sa.ForeignKey("usager.id"))
    autorisation_id: Mapped[int] = mapped_column(sa.ForeignKey("autorisation.id"))
    demarche: Mapped[str] = mapped_column(sa.String(20))
    auth_time: Mapped[dt.datetime]
    sid: Mapped[str | None] = mapped_column(sa.String(64))  # the aidant's session, for RP-initiated logout
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]

    client: Mapped[OidcClient] = relationship()

    __table_args__ = (sa.Index("ix_oidc_authorization_client_nonce", "client_pk", "nonce"),)


class OidcToken(Base):
    """An access token issued for an authorization (60 s), revocable."""

    __tablename__ = "oidc_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    authorization_id: Mapped[int] = mapped_column(sa.ForeignKey("oidc_authorization.id"), index=True)
    scope: Mapped[str] = mapped_column(sa.String(300))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]

    authorization: Mapped[OidcAuthorization] = relationship()

    def is_valid_at(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at
