"""IETF OAuth Token Status List: one bit per mandate (list 1) and per autorisation (list 2), signed.

The index of a mandate is its id, of an autorisation its id; the bit is 1 once it is revoked (a
mandate: every autorisation revoked). The list is built from the database at each request, so a
revocation shows in the next answer; verifiers may cache it for ``TTL``. Bits are packed as the
draft says: index 0 is the least significant bit of the first byte; the bytes are zlib-compressed
(DEFLATE in the ZLIB format) and base64url-encoded without padding.
"""

from __future__ import annotations

import base64
import datetime as dt
import zlib

import sqlalchemy as sa

from aidants import db
from aidants.mandats.models import Autorisation
from aidants.security import jose

MANDATS, AUTORISATIONS = 1, 2
LISTS = (MANDATS, AUTORISATIONS)
JWT_TYPE = "statuslist+jwt"
MEDIA_TYPE = "application/statuslist+jwt"
#: Seconds a verifier may keep a list before fetching it again (the ``ttl`` claim and the HTTP cache).
TTL = 60
#: A fresh list is valid this long (``exp``).
LIFETIME = dt.timedelta(hours=1)
#: Lists are at least this many bits long, so that their length tells little about the service's volume.
MIN_BITS = 1 << 17


def list_uri(issuer: str, list_id: int) -> str:
    """The stable public URL of a list (also its ``sub``)."""
    return f"{issuer.rstrip('/')}/statuslists/{list_id}"


def revoked_indices(list_id: int) -> list[int]:
    """The indices whose bit is set, read from the database now."""
    session = db.session()
    if list_id == AUTORISATIONS:
        return list(session.scalars(sa.select(Autorisation.id).where(Autorisation.revoked_at.is_not(None))))
    statement = (
        sa.select(Autorisation.mandat_id).group_by(Autorisation.mandat_id)
        .having(sa.func.count(Autorisation.id) == sa.func.count(Autorisation.revoked_at))
    )
    return list(session.scalars(statement))


def _size(list_id: int) -> int:
    column = Autorisation.id if list_id == AUTORISATIONS else Autorisation.mandat_id
    highest = db.session().scalar(sa.select(sa.func.max(column))) or 0
    return max(MIN_BITS, -(-(highest + 1) // 8) * 8)


def encode(indices: list[int], size: int) -> str:
    """The ``lst`` value: the bits packed, zlib-compressed, base64url without padding."""
    bits = bytearray(-(-size // 8))
    for index in indices:
        bits[index // 8] |= 1 << (index % 8)
    return base64.urlsafe_b64encode(zlib.compress(bytes(bits), 9)).rstrip(b"=").decode()


def decode(lst: str) -> bytes:
    """The packed bits of a ``lst`` value (for tests and verifiers written in Python)."""
    return zlib.decompress(base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4)))


def bit(packed: bytes, index: int) -> int:
    """The status of ``index`` in packed bits (0 valid, 1 revoked)."""
    return (packed[index // 8] >> (index % 8)) & 1


def signed_list(list_id: int, issuer: str, now: dt.datetime) -> str:
    """The status list token: a JWT typed ``statuslist+jwt``, signed with the service's ES256 key."""
    claims = {
        "sub": list_uri(issuer, list_id), "iss": issuer, "iat": int(now.timestamp()),
        "exp": int((now + LIFETIME).timestamp()), "ttl": TTL,
        "status_list": {"bits": 1, "lst": encode(revoked_indices(list_id), _size(list_id))},
    }
    return jose.sign_jwt(claims, "ES256", typ=JWT_TYPE, now=now)
