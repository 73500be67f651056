"""Acceptance of the conditions générales d'utilisation (CGU) by aidants and référents.

The CGU text and its history live with the legal pages; this module only knows the version in force
and records who accepted it (``Aidant.cgu_version``), journaled.
"""

from __future__ import annotations

import datetime as dt

from aidants import db
from aidants.accounts.models import Aidant
from aidants.journal import services as journal

#: The version of the CGU in force; raising it makes every aidant accept again at their next sign-in.
CURRENT_CGU_VERSION = "2026-12"


def needs_acceptance(aidant: Aidant) -> bool:
    """Whether the aidant has not accepted the CGU in force."""
    return aidant.cgu_version != CURRENT_CGU_VERSION


def accept(aidant: Aidant, now: dt.datetime) -> None:
    """Record the aidant's acceptance of the CGU in force."""
    if not needs_acceptance(aidant):
        return
    previous = aidant.cgu_version
    aidant.cgu_version = CURRENT_CGU_VERSION
    db.session().flush()
    journal.append("accept_cgu", now=now, aidant_id=aidant.id, organisation_id=aidant.current_organisation_id,
                   extra={"version": CURRENT_CGU_VERSION, "previous": previous})
