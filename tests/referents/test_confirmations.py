"""The référent's confirmation pages (the consequence said before the change) and the re-sent activation link."""

from __future__ import annotations

from aidants import db
from tests.factories import activation_path, queued_to
from tests.referents.conftest import World, snapshot, text
from tests.referents.test_views import base, fiche


def test_each_role_change_shows_its_consequence_first_and_changes_nothing_until_confirmed(world: World):
    client = world.client("referent_a")
    before = snapshot()
    for path, consequence, button in (
        ("/desactiver", "ne pourra plus se connecter", "Désactiver le compte"),
        ("/referent", "pourra gérer les aidants", "Nommer co-référent"),
    ):
        page = text(client.get(fiche(world) + path))
        assert consequence in page and button in page and "Annuler" in page, path
    assert snapshot() == before
    aidant_page = text(client.get(fiche(world)))
    assert f'href="{fiche(world)}/desactiver"' in aidant_page  # a link to the confirmation, not a bare button
    assert client.post(fiche(world) + "/referent").status_code == 302
    page = text(client.get(fiche(world) + "/retirer-referent"))
    assert "ne pourra plus gérer les aidants" in page
    assert client.post(fiche(world) + "/retirer-referent").status_code == 302
    assert client.post(fiche(world) + "/desactiver").status_code == 302
    db.session().expire_all()
    assert not world.aidant_a.aidant.is_active


def test_an_activation_link_is_resent_by_the_referent_and_the_old_one_stops(world: World):
    client = world.client("referent_a")
    person = world.aidant_a.aidant
    assert client.post(fiche(world) + "/activation").status_code == 302
    first = activation_path(person.email)
    assert client.post(fiche(world) + "/activation").status_code == 302
    second = activation_path(person.email)
    assert first != second and len(queued_to(person.email)) == 2
    assert "référent de" in queued_to(person.email)[-1].body
    anonymous = world.app.test_client()
    assert anonymous.get(first).status_code == 410 and anonymous.get(second).status_code == 200


def test_appointing_a_new_co_referent_sends_an_activation_link(world: World):
    client = world.client("referent_a")
    data = {"first_name": "Noé", "last_name": "Gestion", "email": "noe@exemple.fr", "profession": "Directeur",
            "confirmed": "yes"}
    assert client.post(base(world) + "/co-referents/nouveau", data=data).status_code == 302
    [mail] = queued_to("noe@exemple.fr")
    assert "/activation/" in mail.body and "co-référent" in mail.body
