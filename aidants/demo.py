"""The demo dataset of ``make run``: one structure, one référent, two aidants with app secrets.

Idempotent. The seeds are fixed so that the demo codes can also be read from any
authenticator app configured with them; they exist only in development.
"""

from __future__ import annotations

import datetime as dt

from aidants import db
from aidants.accounts import devices
from aidants.accounts import services as accounts
from aidants.accounts.models import TotpDevice
from aidants.organisations import services as organisations

DEMO_SIRET = "13002526500013"  # a valid SIRET shape (Luhn), fictitious structure
DEMO_AIDANTS = (
    ("referente@demo.example.org", "Rose", "Référente", True, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
    ("camille@demo.example.org", "Camille", "Aidante", False, "KRUGS4ZANFZSAYLBNVSGS3TUMVZXIZLE"),
    ("louis@demo.example.org", "Louis", "Aidant", False, "MFZWIZTHNBVGWYLTMRTGO2DKNNQXG43E"),
)


def load(now: dt.datetime) -> bool:
    """Create the demo data unless it exists; True when something was created."""
    if organisations.find_by_siret(DEMO_SIRET) is not None:
        return False
    organisation = organisations.create_organisation(
        name="France Services de Démonstration", siret=DEMO_SIRET, address="1 place de la Mairie",
        zipcode="75001", city="Paris", kind="France Services", now=now,
    )
    from aidants.security import totp

    for email, first, last, referent, seed in DEMO_AIDANTS:
        aidant = accounts.create_aidant(email=email, first_name=first, last_name=last, organisation=organisation,
                                        profession="Conseiller numérique", is_referent=referent, now=now)
        db.session().add(TotpDevice(
            kind="app", aidant_id=aidant.id, status="active", period=devices.APP_PERIOD, digits=6,
            seed_encrypted=devices.encrypt_seed("app", totp.parse_seed(seed)), created_at=now, activated_at=now,
        ))
    db.session().flush()
    return True
