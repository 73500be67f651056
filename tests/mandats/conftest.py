"""Fixtures of the mandate tests: a structure, an aidant signed in, a usager."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from aidants.clock import FixedClock
from aidants.organisations.models import Organisation
from aidants.usagers.models import Usager
from tests.factories import AidantWithDevice, make_aidant, make_organisation, sign_in
from tests.mandats.helpers import make_usager


@dataclass
class Desk:
    """An aidant signed in at their structure's desk, with a usager in front of them."""

    client: FlaskClient
    aidant: AidantWithDevice
    organisation: Organisation
    usager: Usager
    clock: FixedClock


@pytest.fixture
def desk(client: FlaskClient, fixed_clock: FixedClock) -> Desk:
    now = fixed_clock.now()
    organisation = make_organisation(now, name="France Services de Test")
    who = make_aidant(now, organisation)
    sign_in(client, who, now)
    return Desk(client, who, organisation, make_usager(now), fixed_clock)
