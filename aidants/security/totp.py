"""TOTP (RFC 6238) behind one module: pyotp computes the codes, we own the windows.

A code is identified by its *time step* (``unix_time // period``). Callers pass
the device's last accepted step so that a code is never accepted twice, and the
device's measured drift so that the window stays tight around the card's clock.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import re
import secrets

import pyotp

SEED_BYTES = 20
MIN_SEED_BYTES = 16
#: Longer than any real token's seed (SHA-512 keys are 64 bytes); keeps ciphertexts within their column.
MAX_SEED_BYTES = 64
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_BASE32 = re.compile(r"^[A-Z2-7]+=*$")


class SeedError(ValueError):
    """A seed that cannot be read."""


def new_seed() -> bytes:
    """A fresh random 160-bit seed, as RFC 4226 recommends."""
    return secrets.token_bytes(SEED_BYTES)


def parse_seed(text: str) -> bytes:
    """Read a seed written in hexadecimal or base32.

    Only-hex strings of even length are read as hexadecimal (card makers' files
    use it); anything else as base32 (authenticator apps' form).
    """
    value = "".join(text.split())
    if not value:
        raise SeedError("graine vide")
    if _HEX.match(value) and len(value) % 2 == 0:
        seed = bytes.fromhex(value)
    else:
        upper = value.upper()
        if not _BASE32.match(upper):
            raise SeedError("graine ni hexadécimale ni base32")
        bare = upper.rstrip("=")  # padding is optional: drop what was given, add what is needed
        try:
            seed = base64.b32decode(bare + "=" * (-len(bare) % 8), casefold=False)
        except binascii.Error as exc:
            raise SeedError("graine base32 invalide (longueur impossible)") from exc
    if len(seed) < MIN_SEED_BYTES:
        raise SeedError(f"graine trop courte ({len(seed) * 8} bits, {MIN_SEED_BYTES * 8} au moins)")
    if len(seed) > MAX_SEED_BYTES:
        raise SeedError(f"graine trop longue ({len(seed) * 8} bits, {MAX_SEED_BYTES * 8} au plus)")
    return seed


def _otp(seed: bytes, digits: int) -> pyotp.HOTP:
    return pyotp.HOTP(base64.b32encode(seed).decode(), digits=digits)


def step_at(moment: dt.datetime, period: int) -> int:
    """The time step a moment falls in."""
    return int(moment.timestamp()) // period


def code_for_step(seed: bytes, step: int, digits: int = 6) -> str:
    """The code a device shows during a time step."""
    return _otp(seed, digits).at(step)


def is_well_formed(code: str, digits: int = 6) -> bool:
    """Whether a typed code has the right shape (digits only, right length)."""
    return len(code) == digits and code.isdigit()


def match_step(seed: bytes, code: str, digits: int, steps: range) -> int | None:
    """The first step in ``steps`` whose code is ``code``, compared in constant time."""
    if not is_well_formed(code, digits):
        return None
    otp = _otp(seed, digits)
    found: int | None = None
    for step in steps:
        if hmac.compare_digest(otp.at(step), code) and found is None:
            found = step
    return found


def match_consecutive(seed: bytes, first: str, second: str, digits: int, steps: range) -> int | None:
    """The step of ``first`` when ``second`` is the code of the step after it (card calibration)."""
    if not (is_well_formed(first, digits) and is_well_formed(second, digits)):
        return None
    otp = _otp(seed, digits)
    for step in steps:
        if hmac.compare_digest(otp.at(step), first) and hmac.compare_digest(otp.at(step + 1), second):
            return step
    return None


def provisioning_uri(seed: bytes, account: str, issuer: str, period: int, digits: int) -> str:
    """The otpauth:// URI an authenticator app reads from a QR code."""
    totp = pyotp.TOTP(base64.b32encode(seed).decode(), digits=digits, interval=period)
    return totp.provisioning_uri(name=account, issuer_name=issuer)


def base32(seed: bytes) -> str:
    """A seed in base32, grouped by four for typing into an app by hand."""
    text = base64.b32encode(seed).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))
