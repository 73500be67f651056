"""Fixtures of the staff tests: two structures, a staff member, an aidant and a référent, each signed in."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aidants.clock import FixedClock
from aidants.organisations.models import Organisation
from tests.factories import AidantWithDevice, make_aidant, make_organisation, sign_in


@dataclass
class Team:
    a: Organisation
    b: Organisation
    staff: AidantWithDevice
    aidant: AidantWithDevice
    referent: AidantWithDevice
    clients: dict[str, FlaskClient]  # anonymous, aidant, referent, staff

    @property
    def staff_client(self) -> FlaskClient:
        return self.clients["staff"]


@pytest.fixture
def team(app: Flask, fixed_clock: FixedClock) -> Team:
    now = fixed_clock.now()
    a, b = make_organisation(now, "Mairie A"), make_organisation(now, "Association B")
    staff = make_aidant(now, make_organisation(now, "Équipe nationale"), is_staff=True)
    aidant, referent = make_aidant(now, a), make_aidant(now, a, is_referent=True)
    clients = {"anonymous": app.test_client()}
    for name, who in (("aidant", aidant), ("referent", referent), ("staff", staff)):
        clients[name] = app.test_client()
        sign_in(clients[name], who, now)
    return Team(a, b, staff, aidant, referent, clients)
