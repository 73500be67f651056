"""Acceptance of the CGU: who must accept, and recording it (journaled, flushed, committed by the request)."""

from __future__ import annotations

import datetime as dt

from aidants import db
from aidants.accounts.models import Aidant
from aidants.journal import services as journal
from aidants.legal.cgu import CURRENT_CGU_VERSION


class CguError(ValueError):
    """An acceptance the rules refuse; the message (French) is for the aidant."""


def needs_cgu(aidant: Aidant) -> bool:
    """Whether the aidant has not accepted the current CGU (first sign-in, or a new version since)."""
    return aidant.cgu_version != CURRENT_CGU_VERSION


def accept_cgu(aidant: Aidant, version: str, now: dt.datetime) -> None:
    """Record that the aidant accepted ``version`` (which must be the current one), with a journal entry."""
    if version != CURRENT_CGU_VERSION:
        raise CguError("Ces conditions d'utilisation ont été remplacées par une nouvelle version : "
                       "lisez-la puis acceptez-la.")
    previous = aidant.cgu_version
    if previous == version:
        return
    aidant.cgu_version = version
    journal.append("accept_cgu", now=now, aidant_id=aidant.id, organisation_id=aidant.current_organisation_id,
                   extra={"version": version, "previous": previous})
    db.session().flush()
