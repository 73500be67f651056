"""The identity provider's loop in a real browser: the sandbox service asks Aidants Connect for a usager's identity,
the aidant signs in, picks the usager and the démarche, and the service shows what it received."""

from __future__ import annotations

import pytest

from aidants import typography
from tests.browser.support import open_login_link_from_outbox
from tests.oidc.provider_helpers import give_mandat, make_usager

pytestmark = pytest.mark.browser


def test_sandbox_service_receives_the_usager_identity(live_server, browser_page, assert_accessible,
                                                     assert_no_csp_violation):
    from tests.factories import make_aidant

    page = browser_page
    who = make_aidant(live_server.now())
    usager = make_usager(live_server.now())
    give_mandat(who, usager, ["social", "logement"], live_server.now())
    live_server.clock.advance(seconds=31)  # the mandate spent the current code

    page.goto("/sandbox/service/")
    page.get_by_role("heading", name="Service administratif de démonstration").wait_for()
    assert_accessible(page)
    page.get_by_label("Démarche concernée").select_option("social")
    page.get_by_role("button", name="S'identifier avec Aidants Connect").click()

    page.get_by_role("heading", name="Connexion aidant").wait_for()  # not signed in: sign in first
    page.get_by_label("Adresse e-mail professionnelle").fill(who.aidant.email)
    page.get_by_label("Code à usage unique").fill(who.code(live_server.now()))
    page.get_by_role("button", name="Recevoir mon lien de connexion").click()
    page.get_by_role("heading", name="Consultez votre messagerie").wait_for()
    open_login_link_from_outbox(page, who.aidant.email)
    page.get_by_role("button", name="Me connecter").click()

    page.get_by_role("heading", name="Pour quel usager agissez-vous ?").wait_for()
    assert_accessible(page)
    page.get_by_label("Rechercher un usager par son nom").fill("dub")
    born = f"{typography.ne(usager.gender)} le {typography.birthdate(usager.birthdate)}"
    page.get_by_role("link", name=f"{usager.full_name} — {born}").click()

    page.get_by_role("heading", name="Quelle démarche réalisez-vous ?").wait_for()
    assert_accessible(page)
    main = page.inner_text("main")
    assert "Social - Santé" in main and "Logement" not in main  # the service asked for social only
    page.get_by_role("button", name="Transmettre l'identité de l'usager").click()

    page.get_by_role("heading", name="Identité reçue").wait_for()
    assert_accessible(page)
    assert "DUBOIS" in page.inner_text("#userinfo")
    assert "Social-Santé" in page.inner_text("#id-token")
    page.get_by_role("button", name="Se déconnecter du service").click()
    page.get_by_role("button", name="S'identifier avec Aidants Connect").wait_for()
    page.goto("/espace-aidant")  # the provider's logout signed the aidant out as well
    assert "/connexion" in page.url
    assert_no_csp_violation()
