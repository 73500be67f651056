"""Our identity provider against an independent relying party: panva's openid-client 5.7.0 and 6.x.

The service is played by openid-client (tests/peers/service_rp.mjs); the aidant's part is done by the test
over real HTTP against the live server (CSRF on), as a browser would, without a browser.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from aidants.mandats.models import Autorisation
from tests.browser.conftest import live_server  # noqa: F401  (the fixture)
from tests.browser.support import LiveServer
from tests.conftest import require
from tests.oidc.conftest import PEERS, peers_installed
from tests.oidc.provider_helpers import LOGOUT_URI, REDIRECT_URI, World, make_world

CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
OFFER = re.compile(r'name="autorisation_id" value="(\d+)"')
LINK = re.compile(r"(/connexion/lien/[\w-]+)")


@pytest.fixture
def wall_clock(live_server: LiveServer) -> LiveServer:  # noqa: F811
    """openid-client checks iat/exp against the machine's clock: start the app's clock from it."""
    live_server.clock.current = dt.datetime.fromtimestamp(time.time(), dt.UTC)
    return live_server


def rp(step: str, **options: Any) -> dict[str, Any]:
    """One step of the relying party; its JSON outcome."""
    require(shutil.which("node") is not None and peers_installed(), "node and tests/peers/node_modules (make test)")
    done = subprocess.run(["node", str(PEERS / "service_rp.mjs"), step, json.dumps(options)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout, done.stderr
    return json.loads(done.stdout)


def csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found, html[:2000]
    return found.group(1)


def aidant_authorizes(server: LiveServer, world: World, url: str, http: requests.Session) -> str:
    """The aidant's part: sign in (the sign-in returns to the authorization), pick usager and démarche.

    Returns the Location the provider sends the browser to (the service's callback)."""
    page = http.get(url)
    assert "/connexion" in page.url
    now = server.now()
    back = parse_qs(urlsplit(page.url).query)["next"][0]
    sent = http.post(server.url + "/connexion", data={
        "csrf_token": csrf(page.text), "email": world.aidant.aidant.email, "code": world.aidant.code(now), "next": back,
    })
    assert "Consultez votre messagerie" in sent.text
    outbox = http.get(server.url + "/dev/outbox").text
    link = server.url + LINK.search(outbox).group(1)  # type: ignore[union-attr]
    confirm = http.get(link)
    choose_usager = http.post(link, data={"csrf_token": csrf(confirm.text)})
    assert world.usager.family_name in choose_usager.text
    choose = http.get(choose_usager.url + f"&usager={world.usager.id}")
    offer = OFFER.search(choose.text).group(1)  # type: ignore[union-attr]
    decided = http.post(choose.url, allow_redirects=False, data={
        "csrf_token": csrf(choose.text), "usager_id": world.usager.id, "autorisation_id": offer, "action": "valider",
    })
    assert decided.status_code == 302, decided.text[:2000]
    return decided.headers["Location"]


def rp_options(server: LiveServer, world: World, version: int, **extra: Any) -> dict[str, Any]:
    return {
        "version": version, "issuer": server.url, "client_id": world.client.client_id,
        "client_secret": world.secret, "redirect_uri": REDIRECT_URI, "auth_method": world.client.auth_method,
        "post_logout_redirect_uri": LOGOUT_URI, **extra,
    }


@pytest.mark.peers
@pytest.mark.parametrize("version", [5, 6])
@pytest.mark.parametrize("signed_userinfo", [False, True])
def test_openid_client_completes_the_flow(wall_clock: LiveServer, version: int, signed_userinfo: bool) -> None:
    world = make_world(wall_clock.clock, userinfo_alg="ES256" if signed_userinfo else None, act_claim=True)
    wanted = {"id_token": {"rep_scope": {"essential": True, "values": ["Social-Santé"]}}}
    options = rp_options(wall_clock, world, version, userinfo_alg="ES256" if signed_userinfo else None,
                         claims=wanted, prompt="login", acr_values="eidas1")
    start = rp("start", **options)
    assert start["ok"], start
    http = requests.Session()
    callback = aidant_authorizes(wall_clock, world, start["url"], http)
    done = rp("callback", **options, callback_url=callback, state=start["state"], nonce=start["nonce"],
              code_verifier=start["code_verifier"])
    assert done["ok"], done
    claims = done["id_token_claims"]
    assert claims["acr"] == "eidas1" and claims["rep_scope"] == ["Social-Santé"]
    assert claims["act"]["siret"] == world.organisation.siret
    assert done["userinfo"]["family_name"] == "DUBOIS" and done["userinfo"]["sub"] == claims["sub"]
    logout = rp("logout", **options, id_token=done["id_token"], state="bye-state")
    assert logout["ok"], logout
    back = http.get(logout["url"], allow_redirects=False)
    assert back.status_code == 302 and back.headers["Location"] == LOGOUT_URI + "?state=bye-state"


@pytest.mark.peers
@pytest.mark.parametrize("version", [5, 6])
def test_openid_client_with_pkce_and_basic_auth(wall_clock: LiveServer, version: int) -> None:
    world = make_world(wall_clock.clock, auth_method="client_secret_basic")
    options = rp_options(wall_clock, world, version, pkce=True)
    start = rp("start", **options)
    callback = aidant_authorizes(wall_clock, world, start["url"], requests.Session())
    done = rp("callback", **options, callback_url=callback, state=start["state"], nonce=start["nonce"],
              code_verifier=start["code_verifier"])
    assert done["ok"], done
    replay = rp("callback", **options, callback_url=callback, state=start["state"], nonce=start["nonce"],
                code_verifier=start["code_verifier"])
    assert not replay["ok"] and replay["oauth_error"] == "invalid_grant", replay


@pytest.mark.peers
def test_revoked_between_authorize_and_token_the_peer_gets_no_identity(wall_clock: LiveServer) -> None:
    from aidants import db

    world = make_world(wall_clock.clock)
    options = rp_options(wall_clock, world, 5)
    start = rp("start", **options)
    callback = aidant_authorizes(wall_clock, world, start["url"], requests.Session())
    db.session().execute(Autorisation.__table__.update().values(revoked_at=wall_clock.now()))
    db.session().commit()
    done = rp("callback", **options, callback_url=callback, state=start["state"], nonce=start["nonce"])
    assert not done["ok"] and done["oauth_error"] == "invalid_grant", done
