"""The ID token and the signed userinfo: claims built here, signed by the service's keys (aidants.security.jose)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from authlib.oidc.core.util import create_half_hash

from aidants.security import jose
from aidants.web import public_url
from oidc.provider import claims, store

ID_TOKEN_TTL = dt.timedelta(seconds=60)


def issuer() -> str:
    """Our issuer URL: PUBLIC_URL when configured (production), else the URL the request came to."""
    return public_url()


def id_token(client: store.ClientRecord, code: store.CodeRecord, identity: store.Identity, access_token: str,
             now: dt.datetime) -> str:
    """The ID token of a claimed code: who the usager is for this client, and who acts."""
    payload: dict[str, Any] = {
        "iss": issuer(),
        "sub": claims.pairwise_sub(client.client_id, identity.sub),
        "aud": client.client_id,
        "iat": int(now.timestamp()),
        "exp": int((now + ID_TOKEN_TTL).timestamp()),
        "auth_time": int(code.auth_time.timestamp()),
        "acr": "eidas1",
        "amr": ["otp"],
        "rep_scope": [claims.REP_SCOPE_LABELS[code.demarche]],
    }
    if code.nonce:
        payload["nonce"] = code.nonce
    if code.sid:
        payload["sid"] = code.sid
    at_hash = create_half_hash(access_token, client.id_token_alg)
    if at_hash is not None:
        payload["at_hash"] = at_hash.decode()
    if client.act_claim:
        payload["act"] = claims.act_claim(client.client_id, code.aidant_id, identity.siret)
    return jose.sign_jwt(payload, client.id_token_alg)


def signed_userinfo(client: store.ClientRecord, info: dict[str, Any], now: dt.datetime) -> str:
    """Userinfo as a JWT, for clients registered with ``userinfo_signed_response_alg``."""
    payload = {**info, "iss": issuer(), "aud": client.client_id, "iat": int(now.timestamp())}
    return jose.sign_jwt(payload, client.userinfo_alg or "ES256")
