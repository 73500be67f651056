"""The mandate's signed attestation, a credential the usager and the structure hold and anyone can check.

Its claims follow the EU wallet's power-of-representation attestation as far as it fits: who is
represented (the usager), who represents (the structure, by SIRET), for what (the démarches), from
when until when, issued by whom; a ``status`` claim (IETF OAuth Token Status List) points to the
mandate's bit in list 1, and each démarche's ``status`` to the autorisation's bit in list 2, so a
verifier learns of a revocation offline, with only the JWKS and the lists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from aidants.mandats.models import Autorisation, Mandat
from aidants.mandats.status_list import AUTORISATIONS, MANDATS, list_uri
from aidants.organisations.models import Organisation
from aidants.security import jose
from aidants.usagers.models import Usager

#: RFC 8725 explicit typing (kept from the first attestations: verifiers already expect it).
JWS_TYPE = "mandat+jwt"
#: The credential type, in the manner of SD-JWT VC's ``vct``.
VCT = "urn:aidants-connect:mandat:1"


def _status(list_id: int, index: int, issuer: str) -> dict[str, Any]:
    return {"status_list": {"idx": index, "uri": list_uri(issuer, list_id)}}


def claims(mandat: Mandat, organisation: Organisation, usager: Usager, autorisations: Sequence[Autorisation],
           issuer: str, now: dt.datetime) -> dict[str, Any]:
    """What the credential says (the mandate, its autorisations and the status list references)."""
    return {
        "iss": issuer, "sub": usager.sub, "jti": mandat.uuid, "vct": VCT,
        "iat": int(now.timestamp()), "nbf": int(mandat.created_at.timestamp()),
        "exp": int(mandat.expires_at.timestamp()),
        # kept from the first attestations
        "mandat": mandat.uuid, "siret": organisation.siret, "demarches": [a.demarche for a in autorisations],
        # the power of representation
        "represented": {"given_name": usager.given_name, "family_name": usager.family_name,
                        "birthdate": usager.birthdate},
        "representative": {"legal_name": organisation.name, "legal_person_identifier": f"SIRET:{organisation.siret}",
                           "address": " ".join(p for p in (organisation.address, organisation.zipcode,
                                                           organisation.city) if p)},
        "full_powers": False,
        "powers": [{"demarche": a.demarche,
                    "status": _status(AUTORISATIONS, a.id, issuer)} for a in autorisations],
        "effective_from_date": mandat.created_at.isoformat(),
        "effective_until_date": mandat.expires_at.isoformat(),
        "issuing_authority": "Aidants Connect", "issuing_country": "FR",
        "status": _status(MANDATS, mandat.id, issuer),
    }


def issue(mandat: Mandat, organisation: Organisation, usager: Usager, autorisations: Sequence[Autorisation],
          issuer: str, now: dt.datetime) -> str:
    """The credential as a compact JWS signed with the service's current ES256 key (published in /jwks)."""
    return jose.sign_jwt(claims(mandat, organisation, usager, autorisations, issuer, now), "ES256",
                         typ=JWS_TYPE, now=now)


def filename(mandat: Mandat) -> str:
    """The download's file name."""
    return f"mandat-{mandat.uuid}.jwt"
