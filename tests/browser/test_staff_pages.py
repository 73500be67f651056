"""The staff back-office and the statistics in a real browser: every page passes axe-core, the CSP refuses nothing.

A staff member imports cards (first refused, then the valid rows), transfers mandates, deactivates an
inactive aidant, reads and filters the journal and verifies it; anyone reads /stats; a référent reads
their structure's statistics.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.browser.support import sign_in
from tests.factories import make_aidant, make_organisation
from tests.mandats.helpers import make_usager
from tests.staff.helpers import make_mandat

pytestmark = pytest.mark.browser

SEED = "3132333435363738393031323334353637383930"


def open_every_details(page) -> None:  # type: ignore[no-untyped-def]
    """Unfold the data tables, so that axe-core checks them too."""
    for summary in page.locator("details > summary").all():
        summary.click()


def test_staff_pages_and_statistics(live_server, browser_page, assert_accessible, assert_no_csp_violation,
                                    tmp_path: Path) -> None:
    page, now = browser_page, live_server.now()
    a, b = make_organisation(now, "Mairie de Lyon"), make_organisation(now, "Maison France Services")
    staff = make_aidant(now, make_organisation(now, "Équipe nationale"), is_staff=True)
    aidant, referent = make_aidant(now, a), make_aidant(now, a, is_referent=True)
    sleeper = make_aidant(now - dt.timedelta(days=300), b, email="ancien@exemple.fr")
    for days, demarches in ((3, ["papiers", "social"]), (40, ["famille"]), (70, ["argent"])):
        make_mandat(aidant, make_usager(now, f"Usager{days}", "Exemple"), demarches, now - dt.timedelta(days=days))

    page.goto("/stats")
    page.get_by_role("heading", name="Statistiques d'Aidants Connect").wait_for()
    open_every_details(page)
    assert page.locator("#service-table-mois").is_visible()
    assert_accessible(page)

    sign_in(page, staff, now)
    page.goto("/staff")
    page.get_by_role("heading", name="Espace de l'équipe nationale").wait_for()
    assert page.get_by_role("link", name="Demandes d'habilitation").get_attribute("href") == "/staff/habilitations"
    assert_accessible(page)

    # Cards: a bad line refuses the file; asking for the valid rows imports them.
    cards = tmp_path / "cartes.csv"
    cards.write_text(f"serial_number,seed\nSN-1,{SEED}\nSN-2,pas-une-graine\n", encoding="utf-8")
    page.get_by_role("link", name="Importer des cartes TOTP").click()
    assert_accessible(page)
    page.get_by_label("Fichier du fabricant (CSV)").set_input_files(str(cards))
    page.get_by_role("button", name="Vérifier et importer").click()
    page.get_by_role("heading", name="Aucune carte importée").wait_for()
    assert page.locator("#bad-lines td").first.inner_text() == "3"
    assert_accessible(page)
    page.get_by_label("Fichier du fabricant (CSV)").set_input_files(str(cards))
    page.locator("label[for=skip_invalid]").click()  # the DSFR draws the box on the label
    assert page.get_by_label("Importer les lignes valides même si d'autres sont invalides").is_checked()
    page.get_by_role("button", name="Vérifier et importer").click()
    page.get_by_role("heading", name="1 carte importée").wait_for()
    assert_accessible(page)

    # Transfer: both structures, the usagers, the confirmation, done.
    page.goto("/staff/mandats/transfert")
    assert_accessible(page)
    page.get_by_label("SIRET de la structure d'origine").fill(a.siret)
    page.get_by_label("SIRET de la structure d'arrivée").fill(b.siret)
    page.get_by_role("button", name="Afficher les usagers de la structure d'origine").click()
    page.locator("#transfer-usagers").wait_for()
    assert_accessible(page)
    page.get_by_role("button", name="Vérifier le transfert").click()
    page.get_by_role("heading", name="Confirmer le transfert").wait_for()
    assert "3 mandats" in page.locator("#transfer-summary").inner_text()
    assert_accessible(page)
    page.get_by_role("button", name="Confirmer le transfert").click()
    page.get_by_text("3 mandat(s) de 3 usager(s) transféré(s)").wait_for()
    assert_accessible(page)

    # Inactive aidants: choose, confirm, done.
    page.goto("/staff/aidants/inactifs")
    page.locator(f"label[for=aidant-{sleeper.aidant.id}]").click()
    assert page.get_by_label(f"Désactiver {sleeper.aidant.full_name}").is_checked()
    assert_accessible(page)
    page.get_by_role("button", name="Désactiver les aidants cochés…").click()
    page.get_by_role("heading", name="Confirmer la désactivation").wait_for()
    assert "ancien@exemple.fr" in page.locator("#deactivate-list").inner_text()
    assert_accessible(page)
    page.get_by_role("button", name="Confirmer la désactivation").click()
    page.get_by_text("1 aidant(s) désactivé(s).").wait_for()
    assert_accessible(page)

    # The journal, filtered, then verified.
    page.goto("/staff/journal")
    assert_accessible(page)
    page.get_by_label("Action").fill("transfer_mandat")
    page.get_by_role("button", name="Filtrer").click()
    page.locator("#journal").wait_for()
    assert page.locator("#journal tbody tr").count() == 3
    assert_accessible(page)
    page.get_by_label("Du (inclus)").fill("2026-12-01")
    page.get_by_label("Au (inclus)").fill("2026-11-01")
    page.get_by_role("button", name="Filtrer").click()
    page.get_by_text("La date de fin précède la date de début.").wait_for()
    assert_accessible(page)
    page.goto("/staff/journal/verification")
    assert_accessible(page)
    page.get_by_role("button", name="Lancer la vérification").click()
    page.get_by_role("heading", name="Le journal est intact").wait_for()
    assert_accessible(page)
    assert_no_csp_violation()

    # A référent's statistics.
    page.get_by_role("button", name="Se déconnecter").click()
    sign_in(page, referent, now)
    page.goto("/statistiques/structure")
    page.get_by_role("heading", name="Statistiques de Mairie de Lyon").wait_for()
    open_every_details(page)
    assert_accessible(page)
    assert_no_csp_violation()
