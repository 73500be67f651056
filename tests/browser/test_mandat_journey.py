"""The whole desk journey in a real browser, with the FranceConnect sandbox: create a mandate, print its
attestation, open the QR code's verification page, revoke, renew. axe-core on every page; no CSP violation."""

from __future__ import annotations

import re

import pytest

from aidants.clock import FixedClock
from tests.browser.support import sign_in
from tests.factories import AidantWithDevice, make_aidant, make_organisation

pytestmark = pytest.mark.browser


def fresh_code(who: AidantWithDevice, clock: FixedClock) -> str:
    clock.advance(seconds=who.device.period)  # a code of the next step: never used yet
    return who.code(clock.now())


def choose(page, label: str) -> None:  # type: ignore[no-untyped-def]
    """Tick a DSFR checkbox or radio the way a person does: by clicking its label (drawn over the input)."""
    page.locator("label.fr-label", has_text=label).first.click()


def test_create_print_verify_revoke_and_renew_a_mandate(live_server, fixed_clock, browser_page, assert_accessible,
                                                        assert_no_csp_violation):
    page = browser_page
    now = live_server.now()
    who = make_aidant(now, make_organisation(now, name="France Services de Navigateur"))
    sign_in(page, who, now)

    # 1. Choose the démarches and the duration.
    page.goto("/espace-aidant/usagers")
    page.get_by_role("heading", name="Usagers et mandats").wait_for()
    assert_accessible(page)
    page.get_by_role("link", name="Créer un mandat").click()
    page.get_by_role("heading", name="Créer un mandat").wait_for()
    assert page.locator("#argent-warning").is_visible()
    assert_accessible(page)
    choose(page, "Papiers - Citoyenneté - Élections")
    choose(page, "Social - Santé")
    choose(page, "6 mois (182 jours)")
    page.get_by_role("button", name="S’identifier avec FranceConnect").click()

    # 2. The usager logs in with FranceConnect (the sandbox), then is logged out of it at once.
    choose(page, "Angela Claire Louise DUBOIS")
    page.get_by_role("button", name="Se connecter avec cette identité").click()
    page.get_by_role("heading", name="Récapitulatif du mandat").wait_for()
    assert page.url.endswith("/mandats/recapitulatif")
    main = page.inner_text("main")
    assert "DUBOIS" in main and "24/08/1962" in main and "Social - Santé" in main
    assert_accessible(page)

    # 3. The recap: consent and a fresh code; the first try without consent is refused, accessibly.
    page.get_by_label("Votre code à usage unique").fill(fresh_code(who, fixed_clock))
    page.get_by_role("button", name="Créer le mandat").click()
    page.get_by_text("le mandat ne peut être créé sans l'accord de l'usager").wait_for()
    assert_accessible(page)
    choose(page, "J'ai informé l'usager")
    page.get_by_label("Votre code à usage unique").fill(fresh_code(who, fixed_clock))
    page.get_by_role("button", name="Créer le mandat").click()
    page.get_by_role("heading", name=re.compile("Mandat d'Angela Claire Louise DUBOIS")).wait_for()
    assert "Le mandat est créé" in page.inner_text("main")
    detail_url = page.url
    assert_accessible(page)

    # 4. The printable attestation (A4 print stylesheet) and the QR code's verification page.
    page.get_by_role("link", name="Imprimer l'attestation").click()
    page.get_by_role("heading", name=re.compile("Mandat de représentation")).wait_for()
    assert page.locator("img.attestation__qr").evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.locator(".signature__box").count() == 2
    assert_accessible(page)
    page.emulate_media(media="print")
    assert page.locator("header.fr-header").evaluate("e => getComputedStyle(e).display") == "none"
    assert page.get_by_role("button", name="Imprimer").is_hidden()
    pdf = page.pdf(format="A4", prefer_css_page_size=True)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1  # the attestation fits on one A4 sheet
    page.emulate_media(media="screen")
    verify_url = page.locator("#verify-url").inner_text().strip()
    assert verify_url.startswith(live_server.url + "/verifier/")

    anonymous = page.context.browser.new_context(base_url=live_server.url)  # whoever scans the QR code
    try:
        public = anonymous.new_page()
        public.goto(verify_url)
        public.get_by_role("heading", name="Mandat valide").wait_for()
        text = public.inner_text("main")
        assert "A. D." in text and "DUBOIS" not in text and "Angela" not in text and "1962" not in text
        assert_accessible(public)

        # 5. Revoke the whole mandate: confirmation, the code again, a printable revocation attestation.
        page.goto(detail_url)
        page.get_by_role("link", name="Révoquer tout le mandat").click()
        page.get_by_role("heading", name="Révoquer tout le mandat").wait_for()
        assert_accessible(page)
        page.get_by_label("Votre code à usage unique").fill(fresh_code(who, fixed_clock))
        page.get_by_role("button", name="Confirmer la révocation").click()
        page.get_by_role("heading", name="Attestation de révocation de mandat").wait_for()
        assert "Papiers - Citoyenneté - Élections" in page.inner_text("main")
        assert_accessible(page)
        public.reload()
        public.get_by_role("heading", name="Mandat révoqué").wait_for()  # at once, for every later use
        assert_accessible(public)
    finally:
        anonymous.close()

    # 6. Renew it, without FranceConnect.
    page.goto(detail_url)
    page.get_by_role("link", name="Renouveler").click()
    page.get_by_role("heading", name="Renouveler le mandat").wait_for()
    assert page.get_by_label("Papiers - Citoyenneté - Élections").is_checked()
    assert_accessible(page)
    choose(page, "1 an (365 jours)")
    choose(page, "J'ai informé l'usager")
    page.get_by_label("Votre code à usage unique").fill(fresh_code(who, fixed_clock))
    page.get_by_role("button", name="Renouveler le mandat").click()
    page.get_by_text("Le mandat est renouvelé").wait_for()
    assert page.url != detail_url and "actif" in page.inner_text("#autorisations").lower()
    assert_accessible(page)

    # 7. The espace aidant lists the usager with one active and one revoked mandate.
    page.goto("/espace-aidant/usagers?q=dubois")
    row = page.locator("#usagers tbody tr").first
    assert "DUBOIS" in row.inner_text() and re.search(r"\b1\s+0\s+1\b", row.inner_text())
    assert_accessible(page)
    assert_no_csp_violation()
