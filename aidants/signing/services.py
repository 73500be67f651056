"""Managing the signing keys: the current key of an algorithm, the public JWKS, rotation.

Rotation publishes the new key at once but lets it sign only ``PUBLISH_AHEAD``
later, so that every verifier that caches our JWKS (for at most ``JWKS_MAX_AGE``)
has seen it first; the previous keys stay published until every token they may
have signed has expired (``MAX_TOKEN_LIFETIME`` after they stop signing).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from aidants import db
from aidants.accounts import devices
from aidants.security import jose
from aidants.signing.models import SigningKey

#: How long a verifier may cache the JWKS (the /jwks route's Cache-Control).
JWKS_MAX_AGE = dt.timedelta(minutes=10)
#: A rotated-in key is published this long before it signs anything.
PUBLISH_AHEAD = dt.timedelta(hours=1)
#: The longest-lived token we sign: a one-year mandate attestation (ID tokens live 60 s).
MAX_TOKEN_LIFETIME = dt.timedelta(days=366)


def _context(kid: str) -> bytes:
    return b"signing-key:" + kid.encode()


def private_pem(key: SigningKey) -> str:
    """Decrypt a key's private PEM (kept in memory only while signing)."""
    return devices.keyring().decrypt(key.private_key_encrypted, _context(key.kid)).decode()


def _new_key(alg: str, now: dt.datetime, sign_from: dt.datetime) -> SigningKey:
    kid, pem = jose.generate_private_pem(alg)
    key = SigningKey(kid=kid, alg=alg, private_key_encrypted=devices.keyring().encrypt(pem.encode(), _context(kid)),
                     created_at=now, publish_from=now, sign_from=sign_from, retire_after=None)
    db.session().add(key)
    db.session().flush()
    return key


def _signing_candidates(alg: str, now: dt.datetime) -> sa.Select[SigningKey]:
    return (
        sa.select(SigningKey)
        .where(SigningKey.alg == alg, SigningKey.sign_from <= now, SigningKey.publish_from <= now,
               sa.or_(SigningKey.retire_after.is_(None), SigningKey.retire_after > now))
        .order_by(SigningKey.sign_from.desc(), SigningKey.id.desc())
    )


def current_key(alg: str, now: dt.datetime) -> SigningKey:
    """The key that signs for ``alg`` now; the first one is created on first use."""
    if alg not in jose.ALGORITHMS:
        raise ValueError(f"unsupported signing algorithm {alg!r}")
    key = db.session().scalars(_signing_candidates(alg, now).limit(1)).first()
    return key if key is not None else _new_key(alg, now, sign_from=now)


def published_keys(now: dt.datetime) -> list[SigningKey]:
    """Every key the JWKS lists now: published and not retired."""
    statement = (
        sa.select(SigningKey)
        .where(SigningKey.publish_from <= now,
               sa.or_(SigningKey.retire_after.is_(None), SigningKey.retire_after > now))
        .order_by(SigningKey.id)
    )
    return list(db.session().scalars(statement))


#: Public JWKs by kid: a key's public half never changes, so it is derived once per process.
_public_jwks: dict[str, dict[str, Any]] = {}


def public_jwk(key: SigningKey) -> dict[str, Any]:
    """A key's public JWK (kid, alg, use)."""
    if key.kid not in _public_jwks:
        _public_jwks[key.kid] = jose.public_jwk(private_pem(key), key.kid, key.alg)
    return _public_jwks[key.kid]


def jwks(now: dt.datetime) -> dict[str, Any]:
    """The public JWKS: what anyone needs to verify our tokens offline.

    Each algorithm gets its first key here if it has none yet, so that a verifier's
    first fetch already lists the key of the first token.
    """
    for alg in jose.ALGORITHMS:
        current_key(alg, now)
    return {"keys": [public_jwk(key) for key in published_keys(now)]}


def rotate(alg: str, now: dt.datetime) -> SigningKey:
    """Publish a new key that signs from ``now + PUBLISH_AHEAD``; schedule the retirement of the others.

    An older key stops signing when the new one starts, and stays in the JWKS for
    ``MAX_TOKEN_LIFETIME`` more, so every token it signed can still be verified.
    """
    if alg not in jose.ALGORITHMS:
        raise ValueError(f"unsupported signing algorithm {alg!r}")
    sign_from = now + PUBLISH_AHEAD
    new = _new_key(alg, now, sign_from=sign_from)
    db.session().execute(
        sa.update(SigningKey)
        .where(SigningKey.alg == alg, SigningKey.id != new.id, SigningKey.retire_after.is_(None))
        .values(retire_after=sign_from + MAX_TOKEN_LIFETIME)
        .execution_options(synchronize_session="fetch")
    )
    db.session().flush()
    return new


def reencrypt_private_keys() -> int:
    """Re-encrypt the private keys written under an older key of the ring (after a ring rotation)."""
    ring, count = devices.keyring(), 0
    for key in db.session().scalars(sa.select(SigningKey)):
        if ring.needs_rotation(key.private_key_encrypted):
            key.private_key_encrypted = ring.encrypt(private_pem(key).encode(), _context(key.kid))
            count += 1
    db.session().flush()
    return count
