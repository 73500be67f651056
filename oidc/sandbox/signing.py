"""The sandbox's keys, derived from SECRET_KEY so that every worker shares them with no storage.

* an ES256 key signs ID tokens and userinfo JWTs, published in the sandbox's JWKS;
* codes and access tokens are sealed (AES-GCM, a derived key): stateless, opaque and
  unforgeable; they expire, but a code may be exchanged more than once within its 30 s
  (acceptable for a training stand-in, never for our own provider).
"""

from __future__ import annotations

import json
from typing import Any

from flask import current_app

from aidants import clock
from aidants.security import crypto, jose

ALG = "ES256"


def _derive(secret_key: str, label: str) -> bytes:
    return bytes.fromhex(crypto.keyed_hash(secret_key.encode(), f"franceconnect-sandbox:{label}"))


class SandboxKeys:
    """The signing key and the sealing key of one app."""

    def __init__(self, secret_key: str) -> None:
        self._pem = crypto.derived_p256_pem(_derive(secret_key, "es256")).decode()
        self._kid = jose.key_id(self._pem, ALG)
        self._ring = crypto.KeyRing((("sbx", _derive(secret_key, "seal")),))
        self.sub_key = _derive(secret_key, "sub")

    @property
    def kid(self) -> str:
        return self._kid

    def jwks(self) -> dict[str, Any]:
        """The public JWKS."""
        return {"keys": [jose.public_jwk(self._pem, self._kid, ALG)]}

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact ES256 JWT."""
        return jose.sign_with(self._pem, self._kid, ALG, claims)

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a JWT this sandbox signed (expiry not checked: for id_token_hint), or None."""
        try:
            return jose.verify_with(token, self.jwks(), clock.now(), accept_expired=True, algorithms=[ALG])
        except jose.InvalidJWT:
            return None

    def seal(self, purpose: str, data: dict[str, Any]) -> str:
        """An opaque, authenticated token carrying ``data`` (a code or an access token)."""
        return self._ring.encrypt(json.dumps(data, separators=(",", ":")).encode(), purpose.encode())

    def unseal(self, purpose: str, token: str) -> dict[str, Any] | None:
        """The data of a token sealed for ``purpose``, or None when forged, altered or for another purpose."""
        try:
            data = json.loads(self._ring.decrypt(token, purpose.encode()))
        except (ValueError, crypto.DecryptionError):
            return None
        return data if isinstance(data, dict) else None


def keys() -> SandboxKeys:
    """The current app's sandbox keys (derived once per process)."""
    found: SandboxKeys | None = current_app.extensions.get("fc_sandbox_keys")
    if found is None:
        found = current_app.extensions.setdefault("fc_sandbox_keys", SandboxKeys(current_app.config["SECRET_KEY"]))
    return found
