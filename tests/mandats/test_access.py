"""Every route of the mandates, for: an anonymous visitor, an aidant of the structure, an aidant of another.

An aidant sees and acts only on the mandates of their current structure: another
structure's mandate answers 404 (as if it did not exist) and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from tests.factories import make_aidant, make_organisation, sign_in
from tests.mandats.helpers import counts, create_mandat, fresh_code, make_usager


@dataclass
class World:
    own: FlaskClient
    other: FlaskClient
    anonymous: FlaskClient
    paths: dict[str, str]


@pytest.fixture
def world(desk, app) -> World:
    mandat = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers", "social", "famille"], desk.clock)
    ids = {a.demarche: a.id for a in mandat.autorisations}
    desk.client.post(f"/mandats/{mandat.uuid}/autorisations/{ids['social']}/revoquer",
                     data={"code": fresh_code(desk.aidant, desk.clock)})
    now = desk.clock.now()
    stranger = make_aidant(now, make_organisation(now, name="Autre structure"))
    other = app.test_client()
    sign_in(other, stranger, now)
    # The other structure has its own usager with a mandate, which must never show on ours.
    create_mandat(other, stranger, make_usager(now, "Zoé", "Ailleurs"), ["papiers"], desk.clock)
    m = f"/mandats/{mandat.uuid}"
    paths = {
        "mandat": m, "attestation": f"{m}/attestation", "renew": f"{m}/renouveler", "revoke": f"{m}/revoquer",
        "revoke_one": f"{m}/autorisations/{ids['papiers']}/revoquer", "revocation": f"{m}/attestation-revocation",
        "usager": f"/espace-aidant/usagers/{desk.usager.id}", "usagers": "/espace-aidant/usagers",
        "new": "/mandats/nouveau", "recap": "/mandats/recapitulatif",
        "verify": f"/verifier/{mandat.uuid}", "status": f"/verifier/{mandat.uuid}/statut.json", "jwks": "/jwks",
    }
    return World(desk.client, other, app.test_client(), paths)


#: (route, method, status for the structure's aidant, status for another structure's aidant)
AIDANT_ROUTES = [
    ("mandat", "GET", 200, 404),
    ("attestation", "GET", 200, 404),
    ("renew", "GET", 200, 404),
    ("renew", "POST", 400, 404),
    ("revoke", "GET", 200, 404),
    ("revoke", "POST", 400, 404),
    ("revoke_one", "GET", 200, 404),
    ("revoke_one", "POST", 400, 404),
    ("revocation", "GET", 200, 404),
    ("usager", "GET", 200, 404),
    ("usagers", "GET", 200, 200),
    ("new", "GET", 200, 200),
    ("new", "POST", 400, 400),
    ("recap", "GET", 400, 400),
    ("recap", "POST", 400, 400),
]


@pytest.mark.parametrize(("route", "method", "own", "other"), AIDANT_ROUTES)
def test_aidant_routes(world, route, method, own, other):
    path = world.paths[route]
    before = counts()
    anonymous = world.anonymous.open(path, method=method, data={})
    assert anonymous.status_code == 302 and "/connexion" in anonymous.location
    assert world.own.open(path, method=method, data={}).status_code == own
    stranger = world.other.open(path, method=method, data={})
    assert stranger.status_code == other
    assert "Dupont" not in stranger.get_data(as_text=True)  # nothing of our usager leaks to another structure
    assert counts()[:2] == before[:2]


def test_the_list_shows_only_the_current_structures_usagers(world):
    assert "Dupont" in world.own.get(world.paths["usagers"]).get_data(as_text=True)
    assert "Ailleurs" not in world.own.get(world.paths["usagers"]).get_data(as_text=True)
    assert "Ailleurs" in world.other.get(world.paths["usagers"]).get_data(as_text=True)


@pytest.mark.parametrize("route", ["verify", "status", "jwks"])
def test_public_routes_are_the_same_for_everyone(world, route):
    path = world.paths[route]
    answers = [client.get(path) for client in (world.anonymous, world.own, world.other)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    if route != "verify":
        assert answers[0].get_json() == answers[1].get_json() == answers[2].get_json()
    for answer in answers:
        body = answer.get_data(as_text=True)
        assert "Dupont" not in body and "Jeanne" not in body
