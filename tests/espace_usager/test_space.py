"""The espace usager's pages: separate session, mandates in every structure, uses, revocation by the usager."""

from __future__ import annotations

import csv
import html
import io

import pytest
import sqlalchemy as sa

from aidants import db
from aidants.accounts.models import Aidant
from aidants.espace_usager.models import UsagerSession
from aidants.journal import services as journal
from aidants.mandats import services as mandats
from aidants.mandats.models import Autorisation
from aidants.security import crypto
from tests.espace_usager.helpers import entries, get_code, outbox, two_structures, usager_client, use_mandate
from tests.factories import sign_in
from tests.oidc.provider_helpers import give_mandat, make_usager, token_request


def text(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def world(app, fixed_clock):  # type: ignore[no-untyped-def]
    return two_structures(fixed_clock)


@pytest.fixture
def usager(app, world, fixed_clock):  # type: ignore[no-untyped-def]
    return usager_client(app, world.a.usager, fixed_clock.now())


# --- 1. the session ---------------------------------------------------------------------------------


def test_without_a_usager_session_every_page_sends_to_the_sign_in(client, world):
    response = client.get("/usager/")
    assert response.status_code == 302 and response.location.endswith("/usager/connexion")
    page = client.get("/usager/connexion")
    assert page.status_code == 200 and "S'identifier avec FranceConnect" in text(page)


def test_an_aidant_session_never_opens_the_espace_usager(app, client, world, fixed_clock):
    sign_in(client, world.a.aidant, fixed_clock.now())
    assert client.get("/espace-aidant/usagers").status_code == 200
    assert client.get("/usager/").location.endswith("/usager/connexion")


def test_the_session_is_short_and_stored_hashed(app, world, usager, fixed_clock):
    assert usager.get("/usager/").status_code == 200
    cookie = usager.get_cookie("usager_session", path="/usager")
    assert cookie is not None
    [row] = db.session().scalars(sa.select(UsagerSession)).all()
    token = cookie.value.split(".")[0]
    assert row.token_hash == crypto.hash_token(token) and token not in row.token_hash
    fixed_clock.advance(minutes=31)  # idle for more than 30 minutes
    assert usager.get("/usager/").status_code == 302


def test_two_hours_at_most_even_when_active(app, world, usager, fixed_clock):
    for _ in range(4):
        fixed_clock.advance(minutes=25)
        assert usager.get("/usager/").status_code == 200
    fixed_clock.advance(minutes=25)  # 2 h 05 after sign-in, 25 minutes after the last page
    assert usager.get("/usager/").status_code == 302


def test_a_forged_cookie_and_a_logout(app, world, usager, client):
    client.set_cookie("usager_session", "x" * 43 + ".forged", path="/usager")
    assert client.get("/usager/").status_code == 302
    assert usager.post("/usager/deconnexion").status_code == 302
    assert usager.get("/usager/").status_code == 302
    assert [e.actor_kind for e in entries("logout_usager")] == ["usager"]


# --- 2. the mandates ----------------------------------------------------------------------------------


def test_every_mandate_in_every_structure(world, usager):
    page = text(usager.get("/usager/"))
    assert world.a.organisation.name in page and "Association B" in page
    assert "3 rue des Lilas" in page and "Famille - Scolarité" in page and "Social - Santé" in page
    detail = text(usager.get(f"/usager/mandats/{world.mandat_b.uuid}"))
    assert "Association B" in detail and "Lyon" in detail and "Actif" in detail
    assert "Camille" in detail and world.aidant_b.aidant.last_name not in detail  # first name and initial


def test_another_usagers_mandate_is_hidden(app, world, fixed_clock):
    other = make_usager(fixed_clock.now(), "Karim", "BENSAÏD")
    mandat = give_mandat(world.aidant_b, other, ["social"], fixed_clock.now())
    client = usager_client(app, world.a.usager, fixed_clock.now())
    assert client.get(f"/usager/mandats/{mandat.uuid}").status_code == 404
    assert client.get(f"/usager/mandats/{mandat.uuid}/attestation.jwt").status_code == 404
    assert client.post(f"/usager/mandats/{mandat.uuid}/revoquer").status_code == 404
    assert "BENSAÏD" not in text(client.get("/usager/"))


def test_revoked_by_whom_and_replaced_by_which(app, world, usager, fixed_clock):
    aidant = world.aidant_b
    mandats.revoke(aidant=aidant.aidant, mandat=world.mandat_b, code=aidant.code(fixed_clock.now()),
                   now=fixed_clock.now())
    db.commit()
    fixed_clock.advance(seconds=31)
    renewed = mandats.renew_mandat(aidant=aidant.aidant, mandat=world.mandat_b, demarches=["famille"],
                                   duration="month", code=aidant.code(fixed_clock.now()), consent=True,
                                   form_token=crypto.new_token(), issuer="http://localhost", now=fixed_clock.now())
    db.commit()
    page = text(usager.get(f"/usager/mandats/{world.mandat_b.uuid}"))
    assert "Révoqué" in page and f"Camille {aidant.aidant.last_name[0]}. (structure)" in page
    assert f"/usager/mandats/{renewed.uuid}" in page and "Remplacé par le mandat" in page
    assert usager.get(f"/usager/mandats/{world.mandat_b.uuid}/attestation-revocation").status_code == 200


def test_the_printable_attestation_with_its_two_qr_codes(world, usager):
    page = text(usager.get(f"/usager/mandats/{world.a.mandat.uuid}/attestation"))
    assert page.count('class="attestation__qr') == 2 and f"/verifier/{world.a.mandat.uuid}" in page
    assert f'href="/usager/mandats/{world.a.mandat.uuid}"' in page  # back to the usager's page, not the aidant's


# --- 3. the uses ----------------------------------------------------------------------------------------


def test_the_uses_made_by_a_service_with_who_and_where(app, world, usager, fixed_clock):
    use_mandate(app, world.a, fixed_clock)
    page = text(usager.get("/usager/utilisations"))
    aidant = world.a.aidant.aidant
    assert "Service de test" in page and "Social - Santé" in page and world.a.organisation.name in page
    assert f"{aidant.first_name} {aidant.last_name[0]}." in page and aidant.last_name not in page
    assert "Connexion au service" in page and "Identité transmise au service" in page
    rows = list(csv.reader(io.StringIO(usager.get("/usager/utilisations.csv").get_data(as_text=True).lstrip("\ufeff")),
                           delimiter=";"))
    assert rows[0][0] == "date (UTC)" and len(rows) == 3 and rows[1][2] == "Service de test"


def test_uses_are_paginated_newest_first_on_the_journal_sequence(app, world, usager, fixed_clock):
    for minute in range(25):
        journal.append("use_autorisation", now=fixed_clock.now(), aidant_id=world.a.aidant.aidant.id,
                       organisation_id=world.a.organisation.id, usager_id=world.a.usager.id,
                       demarches=["social"], client_id=world.a.client.client_id, extra={"endpoint": f"e{minute}"})
        fixed_clock.advance(minutes=1)
    journal.append("use_autorisation", now=fixed_clock.now(), usager_id=world.a.usager.id + 999,
                   demarches=["social"], client_id=world.a.client.client_id)  # someone else's
    db.commit()
    first = usager.get("/usager/utilisations")
    body = text(first)
    assert body.count("<tr><td>") == 20 and 'id="older-uses"' in body
    cursor = body.split("avant=")[1].split('"')[0]
    second = text(usager.get(f"/usager/utilisations?avant={cursor}"))
    assert second.count("<tr><td>") == 5 and 'id="older-uses"' not in second
    assert usager.get("/usager/utilisations?avant=abc").status_code == 200  # a bad cursor is the first page


# --- 4. revocation by the usager ----------------------------------------------------------------------


def test_the_usager_revokes_one_demarche_and_the_service_gets_no_identity(app, world, usager, fixed_clock):
    aidant_browser = use_mandate(app, world.a, fixed_clock)
    fixed_clock.advance(seconds=31)
    code = get_code(aidant_browser, world.a, "social")  # an aidant is using it at this very moment
    social = next(a for a in world.a.mandat.autorisations if a.demarche == "social")
    path = f"/usager/mandats/{world.a.mandat.uuid}/autorisations/{social.id}/revoquer"
    confirm = text(usager.get(path))
    assert "aucun service en ligne ne recevra plus votre identité" in confirm and "Social - Santé" in confirm
    done = usager.post(path)
    assert done.status_code == 302 and done.location.endswith("/attestation-revocation")
    assert token_request(aidant_browser, world.a, code).get_json()["error"] == "invalid_grant"
    db.session().rollback()
    revoked = db.session().get(Autorisation, social.id)
    assert revoked is not None and revoked.revoked_reason == "usager" and revoked.revoked_by_id is None
    [entry] = [e for e in entries("cancel_autorisation") if e.autorisation_id == social.id]
    assert entry.actor_kind == "usager" and entry.aidant_id is None and entry.usager_id == world.a.usager.id
    assert "par l'usager lui-même" in text(usager.get(done.location))
    structure = outbox("structure-revoked:")
    assert [m.recipient for m in structure] == [world.a.aidant.aidant.email]
    assert "révoqué lui-même" in structure[0].body and "Social - Santé" in structure[0].body
    assert outbox("usager-revoked:")[0].recipient == world.a.usager.email
    # the structure sees it on the mandate's page (the aidant is still signed in)
    page = text(aidant_browser.get(f"/mandats/{world.a.mandat.uuid}"))
    assert "par l'usager lui-même" in page and "L'usager" in page


def test_revoking_the_whole_mandate_then_nothing_is_left(app, world, usager):
    path = f"/usager/mandats/{world.a.mandat.uuid}/revoquer"
    assert usager.post(path).status_code == 302
    assert [e.actor_kind for e in entries("cancel_mandat")] == ["usager"]
    again = usager.post(path)
    assert again.status_code == 409 and "rien à révoquer" in text(again)


def test_structure_recipients_are_its_referents_and_mandate_makers(app, world, usager, fixed_clock):
    from tests.factories import make_aidant

    referent = make_aidant(fixed_clock.now(), world.a.organisation, is_referent=True)
    reader = make_aidant(fixed_clock.now(), world.a.organisation, can_create_mandats=False)
    db.session().execute(sa.update(Aidant).where(Aidant.id == world.a.aidant.aidant.id).values(is_active=False))
    db.commit()
    assert usager.post(f"/usager/mandats/{world.a.mandat.uuid}/revoquer").status_code == 302
    recipients = {m.recipient for m in outbox("structure-revoked:")}
    assert referent.aidant.email in recipients and reader.aidant.email not in recipients
    assert world.a.aidant.aidant.email not in recipients  # deactivated


# --- the header and the way in ---------------------------------------------------------------------


def test_the_usager_header_names_the_usager_and_ends_their_session_not_an_aidants(app, client, usager, world):  # type: ignore[no-untyped-def]
    anonymous = text(client.get("/usager/connexion"))
    assert "Se connecter</a>" not in anonymous  # the aidants' sign-in is not a usager's
    assert 'id="usager-logout"' not in anonymous
    page = text(usager.get("/usager/"))
    assert f'id="usager-name">{world.a.usager.full_name}<' in page
    assert page.count("Quitter mon espace") == 1
    assert usager.post("/usager/deconnexion").status_code == 302  # the header's button ends the usager's session
    assert usager.get("/usager/").headers["Location"].endswith("/usager/connexion")


def test_every_page_shows_the_way_to_the_espace_usager(client):  # type: ignore[no-untyped-def]
    for path in ("/", "/connexion", "/mentions-legales"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'href="/usager/connexion" id="lien-espace-usager"' in text(page), path
