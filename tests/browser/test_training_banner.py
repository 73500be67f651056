"""The training site's banner, seen in a real browser: on every page, accessible, within the CSP."""

from __future__ import annotations

import pytest

from aidants import clock
from tests.browser.support import CSP_BINDING, CSP_LISTENER, LiveServer, PageWatch, assert_accessible
from tests.conftest import build_app

pytestmark = pytest.mark.browser


def test_every_page_of_a_training_site_says_no_real_data(browser, database_url, tmp_path, fixed_clock):
    app = build_app(database_url, tmp_path, WTF_CSRF_ENABLED=True, TRAINING_MODE=True)
    clock.set_clock(app, fixed_clock)
    server = LiveServer(app=app, clock=fixed_clock).start()
    watch = PageWatch()
    context = browser.new_context(base_url=server.url, locale="fr-FR", timezone_id="Europe/Paris")
    try:
        context.expose_function(CSP_BINDING, watch.on_event)
        context.add_init_script(script=CSP_LISTENER)
        page = context.new_page()
        page.on("console", watch.on_console)
        for path in ("/", "/connexion", "/habilitation", "/stats"):
            page.goto(path)
            banner = page.locator("#training-banner")
            assert "Site de formation : aucune donnée réelle" in banner.inner_text(), path
            assert_accessible(page)
        page.screenshot(path="/tmp/shots/structures/training-banner.png")
        assert watch.csp_violations == []
    finally:
        context.close()
        server.stop()
        app.extensions["db_engine"].dispose()
