"""The staff's people pages: the new-aidant queue, search, an aidant's page, a structure's page."""

from __future__ import annotations

import html

import sqlalchemy as sa

from aidants import db
from aidants.accounts import services as accounts
from aidants.accounts.models import Aidant, TotpDevice
from aidants.journal.models import JournalEntry
from aidants.referents import services as referents
from aidants.referents.models import AidantRequest
from tests.factories import Card, queued_to
from tests.staff.conftest import Team


def text(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.get_data(as_text=True))


def ask(team: Team, now, email: str = "lea@mairie-a.example.org") -> Aidant:  # type: ignore[no-untyped-def]
    referent = db.session().merge(team.referent.aidant)
    person = referents.request_aidant(referent, db.session().merge(team.a), first_name="Léa", last_name="Zola",
                                      email=email, profession="Médiatrice", now=now, aidant_type="secretaire_mairie")
    db.commit()
    return person


def test_the_queue_shows_the_request_and_training_sends_an_activation_link(team: Team, fixed_clock):
    now = fixed_clock.now()
    person = ask(team, now)
    page = text(team.staff_client.get("/staff/demandes-aidants"))
    assert "Mairie A" in page and "Léa Zola" in page and "Secrétaire de mairie" in page and "27 novembre 2026" in page
    [row] = db.session().scalars(sa.select(AidantRequest)).all()
    assert team.clients["referent"].get("/staff/demandes-aidants").status_code == 403
    response = team.staff_client.post(f"/staff/demandes-aidants/{row.id}/formation")
    assert response.status_code == 302
    db.session().expire_all()
    assert person.is_active and person.can_create_mandats and person.aidant_type == "secretaire_mairie"
    assert row.status == "trained" and row.decided_by_id == team.staff.aidant.id
    [mail] = queued_to(person.email)
    assert "/activation/" in mail.body
    again = team.staff_client.post(f"/staff/demandes-aidants/{row.id}/formation")
    assert again.status_code == 409 and "déjà traitée" in text(again)
    assert "Aucune demande en attente" in text(team.staff_client.get("/staff/demandes-aidants"))
    structure = text(team.clients["referent"].get(f"/referent/structures/{team.a.id}"))
    assert "Formation suivie" in structure


def test_a_refusal_is_confirmed_with_its_consequence_and_a_reason(team: Team, fixed_clock):
    person = ask(team, fixed_clock.now())
    row = db.session().scalars(sa.select(AidantRequest)).one()
    page = text(team.staff_client.get(f"/staff/demandes-aidants/{row.id}/refus"))
    assert "retirée de la structure" in page and "Confirmer le refus" in page
    empty = team.staff_client.post(f"/staff/demandes-aidants/{row.id}/refus", data={"reason": " "})
    assert empty.status_code == 422
    db.session().expire_all()
    assert row.status == "pending"
    done = team.staff_client.post(f"/staff/demandes-aidants/{row.id}/refus", data={"reason": "Pas de formation prévue"})
    assert done.status_code == 302
    db.session().expire_all()
    assert row.status == "refused" and not person.is_active and person.organisations == []
    structure = text(team.clients["referent"].get(f"/referent/structures/{team.a.id}"))
    assert "Refusée" in structure and "Pas de formation prévue" in structure
    assert "aidant_request_refused" in db.session().scalars(sa.select(JournalEntry.action)).all()


def test_search_finds_aidants_by_name_or_email_and_structures_by_name_or_siret(team: Team):
    client = team.staff_client
    aidant = team.aidant.aidant
    for query in (aidant.last_name.upper(), aidant.email.split("@")[0], f"camille {aidant.last_name}"):
        assert aidant.email in text(client.get("/staff/recherche", query_string={"q": query})), query
    assert aidant.email not in text(client.get("/staff/recherche", query_string={"q": "personne%"}))
    for query in ("mairie a", team.a.siret[:9], " ".join(team.a.siret)):
        page = text(client.get("/staff/recherche", query_string={"q": query}))
        assert f"/staff/structures/{team.a.id}" in page, query
    assert "Association B" not in text(client.get("/staff/recherche", query_string={"q": "mairie"}))
    assert client.get("/staff/recherche", query_string={"q": "x" * 101}).status_code == 400


def test_an_aidant_page_assigns_a_card_resends_activation_and_deactivates_after_confirmation(team: Team, fixed_clock):
    now = fixed_clock.now()
    Card("ST-77", now)
    person = team.aidant.aidant
    client = team.staff_client
    page = text(client.get(f"/staff/aidants/{person.id}"))
    assert "Mairie A" in page and "Application d'authentification" in page and "Dernière connexion" in page
    assert client.post(f"/staff/aidants/{person.id}/carte", data={"serial_number": "nope"}).status_code == 422
    assert client.post(f"/staff/aidants/{person.id}/carte", data={"serial_number": "st 77"}).status_code == 302
    card = db.session().scalars(sa.select(TotpDevice).where(TotpDevice.serial_number == "ST77")).one()
    assert card.aidant_id == person.id and card.status == "stock"  # the aidant activates it with two codes
    assert client.post(f"/staff/aidants/{person.id}/activation").status_code == 302
    assert "/activation/" in queued_to(person.email)[-1].body
    confirm = text(client.get(f"/staff/aidants/{person.id}/desactiver"))
    assert "ne pourra plus se connecter" in confirm
    assert client.post(f"/staff/aidants/{person.id}/desactiver").status_code == 302
    db.session().expire_all()
    assert not person.is_active
    assert team.clients["aidant"].get("/espace-aidant").status_code == 302  # its session ended
    assert client.post(f"/staff/aidants/{person.id}/activation").status_code == 409
    assert client.post(f"/staff/aidants/{person.id}/reactiver").status_code == 302
    db.session().expire_all()
    assert person.is_active


def test_a_structure_page_and_staff_outside_any_structure(team: Team, fixed_clock):
    now = fixed_clock.now()
    staff = accounts.create_aidant(email="national@equipe.example.org", first_name="Nadia", last_name="Nationale",
                                   organisation=None, now=now, is_staff=True)
    db.commit()
    assert staff.current_organisation is None and staff.organisations == [] and not staff.can_create_mandats
    page = text(team.staff_client.get(f"/staff/structures/{team.a.id}"))
    assert team.referent.aidant.full_name in page and team.aidant.aidant.full_name in page
    assert 'id="count-mandats">0<' in page and "Papiers" in page
    assert team.staff_client.get("/staff/structures/999999").status_code == 404
    # A staff member who is also (by mistake) in a structure never shows as one of its aidants.
    member = db.session().merge(team.staff.aidant)
    member.organisations.append(db.session().merge(team.a))
    db.commit()
    assert team.staff.aidant.full_name not in text(team.clients["referent"].get(f"/referent/structures/{team.a.id}"))
    page = text(team.staff_client.get(f"/staff/structures/{team.a.id}"))
    assert team.staff.aidant.full_name not in page.split("<h1>", 1)[1]  # only in the header, as the one signed in
