"""JSON Web Signatures behind one module (``joserfc``): keys, signing, verification, the public JWKS,
and the checking of tokens signed by others (FranceConnect).

Two layers:

* primitives on key material (``generate_private_pem``, ``public_jwk``, ``sign_with``,
  ``verify_with``), used by ``aidants.signing`` to manage the stored keys;
* ``sign_jwt``, ``verify_jwt`` and ``public_jwks``, what the rest of the service calls:
  they use the service's current keys, read through ``aidants.signing.services``.

The second layer imports ``aidants.signing.services`` inside the functions: that
package builds its keys with the primitives above, so a module-level import
would make the two modules import each other.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from aidants import clock

ALGORITHMS = ("ES256", "RS256")
RSA_BITS = 2048


class InvalidJWT(ValueError):
    """A token that is malformed, not signed by one of our published keys, or outside its validity."""


def import_private(private_pem: str, alg: str) -> ECKey | RSAKey:
    """A private key ready to sign (importing costs far more than an ES256 signature: callers keep it)."""
    return _import_private(private_pem, alg)


def _import_private(private_pem: str, alg: str) -> ECKey | RSAKey:
    if alg == "ES256":
        return ECKey.import_key(private_pem)
    if alg == "RS256":
        return RSAKey.import_key(private_pem)
    raise ValueError(f"unsupported signing algorithm {alg!r}")


def generate_private_pem(alg: str) -> tuple[str, str]:
    """A new private key for ``alg``: its kid (RFC 7638 thumbprint) and its PEM."""
    if alg == "ES256":
        key: ECKey | RSAKey = ECKey.generate_key("P-256", private=True)
    elif alg == "RS256":
        key = RSAKey.generate_key(RSA_BITS, private=True)
    else:
        raise ValueError(f"unsupported signing algorithm {alg!r}")
    return key.thumbprint(), key.as_pem(private=True).decode()


def key_id(private_pem: str, alg: str) -> str:
    """The RFC 7638 thumbprint of a key, used as its kid."""
    return str(_import_private(private_pem, alg).thumbprint())


def public_jwk(private_pem: str, kid: str, alg: str) -> dict[str, Any]:
    """The public half of a key as a JWK, with its kid, alg and use."""
    key = _import_private(private_pem, alg)
    public = dict(key.as_dict(private=False))
    public.update({"kid": kid, "alg": alg, "use": "sig"})
    return public


def sign_with(private_pem: str, kid: str, alg: str, claims: dict[str, Any], typ: str = "JWT") -> str:
    """A compact JWS of ``claims`` signed with this key (header: alg, kid, typ)."""
    key = _import_private(private_pem, alg)
    return jwt.encode({"alg": alg, "kid": kid, "typ": typ}, claims, key, algorithms=[alg])


def unverified_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWS, not yet verified (to pick the key by kid)."""
    try:
        header = jws.extract_compact(token.encode()).protected
    except (JoseError, ValueError) as exc:
        raise InvalidJWT("malformed token") from exc
    return dict(header)


class _IgnoreExpiry(jwt.JWTClaimsRegistry):
    """Claims checks without ``exp``: an expired ID token still names its session (logout hints)."""

    def validate_exp(self, value: object) -> None:
        return None


def verify_with(token: str, jwks: dict[str, Any], now: dt.datetime, *, accept_expired: bool = False,
                typ: str | None = None, algorithms: Collection[str] = ALGORITHMS) -> dict[str, Any]:
    """Check a token's signature against a JWKS and its ``exp``/``nbf`` at ``now``; return its claims."""
    header = unverified_header(token)
    if header.get("alg") not in algorithms:
        raise InvalidJWT("algorithm not accepted")
    if typ is not None and header.get("typ") != typ:
        raise InvalidJWT("unexpected token type")
    try:
        key_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        key = key_set.get_by_kid(header.get("kid"))
        decoded = jwt.decode(token, key, algorithms=list(algorithms))
        registry_class = _IgnoreExpiry if accept_expired else jwt.JWTClaimsRegistry
        registry_class(now=int(now.timestamp()), leeway=0).validate(decoded.claims)
    except ExpiredTokenError as exc:
        raise InvalidJWT("token expired") from exc
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidJWT(f"invalid token: {exc.__class__.__name__}") from exc
    return dict(decoded.claims)


# --- the service's own keys --------------------------------------------------------------------


def sign_jwt(claims: dict[str, Any], alg: str = "ES256", *, typ: str = "JWT", now: dt.datetime | None = None) -> str:
    """Sign ``claims`` with the service's current key for ``alg`` (created on first use)."""
    from aidants.signing import services as signing

    moment = now or clock.now()
    kid, key = signing.signer(alg, moment)
    return jwt.encode({"alg": alg, "kid": kid, "typ": typ}, claims, key, algorithms=[alg])


def public_jwks(now: dt.datetime | None = None) -> dict[str, Any]:
    """The JWKS of the service: every published key that is not retired."""
    from aidants.signing import services as signing

    return signing.jwks(now or clock.now())


def verify_jwt(token: str, *, accept_expired: bool = False, typ: str | None = None,
               now: dt.datetime | None = None) -> dict[str, Any]:
    """Verify a token signed by the service (any published key); return its claims or raise InvalidJWT."""
    moment = now or clock.now()
    return verify_with(token, public_jwks(moment), moment, accept_expired=accept_expired, typ=typ)


# --- tokens signed by others (FranceConnect) -----------------------------------------------------

_KTY_FOR_ALG = {"ES": "EC", "RS": "RSA", "PS": "RSA"}


class SignatureError(ValueError):
    """A foreign token whose form, algorithm or signature is not acceptable; ``reason`` is a short code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _pick_key(jwks: Mapping[str, Any], kid: str | None, alg: str) -> ECKey | RSAKey | None:
    """The signing key named ``kid`` (or the only key of the right type when there is no kid)."""
    try:
        keys = KeySet.import_key_set({"keys": [k for k in jwks.get("keys", []) if k.get("use", "sig") == "sig"]})
    except (JoseError, ValueError, TypeError, AttributeError):
        return None
    kty = _KTY_FOR_ALG.get(alg[:2])
    candidates = [k for k in keys if k.key_type == kty and isinstance(k, ECKey | RSAKey)]
    if kid is not None:
        candidates = [k for k in candidates if k.kid == kid]
    elif len(candidates) != 1:
        return None
    return candidates[0] if candidates else None


def verify_foreign(token: str, *, algorithms: Collection[str], jwks: Callable[[bool], Mapping[str, Any]],
                   hmac_secret: str | None = None) -> dict[str, Any]:
    """The payload of a compact JWS signed by another party, once its algorithm and signature are checked.

    ``algorithms`` never admits ``none``; an ``HS*`` algorithm is checked with ``hmac_secret`` (the client
    secret) only when listed. Asymmetric keys come from ``jwks(refresh)``, called again with True when the
    ``kid`` is unknown (a key rotation). Claims are the caller's to check. Raises SignatureError.
    """
    allowed = [alg for alg in algorithms if alg.lower() != "none"]
    try:
        signed = jws.extract_compact(token.encode())
        header = signed.headers()
    except (JoseError, ValueError, TypeError) as exc:
        raise SignatureError("malformed") from exc
    alg = header.get("alg")
    if alg not in allowed:
        raise SignatureError("alg")
    key: ECKey | RSAKey | OctKey | None = None
    if alg.startswith("HS"):
        key = OctKey.import_key(hmac_secret or "")
    else:
        for refresh in (False, True):
            key = _pick_key(jwks(refresh), header.get("kid"), alg)
            if key is not None:
                break
    if key is None:
        raise SignatureError("unknown_kid")
    try:
        valid = jws.validate_compact(signed, key, algorithms=[alg])
    except (JoseError, ValueError, TypeError) as exc:
        raise SignatureError("signature") from exc
    if not valid:
        raise SignatureError("signature")
    try:
        claims = json.loads(signed.payload)
    except ValueError as exc:
        raise SignatureError("malformed") from exc
    if not isinstance(claims, dict):
        raise SignatureError("malformed")
    return claims
