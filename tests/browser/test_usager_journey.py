"""The espace usager in a real browser: the usager signs in through the FranceConnect sandbox, sees two mandates
from two structures and the uses the sandbox service made, revokes one démarche; the service can no longer receive
their identity for it, and the structure sees the revocation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from aidants import db, typography
from aidants.journal.models import JournalEntry
from aidants.usagers.models import Usager
from aidants.usagers.services import usager_sub
from oidc.sandbox.franceconnect import _sub
from oidc.sandbox.identities import BY_KEY
from tests.browser.support import open_login_link_from_outbox
from tests.factories import make_aidant, make_organisation
from tests.oidc.provider_helpers import give_mandat

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots/usager")
SERVICE_CALLBACK = re.compile(r"/sandbox/service/retour\?")


def use_entries() -> list[JournalEntry]:
    db.session().rollback()
    return list(db.session().scalars(sa.select(JournalEntry).where(JournalEntry.action == "use_autorisation")))


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def aidant_signs_in_at_the_service(page, who, live_server, demarche: str = "social") -> None:  # type: ignore[no-untyped-def]
    page.goto("/sandbox/service/")
    page.get_by_label("Démarche concernée").select_option(demarche)
    page.get_by_role("button", name="S'identifier avec Aidants Connect").click()
    page.get_by_role("heading", name="Connexion aidant").wait_for()
    page.get_by_label("Adresse e-mail professionnelle").fill(who.aidant.email)
    page.get_by_label("Code à usage unique").fill(who.code(live_server.now()))
    page.get_by_role("button", name="Recevoir mon lien de connexion").click()
    page.get_by_role("heading", name="Consultez votre messagerie").wait_for()
    open_login_link_from_outbox(page, who.aidant.email)
    page.get_by_role("button", name="Me connecter").click()


def test_the_usager_sees_and_stops_what_is_done_in_their_name(live_server, browser_page, assert_accessible,
                                                             assert_no_csp_violation):
    page, now = browser_page, live_server.now()
    angela = BY_KEY["angela"]
    usager = Usager(sub=usager_sub(_sub(angela, live_server.app.config["FC_CLIENT_ID"])), created_at=now,
                    updated_at=now, search_name="angela claire louise dubois", **angela.claims())
    db.session().add(usager)
    db.session().flush()
    mairie, association = make_organisation(now, "Mairie de Trévoux"), make_organisation(now, "Association Lien")
    aidant = make_aidant(now, mairie)
    mandat = give_mandat(aidant, usager, ["social", "logement"], now)
    give_mandat(make_aidant(now, association), usager, ["famille"], now)
    live_server.clock.advance(seconds=31)

    # the aidant uses the mandate at the sandbox service
    aidant_signs_in_at_the_service(page, aidant, live_server)
    page.get_by_role("heading", name="Pour quel usager agissez-vous ?").wait_for()
    page.get_by_label("Rechercher un usager par son nom").fill("dub")
    page.get_by_role("link", name=f"{usager.full_name} — né(e) le {usager.birthdate}").click()
    page.get_by_role("button", name="Transmettre l'identité de l'usager").click()
    page.get_by_role("heading", name="Identité reçue").wait_for()
    page.get_by_role("button", name="Se déconnecter du service").click()
    page.get_by_role("button", name="S'identifier avec Aidants Connect").wait_for()

    # the usager signs in through the FranceConnect sandbox
    page.goto("/usager/connexion")
    page.get_by_role("heading", name="Espace usager").wait_for()
    assert_accessible(page)
    page.get_by_role("link", name="S'identifier avec FranceConnect").click()
    page.locator("label.fr-label", has_text=f"{angela.given_name} {angela.family_name}").first.click()
    page.get_by_role("button", name="Se connecter avec cette identité").click()
    page.get_by_role("heading", name="Mes mandats").wait_for()
    assert_accessible(page)
    shot(page, "1-mes-mandats")
    main = page.inner_text("main")
    assert "Mairie de Trévoux" in main and "Association Lien" in main and "Famille - Scolarité" in main

    page.get_by_role("link", name="Utilisations").click()
    page.get_by_role("heading", name="Ce qui a été fait en mon nom").wait_for()
    assert_accessible(page)
    shot(page, "2-utilisations")
    uses = page.inner_text("#usager-uses")
    assert "Service administratif de démonstration" in uses and "Social - Santé" in uses
    assert f"Camille {aidant.aidant.last_name[0]}." in uses and "Mairie de Trévoux" in uses

    page.get_by_role("link", name="Mes mandats").click()
    page.get_by_role("link", name="Mairie de Trévoux").click()
    page.get_by_role("heading", name="Mandat donné à Mairie de Trévoux").wait_for()
    assert_accessible(page)
    page.get_by_role("link", name="Révoquer la démarche Social - Santé").click()
    page.get_by_role("heading", name="Révoquer une démarche").wait_for()
    assert_accessible(page)
    shot(page, "3-confirmation")
    assert "aucun service en ligne ne recevra plus votre identité" in page.inner_text("#revoke-consequence")
    page.get_by_role("button", name="Confirmer la révocation").click()
    page.get_by_role("heading", name="Attestation de révocation de mandat").wait_for()
    assert_accessible(page)
    shot(page, "4-attestation-revocation")
    assert "par l'usager lui-même" in page.inner_text("#revocation-attestation")
    page.goto("/usager/")
    page.get_by_role("button", name="Quitter mon espace").click()
    page.get_by_role("heading", name="Espace usager").wait_for()

    # the service can no longer receive the identity for social: the provider answers it access_denied
    uses_before = len(use_entries())
    live_server.clock.advance(seconds=31)
    aidant_signs_in_at_the_service(page, aidant, live_server)
    page.wait_for_url(SERVICE_CALLBACK)
    assert "error=access_denied" in page.url and "code=" not in page.url
    assert len(use_entries()) == uses_before  # no identity handed out

    # the structure sees the revocation
    page.goto(f"/mandats/{mandat.uuid}")
    page.get_by_role("heading", name=f"Mandat {typography.de(usager.full_name)}").wait_for()
    assert_accessible(page)
    shot(page, "6-structure")
    assert "par l'usager lui-même" in page.inner_text("#autorisations")
    assert_no_csp_violation()


def test_the_other_pages_of_the_espace_usager_are_accessible(live_server, browser_page, assert_accessible,
                                                            assert_no_csp_violation):
    from aidants.espace_usager import sessions
    from tests.oidc.provider_helpers import make_usager

    page, now = browser_page, live_server.now()
    usager = make_usager(now)
    mandat = give_mandat(make_aidant(now), usager, ["social", "argent"], now)
    value = sessions.open_session(usager, now)
    db.commit()
    page.context.add_cookies([{"name": sessions.COOKIE, "value": value, "url": live_server.url + "/usager/"}])
    for path, heading in [(f"/usager/mandats/{mandat.uuid}", "Mandat donné à"),
                          (f"/usager/mandats/{mandat.uuid}/attestation", "Mandat de représentation"),
                          ("/usager/notifications", "Mes notifications"), ("/usager/donnees", "Mes données"),
                          ("/usager/effacement", "Effacer mes données"), ("/usager/utilisations", "Ce qui a été fait")]:
        page.goto(path)
        page.get_by_role("heading", name=heading).first.wait_for()
        assert_accessible(page)
    shot(page, "7-utilisations-vides")
    page.goto("/usager/notifications")
    page.locator("label.fr-label", has_text="résumé des utilisations").first.click()
    page.get_by_role("button", name="Enregistrer mes choix").click()
    page.get_by_text("Vos choix de notifications sont enregistrés.").wait_for()
    assert not page.get_by_label("Chaque jour où un mandat a servi : le résumé des utilisations").is_checked()
    page.goto("/usager/effacement")
    assert "encore actifs" in page.inner_text("#erase-blocked")
    shot(page, "8-effacement-refuse")
    assert_no_csp_violation()
