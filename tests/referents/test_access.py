"""Every route of the référent's space and of the structure switch, for every role, and ids changed in URLs.

Roles: anonymous, an aidant of structure A, an aidant of B, the référent of A (and A2), the référent
of B, a staff member. Only the référent of A reaches A's pages; another référent gets 404 (as if
nothing existed there), a plain aidant or the staff 403, an anonymous visitor the sign-in page; and
none of their requests changes anything.
"""

from __future__ import annotations

import pytest

from aidants import db
from aidants.referents import services
from tests.factories import Card
from tests.referents.conftest import World, snapshot, text

ROLES = ("anonymous", "aidant_a", "aidant_b", "referent_a", "referent_b", "staff")
S = "/referent/structures/{a}"
P = S + "/aidants/{aa}"

#: endpoint → (method, path, status for the référent of A). Others: see ``expected``.
ROUTES = [
    ("referents.index", "GET", "/referent", 200),
    ("referents.structure", "GET", S, 200),
    ("referents.new_aidant", "GET", S + "/aidants/nouveau", 200),
    ("referents.new_aidant", "POST", S + "/aidants/nouveau", 400),
    ("referents.new_co_referent", "GET", S + "/co-referents/nouveau", 200),
    ("referents.new_co_referent", "POST", S + "/co-referents/nouveau", 400),
    ("referents.demarches", "GET", S + "/demarches", 200),
    ("referents.demarches", "POST", S + "/demarches", 400),
    ("referents.aidant", "GET", P, 200),
    ("referents.deactivate", "GET", P + "/desactiver", 200),
    ("referents.deactivate", "POST", P + "/desactiver", 302),
    ("referents.reactivate", "POST", P + "/reactiver", 400),
    ("referents.appoint", "GET", P + "/referent", 200),
    ("referents.appoint", "POST", P + "/referent", 302),
    ("referents.revoke", "GET", P + "/retirer-referent", 200),
    ("referents.revoke", "POST", P + "/retirer-referent", 400),
    ("referents.resend_activation", "POST", P + "/activation", 302),
    ("referents.move", "GET", P + "/deplacer", 200),
    ("referents.move", "POST", P + "/deplacer", 400),
    ("referents.assign_card", "GET", P + "/carte", 200),
    ("referents.assign_card", "POST", P + "/carte", 400),
    ("referents.validate_card", "GET", P + "/carte/valider", 200),
    ("referents.validate_card", "POST", P + "/carte/valider", 400),
    ("referents.retire_device", "GET", P + "/appareils/{dev}/dissocier", 200),
    ("referents.retire_device", "POST", P + "/appareils/{dev}/dissocier", 400),
    ("referents.enrol_app", "GET", P + "/application", 200),
    ("referents.enrol_app", "POST", P + "/application", 400),
    ("referents.switch", "GET", "/espace-aidant/structure", 200),
    ("referents.switch", "POST", "/espace-aidant/structure", 400),
]


def expected(endpoint: str, method: str, role: str, own: int) -> int:
    if role == "anonymous":
        return 302
    if endpoint == "referents.switch":  # every signed-in aidant chooses among their own structures
        return own
    if role == "referent_a":
        return own
    if role == "referent_b":
        return 302 if endpoint == "referents.index" else 404  # to B's own page; A's pages do not exist for B
    return 403


def ids(world: World) -> dict[str, int]:
    return {"a": world.a.id, "a2": world.a2.id, "b": world.b.id, "aa": world.aidant_a.aidant.id,
            "ab": world.aidant_b.aidant.id, "dev": world.aidant_a.device.id, "devb": world.aidant_b.device.id}


@pytest.fixture
def prepared(world: World) -> World:
    """Aidant A holds an assigned card awaiting validation (so that its validation page exists)."""
    Card("SN-A", world.now())
    services.assign_card(world.referent_a.aidant, world.a, world.aidant_a.aidant, "SN-A", world.now())
    db.commit()
    for role in ROLES:
        world.client(role)
    return world


def test_the_matrix_names_every_route_of_the_referents_space(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("referents.")}
    covered = {(endpoint, method) for endpoint, method, _path, _own in ROUTES}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in endpoints:
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                assert (rule.endpoint, method) in covered, f"{method} {rule.rule} is not in the matrix"


def test_every_route_for_everyone_but_the_referent_of_a(prepared: World):
    """Anonymous, aidants of A and B, the référent of B, the staff: each route, and nothing ever changes."""
    problems = []
    for endpoint, method, path, own in ROUTES:
        url = path.format(**ids(prepared))
        for role in [r for r in ROLES if r != "referent_a"]:
            before = snapshot()
            response = prepared.client(role).open(url, method=method, data={})
            want = expected(endpoint, method, role, own)
            if response.status_code != want:
                problems.append(f"{role} {method} {url}: {response.status_code}, expected {want}")
            if role == "anonymous" and "/connexion" not in (response.location or ""):
                problems.append(f"{role} {method} {url}: not sent to the sign-in page")
            if want == 404 and "La page demandée n'existe pas" not in text(response):
                problems.append(f"{role} {method} {url}: not the French 404 page")
            if snapshot() != before:
                problems.append(f"{role} {method} {url}: something changed")
    assert problems == []


@pytest.mark.parametrize(("endpoint", "method", "path", "own"), ROUTES, ids=[f"{r[1]} {r[0]}" for r in ROUTES])
def test_every_route_for_the_referent_of_a(world: World, endpoint: str, method: str, path: str, own: int):
    Card("SN-A", world.now())
    services.assign_card(world.referent_a.aidant, world.a, world.aidant_a.aidant, "SN-A", world.now())
    db.commit()
    client = world.client("referent_a")
    before = snapshot()
    response = client.open(path.format(**ids(world)), method=method, data={})
    assert response.status_code == own, response.get_data(as_text=True)[:500]
    if own == 400 and endpoint != "referents.enrol_app":  # the enrolment page starts an enrolment
        assert snapshot() == before


TAMPERED = [
    # another structure, with its aidant
    ("GET", "/referent/structures/{b}"), ("GET", "/referent/structures/{b}/demarches"),
    ("POST", "/referent/structures/{b}/demarches"), ("POST", "/referent/structures/{b}/aidants/nouveau"),
    ("POST", "/referent/structures/{b}/co-referents/nouveau"),
    ("GET", "/referent/structures/{b}/aidants/{ab}"), ("POST", "/referent/structures/{b}/aidants/{ab}/desactiver"),
    # our structure, another structure's aidant
    ("GET", "/referent/structures/{a}/aidants/{ab}"), ("POST", "/referent/structures/{a}/aidants/{ab}/desactiver"),
    ("POST", "/referent/structures/{a}/aidants/{ab}/reactiver"),
    ("POST", "/referent/structures/{a}/aidants/{ab}/referent"),
    ("POST", "/referent/structures/{a}/aidants/{ab}/retirer-referent"),
    ("POST", "/referent/structures/{a}/aidants/{ab}/deplacer"), ("POST", "/referent/structures/{a}/aidants/{ab}/carte"),
    ("POST", "/referent/structures/{a}/aidants/{ab}/carte/valider"),
    ("POST", "/referent/structures/{a}/aidants/{ab}/application"),
    ("GET", "/referent/structures/{a}/aidants/{ab}/application"),
    ("POST", "/referent/structures/{a}/aidants/{ab}/appareils/{devb}/dissocier"),
    # our other structure, where this aidant does not work
    ("GET", "/referent/structures/{a2}/aidants/{aa}"), ("POST", "/referent/structures/{a2}/aidants/{aa}/desactiver"),
    # our aidant, another aidant's device
    ("GET", "/referent/structures/{a}/aidants/{aa}/appareils/{devb}/dissocier"),
    ("POST", "/referent/structures/{a}/aidants/{aa}/appareils/{devb}/dissocier"),
    # nobody
    ("GET", "/referent/structures/999999"), ("GET", "/referent/structures/{a}/aidants/999999"),
]


def test_ids_changed_in_the_url_answer_404_and_change_nothing(prepared: World):
    data = {"serial_number": "SN-A", "code": "123456", "reason": "lost", "target": str(prepared.a2.id),
            "first_name": "X", "last_name": "Y", "email": "x@exemple.fr", "profession": "Z", "demarches": "papiers"}
    for method, path in TAMPERED:
        before = snapshot()
        response = prepared.client("referent_a").open(path.format(**ids(prepared)), method=method, data=data)
        assert response.status_code == 404, (method, path)
        assert "La page demandée n'existe pas" in text(response)
        assert snapshot() == before, (method, path)


def test_a_referent_cannot_move_an_aidant_to_a_structure_they_do_not_manage(prepared: World):
    before = snapshot()
    url = P.format(**ids(prepared)) + "/deplacer"
    response = prepared.client("referent_a").post(url, data={"target": str(prepared.b.id)})
    assert response.status_code == 400
    assert snapshot() == before
