"""The FranceConnect sandbox: served by the app itself over real HTTP, on by default outside production.

The app is served by werkzeug in a thread (as in the browser tests); the Flask test client is the
aidant's browser (``SERVER_NAME`` makes it speak to the same host), and the app's client reaches
the sandbox's discovery, token, userinfo and JWKS endpoints over HTTP, like any FranceConnect.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from werkzeug.test import TestResponse

from aidants import clock, create_app
from aidants.config import ConfigError, load_config
from oidc.sandbox.identities import BY_KEY, IDENTITIES
from oidc.sandbox.signing import SandboxKeys
from tests.browser.support import LiveServer
from tests.conftest import PRODUCTION_SECRETS, START, TEST_SECRETS, build_app, require
from tests.factories import make_aidant
from tests.oidc.conftest import PEERS, peers_installed
from tests.oidc.fc_support import (
    RECAP_PATH,
    Desk,
    counts,
    ensure_recap_route,
    journal_actions,
    query,
    real_now,
    sign_in_on,
    usagers,
)


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    app = build_app(database_url, tmp_path, WTF_CSRF_ENABLED=False)
    ensure_recap_route(app)
    fixed = clock.FixedClock(START)
    clock.set_clock(app, fixed)
    server = LiveServer(app, fixed).start()
    app.config["SERVER_NAME"] = server.url.removeprefix("http://")  # url_for outside requests, in the tests
    try:
        with app.app_context():
            yield server
    finally:
        server.stop()
        app.extensions["db_engine"].dispose()


@pytest.fixture
def desk(live: LiveServer) -> Desk:
    client = live.app.test_client()
    who = make_aidant(live.now())
    sign_in_on(client, who, live.now())
    found = Desk(live.app, client, live.clock, who)
    found.draft()
    return found


def text(response: TestResponse) -> str:
    return html.unescape(response.get_data(as_text=True))


def sandbox_page(desk: Desk) -> tuple[str, str]:
    """Start the identification; the sandbox's page and its sealed request."""
    authorize = desk.start()
    assert authorize.startswith(desk.app.config["SERVER_NAME"].join(["http://", "/sandbox/franceconnect/authorize?"]))
    page = desk.client.get(authorize)
    assert page.status_code == 200, text(page)
    found = re.search(r'name="authz" type="hidden" value="([^"]+)"', page.get_data(as_text=True))
    assert found, page.get_data(as_text=True)
    return text(page), found.group(1)


def choose(desk: Desk, authz: str, identity: str = "", action: str = "valider") -> TestResponse:
    return desk.client.post("/sandbox/franceconnect/authorize",
                            data={"authz": authz, "identity": identity, "action": action})


@pytest.mark.parametrize("key", ["karim", "marie", "jean"])
def test_the_whole_identification_through_the_sandbox(desk: Desk, key: str) -> None:
    page, authz = sandbox_page(desk)
    assert "Bac à sable" in page and "identités proposées sont fictives" in page
    assert all(f"{i.given_name} {i.family_name}" in page for i in IDENTITIES)
    back = choose(desk, authz, key)
    assert back.status_code == 302
    assert back.headers["Location"].startswith(f"http://{desk.app.config['SERVER_NAME']}/franceconnect/retour?")
    logout = desk.client.get(back.headers["Location"])
    assert logout.status_code == 302, text(logout)
    assert "/sandbox/franceconnect/session/end?" in logout.headers["Location"]
    [usager] = usagers()
    expected = BY_KEY[key].claims()
    assert {name: getattr(usager, name) for name in expected} == expected
    assert journal_actions()[-1] == "franceconnect_usager"
    logged_out = desk.client.get(logout.headers["Location"])
    assert logged_out.status_code == 302 and "/franceconnect/deconnexion?state=" in logged_out.headers["Location"]
    recap = desk.client.get(logged_out.headers["Location"])
    assert recap.status_code == 302 and recap.headers["Location"].endswith(RECAP_PATH)


def test_the_same_person_gets_the_same_usager(desk: Desk) -> None:
    for _ in range(2):
        _, authz = sandbox_page(desk)
        assert desk.client.get(choose(desk, authz, "angela").headers["Location"]).status_code == 302
        desk.draft()
    assert len(usagers()) == 1


def test_cancelling_at_the_sandbox(desk: Desk) -> None:
    _, authz = sandbox_page(desk)
    back = choose(desk, authz, action="refuser")
    assert query(back.headers["Location"])["error"] == "access_denied"
    before = counts()
    refused = desk.client.get(back.headers["Location"])
    assert refused.status_code == 400 and "annulé sa connexion" in text(refused)
    assert counts() == before


def test_no_identity_chosen_asks_again(desk: Desk) -> None:
    _, authz = sandbox_page(desk)
    again = choose(desk, authz)
    assert again.status_code == 200 and "Choisissez l'identité" in text(again)


def test_a_forged_sealed_request_is_refused(desk: Desk) -> None:
    sandbox_page(desk)
    assert choose(desk, "sbx:forged", "angela").status_code == 400


def test_authorize_checks_the_client_and_the_request(live: LiveServer) -> None:
    base = f"{live.url}/sandbox/franceconnect/authorize"
    good = {"client_id": live.app.config["FC_CLIENT_ID"], "redirect_uri": f"{live.url}/franceconnect/retour",
            "response_type": "code", "scope": "openid given_name", "state": "s" * 32, "nonce": "n" * 22,
            "acr_values": "eidas1"}
    assert requests.get(base, params=good, timeout=10).status_code == 200
    unknown = requests.get(base, params={**good, "redirect_uri": "https://evil.example/cb"},
                           allow_redirects=False, timeout=10)
    assert unknown.status_code == 400 and "Location" not in unknown.headers
    for bad in ({"nonce": "n" * 21}, {"acr_values": "eidas2"}, {"scope": "profile"}, {"response_type": "token"}):
        answer = requests.get(base, params={**good, **bad}, allow_redirects=False, timeout=10)
        assert answer.status_code == 302, bad
        assert query(answer.headers["Location"])["error"] in ("invalid_request", "invalid_scope",
                                                              "unsupported_response_type")
        assert query(answer.headers["Location"])["state"] == "s" * 32


def _code(desk: Desk) -> str:
    _, authz = sandbox_page(desk)
    return query(choose(desk, authz, "angela").headers["Location"])["code"]


def test_token_endpoint(desk: Desk, live: LiveServer) -> None:
    url = f"{live.url}/sandbox/franceconnect/token"
    form = {"grant_type": "authorization_code", "code": _code(desk), "client_id": live.app.config["FC_CLIENT_ID"],
            "client_secret": live.app.config["FC_CLIENT_SECRET"], "redirect_uri": f"{live.url}/franceconnect/retour"}
    wrong_secret = requests.post(url, data={**form, "client_secret": "nope"}, timeout=10)
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"
    for bad in ({"code": "sbx:forged"}, {"redirect_uri": f"{live.url}/ailleurs"}):
        assert requests.post(url, data={**form, **bad}, timeout=10).json()["error"] == "invalid_grant"
    live.clock.advance(seconds=31)
    assert requests.post(url, data=form, timeout=10).json()["error"] == "invalid_grant"  # the code expired


def test_userinfo_needs_a_valid_token(live: LiveServer) -> None:
    url = f"{live.url}/sandbox/franceconnect/userinfo"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer sbx:forged"}, timeout=10).status_code == 401


def test_logout_checks_the_hint_and_the_return_address(live: LiveServer) -> None:
    url = f"{live.url}/sandbox/franceconnect/session/end"
    hint = SandboxKeys(live.app.config["SECRET_KEY"]).sign(
        {"iss": f"{live.url}/sandbox/franceconnect", "aud": live.app.config["FC_CLIENT_ID"], "sub": "x"})
    back = f"{live.url}/franceconnect/deconnexion"
    ok = requests.get(url, params={"id_token_hint": hint, "post_logout_redirect_uri": back, "state": "abc"},
                      allow_redirects=False, timeout=10)
    assert ok.status_code == 302 and ok.headers["Location"] == f"{back}?state=abc"
    other = requests.get(url, params={"id_token_hint": hint, "post_logout_redirect_uri": "https://evil.example/"},
                         allow_redirects=False, timeout=10)
    assert other.status_code == 400
    forged = SandboxKeys("another-secret").sign({"iss": f"{live.url}/sandbox/franceconnect"})
    assert requests.get(url, params={"id_token_hint": forged, "post_logout_redirect_uri": back},
                        allow_redirects=False, timeout=10).status_code == 400


def test_the_keys_are_derived_from_the_secret_key() -> None:
    assert SandboxKeys("one").jwks() == SandboxKeys("one").jwks()
    assert SandboxKeys("one").jwks() != SandboxKeys("two").jwks()
    [key] = SandboxKeys("one").jwks()["keys"]
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")
    assert "d" not in key


def run_rp(**arguments: str) -> dict[str, object]:
    """One step of the independent relying party (openid-client 6, tests/peers/fc-sandbox-rp.mjs)."""
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run([node, str(PEERS / "fc-sandbox-rp.mjs"), json.dumps(arguments)], cwd=PEERS,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.peers
def test_an_independent_relying_party_accepts_the_sandbox(live: LiveServer, desk: Desk) -> None:
    require(shutil.which("node") is not None and peers_installed(),
            "node or tests/peers/node_modules missing (cd tests/peers && npm ci --ignore-scripts)")
    live.clock.current = real_now()  # openid-client checks iat and exp against the machine's clock
    client = {"issuer": f"{live.url}/sandbox/franceconnect", "client_id": live.app.config["FC_CLIENT_ID"],
              "client_secret": live.app.config["FC_CLIENT_SECRET"], "redirect_uri": f"{live.url}/franceconnect/retour"}
    started = run_rp(step="authorize", **client)
    page = desk.client.get(str(started["url"]))
    assert page.status_code == 200, text(page)
    authz = re.search(r'name="authz" type="hidden" value="([^"]+)"', page.get_data(as_text=True))
    assert authz is not None
    back = choose(desk, authz.group(1), "marie")
    finished = run_rp(step="callback", callback_url=back.headers["Location"], state=str(started["state"]),
                      nonce=str(started["nonce"]), **client)
    id_claims, userinfo = finished["id_token_claims"], finished["userinfo"]
    assert isinstance(id_claims, dict) and isinstance(userinfo, dict)
    assert id_claims["acr"] == "eidas1" and id_claims["iss"] == client["issuer"]
    assert userinfo["sub"] == id_claims["sub"] and str(userinfo["sub"]).endswith("v1")
    assert {name: userinfo[name] for name in BY_KEY["marie"].claims()} == BY_KEY["marie"].claims()


# --- never in production ---------------------------------------------------------------------------

PRODUCTION = {**PRODUCTION_SECRETS, "AIDANTS_ENV": "production", "DATABASE_URL": "sqlite://",
              "PUBLIC_URL": "https://aidants.exemple.gouv.fr",
              "FC_ISSUER": "https://oidc.franceconnect.gouv.fr/api/v2", "FC_CLIENT_ID": "id",
              "FC_CLIENT_SECRET": "secret"}


def test_production_refuses_the_sandbox_and_needs_franceconnect(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="FC_SANDBOX"):
        load_config({**PRODUCTION, "FC_SANDBOX": "true"}, tmp_path)
    for name in ("FC_ISSUER", "FC_CLIENT_ID", "FC_CLIENT_SECRET"):
        with pytest.raises(ConfigError, match=name):
            load_config({k: v for k, v in PRODUCTION.items() if k != name}, tmp_path)
    with pytest.raises(ConfigError, match="https"):
        load_config({**PRODUCTION, "FC_ISSUER": "http://fc.example"}, tmp_path)
    with pytest.raises(ConfigError, match="none"):
        load_config({**PRODUCTION, "FC_ID_TOKEN_ALGS": "ES256,none"}, tmp_path)
    config = load_config(PRODUCTION, tmp_path)
    assert config["FC_SANDBOX"] is False and config["FC_ID_TOKEN_ALGS"] == ["ES256", "RS256"]


def test_the_sandbox_is_served_in_development_only(tmp_path: Path) -> None:
    production = create_app({"TESTING": True}, environ=PRODUCTION)
    assert production.test_client().get("/sandbox/franceconnect/jwks").status_code == 404
    development = create_app({"TESTING": True}, environ={**TEST_SECRETS, "AIDANTS_ENV": "development",
                                                         "DATABASE_URL": "sqlite://"})
    assert development.config["FC_SANDBOX"] is True and development.config["FC_ISSUER"] == ""
    assert development.test_client().get("/sandbox/franceconnect/jwks").status_code == 200
