"""The aidant's daily work in a real browser, on a desktop and on a 375 px phone: first sign-in and the CGU, the
dashboard, the usager list and its tabs, a renewed mandate shown as replaced (also on the public verification
page), the creation pages that inform the usager, the legal and help pages. axe-core on every page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aidants import db
from aidants.clock import FixedClock
from tests.browser.support import open_login_link_from_outbox, sign_in
from tests.factories import AidantWithDevice, make_aidant, make_organisation
from tests.oidc.provider_helpers import give_mandat, make_usager

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots/structures-b")
PHONE = {"width": 375, "height": 812}


def shot(page, name: str, full_page: bool = True) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def no_horizontal_overflow(page) -> None:  # type: ignore[no-untyped-def]
    """Nothing but the focusable table regions is wider than the phone's screen."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px screen"


def a_day_of_work(now, clock: FixedClock) -> tuple[AidantWithDevice, str, str]:  # type: ignore[no-untyped-def]
    """An aidant of a structure with a long name, a mandate renewed (the old one replaced), one ending soon."""
    organisation = make_organisation(now, name="Maison France Services de Saint-Rémy-en-Bouzemont-Saint-Genest")
    who = make_aidant(now, organisation)
    who.aidant.first_name, who.aidant.last_name = "Marie-Angélique", "de La Tour-Beaumont-Desplanches"
    db.commit()
    angela = make_usager(now)
    old = give_mandat(who, angela, ["papiers", "social"], now, "long")
    clock.advance(days=2)
    new = give_mandat(who, angela, ["papiers", "social"], clock.now(), "long")
    clock.advance(seconds=60)
    louis = make_usager(clock.now(), "Louis", "MARTIN")
    louis.birthdate, louis.gender = "1971-02-01", "male"
    give_mandat(who, louis, ["logement"], clock.now(), "short")
    clock.advance(seconds=60)
    return who, old.uuid, new.uuid


def test_first_sign_in_accepts_the_cgu_then_the_dashboard(live_server, fixed_clock, browser_page, assert_accessible,
                                                          assert_no_csp_violation):
    page = browser_page
    now = live_server.now()
    who = make_aidant(now, make_organisation(now, name="Mairie de Navigateur"))
    who.aidant.cgu_version = None
    db.commit()
    page.goto("/connexion")
    assert page.get_by_role("heading", name="Vous êtes un particulier ?").is_visible()
    page.get_by_label("Adresse e-mail professionnelle").fill(who.aidant.email)
    page.get_by_label("Code à usage unique").fill(who.code(now))
    page.get_by_role("button", name="Recevoir mon lien de connexion").click()
    page.get_by_role("heading", name="Consultez votre messagerie").wait_for()
    open_login_link_from_outbox(page, who.aidant.email)
    page.get_by_role("button", name="Me connecter").click()
    page.get_by_role("heading", name="Conditions générales d'utilisation").wait_for()
    assert "/cgu/acceptation" in page.url
    assert_accessible(page)
    page.get_by_role("button", name="Accepter et continuer").click()  # the box not ticked
    page.get_by_text("Cochez cette case pour accepter").wait_for()
    assert_accessible(page)
    shot(page, "cgu-refused")
    page.locator("label.fr-label", has_text="J'ai lu les conditions générales").click()
    page.get_by_role("button", name="Accepter et continuer").click()
    page.get_by_role("heading", name="Espace aidant").wait_for()
    assert "vous avez accepté les conditions générales" in page.inner_text("main")
    assert_accessible(page)
    shot(page, "dashboard-desktop")
    assert_no_csp_violation()


def test_daily_pages_at_375_px(live_server, fixed_clock, browser_page, assert_accessible, assert_no_csp_violation):
    page = browser_page
    page.set_viewport_size(PHONE)
    who, old_uuid, new_uuid = a_day_of_work(live_server.now(), fixed_clock)
    sign_in(page, who, fixed_clock.now())

    # The dashboard: tiles, the mandates ending soon, devices; the name wraps in the mobile menu.
    assert page.locator("#expiring").get_by_text("MARTIN Louis").is_visible()
    assert_accessible(page)
    no_horizontal_overflow(page)
    shot(page, "dashboard-375")
    page.get_by_role("button", name="Menu").click()
    name = page.locator(".fr-header__menu-links .aidant-name")
    name.wait_for()
    box = name.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert "de La Tour-Beaumont-Desplanches" in name.inner_text() and "Saint-Genest" in name.inner_text()
    assert name.evaluate("el => el.scrollWidth <= el.clientWidth && el.scrollHeight <= el.clientHeight + 1"), \
        "the signed-in name is clipped in the mobile menu"
    menu = page.locator("#menu-principal")
    assert menu.evaluate("el => el.scrollWidth <= el.clientWidth"), "the mobile menu scrolls sideways"
    assert_accessible(page)
    shot(page, "menu-375", full_page=False)
    page.get_by_role("button", name="Fermer").click()

    # The usager list: a real labelled "Créer un mandat" button, tabs, the "expire bientôt" badge.
    page.goto("/espace-aidant/usagers")
    create = page.get_by_role("link", name="Créer un mandat")
    assert create.inner_text().strip() == "Créer un mandat" and create.bounding_box()["width"] > 100  # type: ignore[index]
    page.get_by_role("link", name="Mandats actifs").click()
    page.get_by_text("2 usagers (mandats actifs)").wait_for()
    assert page.get_by_text("Expire bientôt").count() == 1
    assert_accessible(page)
    no_horizontal_overflow(page)
    shot(page, "usagers-375")
    page.get_by_label("Rechercher un usager").fill("24/08/1962")
    page.get_by_role("button", name="Rechercher").click()
    page.get_by_text("1 usager (mandats actifs) pour « 24/08/1962 »").wait_for()
    page.get_by_role("link", name="DUBOIS Angela Claire Louise").click()
    page.get_by_role("heading", name="Angela Claire Louise DUBOIS").wait_for()
    assert page.get_by_text("par le mandat du 29 novembre 2026").is_visible()
    assert_accessible(page)
    shot(page, "usager-375")

    # The replaced mandate: "remplacé par le mandat du …", never "révoqué"; its journal table scrolls, focusable.
    page.goto(f"/mandats/{old_uuid}")
    page.get_by_role("heading", name="Mandat d'Angela Claire Louise DUBOIS").wait_for()
    assert "remplacé par le mandat du 29 novembre 2026" in page.inner_text("#replaced-notice")
    assert "Révoqué" not in page.inner_text("main")
    journal = page.locator("table#journal")
    assert journal.get_attribute("tabindex") == "0"
    journal.focus()
    assert page.evaluate("document.activeElement.id") == "journal"
    assert_accessible(page)
    no_horizontal_overflow(page)
    shot(page, "replaced-mandate-375")
    page.get_by_role("link", name="mandat du 29 novembre 2026").first.click()
    page.wait_for_url(re.compile(new_uuid))

    # The public verification page reached from the old attestation's QR code.
    page.goto(f"/verifier/{old_uuid}")
    page.get_by_role("heading", name="Mandat remplacé").wait_for()
    assert "remplacé par le mandat du 29 novembre 2026" in page.inner_text("#mandat-status")
    assert_accessible(page)
    shot(page, "verify-replaced-375")
    assert_no_csp_violation()


def test_creating_a_mandate_informs_the_usager_at_375_px(live_server, fixed_clock, browser_page, assert_accessible,
                                                        assert_no_csp_violation):
    page = browser_page
    page.set_viewport_size(PHONE)
    now = live_server.now()
    who = make_aidant(now, make_organisation(now, name="France Services de Navigateur"))
    sign_in(page, who, now)
    page.goto("/mandats/nouveau")
    assert page.get_by_role("heading", name="À lire à l'usager").is_visible()
    assert page.get_by_text("Carte grise, amendes").is_visible()
    assert_accessible(page)
    no_horizontal_overflow(page)
    shot(page, "new-mandat-375")
    page.locator("label.fr-label", has_text="Papiers - Citoyenneté - Élections").first.click()
    page.locator("label.fr-label", has_text="1 mois (31 jours)").first.click()
    page.get_by_role("button", name="S’identifier avec FranceConnect").click()
    page.locator("label.fr-label", has_text="Angela Claire Louise DUBOIS").first.click()
    page.get_by_role("button", name="Se connecter avec cette identité").click()
    page.get_by_role("heading", name="Récapitulatif du mandat").wait_for()
    preview = page.locator("#mandat-preview")
    assert "Angela Claire Louise DUBOIS" in preview.inner_text() and "née le 24/08/1962" in preview.inner_text()
    assert_accessible(page)
    no_horizontal_overflow(page)
    shot(page, "recap-375")
    page.get_by_role("link", name="Modifier les démarches ou la durée").click()
    page.get_by_role("heading", name="Créer un mandat").wait_for()
    page.locator("label.fr-label", has_text="Logement").first.click()
    assert_accessible(page)
    page.get_by_role("button", name="Revenir au récapitulatif").click()
    page.get_by_role("heading", name="Récapitulatif du mandat").wait_for()
    assert "Logement" in page.inner_text("#recap-demarches")
    page.get_by_role("button", name="Annuler la création du mandat").click()
    page.get_by_role("heading", name="Espace aidant").wait_for()
    assert "rien n'a été enregistré" in page.inner_text("main")
    page.goto("/mandats/recapitulatif")
    page.get_by_role("heading", name="Aucun mandat en préparation").wait_for()
    assert_accessible(page)
    shot(page, "no-draft-375")
    assert_no_csp_violation()


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "375px"])
def test_public_pages_and_dead_ends(live_server, browser_page, assert_accessible, assert_no_csp_violation, viewport):
    page = browser_page
    if viewport:
        page.set_viewport_size(viewport)
    suffix = "375" if viewport else "desktop"
    page.goto("/")
    assert page.get_by_role("heading", name="Vous êtes un particulier ?").is_visible()
    assert_accessible(page)
    shot(page, f"home-{suffix}")
    for link, heading in [("Mentions légales", "Mentions légales"), ("Données personnelles", "Données personnelles"),
                          ("Accessibilité : non conforme", "Déclaration d'accessibilité"),
                          ("Conditions générales d'utilisation", "Conditions générales d'utilisation"),
                          ("Aide à la connexion", "Je n'arrive pas à me connecter")]:
        page.locator("footer").get_by_role("link", name=link).click()
        page.get_by_role("heading", name=heading, exact=True).wait_for()
        assert_accessible(page)
        if viewport:
            no_horizontal_overflow(page)
        shot(page, f"legal-{heading[:12].replace(' ', '-').replace(chr(39), '')}-{suffix}")
    page.get_by_role("button", name="J'ai perdu ma carte ou mon téléphone").click()
    page.get_by_text("Prévenez tout de suite votre référent").wait_for()
    page.goto("/connexion")
    assert page.get_by_role("link", name="Je n'arrive pas à me connecter").is_visible()
    assert_accessible(page)
    shot(page, f"login-{suffix}")
    page.goto("/connexion/lien/" + "x" * 43)
    page.get_by_role("heading", name="Ce lien a expiré ou a déjà servi").wait_for()
    assert_accessible(page)
    shot(page, f"link-expired-{suffix}")
    page.get_by_role("link", name="Recevoir un nouveau lien").click()
    page.get_by_role("heading", name="Connexion aidant").wait_for()
    page.goto("/sandbox/service/retour?code=x&state=y")
    page.get_by_role("heading", name="Identification introuvable").wait_for()
    assert_accessible(page)
    shot(page, f"sandbox-error-{suffix}")
    assert_no_csp_violation()


def test_the_staff_journal_table_scrolls_in_a_focusable_region_at_375_px(live_server, browser_page, assert_accessible,
                                                                       assert_no_csp_violation):
    page = browser_page
    page.set_viewport_size(PHONE)
    now = live_server.now()
    staff = make_aidant(now, make_organisation(now, name="DNUM"), is_staff=True)
    sign_in(page, staff, now)
    page.goto("/staff/journal")
    table = page.locator("table#journal")
    table.wait_for()
    assert table.get_attribute("tabindex") == "0" and table.evaluate("t => t.scrollWidth > t.clientWidth")
    assert_accessible(page)  # scrollable-region-focusable among the rules
    no_horizontal_overflow(page)
    shot(page, "staff-journal-375")
    assert_no_csp_violation()
