"""The référent's pages and the structure switch through the real app: flows, messages, bad input."""

from __future__ import annotations

import base64
import re

import sqlalchemy as sa

from aidants import db
from aidants.accounts.models import Aidant, AidantSession
from aidants.mandats.models import Mandat
from aidants.security import totp
from tests.factories import Card, sign_in
from tests.mandats.helpers import create_mandat, make_usager
from tests.referents.conftest import World, journal_actions, last_entry, snapshot, text


def base(world: World) -> str:
    return f"/referent/structures/{world.a.id}"


def fiche(world: World, aidant: Aidant | None = None) -> str:
    return f"{base(world)}/aidants/{(aidant or world.aidant_a.aidant).id}"


def test_the_structure_page_lists_people_with_their_status_and_devices(world: World):
    client = world.client("referent_a")
    Card("SN-TABLEAU", world.now())
    client.post(fiche(world) + "/carte", data={"serial_number": "SN-TABLEAU"})
    client.post(base(world) + "/aidants/nouveau", data={"first_name": "Léa", "last_name": "Zola",
                                                        "email": "lea@exemple.fr", "profession": "Médiatrice",
                                                        "aidant_type": "travailleur_social"})
    assert client.get("/referent").status_code == 200  # two structures: a choice
    page = text(client.get(base(world)))
    assert "Mairie d'Alpha" in page and "Association Bêta" not in page
    assert world.aidant_a.aidant.full_name in page and world.aidant_b.aidant.full_name not in page
    assert "Carte n° SNTABLEAU (à valider)" in page and "Application d'authentification" in page
    assert "Léa Zola" in page and "En attente de formation" in page
    assert re.search(r'id="count-active">2<', page) and re.search(r'id="count-awaiting">1<', page)


def test_a_referent_assigns_then_validates_a_card_through_the_pages(world: World):
    client, card = world.client("referent_a"), Card("SN-4242", world.now(), ahead=-3)
    response = client.post(fiche(world) + "/carte", data={"serial_number": "SN-4242"})
    assert response.status_code == 302 and response.location.endswith("/carte/valider")
    page = text(client.get(response.location))
    assert "Valider la carte n° SN4242" in page
    response = client.post(fiche(world) + "/carte/valider", data={"code": "000000"})
    assert response.status_code == 400 and "Ce code ne correspond pas à la carte" in text(response)
    response = client.post(fiche(world) + "/carte/valider", data={"code": card.shows(world.now())})
    assert response.status_code == 302
    assert "La carte SN4242 est activée" in text(client.get(response.location))
    assert (card.row().status, card.row().drift) == ("active", -3)
    assert journal_actions()[-2:] == ["assign_card", "validate_card"]
    # The aidant now signs in with the card.
    world.clock.advance(seconds=60)
    aidant_client = world.app.test_client()
    response = aidant_client.post("/connexion", data={"email": world.aidant_a.aidant.email,
                                                      "code": card.shows(world.now())})
    assert "Consultez votre messagerie" in text(response)


def test_bad_serials_get_a_clear_message_and_change_nothing(world: World):
    client = world.client("referent_a")
    Card("SN-B", world.now())
    other = world.client("referent_b")
    assert other.post(f"/referent/structures/{world.b.id}/aidants/{world.aidant_b.aidant.id}/carte",
                      data={"serial_number": "SN-B"}).status_code == 302
    for serial, message in [("SN-NULLE-PART", "Aucune carte ne porte ce numéro de série"),
                            ("SN-B", "Cette carte est déjà attribuée"),
                            ("", "Saisissez le numéro de série"),
                            ("X" * 65, "trop long")]:
        before = snapshot()
        response = client.post(fiche(world) + "/carte", data={"serial_number": serial})
        assert response.status_code == 400 and message in text(response), serial
        assert snapshot() == before
    response = client.get(fiche(world) + "/carte/valider")  # nothing to validate: back to the aidant's page
    assert response.status_code == 302
    assert "Aucune carte n'attend d'être validée" in text(client.get(response.location))


def test_request_a_new_aidant_then_a_duplicate_is_refused(world: World):
    client = world.client("referent_a")
    data = {"first_name": "Léa", "last_name": "Zola", "email": "lea@exemple.fr", "profession": "Médiatrice",
            "aidant_type": "agent_accueil"}
    response = client.post(base(world) + "/aidants/nouveau", data=data)
    assert response.status_code == 302
    page = text(client.get(response.location))
    assert "transmise à l'équipe Aidants Connect" in page and "Agent d'accueil" in page  # the request's state
    before = snapshot()
    response = client.post(base(world) + "/aidants/nouveau", data={**data, "email": "LEA@exemple.fr"})
    assert response.status_code == 400 and "Un compte existe déjà" in text(response)
    response = client.post(base(world) + "/aidants/nouveau", data={**data, "email": "pas-une-adresse"})
    assert response.status_code == 400 and "adresse e-mail valide" in text(response)
    assert snapshot() == before
    lea = db.session().scalars(sa.select(Aidant).where(Aidant.email == "lea@exemple.fr")).one()
    page = text(client.get(fiche(world, lea)))
    assert "En attente de formation" in page and "Réactiver le compte" not in page
    response = client.post(fiche(world, lea) + "/reactiver")
    assert response.status_code == 400 and "attend la formation" in text(response)


def test_a_deactivated_aidant_is_signed_out_and_cannot_sign_in_until_reactivated(world: World):
    aidant_client = world.client("aidant_a")
    assert aidant_client.get("/espace-aidant").status_code == 200
    client = world.client("referent_a")
    response = client.post(fiche(world) + "/desactiver")
    assert response.status_code == 302
    assert "ne peut plus agir pour cette structure" in text(client.get(response.location))
    assert aidant_client.get("/espace-aidant").status_code == 302  # the open session stops at once
    world.clock.advance(seconds=30)
    refused = world.app.test_client().post("/connexion", data={"email": world.aidant_a.aidant.email,
                                                               "code": world.aidant_a.code(world.now())})
    assert "Adresse e-mail ou code incorrect" in text(refused)
    assert "Réactiver le compte" in text(client.get(fiche(world)))
    assert client.post(fiche(world) + "/reactiver").status_code == 302
    world.clock.advance(seconds=30)
    sign_in(world.app.test_client(), world.aidant_a, world.now())


def test_a_referent_cannot_deactivate_themselves(world: World):
    client = world.client("referent_a")
    before = snapshot()
    response = client.post(fiche(world, world.referent_a.aidant) + "/desactiver")
    assert response.status_code == 400 and "vous désactiver vous-même" in text(response)
    assert snapshot() == before
    assert db.session().scalar(sa.select(sa.func.count()).select_from(AidantSession)
                               .where(AidantSession.revoked_at.is_(None))) >= 1


def test_move_restrict_retire_and_appoint_through_the_pages(world: World):
    aidant_client, client = world.client("aidant_a"), world.client("referent_a")
    response = client.post(fiche(world) + "/deplacer", data={"target": str(world.a2.id), "keep": "y"})
    assert response.status_code == 302
    assert {o.id for o in world.fresh(world.aidant_a).organisations} == {world.a.id, world.a2.id}
    response = client.post(base(world) + "/demarches", data={"demarches": ["papiers", "social"]})
    assert response.status_code == 302
    response = client.post(base(world) + "/demarches", data={"demarches": ["casino"]})
    assert response.status_code == 400 and "n'est pas un choix valide" in text(response)
    response = client.post(fiche(world) + f"/appareils/{world.aidant_a.device.id}/dissocier",
                           data={"reason": "n-importe"})
    assert response.status_code == 400
    response = client.post(fiche(world) + f"/appareils/{world.aidant_a.device.id}/dissocier", data={"reason": "lost"})
    assert response.status_code == 302
    assert "il ne permet plus de se connecter" in text(client.get(response.location))
    assert client.post(fiche(world) + "/referent").status_code == 302
    assert world.a in world.fresh(world.aidant_a).referent_of
    assert journal_actions()[-4:] == ["move_aidant", "update_demarches", "retire_device", "appoint_referent"]
    # The aidant (signed in before the app was retired) creates mandates only for the démarches kept.
    page = text(aidant_client.get("/mandats/nouveau"))
    assert 'value="social"' in page and 'value="argent"' not in page


def test_a_co_referent_gets_an_app_from_the_referent_and_cannot_create_mandates(world: World):
    client = world.client("referent_a")
    response = client.post(base(world) + "/co-referents/nouveau", data={
        "first_name": "Noé", "last_name": "Gestion", "email": "noe@exemple.fr", "profession": "Directeur"})
    assert response.status_code == 200 and "pourra gérer les aidants" in text(response)  # the consequence first
    response = client.post(base(world) + "/co-referents/nouveau", data={
        "first_name": "Noé", "last_name": "Gestion", "email": "noe@exemple.fr", "profession": "Directeur",
        "confirmed": "yes"})
    assert response.status_code == 302
    noe = db.session().scalars(sa.select(Aidant).where(Aidant.email == "noe@exemple.fr")).one()
    page = text(client.get(fiche(world, noe) + "/application"))
    start = page.index('id="totp-secret">') + len('id="totp-secret">')
    bare = "".join(page[start:page.index("<", start)].split())
    seed = base64.b32decode(bare + "=" * (-len(bare) % 8))
    code = totp.code_for_step(seed, totp.step_at(world.now(), 30))
    response = client.post(fiche(world, noe) + "/application", data={"code": code})
    assert response.status_code == 302
    assert journal_actions()[-2:] == ["enrol_app", "referent_enrol_app"]

    noe_client = world.app.test_client()
    world.clock.advance(seconds=30)
    response = noe_client.post("/connexion", data={"email": "noe@exemple.fr",
                                                   "code": totp.code_for_step(seed, totp.step_at(world.now(), 30))})
    assert "Consultez votre messagerie" in text(response)
    from tests.factories import last_login_path

    assert noe_client.post(last_login_path("noe@exemple.fr")).status_code == 302
    assert noe_client.get("/referent").status_code == 302  # one structure: straight to it
    assert noe_client.get(base(world)).status_code == 200
    assert "ne permet pas de créer des mandats" in text(noe_client.get("/mandats/nouveau"))


def test_an_aidant_switches_structure_and_creates_mandates_there(world: World):
    aidant = world.aidant_a.aidant
    aidant.organisations.append(world.a2)
    db.commit()
    client = world.client("aidant_a")
    page = text(client.get("/espace-aidant"))
    assert "Structure actuelle : Mairie d'Alpha" in re.sub(r"<[^>]+>", "", page)
    assert "Changer de structure" in page
    page = text(client.get("/espace-aidant/structure"))
    assert "Centre social Alpha" in page and "Association Bêta" not in page
    before = snapshot()
    response = client.post("/espace-aidant/structure", data={"organisation": str(world.b.id)})
    assert response.status_code == 400 and "choix valide" in text(response)
    assert snapshot() == before
    response = client.post("/espace-aidant/structure", data={"organisation": str(world.a2.id)})
    assert response.status_code == 302
    page = re.sub(r"<[^>]+>", "", text(client.get(response.location)))
    assert "Vous agissez désormais pour Centre social Alpha" in page
    assert "Structure actuelle : Centre social Alpha" in page
    assert "Camille" in page and "— Centre social Alpha" in page  # the header shows it on every page
    entry = last_entry()
    assert (entry.action, entry.organisation_id) == ("switch_organisation", world.a2.id)
    mandat = create_mandat(client, world.aidant_a, make_usager(world.now()), ["papiers"], world.clock)
    assert db.session().get(Mandat, mandat.id).organisation_id == world.a2.id  # type: ignore[union-attr]
