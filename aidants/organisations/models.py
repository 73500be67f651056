"""Organisation: the legal entity (SIRET) that employs aidants and holds mandates."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from aidants.db import Base

DEMARCHES = (
    "papiers",
    "famille",
    "social",
    "travail",
    "logement",
    "transports",
    "argent",
    "justice",
    "etranger",
    "loisirs",
)


def siret_is_valid(siret: str) -> bool:
    """Whether a SIRET has 14 digits and a valid Luhn check digit.

    La Poste's establishments (SIREN 356000000) follow another rule: the digits sum to a multiple of 5.
    """
    if len(siret) != 14 or not siret.isdigit():
        return False
    if siret.startswith("356000000"):
        return sum(int(c) for c in siret) % 5 == 0
    total = 0
    for index, char in enumerate(reversed(siret)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


class Organisation(Base):
    """A structure: town hall, association, France Services house…"""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    siret: Mapped[str] = mapped_column(sa.String(14), unique=True)
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    zipcode: Mapped[str] = mapped_column(sa.String(10), default="")
    city: Mapped[str] = mapped_column(sa.String(100), default="")
    kind: Mapped[str] = mapped_column(sa.String(50), default="")
    allowed_demarches: Mapped[str] = mapped_column(sa.String(200), default=",".join(DEMARCHES))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime]

    @property
    def demarches(self) -> list[str]:
        """The démarches this structure may take mandates for, in the canonical order."""
        allowed = set(self.allowed_demarches.split(","))
        return [d for d in DEMARCHES if d in allowed]
