"""SigningKey: one asymmetric key of the service, its private half encrypted at rest.

A key's life: published in the JWKS from ``publish_from``, signs from ``sign_from``
(later than ``publish_from`` after a rotation, so that verifiers see it before any
token made with it), and disappears from the JWKS at ``retire_after``, once every
token it signed has expired.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from aidants.db import Base


class SigningKey(Base):
    """A key pair that signs ID tokens, signed userinfo and mandate attestations."""

    __tablename__ = "signing_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(sa.String(64), unique=True)  # RFC 7638 thumbprint
    alg: Mapped[str] = mapped_column(sa.String(10), index=True)  # ES256 | RS256
    private_key_encrypted: Mapped[str] = mapped_column(sa.Text)  # AES-GCM under the key ring
    created_at: Mapped[dt.datetime]
    publish_from: Mapped[dt.datetime]
    sign_from: Mapped[dt.datetime]
    retire_after: Mapped[dt.datetime | None]

    def is_published(self, now: dt.datetime) -> bool:
        """Whether the JWKS lists this key right now."""
        return self.publish_from <= now and (self.retire_after is None or now < self.retire_after)

    def may_sign(self, now: dt.datetime) -> bool:
        """Whether this key may be chosen to sign right now (the newest such key is)."""
        return self.sign_from <= now and self.is_published(now)
