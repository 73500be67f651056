"""What attestations and the public verification show: the QR code, the public status of a mandate.

The public status reveals the structure, the dates and the démarches, and of the
usager nothing but initials.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import segno

from aidants.mandats.models import ACTIVE, DEMARCHE_LABELS, EXPIRED, REPLACED, REVOKED, Autorisation, Mandat

PUBLIC_STATUS = {ACTIVE: "valid", EXPIRED: "expired", REVOKED: "revoked", REPLACED: "replaced"}
PUBLIC_LABELS = {ACTIVE: "Valide", EXPIRED: "Expiré", REVOKED: "Révoqué", REPLACED: "Remplacé"}

JOURNAL_LABELS = {
    "create_attestation": "Création du mandat et de son attestation",
    "create_autorisation": "Création d'une autorisation",
    "cancel_autorisation": "Révocation d'une autorisation",
    "cancel_mandat": "Révocation du mandat",
    "init_renew_mandat": "Renouvellement du mandat",
    "use_autorisation": "Utilisation d'une autorisation",
    "franceconnect_usager": "Identification de l'usager par FranceConnect",
}


def is_replaced(autorisation: Autorisation) -> bool:
    """Closed because a newer mandate took over this démarche (a renewal, or a new mandate)."""
    return autorisation.revoked_reason == "replaced" or autorisation.replaced_at is not None


def qr_code(url: str) -> str:
    """An SVG QR code of ``url`` as a data URI (allowed by the CSP's img-src)."""
    return segno.make(url, error="m").svg_data_uri(scale=4, border=2)


def public_status(mandat: Mandat, now: dt.datetime) -> dict[str, Any]:
    """The mandate's status for anyone who holds its uuid (the QR code). A mandate ended by a renewal is
    "replaced", with the date of the newer mandate (not its uuid: the old QR code must not open the new one)."""
    status = mandat.display_status(now)
    replacement = mandat.replacement() if status == REPLACED else None
    return {
        "mandat": mandat.uuid,
        "status": PUBLIC_STATUS[status],
        "organisation": {"name": mandat.organisation.name, "siret": mandat.organisation.siret},
        "usager": mandat.usager.initials,
        "created_at": mandat.created_at.isoformat(),
        "expires_at": mandat.expires_at.isoformat(),
        "revoked_at": mandat.revoked_at.isoformat() if mandat.revoked_at and status == REVOKED else None,
        "replaced_at": mandat.revoked_at.isoformat() if mandat.revoked_at and replacement else None,
        "replaced_by": {"created_at": replacement.created_at.isoformat()} if replacement else None,
        "demarches": [
            {"demarche": a.demarche, "label": DEMARCHE_LABELS[a.demarche],
             "status": PUBLIC_STATUS[a.display_status(now)],
             "replaced_by": ({"created_at": a.replaced_by.created_at.isoformat()}
                             if a.display_status(now) == REPLACED and a.replaced_by else None),
             "replaced": a.display_status(now) == REPLACED}
            for a in sorted(mandat.autorisations, key=lambda a: list(DEMARCHE_LABELS).index(a.demarche))
        ],
        "valid_demarches": mandat.active_demarches(now),
        "replaced": mandat.status(now) != ACTIVE and any(is_replaced(a) for a in mandat.autorisations),
        "template_version": mandat.template_version,
    }


def birthdate_label(birthdate: str) -> str:
    """A FranceConnect birthdate as the French read it: 12/05/1980, or 05/1980 and 1980 when partial."""
    year, _, rest = birthdate.partition("-")
    month, _, day = rest.partition("-")
    if not month or month == "00":
        return year
    if not day or day == "00":
        return f"{month}/{year}"
    return f"{day}/{month}/{year}"


def credential_qr(jws: str) -> str | None:
    """The signed attestation itself as a second QR code (a verifier's app reads it offline)."""
    if not jws:
        return None
    return segno.make(jws, error="l").svg_data_uri(scale=2, border=2)
