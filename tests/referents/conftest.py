"""The référent tests' world: two structures of one référent (A, A2), another structure (B), the staff.

Each person has an app device (from the factories) and, when asked, a signed-in test client.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from aidants import db
from aidants.accounts.models import Aidant, TotpDevice
from aidants.clock import FixedClock
from aidants.journal.models import JournalEntry
from aidants.organisations.models import Organisation
from tests.factories import AidantWithDevice, make_aidant, make_organisation, sign_in


@dataclass
class World:
    app: Flask
    clock: FixedClock
    a: Organisation
    a2: Organisation
    b: Organisation
    referent_a: AidantWithDevice
    aidant_a: AidantWithDevice
    referent_b: AidantWithDevice
    aidant_b: AidantWithDevice
    staff: AidantWithDevice
    clients: dict[str, FlaskClient] = field(default_factory=dict)

    def now(self) -> dt.datetime:
        return self.clock.now()

    def client(self, role: str) -> FlaskClient:
        """A test client signed in as ``role`` (anonymous: signed in as nobody), kept for the test."""
        if role not in self.clients:
            client = self.app.test_client()
            if role != "anonymous":
                sign_in(client, getattr(self, role), self.now())
            self.clients[role] = client
        return self.clients[role]

    def fresh(self, who: AidantWithDevice) -> Aidant:
        db.session().expire_all()
        found = db.session().get(Aidant, who.aidant.id)
        assert found is not None
        return found


@pytest.fixture
def world(app: Flask, fixed_clock: FixedClock) -> World:
    now = fixed_clock.now()
    a, a2 = make_organisation(now, "Mairie d'Alpha"), make_organisation(now, "Centre social Alpha")
    b = make_organisation(now, "Association Bêta")
    referent_a = make_aidant(now, a, is_referent=True)
    referent_a.aidant.referent_of.append(a2)
    db.commit()
    return World(
        app=app, clock=fixed_clock, a=a, a2=a2, b=b, referent_a=referent_a, aidant_a=make_aidant(now, a),
        referent_b=make_aidant(now, b, is_referent=True), aidant_b=make_aidant(now, b),
        staff=make_aidant(now, make_organisation(now, "Équipe nationale"), is_staff=True),
    )


def journal_actions() -> list[str]:
    return list(db.session().scalars(sa.select(JournalEntry.action).order_by(JournalEntry.seq)))


def last_entry() -> JournalEntry:
    entry = db.session().scalars(sa.select(JournalEntry).order_by(JournalEntry.seq.desc()).limit(1)).first()
    assert entry is not None
    return entry


def snapshot() -> dict[str, Any]:
    """Everything a référent could change, read afresh: to prove that a refusal changed nothing."""
    session = db.session()
    session.expire_all()
    aidants = [
        (a.id, a.email, a.is_active, a.current_organisation_id, a.can_create_mandats,
         sorted(o.id for o in a.organisations), sorted(o.id for o in a.referent_of))
        for a in session.scalars(sa.select(Aidant).order_by(Aidant.id))
    ]
    devices_ = [tuple(row) for row in session.execute(sa.select(
        TotpDevice.id, TotpDevice.kind, TotpDevice.status, TotpDevice.aidant_id, TotpDevice.retired_reason,
        TotpDevice.last_step, TotpDevice.drift,
    ).order_by(TotpDevice.id))]
    organisations = [tuple(row) for row in session.execute(
        sa.select(Organisation.id, Organisation.allowed_demarches).order_by(Organisation.id)
    )]
    journal = session.scalar(sa.select(sa.func.count()).select_from(JournalEntry))
    return {"aidants": aidants, "devices": devices_, "organisations": organisations, "journal": journal}


def text(response: TestResponse) -> str:
    """The page as a reader sees it (entities such as &#39; decoded)."""
    return html.unescape(response.get_data(as_text=True))
