"""Signing in to the espace usager through the FranceConnect sandbox, over real HTTP (as in tests/oidc)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from aidants import clock, db
from aidants.espace_usager.models import UsagerSession
from aidants.usagers.models import Usager
from aidants.usagers.services import usager_sub
from oidc.sandbox.franceconnect import _sub
from oidc.sandbox.identities import BY_KEY
from tests.browser.support import LiveServer
from tests.conftest import START, build_app
from tests.espace_usager.helpers import entries
from tests.factories import make_aidant
from tests.oidc.provider_helpers import give_mandat


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    app = build_app(database_url, tmp_path, WTF_CSRF_ENABLED=False)
    fixed = clock.FixedClock(START)
    clock.set_clock(app, fixed)
    server = LiveServer(app, fixed).start()
    app.config["SERVER_NAME"] = server.url.removeprefix("http://")
    try:
        with app.app_context():
            yield server
    finally:
        server.stop()
        app.extensions["db_engine"].dispose()


def sandbox_usager(live: LiveServer, key: str, email: str = "ancienne@exemple.fr") -> Usager:
    """The sandbox's fictitious person, known to us as FranceConnect's sub would make them."""
    identity = BY_KEY[key]
    fields = {**identity.claims(), "email": email}
    usager = Usager(sub=usager_sub(_sub(identity, live.app.config["FC_CLIENT_ID"])), created_at=live.now(),
                    updated_at=live.now(), search_name="", **fields)
    db.session().add(usager)
    db.session().flush()
    return usager


def franceconnect(browser, key: str):  # type: ignore[no-untyped-def]
    """Press the button, pick the identity at the sandbox: the response of our callback."""
    start = browser.get("/franceconnect/espace-usager")
    assert start.status_code == 302 and "/sandbox/franceconnect/authorize?" in start.location
    page = browser.get(start.location)
    authz = re.search(r'name="authz" type="hidden" value="([^"]+)"', page.get_data(as_text=True))
    assert authz is not None
    back = browser.post("/sandbox/franceconnect/authorize",
                        data={"authz": authz.group(1), "identity": key, "action": "valider"})
    assert back.status_code == 302 and "/franceconnect/retour?" in back.location
    return browser.get(back.location)


def test_a_usager_signs_in_and_lands_in_their_space(live):
    usager = sandbox_usager(live, "angela")
    give_mandat(make_aidant(live.now()), usager, ["social"], live.now())
    browser = live.app.test_client()
    callback = franceconnect(browser, "angela")
    assert callback.status_code == 302 and "/sandbox/franceconnect/session/end?" in callback.location
    cookie = callback.headers["Set-Cookie"]
    assert cookie.startswith("usager_session=") and "Path=/usager" in cookie and "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie and "Max-Age=7200" in cookie
    logged_out = browser.get(callback.location)  # FranceConnect's own session ends at once
    assert "/franceconnect/deconnexion?state=" in logged_out.location
    home = browser.get(logged_out.location)
    assert home.status_code == 302 and home.location.endswith("/usager/")
    page = html.unescape(browser.get("/usager/").get_data(as_text=True))
    assert "Mes mandats" in page and "Social - Santé" in page and "Angela Claire Louise" in page
    db.session().rollback()
    assert db.session().get(Usager, usager.id).email == "angela.dubois@example.org"  # as FranceConnect gives it
    assert [e.actor_kind for e in entries("connect_usager")] == ["usager"]
    assert db.session().scalar(sa.select(sa.func.count()).select_from(UsagerSession)) == 1
    # the aidants' pages know nothing of this session
    assert browser.get("/espace-aidant/usagers").status_code == 302


def test_someone_without_a_mandate_gets_a_clear_page_and_nothing_is_kept(live):
    browser = live.app.test_client()
    before = db.session().scalar(sa.select(sa.func.count()).select_from(Usager))
    page = franceconnect(browser, "karim")
    assert page.status_code == 200 and "Aucun mandat à votre nom" in html.unescape(page.get_data(as_text=True))
    assert "Set-Cookie" not in page.headers or "usager_session" not in page.headers["Set-Cookie"]
    db.session().rollback()
    assert db.session().scalar(sa.select(sa.func.count()).select_from(Usager)) == before
    assert browser.get("/usager/").status_code == 302


def test_a_cancelled_or_replayed_callback_is_refused(live):
    usager = sandbox_usager(live, "angela")
    give_mandat(make_aidant(live.now()), usager, ["social"], live.now())
    browser = live.app.test_client()
    start = browser.get("/franceconnect/espace-usager")
    page = browser.get(start.location)
    authz = re.search(r'name="authz" type="hidden" value="([^"]+)"', page.get_data(as_text=True))
    assert authz is not None
    back = browser.post("/sandbox/franceconnect/authorize",
                        data={"authz": authz.group(1), "identity": "", "action": "refuser"})
    refused = browser.get(back.location)
    assert refused.status_code == 400 and "Connexion annulée" in html.unescape(refused.get_data(as_text=True))
    again = browser.get(back.location)  # the pending request served once
    assert again.status_code in (400, 401) and "usager_session" not in again.headers.get("Set-Cookie", "")
