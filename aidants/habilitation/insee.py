"""A small client of INSEE's Sirene API: the establishment registered under a SIRET.

Used only when ``INSEE_API_KEY`` is configured; otherwise the issuer types the details.
The key travels in the ``X-INSEE-Api-Key-Integration`` header and is never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_URL = "https://api.insee.fr/api-sirene/3.11"

#: Legal categories (catégorie juridique) that name one of our kinds of structures.
_KIND_BY_CATEGORY = {"7210": "commune", "7220": "departement", "7361": "ccas", "7364": "ccas"}


class InseeUnavailable(RuntimeError):
    """The API did not answer usably (network, status, format)."""


@dataclass(frozen=True)
class Establishment:
    """What the form needs from the Sirene record."""

    siret: str
    name: str
    address: str
    zipcode: str
    city: str
    kind: str
    active: bool


def lookup(siret: str, *, api_key: str, base_url: str, timeout: float | tuple[float, float]) -> Establishment | None:
    """The establishment with this SIRET (14 digits, already checked), None when INSEE knows none."""
    if not (len(siret) == 14 and siret.isdigit()):
        raise ValueError("a SIRET is 14 digits")
    import requests  # here, not at boot: few requests need it and it is slow to import

    try:
        response = requests.get(
            f"{base_url.rstrip('/')}/siret/{siret}",
            headers={"X-INSEE-Api-Key-Integration": api_key, "Accept": "application/json"},
            timeout=timeout, allow_redirects=False,
        )
    except requests.RequestException as exc:
        log.warning("Sirene lookup failed: %s", type(exc).__name__)
        raise InseeUnavailable("no answer") from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        log.warning("Sirene lookup answered HTTP %s", response.status_code)
        raise InseeUnavailable(f"HTTP {response.status_code}")
    try:
        record = response.json()["etablissement"]
        return parse(record)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        log.warning("Sirene lookup: unexpected answer (%s)", type(exc).__name__)
        raise InseeUnavailable("unexpected answer") from exc


def _text(mapping: dict[str, Any], key: str) -> str:
    value = mapping.get(key)
    return str(value).strip() if value not in (None, "[ND]") else ""


def parse(record: dict[str, Any]) -> Establishment:
    """An ``etablissement`` object of the Sirene API → what the form needs."""
    unit = record.get("uniteLegale") or {}
    periods = record.get("periodesEtablissement") or [{}]
    current = periods[0] or {}
    address = record.get("adresseEtablissement") or {}
    name = _text(unit, "denominationUniteLegale") or " ".join(
        part for part in (_text(unit, "prenom1UniteLegale"), _text(unit, "nomUniteLegale")) if part
    )
    sign = _text(current, "enseigne1Etablissement") or _text(current, "denominationUsuelleEtablissement")
    if sign and sign.lower() != name.lower():
        name = f"{name} ({sign})" if name else sign
    street = " ".join(part for part in (
        _text(address, "numeroVoieEtablissement"), _text(address, "indiceRepetitionEtablissement"),
        _text(address, "typeVoieEtablissement"), _text(address, "libelleVoieEtablissement"),
    ) if part)
    complement = _text(address, "complementAdresseEtablissement")
    category = _text(unit, "categorieJuridiqueUniteLegale")
    kind = _KIND_BY_CATEGORY.get(category, "association" if category.startswith("92") else "")
    return Establishment(
        siret=_text(record, "siret"),
        name=name[:200],
        address=", ".join(part for part in (complement, street) if part)[:300],
        zipcode=_text(address, "codePostalEtablissement")[:10],
        city=_text(address, "libelleCommuneEtablissement")[:100],
        kind=kind,
        active=_text(current, "etatAdministratifEtablissement") in ("", "A"),
    )
