"""Managing the signing keys: the current key of an algorithm, the public JWKS, rotation.

Rotation publishes the new key at once but lets it sign only ``PUBLISH_AHEAD``
later, so that every verifier that caches our JWKS (for at most ``JWKS_MAX_AGE``)
has seen it first; the previous keys stay published until every token they may
have signed has expired (``MAX_TOKEN_LIFETIME`` after they stop signing).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import current_app

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
#: How long a process trusts its copy of the key list: far below PUBLISH_AHEAD, so a rotation is seen
#: (and its key known) long before the new key may sign.
KEY_CACHE_TTL = dt.timedelta(seconds=60)
#: Marks a session that created a key it has not committed yet.
_UNCOMMITTED_KEY = "signing_key_created"


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
    # Not committed yet: this session's reads must not fill the process cache (a rollback would leave a
    # key there that the database never kept).
    db.session().info[_UNCOMMITTED_KEY] = True
    _cache().loaded_at = None
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


@dataclass(frozen=True)
class KeyInfo:
    """What choosing a signing key needs of a row, detached from any session."""

    kid: str
    alg: str
    private_key_encrypted: str
    publish_from: dt.datetime
    sign_from: dt.datetime
    retire_after: dt.datetime | None

    def may_sign(self, now: dt.datetime) -> bool:
        return self.sign_from <= now and self.publish_from <= now and (
            self.retire_after is None or now < self.retire_after)


@dataclass
class KeyCache:
    """One process's copy of the key list (refreshed every KEY_CACHE_TTL) and its imported private keys.

    The database stays the source of truth: the list is re-read after KEY_CACHE_TTL (or when the clock
    goes back), and a key is imported once per process, by kid (a kid's key material never changes).
    """

    rows: list[KeyInfo] = field(default_factory=list)
    loaded_at: dt.datetime | None = None
    imported: dict[str, Any] = field(default_factory=dict)

    def fresh(self, now: dt.datetime) -> bool:
        return self.loaded_at is not None and self.loaded_at <= now < self.loaded_at + KEY_CACHE_TTL

    def choose(self, alg: str, now: dt.datetime) -> KeyInfo | None:
        candidates = [row for row in self.rows if row.alg == alg and row.may_sign(now)]
        return max(candidates, key=lambda row: row.sign_from, default=None)



def _cache() -> KeyCache:
    cache: KeyCache | None = current_app.extensions.get("signing_key_cache")
    if cache is None:
        cache = current_app.extensions["signing_key_cache"] = KeyCache()
    return cache


def _load(cache: KeyCache, now: dt.datetime) -> None:
    session = db.session()
    if session.info.get(_UNCOMMITTED_KEY):
        return  # this session made a key it has not committed: keep the cache as committed data made it
    columns = (SigningKey.kid, SigningKey.alg, SigningKey.private_key_encrypted, SigningKey.publish_from,
               SigningKey.sign_from, SigningKey.retire_after)
    statement = sa.select(*columns).where(sa.or_(SigningKey.retire_after.is_(None), SigningKey.retire_after > now))
    cache.rows = [KeyInfo(*row) for row in session.execute(statement.order_by(SigningKey.id))]
    cache.loaded_at = now


def signer(alg: str, now: dt.datetime) -> tuple[str, Any]:
    """The kid and the imported private key that sign for ``alg`` now, without SQL while the cache is fresh."""
    if alg not in jose.ALGORITHMS:
        raise ValueError(f"unsupported signing algorithm {alg!r}")
    cache = _cache()
    if not cache.fresh(now):
        _load(cache, now)
    found = cache.choose(alg, now) if cache.fresh(now) else None
    if found is None:  # none known yet (or not cacheable): the session decides, creating the first one
        key = current_key(alg, now)
        found = KeyInfo(key.kid, key.alg, key.private_key_encrypted, key.publish_from, key.sign_from,
                        key.retire_after)
    if found.kid not in cache.imported:
        pem = devices.keyring().decrypt(found.private_key_encrypted, _context(found.kid)).decode()
        cache.imported[found.kid] = jose.import_private(pem, found.alg)
    return found.kid, cache.imported[found.kid]


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
    _cache().loaded_at = None
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
