"""The staff's people pages in a real browser: search, an aidant's page, a structure's page, the confirmation
pages (deactivation, refusal of a request, refusal of a habilitation request). axe-core on each; no CSP violation."""

from __future__ import annotations

import pytest

from aidants import db
from aidants.referents import services as referents
from tests.browser.support import sign_in
from tests.factories import Card, make_aidant, make_organisation

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots/structures"


def test_search_pages_and_confirmations(live_server, browser_page, assert_accessible, assert_no_csp_violation):
    page, now = browser_page, live_server.now()
    lyon = make_organisation(now, "Mairie de Lyon")
    staff = make_aidant(now, make_organisation(now, "Équipe nationale"), is_staff=True)
    aidant, referent = make_aidant(now, lyon), make_aidant(now, lyon, is_referent=True)
    Card("LY-0001", now)
    referents.request_aidant(db.session().merge(referent.aidant), db.session().merge(lyon), first_name="Inès",
                             last_name="Nouvelle", email="ines@lyon.example.org", profession="Médiatrice", now=now,
                             aidant_type="conseiller_numerique")
    db.commit()
    sign_in(page, staff, now)

    page.goto("/staff")
    page.get_by_role("link", name="Rechercher").click()
    page.get_by_role("heading", name="Rechercher une personne ou une structure").wait_for()
    assert_accessible(page)
    page.get_by_label("Nom, adresse e-mail, nom de structure ou SIRET").fill("lyon")
    page.get_by_role("button", name="Rechercher").click()
    page.locator("#found-structures").wait_for()
    assert "Mairie de Lyon" in page.inner_text("#found-structures")
    assert_accessible(page)
    page.get_by_role("link", name="Mairie de Lyon").click()
    page.get_by_role("heading", name="Mairie de Lyon").wait_for()
    assert aidant.aidant.full_name in page.inner_text("#members")
    assert referent.aidant.full_name in page.inner_text("#referents")
    page.screenshot(path=f"{SHOTS}/staff-structure.png", full_page=True)
    assert_accessible(page)

    page.get_by_role("link", name=aidant.aidant.full_name).first.click()
    page.get_by_role("heading", name=aidant.aidant.full_name).wait_for()
    assert_accessible(page)
    page.get_by_label("Numéro de série d'une carte en stock").fill("ly-0001")
    page.get_by_role("button", name="Attribuer la carte").click()
    page.get_by_text("La carte LY0001 est réservée").wait_for()
    assert "Réservée, à activer" in page.inner_text("#devices")
    page.screenshot(path=f"{SHOTS}/staff-aidant.png", full_page=True)
    assert_accessible(page)
    page.get_by_role("button", name="Renvoyer un lien d'activation").click()
    page.get_by_text("Un nouveau lien d'activation est envoyé").wait_for()
    page.get_by_role("link", name="Désactiver le compte").click()
    page.get_by_role("heading", name=f"Désactiver le compte de {aidant.aidant.full_name}").wait_for()
    assert "ne pourra plus se connecter" in page.inner_text("#consequence")
    assert_accessible(page)
    page.get_by_role("button", name="Désactiver le compte").click()
    page.get_by_text("est désactivé").wait_for()
    assert_accessible(page)

    page.goto("/staff/demandes-aidants")
    page.get_by_role("link", name="Refuser la demande pour Inès Nouvelle").click()
    page.get_by_role("heading", name="Refuser la demande pour Inès Nouvelle").wait_for()
    assert_accessible(page)
    page.get_by_role("button", name="Confirmer le refus").click()  # no reason: refused, accessibly
    assert page.get_by_label("Raison du refus, pour le référent").get_attribute("aria-describedby") == "reason-error"
    assert_accessible(page)
    page.get_by_label("Raison du refus, pour le référent").fill("La formation n'aura pas lieu cette année.")
    page.get_by_role("button", name="Confirmer le refus").click()
    page.get_by_text("Aucune demande en attente").wait_for()
    assert_accessible(page)
    assert_no_csp_violation()
