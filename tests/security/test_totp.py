"""TOTP primitives: reading seeds, RFC 6238 codes, windows and calibration."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from aidants.security import totp

RFC_SEED = b"12345678901234567890"  # RFC 6238 appendix B, SHA-1


def at(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


@pytest.mark.parametrize(("unix_time", "expected"), [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
])
def test_rfc_6238_sha1_vectors(unix_time, expected):
    assert totp.code_for_step(RFC_SEED, totp.step_at(at(unix_time), 30), digits=8) == expected


def test_six_digit_code_is_the_last_six_of_the_eight():
    assert totp.code_for_step(RFC_SEED, 1) == "287082"


def test_step_depends_on_the_period():
    moment = at(3600 + 59)
    assert totp.step_at(moment, 30) == 121
    assert totp.step_at(moment, 60) == 60


def test_hex_and_base32_of_the_same_seed_read_the_same():
    assert totp.parse_seed(RFC_SEED.hex()) == RFC_SEED
    assert totp.parse_seed(RFC_SEED.hex().upper()) == RFC_SEED
    b32 = base64.b32encode(RFC_SEED).decode()
    assert totp.parse_seed(b32) == RFC_SEED
    assert totp.parse_seed(b32.lower()) == RFC_SEED
    assert totp.parse_seed(totp.base32(RFC_SEED)) == RFC_SEED  # grouped by four, as shown to people


def test_base32_padding_is_optional():
    seed = bytes(range(1, 17))  # 16 bytes: base32 needs padding
    padded = base64.b32encode(seed).decode()
    assert padded.endswith("=")
    assert totp.parse_seed(padded) == seed
    assert totp.parse_seed(padded.rstrip("=")) == seed


def test_even_length_hex_digits_are_hex_otherwise_base32():
    # Made only of hex digits and of even length: hexadecimal, as the README says.
    assert totp.parse_seed("AB" * 16) == bytes([0xAB]) * 16
    # A base32 seed with letters outside A-F is read as base32.
    assert totp.parse_seed("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP") == base64.b32decode("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")


@pytest.mark.parametrize(("text", "reason"), [
    ("", "vide"),
    ("   ", "vide"),
    ("00" * 15, "trop courte"),  # 120 bits
    (base64.b32encode(b"x" * 10).decode(), "trop courte"),
    ("00" * 65, "trop longue"),
    ("not a seed!", "ni hexadécimale ni base32"),
    ("ZZZ-ZZZ", "ni hexadécimale ni base32"),
    ("ABCDEFGHJ", "base32 invalide"),  # 9 characters: no base32 text has this length
    ("é" * 32, "ni hexadécimale ni base32"),
])
def test_bad_seeds_are_refused_with_a_french_reason(text, reason):
    with pytest.raises(totp.SeedError, match=reason):
        totp.parse_seed(text)


def test_new_seeds_are_160_bits_and_random():
    seeds = {totp.new_seed() for _ in range(20)}
    assert len(seeds) == 20 and all(len(seed) == 20 for seed in seeds)


def test_well_formed_codes():
    assert totp.is_well_formed("123456")
    assert not totp.is_well_formed("12345")
    assert not totp.is_well_formed("12345a")
    assert not totp.is_well_formed("1234567")
    assert totp.is_well_formed("12345678", digits=8)


def test_match_step_finds_the_step_inside_the_window_only():
    seed = totp.new_seed()
    code = totp.code_for_step(seed, 1000)
    assert totp.match_step(seed, code, 6, range(999, 1002)) == 1000
    assert totp.match_step(seed, code, 6, range(1001, 1004)) is None
    assert totp.match_step(seed, "abcdef", 6, range(999, 1002)) is None


def test_match_consecutive_needs_the_next_code_after_the_first():
    seed = totp.new_seed()
    first, second = totp.code_for_step(seed, 500), totp.code_for_step(seed, 501)
    assert totp.match_consecutive(seed, first, second, 6, range(480, 520)) == 500
    assert totp.match_consecutive(seed, second, first, 6, range(480, 520)) is None
    assert totp.match_consecutive(seed, first, totp.code_for_step(seed, 502), 6, range(480, 520)) is None
    assert totp.match_consecutive(seed, first, second, 6, range(510, 520)) is None


def test_provisioning_uri_carries_period_digits_and_issuer():
    uri = totp.provisioning_uri(RFC_SEED, "camille@exemple.fr", "Aidants Connect", 30, 6)
    assert uri.startswith("otpauth://totp/")
    assert "secret=" + base64.b32encode(RFC_SEED).decode().rstrip("=") in uri
    assert "issuer=Aidants%20Connect" in uri
    assert "camille%40exemple.fr" in uri
