"""The draft steps, submission (once), messages, abandon: saved as drafts, bad input refused in French."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from aidants import db
from aidants.habilitation import services
from aidants.habilitation.models import HabilitationRequest
from tests.habilitation.helpers import (
    ISSUER,
    REFERENT,
    aidant_data,
    emails_to,
    fill_request,
    issuer_row,
    journal_entries,
    organisation_data,
    start_issuer,
    submit,
    submitted_request,
    text,
)

EMAIL = "demandeur@mairie.example.org"


def snapshot(request: HabilitationRequest) -> dict[str, object]:
    columns = HabilitationRequest.__table__.columns.keys()
    return {**{name: getattr(request, name) for name in columns},
            "aidants": [(row.email, row.first_name) for row in request.aidants]}


def test_each_step_is_saved_as_a_draft_and_shown_again(client):
    issuer = start_issuer(client, EMAIL)
    assert client.post(issuer.path("demandeur"), data=ISSUER).headers["Location"].endswith("/structure")
    data = organisation_data(siret="130 025 265 00013")
    assert client.post(issuer.path("structure"), data=data).headers["Location"].endswith("/referent")
    assert client.post(issuer.path("referent"), data=REFERENT).headers["Location"].endswith("/aidants")
    saved = issuer.request
    assert (saved.siret, saved.name, saved.kind, saved.zipcode) == ("13002526500013", data["name"], "commune", "45000")
    assert saved.referent_email == REFERENT["email"] and saved.status == "draft"
    assert issuer_row(EMAIL).full_name == "Dominique Martin"
    page = text(client.get(issuer.path("structure")))
    assert 'value="13002526500013"' in page and "Mairie de Test-sur-Loire" in page
    assert "Étape 2 sur 5" in page
    assert REFERENT["email"] in text(client.get(issuer.path("referent")))
    summary = text(client.get(issuer.path()))
    assert "Brouillon" in summary and "au moins un aidant à former" in summary


@pytest.mark.parametrize("siret", ["13002526500012", "1300252650001", "1300252650001A", "", "00000000000001"])
def test_an_invalid_siret_gets_a_clear_message_and_nothing_changes(client, siret):
    issuer = start_issuer(client, EMAIL)
    fill_request(issuer, aidants=1)
    before = snapshot(issuer.request)
    response = client.post(issuer.path("structure"), data=organisation_data(siret=siret, name="Autre nom"))
    assert response.status_code == 400
    page = text(response)
    assert "SIRET" in page and ("n'est pas valide" in page or "Saisissez le numéro SIRET" in page)
    assert snapshot(issuer.request) == before


def test_other_bad_inputs_are_refused_field_by_field(client):
    issuer = start_issuer(client, EMAIL)
    response = client.post(issuer.path("structure"), data=organisation_data(zipcode="750", kind="fusée"))
    page = text(response)
    assert response.status_code == 400
    assert "Le code postal compte 5 chiffres." in page
    assert "Choisissez le type de structure dans la liste." in page
    response = client.post(issuer.path("referent"), data={**REFERENT, "email": "pas-une-adresse"})
    assert response.status_code == 400 and "Saisissez une adresse e-mail valide" in text(response)
    assert issuer.request.referent_email == ""


def test_the_service_checks_again_what_the_forms_check(client, fixed_clock):
    issuer = start_issuer(client, EMAIL)
    with pytest.raises(services.HabilitationError, match="type de structure"):
        services.save_organisation(issuer.request, **organisation_data(kind="fusée"), now=fixed_clock.now())
    with pytest.raises(services.HabilitationError, match="SIRET n'est pas valide"):
        services.save_organisation(issuer.request, **organisation_data(siret="13002526500012"), now=fixed_clock.now())
    assert issuer.request.siret == ""


def test_aidants_are_added_and_removed_each_email_once(client):
    issuer = start_issuer(client, EMAIL)
    for n in range(3):
        assert client.post(issuer.path("aidants"), data=aidant_data(n)).status_code == 302
    duplicate = client.post(issuer.path("aidants"), data={**aidant_data(1), "email": "ALEX.AIDANT1@mairie.example.org"})
    assert duplicate.status_code == 400 and "figure déjà" in text(duplicate)
    rows = issuer.request.aidants
    assert [row.last_name for row in rows] == ["Aidant0", "Aidant1", "Aidant2"]
    removed = rows[1].id
    assert client.post(issuer.path(f"aidants/{removed}/retirer")).status_code == 302
    assert [row.last_name for row in issuer.request.aidants] == ["Aidant0", "Aidant2"]
    missing = client.post(issuer.path(f"aidants/{removed}/retirer"), follow_redirects=True)
    assert "ne figure pas dans la demande" in text(missing)
    assert len(issuer.request.aidants) == 2


def test_an_aidant_of_another_request_cannot_be_removed(client):
    mine = start_issuer(client, EMAIL)
    other_client = client.application.test_client()
    theirs = start_issuer(other_client, "autre@asso.example.org")
    other_client.post(theirs.path("aidants"), data=aidant_data(7))
    [row] = theirs.request.aidants
    response = client.post(mine.path(f"aidants/{row.id}/retirer"), follow_redirects=True)
    assert "ne figure pas dans la demande" in text(response)
    assert len(theirs.request.aidants) == 1


def test_submission_needs_every_step_and_the_terms(client):
    issuer = start_issuer(client, EMAIL)
    response = submit(issuer)
    assert response.status_code == 400
    assert "complétez : vos coordonnées (demandeur), les informations sur la structure, le référent, " \
           "au moins un aidant à former" in text(response)
    fill_request(issuer)
    response = client.post(issuer.path("envoi"), data={})
    assert response.status_code == 400 and "acceptez les conditions générales" in text(response)
    assert issuer.request.status == "draft"
    assert journal_entries("submit") == []


def test_submission_sends_the_request_once_and_acknowledges_it(client, fixed_clock):
    issuer = start_issuer(client, EMAIL)
    fill_request(issuer)
    response = submit(issuer)
    assert response.status_code == 302 and response.headers["Location"].endswith(issuer.path())
    sent = issuer.request
    assert (sent.status, sent.submitted_at, sent.terms_version) == ("submitted", fixed_clock.now(), "2026-01")
    assert any("est bien envoyée" in message.body for message in emails_to(EMAIL))
    [entry] = journal_entries("submit")
    assert entry.actor_kind == "issuer" and entry.extra == {"habilitation_request_id": sent.id,
                                                           "issuer_id": sent.issuer_id, "resubmission": False}

    before = snapshot(issuer.request)
    again = submit(issuer)  # a second submission (double click, back button)
    assert again.status_code == 302
    assert "a déjà été envoyée" in text(client.get(again.headers["Location"]))
    assert snapshot(issuer.request) == before
    assert len(journal_entries("submit")) == 1
    # Nothing can be changed any more while the staff review it.
    response = client.post(issuer.path("structure"), data=organisation_data(name="Autre nom"))
    assert "ne peut plus être modifiée" in text(client.get(response.headers["Location"]))
    assert client.post(issuer.path("aidants"), data=aidant_data(9)).status_code in (302, 400)
    assert snapshot(issuer.request) == before
    assert client.get(issuer.path("aidants")).status_code == 302  # the steps lead to the request's page


def test_the_service_refuses_a_second_submission_in_french(client, fixed_clock):
    issuer = submitted_request(client)
    with pytest.raises(services.HabilitationError, match="déjà été envoyée"):
        services.submit(issuer.request, terms_accepted=True, now=fixed_clock.now())


def test_messages_go_both_ways_on_the_requests_page(client):
    issuer = start_issuer(client, EMAIL)
    response = client.post(issuer.path("messages"), data={"body": "Bonjour, une question sur le SIRET."})
    assert response.status_code == 302
    page = text(client.get(issuer.path()))
    assert "Bonjour, une question sur le SIRET." in page and "Demandeur" in page
    empty = client.post(issuer.path("messages"), data={"body": "   "})
    assert empty.status_code == 400 and "Écrivez votre message." in text(empty)
    assert len(issuer.request.messages) == 1
    [entry] = journal_entries("habilitation_message")
    assert set(entry.extra) == {"habilitation_request_id", "issuer_id", "message_id"}


def test_the_issuer_may_abandon_an_open_request(client):
    issuer = submitted_request(client)
    assert "Abandonner la demande" in text(client.get(issuer.path("abandon")))
    assert issuer.request.status == "submitted"  # the GET only asks
    assert client.post(issuer.path("abandon")).status_code == 302
    assert issuer.request.status == "closed"
    again = client.post(issuer.path("abandon"))
    assert again.status_code == 409 and "ne peut plus être abandonnée" in text(again)
    assert len(journal_entries("close")) == 1
    assert client.post(issuer.path("messages"), data={"body": "Encore là ?"}).status_code == 400
    assert issuer.request.messages == []


def test_an_issuer_has_a_few_open_requests_at_most(client):
    start_issuer(client, EMAIL)
    for _ in range(services.MAX_OPEN_REQUESTS - 1):
        assert "/demandeur" in client.post("/habilitation/mes-demandes/nouvelle").headers["Location"]
    response = client.post("/habilitation/mes-demandes/nouvelle", follow_redirects=True)
    assert "Vous avez déjà 5 demandes en cours" in text(response)
    assert len(db.session().scalars(sa.select(HabilitationRequest)).all()) == services.MAX_OPEN_REQUESTS


def test_the_staff_mailbox_hears_of_each_submission_when_configured(client):
    client.application.config["STAFF_EMAIL"] = "equipe@aidants.example.org"
    issuer = start_issuer(client, EMAIL)
    fill_request(issuer)
    assert emails_to("equipe@aidants.example.org") == []
    submit(issuer)
    [message] = emails_to("equipe@aidants.example.org")
    assert "Nouvelle demande d'habilitation" in message.subject
    assert f"/staff/habilitations/{issuer.request.uuid}" in message.body
