"""Registering services: the secret is shown once and only its SHA-256 is kept."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa

from aidants import db
from aidants.journal import services as journal
from aidants.security import crypto
from oidc.provider.models import AUTH_METHODS, SCOPES, SIGNING_ALGS, OidcClient


class ClientError(ValueError):
    """A registration that cannot be accepted (message for the operator)."""


@dataclass(frozen=True)
class Registered:
    """A new client and its secret, which exists nowhere else once shown."""

    client: OidcClient
    secret: str | None


def _check_uris(uris: list[str], what: str) -> None:
    for uri in uris:
        parts = urlsplit(uri)
        local = parts.hostname in ("localhost", "127.0.0.1", "::1")
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
            raise ClientError(f"{what} invalide : {uri!r} (URL absolue sans fragment)")
        if parts.scheme == "http" and not local:
            raise ClientError(f"{what} en http refusée hors de la machine locale : {uri!r}")


def _checked_scopes(scopes: Sequence[str]) -> str:
    """The scopes a client may receive, space-separated; openid always, unknown ones refused."""
    wanted = [part for item in scopes for part in item.replace(",", " ").split()]
    unknown = sorted(set(wanted) - set(SCOPES))
    if unknown:
        raise ClientError(f"scope inconnu : {', '.join(unknown)} (possibles : {', '.join(SCOPES)})")
    chosen = {"openid", *wanted}
    return " ".join(scope for scope in SCOPES if scope in chosen)


def register(
    *, name: str, redirect_uris: list[str], post_logout_redirect_uris: list[str], auth_method: str,
    userinfo_alg: str | None, id_token_alg: str, act_claim: bool, now: dt.datetime,
    client_id: str | None = None, secret: str | None = None, scopes: Sequence[str] = ("openid",),
) -> Registered:
    """Register a service; return its secret once (None for a public client using PKCE).

    ``client_id`` and ``secret`` are chosen here unless given (the development sandbox gives its own).
    """
    if not name.strip():
        raise ClientError("nom obligatoire")
    if not redirect_uris:
        raise ClientError("au moins une URL de redirection")
    _check_uris(redirect_uris, "URL de redirection")
    _check_uris(post_logout_redirect_uris, "URL de retour après déconnexion")
    if auth_method not in AUTH_METHODS:
        raise ClientError(f"méthode d'authentification inconnue : {auth_method}")
    for alg in (userinfo_alg, id_token_alg):
        if alg is not None and alg not in SIGNING_ALGS:
            raise ClientError(f"algorithme non pris en charge : {alg} ({', '.join(SIGNING_ALGS)})")
    allowed_scopes = _checked_scopes(scopes)
    if auth_method == "none":
        secret = None
    elif secret is None:
        secret = crypto.new_token()
    client = OidcClient(
        client_id=client_id or secrets.token_hex(16), name=name.strip(),
        secret_hash=crypto.hash_token(secret) if secret else None, auth_method=auth_method,
        redirect_uris="\n".join(redirect_uris), post_logout_redirect_uris="\n".join(post_logout_redirect_uris),
        id_token_alg=id_token_alg, userinfo_alg=userinfo_alg, act_claim=act_claim, created_at=now,
        allowed_scopes=allowed_scopes,
    )
    db.session().add(client)
    db.session().flush()
    journal.append("register_oidc_client", now=now, actor_kind="staff", client_id=client.client_id,
                   extra={"scopes": allowed_scopes})
    return Registered(client, secret)


def set_scopes(client_id: str, scopes: Sequence[str], now: dt.datetime) -> OidcClient:
    """Change what a client may receive (from its next authorization on)."""
    client = find(client_id)
    if client is None:
        raise ClientError(f"aucun client {client_id!r}")
    client.allowed_scopes = _checked_scopes(scopes)
    db.session().flush()
    journal.append("set_oidc_client_scopes", now=now, actor_kind="staff", client_id=client.client_id,
                   extra={"scopes": client.allowed_scopes})
    return client


def all_clients() -> list[OidcClient]:
    """Every client, newest first."""
    return list(db.session().scalars(sa.select(OidcClient).order_by(OidcClient.id.desc())))


def find(client_id: str) -> OidcClient | None:
    """A client by its public identifier, active or not."""
    return db.session().scalars(sa.select(OidcClient).where(OidcClient.client_id == client_id)).first()


def disable(client_id: str, now: dt.datetime) -> OidcClient:
    """Stop a client at once: no authorization, token or userinfo for it any more."""
    client = find(client_id)
    if client is None:
        raise ClientError(f"aucun client {client_id!r}")
    if client.is_active:
        client.is_active, client.disabled_at = False, now
        journal.append("disable_oidc_client", now=now, actor_kind="staff", client_id=client.client_id)
    return client


def add_redirect_uris(client: OidcClient, redirect_uri: str, post_logout_uri: str) -> None:
    """Register one more pair of URIs for a client (the development sandbox, reached on a new port)."""
    _check_uris([redirect_uri, post_logout_uri], "URL")
    if not client.check_redirect_uri(redirect_uri):
        client.redirect_uris = "\n".join([*client.redirect_uris.split("\n"), redirect_uri])
    if not client.check_post_logout_redirect_uri(post_logout_uri):
        client.post_logout_redirect_uris = "\n".join(
            [u for u in [*client.post_logout_redirect_uris.split("\n"), post_logout_uri] if u])
    db.session().flush()
