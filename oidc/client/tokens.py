"""Verification of FranceConnect's signed tokens (the ID token and the userinfo JWT), behind one module.

Signatures are checked by ``aidants.security.jose`` (the one module over joserfc); the rules on
claims live here:

* the algorithm must be one the configuration allows (ES256 and RS256 by default);
  ``none`` is never accepted, a symmetric one (HS256, keyed with the client secret) only
  when the configuration lists it;
* asymmetric keys come from FranceConnect's JWKS, by ``kid``; an unknown ``kid`` makes
  the JWKS be fetched again once (a key rotation), then the token is refused;
* the ID token's ``iss``, ``aud`` (and ``azp``), ``exp``, ``iat``, ``nonce`` and ``acr`` are checked;
  the userinfo JWT's ``iss``, ``aud`` and ``sub`` (the ID token's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aidants.security import crypto, jose

#: FranceConnect's levels, weakest first; a token's acr must be at least the level asked.
ACR_LEVELS = ("eidas1", "eidas2", "eidas3")
#: Clock skew tolerated between FranceConnect and us.
LEEWAY = dt.timedelta(seconds=15)

KeyLoader = Callable[[bool], Mapping[str, Any]]
"""Returns the provider's JWKS; called with True to fetch it again (unknown kid)."""


class TokenError(ValueError):
    """A token that must be refused; ``reason`` is a short code for logs and support."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Verifier:
    """Checks the tokens of one provider for one client."""

    def __init__(self, *, issuer: str, client_id: str, client_secret: str, algorithms: Sequence[str],
                 jwks: KeyLoader) -> None:
        self.issuer, self.client_id, self.client_secret = issuer, client_id, client_secret
        self.algorithms = [alg for alg in algorithms if alg.lower() != "none"]
        self.jwks = jwks

    # --- signatures ---------------------------------------------------------------------

    def _verified_claims(self, token: str, prefix: str) -> dict[str, Any]:
        """The claims of a compact JWS whose signature and algorithm are acceptable."""
        try:
            return jose.verify_foreign(token, algorithms=self.algorithms, jwks=self.jwks,
                                       hmac_secret=self.client_secret)
        except jose.SignatureError as exc:
            raise TokenError("unknown_kid" if exc.reason == "unknown_kid" else f"{prefix}_{exc.reason}") from exc

    # --- claims -------------------------------------------------------------------------

    def _check_audience(self, claims: Mapping[str, Any], prefix: str) -> None:
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.client_id not in audiences:
            raise TokenError(f"{prefix}_aud")
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise TokenError(f"{prefix}_azp")

    def id_token(self, token: str, *, nonce: str, now: dt.datetime, acr_values: str) -> dict[str, Any]:
        """The ID token's claims, when everything about it is right."""
        claims = self._verified_claims(token, "id_token")
        if claims.get("iss") != self.issuer:
            raise TokenError("id_token_iss")
        self._check_audience(claims, "id_token")
        exp, iat = _epoch(claims.get("exp")), _epoch(claims.get("iat"))
        if exp is None or iat is None:
            raise TokenError("id_token_times")
        if exp <= now - LEEWAY:
            raise TokenError("id_token_expired")
        if iat > now + LEEWAY:
            raise TokenError("id_token_issued_in_future")
        received_nonce = claims.get("nonce")
        if not isinstance(received_nonce, str) or not crypto.equal(received_nonce, nonce):
            raise TokenError("id_token_nonce")
        if not acr_is_enough(claims.get("acr"), acr_values):
            raise TokenError("id_token_acr")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise TokenError("id_token_sub")
        return claims

    def userinfo(self, token: str, *, sub: str) -> dict[str, Any]:
        """The userinfo JWT's claims, when it is FranceConnect's, for us, about the ID token's person."""
        claims = self._verified_claims(token, "userinfo")
        if claims.get("iss") != self.issuer:
            raise TokenError("userinfo_iss")
        self._check_audience(claims, "userinfo")
        if not isinstance(claims.get("sub"), str) or not crypto.equal(claims["sub"], sub):
            raise TokenError("userinfo_sub")
        return claims


def acr_is_enough(acr: Any, acr_values: str) -> bool:
    """Whether a returned acr is at least the weakest level we asked for."""
    asked = [ACR_LEVELS.index(value) for value in acr_values.split() if value in ACR_LEVELS]
    if not isinstance(acr, str) or acr not in ACR_LEVELS or not asked:
        return False
    return ACR_LEVELS.index(acr) >= min(asked)


def _epoch(value: Any) -> dt.datetime | None:
    """A NumericDate claim as a UTC datetime (None when it is not a sane number)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None
