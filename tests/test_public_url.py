"""Links, the issuer and the sandbox's redirect URIs come from PUBLIC_URL (or its default), never from Host."""

from __future__ import annotations

from aidants.outbox import services as outbox
from oidc.provider import clients
from oidc.sandbox.service import CLIENT_ID
from tests.factories import make_aidant

EVIL = {"Host": "evil.example"}


def test_a_forged_host_does_not_reach_the_issuer_or_the_emailed_links(client, fixed_clock):
    who = make_aidant(fixed_clock.now())
    discovery = client.get("/.well-known/openid-configuration", headers=EVIL).get_json()
    assert discovery["issuer"] == "http://localhost"
    assert all("evil" not in str(value) for value in discovery.values())
    client.post("/connexion", data={"email": who.aidant.email, "code": who.code(fixed_clock.now())}, headers=EVIL)
    client.post("/habilitation", data={"email": "demandeur@exemple.fr"}, headers=EVIL)
    bodies = [message.body for message in outbox.latest()]
    assert len(bodies) == 2 and all("http://localhost/" in body for body in bodies)
    assert not any("evil.example" in body for body in bodies)


def test_redirects_name_the_public_host(client):
    response = client.get("/espace-aidant", headers=EVIL)
    assert response.status_code == 302 and "evil" not in response.location


def test_sandbox_service_registers_its_redirect_uri_from_the_configuration(client):
    response = client.get("/sandbox/service/connexion", headers=EVIL)
    assert response.status_code == 503  # not 500: the test app has no HTTP server to reach, nothing else fails
    registered = clients.find(CLIENT_ID)
    assert registered is not None
    assert "evil" not in registered.redirect_uris and registered.redirect_uris.startswith("http://localhost/")
