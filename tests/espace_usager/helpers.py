"""A usager with mandates in two structures, a registered service, and ways to sign in and use a mandate."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidants import clock, db
from aidants.espace_usager import sessions
from aidants.journal.models import JournalEntry
from aidants.organisations.models import Organisation
from aidants.outbox.models import OutboxMessage
from aidants.security import crypto
from tests.factories import AidantWithDevice, make_aidant, make_organisation, sign_in
from tests.oidc.provider_helpers import (
    World,
    auth_params,
    choose,
    give_mandat,
    make_world,
    redirect_params,
    token_request,
)


@dataclass
class TwoStructures:
    """``a``: the provider world (structure A, its aidant, the usager's mandate social+logement, a service);
    ``b``: structure B, its aidant and the usager's mandate for famille."""

    a: World
    organisation_b: Organisation
    aidant_b: AidantWithDevice
    mandat_b: Any


def two_structures(fixed_clock: clock.FixedClock) -> TwoStructures:
    a = make_world(fixed_clock)
    now = fixed_clock.now()
    organisation_b = make_organisation(now, "Association B")
    organisation_b.address, organisation_b.zipcode, organisation_b.city = "3 rue des Lilas", "69001", "Lyon"
    aidant_b = make_aidant(now, organisation_b)
    mandat_b = give_mandat(aidant_b, a.usager, ["famille"], now)
    fixed_clock.advance(seconds=31)
    return TwoStructures(a, organisation_b, aidant_b, mandat_b)


def usager_client(app: Flask, usager: Any, now: dt.datetime) -> FlaskClient:
    """A browser signed in to the espace usager (the sign-in itself is tested through the sandbox)."""
    client = app.test_client()
    value = sessions.open_session(usager, now)
    db.commit()
    client.set_cookie(sessions.COOKIE, value, path=sessions.COOKIE_PATH)
    return client


def use_mandate(app: Flask, world: World, fixed_clock: clock.FixedClock, demarche: str = "social") -> Any:
    """The aidant uses the mandate at the service through the real provider: code, token, userinfo."""
    aidant_browser = app.test_client()
    sign_in(aidant_browser, world.aidant, fixed_clock.now())
    fixed_clock.advance(seconds=31)
    code = get_code(aidant_browser, world, demarche)
    token = token_request(aidant_browser, world, code)
    assert token.status_code == 200, token.get_data(as_text=True)
    info = aidant_browser.get("/userinfo", headers={"Authorization": f"Bearer {token.get_json()['access_token']}"})
    assert info.status_code == 200
    return aidant_browser


def get_code(http: FlaskClient, world: World, demarche: str = "social") -> str:
    params = auth_params(world, nonce=crypto.new_token())  # a nonce serves once
    response = choose(http, world, params, demarche=demarche)
    assert response.status_code == 302, response.get_data(as_text=True)
    return redirect_params(response.location)["code"]


def outbox(key_prefix: str = "") -> list[OutboxMessage]:
    db.session().rollback()
    statement = sa.select(OutboxMessage).order_by(OutboxMessage.id)
    return [m for m in db.session().scalars(statement) if m.key.startswith(key_prefix)]


def entries(action: str) -> list[JournalEntry]:
    db.session().rollback()
    return list(db.session().scalars(sa.select(JournalEntry).where(JournalEntry.action == action)
                                     .order_by(JournalEntry.seq)))
