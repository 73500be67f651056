"""Seed encryption at rest: the key ring, rotation and tamper detection."""

from __future__ import annotations

import base64

import pytest

from aidants.security import crypto


def key(byte: bytes) -> str:
    return base64.urlsafe_b64encode(byte * 32).decode()


K1, K2 = f"k1:{key(b'1')}", f"k2:{key(b'2')}"


@pytest.mark.parametrize(("spec", "reason"), [
    ("", "kid:base64key"),
    ("k1", "kid:base64key"),
    (f":{key(b'1')}", "kid:base64key"),
    (f"{K1},", "kid:base64key"),
    ("k1:" + base64.b64encode(b"x" * 16).decode(), "32 bytes"),
    ("k1:" + base64.b64encode(b"x" * 33).decode(), "32 bytes"),
    ("k1:%%%%", "32 bytes"),
    (f"{K1},k1:{key(b'3')}", "share an id"),
])
def test_key_ring_parse_errors(spec, reason):
    with pytest.raises(crypto.KeyRingError, match=reason):
        crypto.KeyRing.parse(spec)


def test_key_ring_accepts_standard_and_urlsafe_base64_with_or_without_padding():
    raw = bytes(range(256))[200:232]  # contains bytes that encode to + and /
    standard = base64.b64encode(raw).decode()
    assert "+" in standard or "/" in standard
    for spec in (f"a:{standard}", f"a:{standard.rstrip('=')}", f"a:{base64.urlsafe_b64encode(raw).decode()}"):
        assert crypto.KeyRing.parse(spec).keys == (("a", raw),)


def test_round_trip_and_the_first_key_encrypts():
    ring = crypto.KeyRing.parse(f" {K2} , {K1} ")
    token = ring.encrypt(b"seed", b"ctx")
    assert token.startswith("k2:") and b"seed".hex() not in token
    assert ring.decrypt(token, b"ctx") == b"seed"
    assert ring.encrypt(b"seed", b"ctx") != token  # a fresh nonce each time


def test_an_old_key_still_decrypts_and_rotation_is_detected():
    old = crypto.KeyRing.parse(K1).encrypt(b"seed", b"ctx")
    ring = crypto.KeyRing.parse(f"{K2},{K1}")
    assert ring.decrypt(old, b"ctx") == b"seed"
    assert ring.needs_rotation(old)
    assert not ring.needs_rotation(ring.encrypt(b"seed", b"ctx"))


def test_unknown_key_is_named():
    token = crypto.KeyRing.parse(K1).encrypt(b"seed", b"ctx")
    with pytest.raises(crypto.DecryptionError, match="no key 'k1'"):
        crypto.KeyRing.parse(K2).decrypt(token, b"ctx")


def test_same_id_with_another_key_is_detected():
    token = crypto.KeyRing.parse(K1).encrypt(b"seed", b"ctx")
    with pytest.raises(crypto.DecryptionError, match="altered or wrong key"):
        crypto.KeyRing.parse(f"k1:{key(b'9')}").decrypt(token, b"ctx")


def test_every_altered_byte_is_detected():
    ring = crypto.KeyRing.parse(K1)
    token = ring.encrypt(b"0123456789abcdef0123", b"ctx")
    kid, _, body = token.partition(":")
    raw = crypto.b64decode(body)
    for index in range(len(raw)):
        altered = bytearray(raw)
        altered[index] ^= 0x01
        with pytest.raises(crypto.DecryptionError):
            ring.decrypt(f"{kid}:{crypto.b64encode(bytes(altered))}", b"ctx")


def test_context_is_bound():
    ring = crypto.KeyRing.parse(K1)
    token = ring.encrypt(b"seed", b"totp-seed:card")
    with pytest.raises(crypto.DecryptionError):
        ring.decrypt(token, b"totp-seed:app")


@pytest.mark.parametrize("body", ["", "AAAA", crypto.b64encode(b"x" * 27), "@@@@"])
def test_truncated_or_garbage_ciphertexts_raise_decryption_error(body):
    with pytest.raises(crypto.DecryptionError):
        crypto.KeyRing.parse(K1).decrypt(f"k1:{body}", b"ctx")


def test_new_key_spec_is_usable():
    spec = crypto.new_aes_key_spec("k9")
    ring = crypto.KeyRing.parse(spec)
    assert ring.current_kid == "k9"
    assert ring.decrypt(ring.encrypt(b"x", b"c"), b"c") == b"x"
