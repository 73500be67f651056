"""Usager: the pivot identity exactly as FranceConnect returned it.

FranceConnect rebuilds a citizen's ``sub`` from these pivot fields, so they are
stored unaltered (a partial birthdate stays ``YYYY-00-00``). Our ``sub`` is a keyed
hash of FranceConnect's pairwise ``sub``, never the raw value.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from aidants.db import Base


class Usager(Base):
    """A citizen identified through FranceConnect at an aidant's desk."""

    __tablename__ = "usager"

    id: Mapped[int] = mapped_column(primary_key=True)
    sub: Mapped[str] = mapped_column(sa.String(64), unique=True)  # HMAC-SHA-256 of FranceConnect's sub
    given_name: Mapped[str] = mapped_column(sa.String(256))
    family_name: Mapped[str] = mapped_column(sa.String(256))
    preferred_username: Mapped[str] = mapped_column(sa.String(256), default="")
    birthdate: Mapped[str] = mapped_column(sa.String(10))  # as received: YYYY-MM-DD, YYYY-MM-00, YYYY-00-00
    gender: Mapped[str] = mapped_column(sa.String(10))
    birthplace: Mapped[str] = mapped_column(sa.String(5), default="")  # INSEE COG, empty when born abroad
    birthcountry: Mapped[str] = mapped_column(sa.String(5))  # INSEE COG, 99100 for France
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    # Lower-cased "given family" for the aidant's search; kept in step by the service.
    search_name: Mapped[str] = mapped_column(sa.String(520), index=True, default="")
    # Set when the identity was erased (GDPR): every personal field is then empty.
    erased_at: Mapped[dt.datetime | None]

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def initials(self) -> str:
        """What a public page may show of a usager: initials only."""
        first = self.given_name[:1].upper()
        last = self.family_name[:1].upper()
        return f"{first}. {last}."
