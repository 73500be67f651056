"""Who may reach each habilitation route: anonymous, the issuer (their link), another issuer, an aidant, the staff.

The matrix lists every route of the two blueprints; a new route fails the test until it is added.
Expected outcomes: ``ok`` (served: 200, or a 302/400/409 that is not a refusal), ``start`` (sent to
the habilitation start page), ``login`` (sent to the sign-in page), ``404`` (as if it did not exist), ``403``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from tests.factories import make_aidant, sign_in
from tests.habilitation.helpers import (
    aidant_data,
    fill_request,
    last_access_path,
    organisation_data,
    start_issuer,
    text,
)

ROLES = ("anonymous", "issuer", "other_issuer", "aidant", "staff")
ISSUER_ONLY = {"anonymous": "start", "issuer": "ok", "other_issuer": "404", "aidant": "start", "staff": "start"}
STAFF_ONLY = {"anonymous": "login", "issuer": "login", "other_issuer": "login", "aidant": "403", "staff": "ok"}
EVERYONE = dict.fromkeys(ROLES, "ok")

#: endpoint → (method, path template, POST data, outcome by role), in the order they are tried (the last
#: ones change the request: submission, then abandon).
MATRIX: list[tuple[str, str, str, dict[str, str], dict[str, str]]] = [
    ("habilitation.start", "GET", "/habilitation", {}, EVERYONE),
    ("habilitation.access", "GET", "{access}", {}, EVERYONE),
    ("habilitation.confirm_access", "GET", "/habilitation/acces", {}, EVERYONE),  # 400 without a pending link
    ("habilitation.space", "GET", "/habilitation/mes-demandes", {}, {**ISSUER_ONLY, "other_issuer": "ok"}),
    ("habilitation.request_page", "GET", "/habilitation/demandes/{uuid}", {}, ISSUER_ONLY),
    ("habilitation.issuer_step", "GET", "/habilitation/demandes/{uuid}/demandeur", {}, ISSUER_ONLY),
    ("habilitation.organisation_step", "GET", "/habilitation/demandes/{uuid}/structure", {}, ISSUER_ONLY),
    ("habilitation.referent_step", "GET", "/habilitation/demandes/{uuid}/referent", {}, ISSUER_ONLY),
    ("habilitation.aidants_step", "GET", "/habilitation/demandes/{uuid}/aidants", {}, ISSUER_ONLY),
    ("habilitation.submit_step", "GET", "/habilitation/demandes/{uuid}/envoi", {}, ISSUER_ONLY),
    ("habilitation.close", "GET", "/habilitation/demandes/{uuid}/abandon", {}, ISSUER_ONLY),
    ("staff_habilitation.index", "GET", "/staff/habilitations", {}, STAFF_ONLY),
    ("staff_habilitation.detail", "GET", "/staff/habilitations/{uuid}", {}, STAFF_ONLY),
    ("habilitation.post_message", "POST", "/habilitation/demandes/{uuid}/messages", {"body": "Bonjour"}, ISSUER_ONLY),
    ("staff_habilitation.answer", "POST", "/staff/habilitations/{uuid}/reponse",
     {"action": "message", "body": "Bonjour"}, STAFF_ONLY),
    ("staff_habilitation.trained", "POST", "/staff/habilitations/{uuid}/aidants/{row}/formation", {}, STAFF_ONLY),
    ("habilitation.remove_aidant", "POST", "/habilitation/demandes/{uuid}/aidants/{row}/retirer", {}, ISSUER_ONLY),
    ("habilitation.aidants_step", "POST", "/habilitation/demandes/{uuid}/aidants", aidant_data(1), ISSUER_ONLY),
    ("habilitation.issuer_step", "POST", "/habilitation/demandes/{uuid}/demandeur",
     {"first_name": "A", "last_name": "B", "profession": "C"}, ISSUER_ONLY),
    ("habilitation.organisation_step", "POST", "/habilitation/demandes/{uuid}/structure", organisation_data(),
     ISSUER_ONLY),
    ("habilitation.referent_step", "POST", "/habilitation/demandes/{uuid}/referent",
     {"first_name": "R", "last_name": "S", "email": "r@exemple.fr", "profession": "T"}, ISSUER_ONLY),
    ("habilitation.new_request", "POST", "/habilitation/mes-demandes/nouvelle", {},
     {**ISSUER_ONLY, "other_issuer": "ok"}),
    ("habilitation.submit_step", "POST", "/habilitation/demandes/{uuid}/envoi", {"terms": "y"}, ISSUER_ONLY),
    ("habilitation.close", "POST", "/habilitation/demandes/{uuid}/abandon", {}, ISSUER_ONLY),
    ("habilitation.access", "POST", "{access}", {}, EVERYONE),
    ("habilitation.confirm_access", "POST", "/habilitation/acces", {}, EVERYONE),
    ("habilitation.start", "POST", "/habilitation", {"email": "quelquun@exemple.fr"}, EVERYONE),
    ("habilitation.leave", "POST", "/habilitation/quitter", {}, dict.fromkeys(ROLES, "start")),
]


@dataclass
class World:
    clients: dict[str, FlaskClient]
    values: dict[str, str]


@pytest.fixture
def world(app, fixed_clock) -> World:
    now = fixed_clock.now()
    clients = {role: app.test_client() for role in ROLES}
    issuer = start_issuer(clients["issuer"], "proprietaire@mairie.example.org")
    fill_request(issuer, aidants=2)
    start_issuer(clients["other_issuer"], "autre@asso.example.org")
    sign_in(clients["aidant"], make_aidant(now), now)
    sign_in(clients["staff"], make_aidant(now, is_staff=True), now)
    values = {"uuid": issuer.uuid, "row": str(issuer.request.aidants[0].id),
              "access": last_access_path("proprietaire@mairie.example.org")}
    return World(clients, values)


def test_the_matrix_lists_every_route(app):
    listed = {(endpoint, method) for endpoint, method, *_ in MATRIX}
    routes = {(rule.endpoint, method) for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith(("habilitation.", "staff_habilitation."))
              for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    assert routes == listed, f"missing: {routes - listed}, unknown: {listed - routes}"


def outcome(response) -> str:
    location = response.headers.get("Location", "")
    if response.status_code == 302 and location.rstrip("/").endswith("/habilitation"):
        return "start"
    if response.status_code == 302 and "/connexion" in location:
        return "login"
    if response.status_code in (403, 404):
        return str(response.status_code)
    assert response.status_code in (200, 302, 400, 409), (response.status_code, text(response)[:300])
    return "ok"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_matrix_says(world, role):
    client = world.clients[role]
    wrong = []
    for endpoint, method, template, data, expected in MATRIX:
        path = template.format(**world.values)
        response = client.open(path, method=method, data=data)
        got = outcome(response)
        if got != expected[role]:
            wrong.append(f"{method} {path} ({endpoint}): {got}, expected {expected[role]}")
    assert wrong == []


def test_another_issuers_space_does_not_list_the_request(world):
    page = text(world.clients["other_issuer"].get("/habilitation/mes-demandes"))
    assert world.values["uuid"] not in page
