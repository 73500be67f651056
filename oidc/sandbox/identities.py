"""The sandbox's fictitious identities, in FranceConnect's pivot format (INSEE COG codes, partial dates).

They are made up; any resemblance to a real person is accidental. They cover the
cases the service must handle: a person born abroad (no birthplace), partial
birthdates (``YYYY-00-00``, ``YYYY-MM-00``), Corsica's ``2A`` codes, a usage name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Labels of the few COG codes used below, for the sandbox's page only.
PLACES = {
    "75107": "Paris 7e", "69123": "Lyon", "2A004": "Ajaccio", "59350": "Lille", "13055": "Marseille",
}
COUNTRIES = {"99100": "France", "99350": "Maroc", "99134": "Espagne"}


@dataclass(frozen=True)
class FictitiousIdentity:
    """One person the sandbox can log in as."""

    key: str
    given_name: str
    family_name: str
    birthdate: str
    gender: str
    birthplace: str
    birthcountry: str
    email: str
    preferred_username: str = ""
    note: str = ""

    def claims(self) -> dict[str, Any]:
        """The pivot identity and email, as FranceConnect would return them (without sub)."""
        return {
            "given_name": self.given_name, "family_name": self.family_name, "birthdate": self.birthdate,
            "gender": self.gender, "birthplace": self.birthplace, "birthcountry": self.birthcountry,
            "email": self.email, "preferred_username": self.preferred_username,
        }

    @property
    def born(self) -> str:
        """Where and when, in French, for the sandbox's choice page."""
        year, month, day = self.birthdate.split("-")
        if month == "00":
            when = f"en {year} (jour et mois inconnus)"
        elif day == "00":
            when = f"en {month}/{year} (jour inconnu)"
        else:
            when = f"le {day}/{month}/{year}"
        where = PLACES.get(self.birthplace, self.birthplace) if self.birthplace else "à l'étranger"
        country = COUNTRIES.get(self.birthcountry, self.birthcountry)
        verb = "Née" if self.gender == "female" else "Né"
        return f"{verb} {when}, {where} ({country})"


IDENTITIES: tuple[FictitiousIdentity, ...] = (
    FictitiousIdentity("angela", "Angela Claire Louise", "DUBOIS", "1962-08-24", "female", "75107", "99100",
                       "angela.dubois@example.org"),
    FictitiousIdentity("karim", "Karim", "BENSAÏD", "1985-03-12", "male", "", "99350",
                       "karim.bensaid@example.org", note="pas de commune de naissance"),
    FictitiousIdentity("marie", "Marie-Thérèse Jeanne", "MARTIN", "1948-00-00", "female", "2A004", "99100",
                       "", note="date de naissance partielle, sans e-mail"),
    FictitiousIdentity("lucas", "Lucas Pierre", "PETIT", "2001-11-00", "male", "69123", "99100",
                       "lucas.petit@example.org", note="jour de naissance inconnu"),
    FictitiousIdentity("ines", "Inès", "GARCÍA FERNÁNDEZ", "1990-06-15", "female", "", "99134",
                       "ines.garcia@example.org", note="pas de commune de naissance"),
    FictitiousIdentity("jean", "Jean-Baptiste", "LEFÈVRE", "1955-01-30", "male", "59350", "99100",
                       "jb.lefevre@example.org", preferred_username="MOREAU", note="nom d'usage"),
)
BY_KEY = {identity.key: identity for identity in IDENTITIES}
