"""An aidant signs in and out in a real browser; every page passes axe-core, and the CSP never refuses anything."""

from __future__ import annotations

import pytest

from tests.browser.support import open_login_link_from_outbox, sign_in
from tests.factories import make_aidant

pytestmark = pytest.mark.browser


def test_sign_in_with_code_and_emailed_link_then_sign_out(live_server, browser_page, assert_accessible,
                                                          assert_no_csp_violation, csp_violations):
    page = browser_page
    who = make_aidant(live_server.now())

    page.goto("/connexion")
    assert page.title() == "Connexion — Aidants Connect"
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_label("Adresse e-mail professionnelle").evaluate("e => e === document.activeElement")
    assert_accessible(page)

    page.get_by_label("Adresse e-mail professionnelle").fill(who.aidant.email)
    page.get_by_label("Code à usage unique").fill(who.code(live_server.now()))
    page.get_by_role("button", name="Recevoir mon lien de connexion").click()
    page.get_by_role("heading", name="Consultez votre messagerie").wait_for()
    assert who.aidant.email in page.inner_text("main")
    assert_accessible(page)

    open_login_link_from_outbox(page, who.aidant.email)
    assert page.url.endswith("/connexion/lien"), page.url  # the token left the address bar at once
    page.get_by_role("heading", name="Confirmer la connexion").wait_for()
    assert_accessible(page)

    page.get_by_role("button", name="Me connecter").click()
    page.get_by_role("heading", name="Espace aidant").wait_for()
    assert page.url == f"{live_server.url}/espace-aidant"
    assert f"Bienvenue, {who.aidant.first_name}." in page.inner_text("main")
    assert who.aidant.full_name in page.inner_text("header")
    assert_accessible(page)

    page.get_by_role("button", name="Se déconnecter").click()
    page.get_by_role("heading", name="Connexion aidant").wait_for()
    assert "Vous êtes déconnecté" in page.inner_text("main")
    assert_accessible(page)

    page.goto("/espace-aidant")  # the session is closed on the server: back to the sign-in page
    assert page.url.startswith(f"{live_server.url}/connexion")
    assert_no_csp_violation()
    assert csp_violations == []


def test_errors_are_announced_accessibly(live_server, browser_page, assert_accessible):
    page = browser_page
    who = make_aidant(live_server.now())

    page.goto("/connexion")
    page.get_by_role("button", name="Recevoir mon lien de connexion").click()  # nothing typed
    email = page.get_by_label("Adresse e-mail professionnelle")
    assert email.get_attribute("aria-describedby") == "email-error"
    assert page.locator("#email-error").inner_text() == "Saisissez votre adresse e-mail."
    assert_accessible(page)

    email.fill(who.aidant.email)
    page.get_by_label("Code à usage unique").fill("000000" if who.code(live_server.now()) != "000000" else "111111")
    page.get_by_role("button", name="Recevoir mon lien de connexion").click()
    assert "Adresse e-mail ou code incorrect" in page.get_by_role("alert").inner_text()
    assert_accessible(page)

    response = page.goto("/cette-page-n-existe-pas")
    assert response is not None and response.status == 404
    page.get_by_role("heading", name="Page introuvable").wait_for()
    assert_accessible(page)


def test_the_watch_catches_a_csp_violation(live_server, browser_page, page_watch):
    """The CSP watch itself can fail: an inline script injected into our page is refused and reported."""
    page = browser_page
    page.goto("/connexion")
    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "document.title = 'inline';";
        document.body.appendChild(script);
    }""")
    page.evaluate("0")
    assert page.title() != "inline"  # the CSP refused the inline script
    assert any("script-src" in violation for violation in page_watch.csp_violations), page_watch.csp_violations
    page_watch.csp_violations.clear()  # expected here; any other test fails on such a violation


def test_every_page_of_the_aidant_space_is_accessible(live_server, browser_page, assert_accessible):
    page = browser_page
    page.goto("/")
    page.get_by_role("heading", name="Aidants Connect").wait_for()
    assert_accessible(page)
    who = make_aidant(live_server.now())
    sign_in(page, who, live_server.now())
    for path, heading in (("/espace-aidant/carte", "Activer une carte"),
                          ("/espace-aidant/application", "Ajouter une application d'authentification"),
                          ("/connexion/verification", "Confirmez que c'est bien vous"),
                          ("/dev/outbox", "Boîte d'envoi (développement)")):
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        page.get_by_role("heading", name=heading).wait_for()
        assert_accessible(page)


def test_small_screens_get_the_header_links_in_the_menu(live_server, browser_page, assert_accessible):
    page = browser_page
    page.set_viewport_size({"width": 375, "height": 740})
    who = make_aidant(live_server.now())
    sign_in(page, who, live_server.now())
    menu = page.locator("#menu-principal")
    assert not menu.get_by_role("button", name="Se déconnecter").is_visible()
    page.get_by_role("button", name="Menu").click()
    logout = menu.get_by_role("button", name="Se déconnecter")
    logout.wait_for()  # the DSFR copied the header tools into the menu, and opened it
    assert_accessible(page)
    logout.click()
    page.get_by_role("heading", name="Connexion aidant").wait_for()


def test_the_accessibility_check_can_fail(live_server, browser_page, assert_accessible):
    """assert_accessible itself: an image without text alternative and an unlabelled field are reported."""
    page = browser_page
    page.goto("/connexion")
    page.evaluate("""() => {
        document.querySelector("main").insertAdjacentHTML("beforeend", '<img src="/x.png"><input type="text">');
    }""")
    with pytest.raises(AssertionError) as failure:
        assert_accessible(page)
    report = str(failure.value)
    assert "image-alt (critical)" in report and "label (critical)" in report
    assert "dequeuniversity.com" in report and '<img src="/x.png">' in report
