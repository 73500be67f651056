"""The FranceConnect client against an independent FranceConnect: panva's oidc-provider (tests/peers).

The peer is configured like FranceConnect v2 (ES256, signed userinfo, pairwise sub, 30 s codes,
60 s tokens, acr eidas1). Our app runs with the Flask test client as the aidant's browser; the
peer's pages are walked by a ``requests`` session standing in for the usager's browser; the app
talks to the peer over real HTTP.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from aidants import clock
from aidants.security import crypto
from tests.conftest import build_app
from tests.oidc.conftest import FC_CLIENT, FcPeer
from tests.oidc.fc_support import (
    RECAP_PATH,
    Desk,
    advance,
    callback,
    confirm_logout,
    counts,
    ensure_recap_route,
    journal_actions,
    new_desk,
    query,
    real_now,
    usagers,
    walk,
)

pytestmark = pytest.mark.peers


@pytest.fixture
def fc_app(database_url: str, tmp_path: Path, fc_knobs: FcPeer) -> Iterator[Flask]:
    app = build_app(database_url, tmp_path, WTF_CSRF_ENABLED=False, FC_ISSUER=fc_knobs.issuer,
                    FC_CLIENT_ID=FC_CLIENT["client_id"], FC_CLIENT_SECRET=FC_CLIENT["client_secret"])
    ensure_recap_route(app)
    clock.set_clock(app, clock.FixedClock(real_now()))
    with app.app_context():
        yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture
def desk(fc_app: Flask) -> Desk:
    found = new_desk(fc_app, fc_app.extensions["clock"])
    found.draft()
    return found


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def identify(desk: Desk, browser: requests.Session) -> str:
    """Start, walk FranceConnect; the callback URL the usager's browser is sent back to."""
    return walk(desk.start(), browser)


def text(response: object) -> str:
    """The page's text with HTML entities decoded (apostrophes are escaped)."""
    return html.unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]


def jwt_header(token: str) -> dict[str, str]:
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


# --- the journey -----------------------------------------------------------------------------


def test_identifies_the_usager_then_logs_them_out_of_franceconnect(desk: Desk, fc_knobs: FcPeer,
                                                                     browser: requests.Session) -> None:
    authorize = desk.start()
    params = query(authorize)
    assert authorize.startswith(fc_knobs.issuer + "/authorize?")
    assert params["acr_values"] == "eidas1"
    assert params["response_type"] == "code"
    assert params["client_id"] == FC_CLIENT["client_id"]
    assert params["redirect_uri"] == "http://localhost/franceconnect/retour"
    assert len(params["nonce"]) >= 22 and len(params["state"]) >= 32
    assert set(params["scope"].split()) >= {"openid", "given_name", "family_name", "birthdate", "gender",
                                             "birthplace", "birthcountry", "email"}

    response = desk.client.get(walk(authorize, browser))
    assert response.status_code == 302, response.get_data(as_text=True)
    logout = response.headers["Location"]
    assert logout.startswith(fc_knobs.issuer + "/session/end?")
    assert query(logout)["post_logout_redirect_uri"] == "http://localhost/franceconnect/deconnexion"
    assert jwt_header(query(logout)["id_token_hint"])["alg"] == "ES256"

    [usager] = usagers()
    assert (usager.given_name, usager.family_name, usager.birthdate, usager.gender) == (
        "Angela Claire Louise", "DUBOIS", "1962-08-24", "female")
    assert (usager.birthplace, usager.birthcountry, usager.email) == ("75107", "99100", "angela@example.org")
    fc_sub = fc_knobs.pairwise_sub("angela")
    assert usager.sub == crypto.keyed_hash(b"test-usager-sub-key", fc_sub) != fc_sub
    assert journal_actions()[-1] == "franceconnect_usager"
    draft = desk.session_value("mandat_draft")
    assert draft["usager_id"] == usager.id and draft["demarches"] == ["argent", "logement"]
    assert desk.session_value("franceconnect") is None  # the pending identification was spent

    back = confirm_logout(logout, browser)
    assert back.startswith("http://localhost/franceconnect/deconnexion?state=")
    recap = desk.client.get(back)
    assert recap.status_code == 302 and recap.headers["Location"].endswith(RECAP_PATH)


@pytest.mark.parametrize(("account", "expected"), [
    ("karim", ("Karim", "BENSAÏD", "1980-00-00", "", "99350", "")),
    ("marie", ("Marie-Thérèse", "MARTIN", "1948-03-00", "2A004", "99100", "LEROY")),
])
def test_stores_the_identity_exactly_as_received(desk: Desk, fc_knobs: FcPeer, browser: requests.Session,
                                                 account: str, expected: tuple[str, ...]) -> None:
    fc_knobs.knobs(account=account)
    assert desk.client.get(identify(desk, browser)).status_code == 302
    [usager] = usagers()
    assert (usager.given_name, usager.family_name, usager.birthdate, usager.birthplace, usager.birthcountry,
            usager.preferred_username) == expected


def test_a_known_usager_is_updated_and_a_changed_email_journaled(desk: Desk, fc_knobs: FcPeer,
                                                                 browser: requests.Session) -> None:
    assert desk.client.get(identify(desk, browser)).status_code == 302
    fc_knobs.knobs(userinfo={"email": "angela.nouvelle@example.org"})
    desk.draft()
    assert desk.client.get(identify(desk, browser)).status_code == 302
    [usager] = usagers()
    assert usager.email == "angela.nouvelle@example.org"
    actions = journal_actions()
    assert actions.count("franceconnect_usager") == 2
    assert actions[-1] == "update_email_usager"


def test_a_key_rotation_at_franceconnect_is_followed(desk: Desk, fc_knobs: FcPeer,
                                                     browser: requests.Session) -> None:
    first = desk.client.get(identify(desk, browser))
    old_kid = jwt_header(query(first.headers["Location"])["id_token_hint"])["kid"]
    new_kid = fc_knobs.rotate()
    desk.draft()
    second = desk.client.get(identify(desk, browser))
    assert second.status_code == 302, second.get_data(as_text=True)
    assert jwt_header(query(second.headers["Location"])["id_token_hint"])["kid"] == new_kid != old_kid
    assert len(usagers()) == 1


# --- refusals: a clear page, nothing written ---------------------------------------------------


def _wrong_state(desk: Desk, url: str) -> str:
    return url.replace("state=", "state=x")


REFUSALS = [
    # (name, knobs, how the callback is altered, seconds the clock moves, words on the page, reason shown)
    ("wrong nonce", {"id_token": {"nonce": "n" * 43}}, None, 0, "n'a pas pu être vérifiée", "id_token_nonce"),
    ("wrong iss", {"id_token": {"iss": "https://fc.example.invalid/api/v2"}}, None, 0, "n'a pas pu être vérifiée",
     "id_token_iss"),
    ("wrong audience", {"id_token": {"aud": "another-service"}}, None, 0, "n'a pas pu être vérifiée",
     "id_token_aud"),
    ("expired ID token", {}, None, 120, "arrivée expirée", "id_token_expired"),
    ("too-low acr", {"acr": "eidas0"}, None, 0, "Niveau de sécurité insuffisant", "id_token_acr"),
    ("no acr", {"id_token": {"acr": None}}, None, 0, "Niveau de sécurité insuffisant", "id_token_acr"),
    ("alg none", {"id_token_alg": "none"}, None, 0, "n'a pas pu être vérifiée", "id_token_alg"),
    ("symmetric alg", {"id_token_alg": "HS256"}, None, 0, "n'a pas pu être vérifiée", "id_token_alg"),
    ("tampered userinfo JWT", {"tamper_userinfo": True}, None, 0, "n'a pas pu être vérifiée", "userinfo_signature"),
    ("userinfo for someone else", {"userinfo": {"sub": "someone-else"}}, None, 0, "n'a pas pu être vérifiée",
     "userinfo_sub"),
    ("wrong iss parameter", {"auth_iss": "https://fc.example.invalid"}, None, 0, "n'a pas pu être vérifiée",
     "authorization_response_iss"),
    ("state mismatch", {}, _wrong_state, 0, "ne correspond pas à la demande", "state"),
    ("access denied", {"deny": True}, None, 0, "annulé sa connexion", "provider_error:access_denied"),
    ("malformed identity", {"account": "broken"}, None, 0, "Identité incomplète", "date de naissance"),
]


@pytest.mark.parametrize(("knobs", "alter", "seconds", "words", "reason"), [r[1:] for r in REFUSALS],
                         ids=[r[0] for r in REFUSALS])
def test_refused_with_a_clear_page_and_nothing_written(desk: Desk, fc_knobs: FcPeer, browser: requests.Session,
                                                       knobs: dict[str, object], alter: object, seconds: int,
                                                       words: str, reason: str) -> None:
    fc_knobs.knobs(**knobs)
    url = identify(desk, browser)
    if alter is not None:
        url = alter(desk, url)  # type: ignore[operator]
    before = counts()
    response = callback(desk, url, advance(desk, seconds))
    page = text(response)
    assert 400 <= response.status_code < 500, page
    assert words in page
    assert reason in page
    assert "rien n'a été enregistré" in page.lower()
    assert counts() == before
    assert "usager_id" not in desk.session_value("mandat_draft")
    assert desk.session_value("franceconnect") is None


def test_a_symmetric_alg_is_accepted_only_when_configured(fc_app: Flask, desk: Desk, fc_knobs: FcPeer,
                                                          browser: requests.Session) -> None:
    fc_app.config["FC_ID_TOKEN_ALGS"] = ["ES256", "HS256"]
    fc_knobs.knobs(id_token_alg="HS256")
    response = desk.client.get(identify(desk, browser))
    assert response.status_code == 302, text(response)
    assert jwt_header(query(response.headers["Location"])["id_token_hint"])["alg"] == "HS256"


def test_franceconnect_unreachable(fc_app: Flask, desk: Desk, browser: requests.Session) -> None:
    url = identify(desk, browser)
    fc_app.config["FC_ISSUER"] = "http://127.0.0.1:9/api/v2"  # nothing listens on the discard port
    response = desk.client.get(url.replace("http://localhost", ""))
    assert response.status_code == 400  # the issuer changed: the pending request is not this one
    desk.draft()
    start = desk.client.get("/franceconnect/identification")
    assert start.status_code == 503 and start.headers["Retry-After"] == "30"  # a bound was hit: try again
    assert "FranceConnect ne répond pas" in text(start)


# --- forged, replayed and misdirected callbacks --------------------------------------------------


def test_a_replayed_callback_is_refused(desk: Desk, browser: requests.Session) -> None:
    url = identify(desk, browser)
    assert desk.client.get(url).status_code == 302
    before = counts()
    replay = desk.client.get(url)
    assert replay.status_code == 400
    assert "Identification introuvable" in text(replay)
    assert counts() == before


def test_a_forged_callback_is_refused(desk: Desk) -> None:
    before = counts()
    forged = desk.client.get("/franceconnect/retour?code=forged&state=forged&iss=x")
    assert forged.status_code == 400
    assert "Identification introuvable" in text(forged)
    assert counts() == before


def test_a_callback_in_another_aidants_browser_is_refused(fc_app: Flask, desk: Desk,
                                                          browser: requests.Session) -> None:
    url = identify(desk, browser)
    other = new_desk(fc_app, desk.clock)
    other.draft()
    before = counts()
    response = other.client.get(url)
    assert response.status_code == 400
    assert "Identification introuvable" in text(response)
    assert counts() == before
    assert desk.client.get(url).status_code == 302  # still good where it was started


def test_a_callback_after_another_aidant_signed_in_on_the_same_browser_is_refused(
        fc_app: Flask, desk: Desk, browser: requests.Session) -> None:
    url = identify(desk, browser)
    other = new_desk(fc_app, desk.clock)
    pending = desk.session_value("franceconnect")
    with other.client.session_transaction() as session:
        session["franceconnect"] = pending  # as if the cookie had survived a change of aidant
        session["mandat_draft"] = desk.session_value("mandat_draft")
    before = counts()
    response = other.client.get(url)
    assert response.status_code == 400
    assert "un autre aidant" in text(response)
    assert counts() == before


def test_a_callback_without_a_signed_in_aidant_is_refused(fc_app: Flask, desk: Desk,
                                                          browser: requests.Session) -> None:
    url = identify(desk, browser)
    anonymous = fc_app.test_client()
    response = anonymous.get(url)
    assert response.status_code == 401
    assert "Session d'aidant expirée" in text(response)


# --- start and end -------------------------------------------------------------------------------


def test_start_needs_a_mandate_draft_and_the_right_to_create_mandates(fc_app: Flask, desk: Desk) -> None:
    with desk.client.session_transaction() as session:
        session.pop("mandat_draft")
    response = desk.client.get("/franceconnect/identification")
    assert response.status_code == 400 and "Aucun mandat en préparation" in text(response)
    restricted = new_desk(fc_app, desk.clock, can_create_mandats=False)
    restricted.draft()
    response = restricted.client.get("/franceconnect/identification")
    assert response.status_code == 403
    anonymous = fc_app.test_client().get("/franceconnect/identification")
    assert anonymous.status_code == 302 and "/connexion" in anonymous.headers["Location"]


def test_an_unexpected_logout_return_is_refused(desk: Desk) -> None:
    response = desk.client.get("/franceconnect/deconnexion?state=forged")
    assert response.status_code == 400
    assert "inattendu" in text(response)
