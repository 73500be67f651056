"""Encryption at rest, token hashing and signatures, behind one module (``cryptography``).

* Seeds: AES-256-GCM under a key ring from ``SEED_ENCRYPTION_KEYS``
  (``kid:base64key,kid2:base64key``): the first key encrypts, every key decrypts,
  so a key is rotated by putting a new one first and running ``aidants rotate-seeds``.
* Tokens (login links, codes, session ids): 256-bit random values stored as
  SHA-256 digests; a slow hash adds nothing against such randomness.
* Journal checkpoints: Ed25519.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

_NONCE_BYTES = 12  # AES-GCM's standard nonce; random, so a key must not encrypt more than ~2**32 values
_TAG_BYTES = 16


class KeyRingError(ValueError):
    """A key ring (or a key) that cannot be used."""


class DecryptionError(ValueError):
    """A ciphertext that no key of the ring opens."""


def b64decode(text: str) -> bytes:
    """Decode URL-safe or standard base64, padding optional."""
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))


def b64encode(data: bytes) -> str:
    """URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@functools.lru_cache(maxsize=32)
def _cipher(key: bytes) -> AESGCM:
    """One AES-GCM object per key: setting up the key schedule costs more than sealing a seed."""
    return AESGCM(key)


@dataclass(frozen=True)
class KeyRing:
    """AES-GCM keys by id; the first one encrypts."""

    keys: tuple[tuple[str, bytes], ...]

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """Read ``kid:base64key[,kid:base64key…]``."""
        keys: list[tuple[str, bytes]] = []
        for part in spec.split(","):
            kid, sep, encoded = part.strip().partition(":")
            if not sep or not kid:
                raise KeyRingError("each key must be written kid:base64key")
            try:
                key = b64decode(encoded)
            except ValueError as exc:
                raise KeyRingError(f"key {kid!r} is not base64") from exc
            if len(key) != 32:
                raise KeyRingError(f"key {kid!r} must be 32 bytes (AES-256), not {len(key)}")
            keys.append((kid, key))
        if len({kid for kid, _ in keys}) != len(keys):
            raise KeyRingError("two keys share an id")
        return cls(tuple(keys))

    @property
    def current_kid(self) -> str:
        return self.keys[0][0]

    def encrypt(self, plaintext: bytes, context: bytes) -> str:
        """Encrypt with the current key; ``context`` is bound as associated data."""
        kid, key = self.keys[0]
        nonce = os.urandom(_NONCE_BYTES)
        return f"{kid}:{b64encode(nonce + _cipher(key).encrypt(nonce, plaintext, context))}"

    def encrypt_many(self, plaintexts: list[bytes], context: bytes) -> list[str]:
        """``encrypt`` for each value: one random draw for all the nonces (each still its own 96 random
        bits) and the key looked up once, which is most of the cost for a small value like a seed."""
        kid, key = self.keys[0]
        seal = _cipher(key).encrypt
        nonces = os.urandom(_NONCE_BYTES * len(plaintexts))
        sealed = []
        for index, plaintext in enumerate(plaintexts):
            nonce = nonces[index * _NONCE_BYTES : (index + 1) * _NONCE_BYTES]
            body = base64.urlsafe_b64encode(nonce + seal(nonce, plaintext, context)).rstrip(b"=")
            sealed.append(f"{kid}:{body.decode()}")
        return sealed

    def decrypt(self, token: str, context: bytes) -> bytes:
        """Decrypt a value written by ``encrypt`` with any key of the ring."""
        kid, _, body = token.partition(":")
        key = dict(self.keys).get(kid)
        if key is None:
            raise DecryptionError(f"no key {kid!r} in the ring")
        try:
            raw = b64decode(body)
        except ValueError as exc:
            raise DecryptionError("ciphertext is not base64") from exc
        if len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise DecryptionError("ciphertext too short")
        try:
            return _cipher(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context)
        except InvalidTag as exc:
            raise DecryptionError("ciphertext altered or wrong key") from exc

    def needs_rotation(self, token: str) -> bool:
        """Whether a ciphertext was written under another key than the current one."""
        return token.partition(":")[0] != self.current_kid


def new_aes_key_spec(kid: str) -> str:
    """A fresh key ring entry, for the README's rotation procedure."""
    return f"{kid}:{b64encode(os.urandom(32))}"


def new_token() -> str:
    """A 256-bit random token, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 of a random token, hex; what the database keeps."""
    return hashlib.sha256(token.encode()).hexdigest()


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA-256 of a value under a server key, hex."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def sha256_hex(data: bytes) -> str:
    """SHA-256 digest, hex."""
    return hashlib.sha256(data).hexdigest()


def equal(a: str, b: str) -> bool:
    """Constant-time comparison of two strings."""
    return hmac.compare_digest(a.encode(), b.encode())


def signing_key(seed_b64: str) -> Ed25519PrivateKey:
    """An Ed25519 key from its 32-byte seed in base64."""
    seed = b64decode(seed_b64)
    if len(seed) != 32:
        raise KeyRingError("JOURNAL_SIGNING_KEY must be 32 bytes in base64")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_b64(key: Ed25519PrivateKey) -> str:
    """The raw public key in base64, to publish or to keep with checkpoints."""
    return b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """Ed25519 signature in base64."""
    return b64encode(key.sign(message))


def verify_signature(public_b64: str, message: bytes, signature_b64: str) -> bool:
    """Whether an Ed25519 signature is valid for a message."""
    try:
        Ed25519PublicKey.from_public_bytes(b64decode(public_b64)).verify(b64decode(signature_b64), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def public_key_raw(key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte Ed25519 public key."""
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def sign_raw(key: Ed25519PrivateKey, message: bytes) -> bytes:
    """Ed25519 signature, raw 64 bytes (for C2SP signed notes)."""
    return key.sign(message)


def verify_raw(public: bytes, message: bytes, signature: bytes) -> bool:
    """Whether a raw Ed25519 signature is valid for a message under a raw public key."""
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


#: The order of the P-256 group (FIPS 186-4, D.1.2.3).
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def derived_p256_pem(seed: bytes) -> bytes:
    """A P-256 private key (PKCS#8 PEM) derived deterministically from a secret seed.

    For the development sandbox only: every worker derives the same signing key from SECRET_KEY.
    """
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    scalar = int.from_bytes(hashlib.sha512(seed).digest(), "big") % (_P256_ORDER - 1) + 1
    key = ec.derive_private_key(scalar, ec.SECP256R1())
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
