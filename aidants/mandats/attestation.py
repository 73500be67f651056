"""What attestations and the public verification show: the QR code, the public status of a mandate.

The public status reveals the structure, the dates and the démarches, and of the
usager nothing but initials.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import segno

from aidants.mandats.models import ACTIVE, DEMARCHE_LABELS, EXPIRED, REPLACED, REVOKED, Mandat

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
                             if a.display_status(now) == REPLACED and a.replaced_by else None)}
            for a in sorted(mandat.autorisations, key=lambda a: list(DEMARCHE_LABELS).index(a.demarche))
        ],
        "valid_demarches": mandat.active_demarches(now),
        "template_version": mandat.template_version,
    }

