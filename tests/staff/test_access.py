"""Every staff route, for each role: anonymous (sent to sign in), aidant and référent (403), staff (allowed).

The list must name every route of the ``staff`` blueprint: a new route fails here until it is added.
"""

from __future__ import annotations

import pytest
from flask import Flask

from aidants import db
from aidants.journal.models import JournalEntry
from tests.staff.conftest import Team

#: (path, method, form data, status for staff); aidants and référents get 403, anonymous visitors a redirect.
ROUTES = [
    ("/staff", "GET", None, 200),
    ("/staff/cartes", "GET", None, 200),
    ("/staff/cartes", "POST", {}, 400),
    ("/staff/mandats/transfert", "GET", None, 200),
    ("/staff/mandats/transfert/confirmation", "POST", {}, 400),
    ("/staff/mandats/transfert/confirmer", "POST", {}, 302),
    ("/staff/aidants/inactifs", "GET", None, 200),
    ("/staff/aidants/inactifs/confirmation", "POST", {}, 302),
    ("/staff/aidants/inactifs/desactiver", "POST", {}, 302),
    ("/staff/journal", "GET", None, 200),
    ("/staff/journal.csv", "GET", None, 200),
    ("/staff/journal/verification", "GET", None, 200),
    ("/staff/journal/verification", "POST", {}, 200),
]


def test_the_list_names_every_staff_route(app: Flask) -> None:
    listed = {(path, method) for path, method, _, _ in ROUTES}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("staff.") and not rule.rule.startswith("/staff/habilitations"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (rule.rule, method) in listed, f"{method} {rule.rule} is missing from ROUTES"


@pytest.mark.parametrize(("path", "method", "data", "expected"), ROUTES)
def test_only_staff_get_in(team: Team, path: str, method: str, data: dict[str, str] | None, expected: int) -> None:
    def call(role: str):  # type: ignore[no-untyped-def]
        client = team.clients[role]
        return client.get(path) if method == "GET" else client.post(path, data=data)

    anonymous = call("anonymous")
    assert anonymous.status_code == 302 and anonymous.location.startswith("/connexion"), path
    before = db.session().query(JournalEntry).count()
    for role in ("aidant", "referent"):
        assert call(role).status_code == 403, (role, method, path)
    db.session().expire_all()
    assert db.session().query(JournalEntry).count() == before  # a refused request writes nothing
    assert call("staff").status_code == expected, (method, path)


def test_staff_must_type_their_code_again_after_idling(team: Team, fixed_clock) -> None:  # type: ignore[no-untyped-def]
    fixed_clock.advance(minutes=16)
    response = team.staff_client.get("/staff/journal")
    assert response.status_code == 302 and response.location.startswith("/connexion/verification")
