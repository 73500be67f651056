"""Acceptance of the CGU by aidants and référents, as the activation path records it.

The versions, their texts and the rule live with the legal pages (``aidants.legal``): one version in
force, one way to accept it (journaled), whether at activation or at a later sign-in.
"""

from __future__ import annotations

import datetime as dt

from aidants.accounts.models import Aidant
from aidants.legal import services as legal
from aidants.legal.cgu import CURRENT_CGU_VERSION

__all__ = ["CURRENT_CGU_VERSION", "accept", "needs_acceptance"]


def needs_acceptance(aidant: Aidant) -> bool:
    """Whether the aidant has not accepted the CGU in force."""
    return legal.needs_cgu(aidant)


def accept(aidant: Aidant, now: dt.datetime) -> None:
    """Record the aidant's acceptance of the CGU in force (journaled as ``accept_cgu``)."""
    legal.accept_cgu(aidant, CURRENT_CGU_VERSION, now)
