"""The ID token and the signed userinfo: claims built here, signed by the service's keys (aidants.security.jose)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from authlib.oidc.core.util import create_half_hash

from aidants import db
from aidants.accounts.models import Aidant
from aidants.organisations.models import Organisation
from aidants.security import jose
from aidants.usagers.models import Usager
from aidants.web import public_url
from oidc.provider import claims
from oidc.provider.models import OidcAuthorization, OidcClient

ID_TOKEN_TTL = dt.timedelta(seconds=60)


def issuer() -> str:
    """Our issuer URL: PUBLIC_URL when configured (production), else the URL the request came to."""
    return public_url()


def id_token(authorization: OidcAuthorization, access_token: str, now: dt.datetime) -> str:
    """The ID token of an authorization: who the usager is for this client, and who acts."""
    client: OidcClient = authorization.client
    usager = db.session().get(Usager, authorization.usager_id)
    assert usager is not None
    payload: dict[str, Any] = {
        "iss": issuer(),
        "sub": claims.pairwise_sub(client.client_id, usager),
        "aud": client.client_id,
        "iat": int(now.timestamp()),
        "exp": int((now + ID_TOKEN_TTL).timestamp()),
        "auth_time": int(authorization.auth_time.timestamp()),
        "acr": "eidas1",
        "amr": ["otp"],
        "rep_scope": [claims.REP_SCOPE_LABELS[authorization.demarche]],
    }
    if authorization.nonce:
        payload["nonce"] = authorization.nonce
    if authorization.sid:
        payload["sid"] = authorization.sid
    at_hash = create_half_hash(access_token, client.id_token_alg)
    if at_hash is not None:
        payload["at_hash"] = at_hash.decode()
    if client.act_claim:
        aidant = db.session().get(Aidant, authorization.aidant_id)
        organisation = db.session().get(Organisation, authorization.organisation_id)
        assert aidant is not None and organisation is not None
        payload["act"] = claims.act_claim(client.client_id, aidant, organisation)
    return jose.sign_jwt(payload, client.id_token_alg)


def signed_userinfo(client: OidcClient, info: dict[str, Any], now: dt.datetime) -> str:
    """Userinfo as a JWT, for clients registered with ``userinfo_signed_response_alg``."""
    payload = {**info, "iss": issuer(), "aud": client.client_id, "iat": int(now.timestamp())}
    return jose.sign_jwt(payload, client.userinfo_alg or "ES256")
