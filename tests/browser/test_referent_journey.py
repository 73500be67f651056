"""A référent manages their structure in a real browser: assigns a card and validates it with a code, and visits
every page of the référent's space and the structure switch; axe-core on each, and the CSP never refuses anything."""

from __future__ import annotations

import os

import pytest

from aidants import db
from aidants.accounts import cards
from aidants.security import totp
from tests.browser.support import sign_in
from tests.factories import make_aidant, make_organisation

pytestmark = pytest.mark.browser


def test_a_referent_assigns_and_validates_a_card_on_accessible_pages(live_server, browser_page, assert_accessible,
                                                                     assert_no_csp_violation):
    page, now = browser_page, live_server.now()
    alpha, centre = make_organisation(now, "Mairie d'Alpha"), make_organisation(now, "Centre social Alpha")
    referent = make_aidant(now, alpha, is_referent=True)
    referent.aidant.referent_of.append(centre)
    referent.aidant.organisations.append(centre)
    aidant = make_aidant(now, alpha)
    seed = os.urandom(20)
    cards.store_cards([cards.CardRow(1, "SN-7788", seed, 60, 6)], now)
    db.commit()

    sign_in(page, referent, now)
    assert "Mairie d'Alpha" in page.locator("#current-structure").inner_text()
    assert_accessible(page)
    page.locator("main").get_by_role("link", name="Espace référent").click()
    page.get_by_role("heading", name="Espace référent").wait_for()
    assert_accessible(page)
    page.get_by_role("link", name="Mairie d'Alpha").click()
    page.get_by_role("heading", name="Mairie d'Alpha", exact=True).wait_for()
    assert_accessible(page)

    page.get_by_role("link", name=aidant.aidant.full_name).click()
    page.get_by_role("heading", name=aidant.aidant.full_name).wait_for()
    assert_accessible(page)
    page.get_by_role("link", name="Attribuer une carte").click()
    page.get_by_label("Numéro de série de la carte").fill("SN-0000")
    page.get_by_role("button", name="Attribuer la carte").click()
    assert "Aucune carte ne porte ce numéro de série" in page.get_by_role("alert").inner_text()
    assert_accessible(page)
    page.get_by_label("Numéro de série de la carte").fill("SN-7788")
    page.get_by_role("button", name="Attribuer la carte").click()
    page.get_by_role("heading", name="Valider la carte n° SN7788").wait_for()  # stored without dashes
    assert_accessible(page)
    page.get_by_label("Code affiché").fill("12")
    page.get_by_role("button", name="Valider la carte").click()
    assert page.get_by_label("Code affiché").get_attribute("aria-describedby") == "code-error"
    assert_accessible(page)
    page.get_by_label("Code affiché").fill(totp.code_for_step(seed, totp.step_at(now, 60)))
    page.get_by_role("button", name="Valider la carte").click()
    page.get_by_role("heading", name=aidant.aidant.full_name).wait_for()
    assert "La carte SN7788 est activée" in page.inner_text("main")
    assert "Carte n° SN7788" in page.locator("#devices").inner_text()
    assert_accessible(page)

    fiche = page.url
    for link, heading in [("Dissocier : Carte n° SN7788", "Dissocier : Carte n° SN7788"),
                          ("Désactiver le compte", f"Désactiver le compte de {aidant.aidant.full_name}"),
                          ("Nommer co-référent", f"Nommer {aidant.aidant.full_name} co-référent"),
                          ("Changer de structure", f"Changer {aidant.aidant.full_name} de structure"),
                          ("Ajouter une application", "Ajouter une application d'authentification")]:
        page.goto(fiche)
        page.get_by_role("link", name=link).click()
        page.get_by_role("heading", name=heading).wait_for()
        assert_accessible(page)
    page.get_by_role("button", name="Activer l'application").click()  # nothing typed: the error, announced
    assert page.get_by_label("Code affiché").get_attribute("aria-describedby") == "code-error"
    assert_accessible(page)

    page.goto(fiche)
    page.get_by_role("link", name="Retour à Mairie d'Alpha").click()
    page.get_by_role("link", name="Demander un nouvel aidant").click()
    page.get_by_role("button", name="Envoyer la demande").click()
    assert page.get_by_label("Prénom").get_attribute("aria-describedby") == "first_name-error"
    assert_accessible(page)
    page.get_by_label("Prénom").fill("Léa")
    page.get_by_label("Nom", exact=True).fill("Zola")
    page.get_by_label("Adresse e-mail professionnelle").fill("lea@exemple.fr")
    page.get_by_label("Profession", exact=True).fill("Médiatrice numérique")
    page.get_by_label("Type d'aidant").select_option("conseiller_numerique")
    page.get_by_role("button", name="Envoyer la demande").click()
    assert "en attente de formation" in page.locator("#people").inner_text().lower()  # a badge: upper case
    assert_accessible(page)
    page.get_by_role("link", name="Ajouter un co-référent").click()
    page.get_by_role("heading", name="Ajouter un co-référent").wait_for()
    assert_accessible(page)
    page.go_back()
    page.get_by_role("link", name="Restreindre les démarches").click()
    page.get_by_role("heading", name="Démarches de la structure").wait_for()
    assert_accessible(page)
    page.locator("label.fr-label", has_text="Argent").click()  # the DSFR draws the box over the label
    assert not page.get_by_label("Argent").is_checked()
    page.get_by_role("button", name="Enregistrer les démarches").click()
    assert "Les démarches de la structure sont enregistrées" in page.inner_text("main")
    db.session().expire_all()
    assert "argent" not in alpha.demarches and "papiers" in alpha.demarches

    page.goto("/espace-aidant")
    page.get_by_role("link", name="Changer de structure").click()
    page.get_by_role("heading", name="Changer de structure").wait_for()
    assert_accessible(page)
    page.locator("label.fr-label", has_text="Centre social Alpha").click()
    page.get_by_role("button", name="Agir pour cette structure").click()
    assert "Centre social Alpha" in page.locator("#current-structure").inner_text()
    assert "Centre social Alpha" in page.inner_text("header")
    assert_accessible(page)
    assert_no_csp_violation()
