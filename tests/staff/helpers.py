"""Test data for the staff tools and the statistics: mandates made by the real service, at any date."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence

import sqlalchemy as sa
from werkzeug.test import TestResponse

from aidants import db
from aidants.accounts.models import TotpDevice
from aidants.journal.models import JournalEntry
from aidants.mandats import services as mandats
from aidants.mandats.models import Mandat
from aidants.usagers.models import Usager
from tests.factories import AidantWithDevice


def make_mandat(who: AidantWithDevice, usager: Usager, demarches: Sequence[str], now: dt.datetime,
                duration: str = "month") -> Mandat:
    """A mandate created by ``who`` in their current structure at ``now``, through the real service.

    The device's replay guard is reset first, so mandates may be made in any order of time.
    """
    session = db.session()
    session.execute(sa.update(TotpDevice).where(TotpDevice.id == who.device.id).values(last_step=None))
    session.expire_all()
    aidant = session.merge(who.aidant)
    assert aidant.current_organisation_id is not None
    mandat = mandats.create_mandat(
        aidant=aidant, usager_id=usager.id, organisation_id=aidant.current_organisation_id,
        demarches=list(demarches), duration=duration, code=who.code(now), consent=True,
        form_token=mandats.new_form_token(), issuer="http://localhost", now=now)
    db.commit()
    return mandat


def text(response: TestResponse) -> str:
    """The page as a reader sees it (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def journal_actions(action: str) -> list[JournalEntry]:
    db.session().expire_all()
    statement = sa.select(JournalEntry).where(JournalEntry.action == action).order_by(JournalEntry.seq)
    return list(db.session().scalars(statement))
