"""The identity provider through HTTP on the real app: authorize, token, userinfo, end-session."""

from __future__ import annotations

import base64
import json

import pytest
import sqlalchemy as sa

from aidants import db
from aidants.journal.models import JournalEntry
from aidants.mandats.models import Autorisation
from aidants.security import jose
from aidants.usagers.models import Usager
from tests.factories import make_aidant, sign_in
from tests.oidc.provider_helpers import (
    LOGOUT_URI,
    REDIRECT_URI,
    auth_params,
    choose,
    make_usager,
    make_world,
    redirect_params,
    register_client,
    token_request,
)


def uses() -> list[JournalEntry]:
    return list(db.session().scalars(sa.select(JournalEntry).where(JournalEntry.action == "use_autorisation")))


def jwt_payload(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


@pytest.fixture
def world(app, fixed_clock):
    return make_world(fixed_clock)


@pytest.fixture
def signed_in(client, world, fixed_clock):
    sign_in(client, world.aidant, fixed_clock.now())
    return client


def get_code(http, world, **overrides) -> str:
    params = auth_params(world, **overrides)
    response = choose(http, world, params)
    assert response.status_code == 302, response.get_data(as_text=True)
    found = redirect_params(response.location)
    assert found["state"] == params["state"]
    return found["code"]


def test_discovery_names_our_endpoints(client):
    data = client.get("/.well-known/openid-configuration").get_json()
    assert data["issuer"] == "http://localhost"
    assert data["authorization_endpoint"] == "http://localhost/authorize"
    assert data["jwks_uri"] == "http://localhost/jwks"
    assert data["subject_types_supported"] == ["pairwise"]
    assert set(data["token_endpoint_auth_methods_supported"]) == {"client_secret_post", "client_secret_basic", "none"}


def test_discovery_kept_per_mount_point_names_that_mount(client):
    first = client.get("/.well-known/openid-configuration")
    mounted = client.get("/.well-known/openid-configuration", environ_overrides={"SCRIPT_NAME": "/idp"})
    again = client.get("/.well-known/openid-configuration")
    assert first.mimetype == "application/json"
    assert mounted.get_json()["authorization_endpoint"] == "http://localhost/idp/authorize"
    assert again.get_json()["authorization_endpoint"] == "http://localhost/authorize"
    assert again.get_data() == first.get_data()


def test_whole_flow_gives_the_usager_identity_and_journals_each_use(signed_in, world, fixed_clock):
    page = signed_in.get("/authorize", query_string=auth_params(world)).get_data(as_text=True)
    assert world.usager.family_name in page
    page = signed_in.get("/authorize", query_string={**auth_params(world), "usager": world.usager.id})
    assert "Social - Santé" in page.get_data(as_text=True)
    code = get_code(signed_in, world)
    response = token_request(signed_in, world, code)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    claims = jose.verify_jwt(body["id_token"], now=fixed_clock.now())
    assert claims["aud"] == world.client.client_id and claims["iss"] == "http://localhost"
    assert claims["nonce"] == "nonce-12345678901234567890" and claims["acr"] == "eidas1"
    assert claims["rep_scope"] == ["Social-Santé"] and "auth_time" in claims
    assert "act" not in claims
    info = signed_in.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}).get_json()
    assert info["sub"] == claims["sub"]
    assert info["given_name"] == "Angela Claire Louise" and info["birthcountry"] == "99100"
    assert info["email"] == world.usager.email
    entries = uses()
    assert len(entries) == 2
    assert {e.extra["endpoint"] for e in entries} == {"token", "userinfo"}
    assert all(e.usager_id == world.usager.id and e.demarches == "social" for e in entries)
    assert all(e.client_id == world.client.client_id and e.aidant_id == world.aidant.aidant.id for e in entries)


def test_scopes_filter_userinfo(signed_in, world):
    code = get_code(signed_in, world, scope="openid given_name")
    token = token_request(signed_in, world, code).get_json()["access_token"]
    info = signed_in.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert set(info) == {"sub", "given_name"}


def test_signed_out_aidant_is_sent_to_sign_in_and_back(client, world, fixed_clock):
    from urllib.parse import parse_qs, urlsplit

    from tests.factories import last_login_path

    response = client.get("/authorize", query_string=auth_params(world))
    assert response.status_code == 302 and response.location.startswith("/connexion?next=")
    back = parse_qs(urlsplit(response.location).query)["next"][0]
    assert back.startswith("/authorize?") and world.client.client_id in back
    client.post("/connexion", data={"email": world.aidant.aidant.email, "next": back,
                                    "code": world.aidant.code(fixed_clock.now())})
    response = client.post(last_login_path(world.aidant.aidant.email))
    assert response.status_code == 302 and response.location == back
    assert world.usager.family_name in client.get(back).get_data(as_text=True)


def test_unknown_client_or_redirect_uri_get_our_page_not_a_redirect(signed_in, world):
    response = signed_in.get("/authorize", query_string=auth_params(world, client_id="inconnu"))
    assert response.status_code == 400 and "pas reconnu" in response.get_data(as_text=True)
    response = signed_in.get("/authorize", query_string=auth_params(world, redirect_uri="https://evil.example/cb"))
    assert response.status_code == 400 and "adresse de retour" in response.get_data(as_text=True)


@pytest.mark.parametrize(("overrides", "error"), [
    ({"nonce": None}, "invalid_request"),
    ({"scope": "profile email"}, "invalid_scope"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"prompt": "none"}, "login_required"),
    ({"claims": "{not json"}, "invalid_request"),
    ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "invalid_request"),
])
def test_bad_requests_go_back_to_the_client_in_oidc_form(signed_in, world, overrides, error):
    response = signed_in.get("/authorize", query_string=auth_params(world, **overrides))
    assert response.status_code == 302, response.get_data(as_text=True)
    found = redirect_params(response.location)
    assert found["error"] == error and found["state"] == "state-1234567890"


def test_rep_scope_claims_narrow_the_offer_and_none_left_is_access_denied(signed_in, world):
    wanted = {"id_token": {"rep_scope": {"essential": True, "values": ["Logement"]}}}
    params = {**auth_params(world, claims=json.dumps(wanted)), "usager": str(world.usager.id)}
    page = signed_in.get("/authorize", query_string=params).get_data(as_text=True)
    assert "Logement" in page and "Social - Santé" not in page
    refused = choose(signed_in, world, auth_params(world, claims=json.dumps(wanted)), demarche="social")
    assert refused.status_code == 400
    other = {"id_token": {"rep_scope": {"essential": True, "values": ["Justice"]}}}
    response = signed_in.get("/authorize", query_string=auth_params(world, claims=json.dumps(other)))
    assert redirect_params(response.location)["error"] == "access_denied"


def test_aidant_refusing_sends_access_denied(signed_in, world):
    response = signed_in.post("/authorize", query_string=auth_params(world), data={"action": "refuser"})
    assert redirect_params(response.location)["error"] == "access_denied"


def test_code_is_single_use_and_replay_revokes_the_first_token(signed_in, world):
    code = get_code(signed_in, world)
    token = token_request(signed_in, world, code).get_json()["access_token"]
    replay = token_request(signed_in, world, code)
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    response = signed_in.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert len(uses()) == 1  # only the first token issuance


def test_token_errors_follow_rfc6749(signed_in, world, fixed_clock):
    code = get_code(signed_in, world)
    wrong_secret = token_request(signed_in, world, code, client_secret="faux")
    assert wrong_secret.status_code == 401 and wrong_secret.get_json()["error"] == "invalid_client"
    fixed_clock.advance(seconds=31)
    code = get_code(signed_in, world, nonce="another-nonce-123456789012")
    wrong_uri = token_request(signed_in, world, code, redirect_uri="https://service.example/other")
    assert wrong_uri.status_code == 400 and wrong_uri.get_json()["error"] == "invalid_grant"
    code = get_code(signed_in, world, nonce="third-nonce-1234567890123")
    fixed_clock.advance(seconds=31)
    expired = token_request(signed_in, world, code)
    assert expired.status_code == 400 and expired.get_json()["error"] == "invalid_grant"
    assert uses() == []


def test_client_secret_basic(signed_in, world, fixed_clock):
    client, secret = register_client(fixed_clock.now(), auth_method="client_secret_basic")
    world.client, world.secret = client, secret
    code = get_code(signed_in, world)
    basic = base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()
    response = signed_in.post("/token", headers={"Authorization": f"Basic {basic}"},
                              data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI})
    assert response.status_code == 200, response.get_data(as_text=True)


def test_public_client_needs_pkce_s256(signed_in, world, fixed_clock):
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    client, secret = register_client(fixed_clock.now(), auth_method="none")
    assert secret is None
    world.client, world.secret = client, None
    verifier = "v" * 50
    code = get_code(signed_in, world, code_challenge=create_s256_code_challenge(verifier),
                    code_challenge_method="S256")
    mismatch = token_request(signed_in, world, code, client_secret=None, code_verifier="w" * 50)
    assert mismatch.status_code == 400 and mismatch.get_json()["error"] == "invalid_grant"
    code = get_code(signed_in, world, nonce="n2-12345678901234567890")
    missing = token_request(signed_in, world, code, client_secret=None)
    assert missing.status_code == 400
    code = get_code(signed_in, world, nonce="n3-12345678901234567890",
                    code_challenge=create_s256_code_challenge(verifier), code_challenge_method="S256")
    good = token_request(signed_in, world, code, client_secret=None, code_verifier=verifier)
    assert good.status_code == 200, good.get_data(as_text=True)


def test_revocation_between_authorize_and_token_gives_no_identity(signed_in, world, fixed_clock):
    code = get_code(signed_in, world)
    for autorisation in world.mandat.autorisations:
        db.session().execute(sa.update(Autorisation).where(Autorisation.id == autorisation.id)
                             .values(revoked_at=fixed_clock.now()))
    db.commit()
    response = token_request(signed_in, world, code)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"
    assert uses() == []


def test_revocation_after_token_stops_userinfo(signed_in, world, fixed_clock):
    code = get_code(signed_in, world)
    token = token_request(signed_in, world, code).get_json()["access_token"]
    db.session().execute(sa.update(Autorisation).values(revoked_at=fixed_clock.now()))
    db.commit()
    response = signed_in.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert len(uses()) == 1


def erase_usager(world, now) -> None:
    """The usager's erasure as the provider sees it: the row marked erased (the autorisations left as they were)."""
    db.session().execute(sa.update(Usager).where(Usager.id == world.mandat.usager_id).values(erased_at=now))
    db.commit()


def test_an_erased_usager_is_handed_out_neither_at_token_nor_at_userinfo(signed_in, world, fixed_clock):
    code = get_code(signed_in, world)
    token = token_request(signed_in, world, code).get_json()["access_token"]
    second = get_code(signed_in, world, nonce="erased-12345678901234567")
    erase_usager(world, fixed_clock.now())
    refused = token_request(signed_in, world, second)
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_grant"
    assert signed_in.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert len(uses()) == 1


def test_an_erased_usager_is_not_offered(signed_in, world, fixed_clock):
    erase_usager(world, fixed_clock.now())
    response = signed_in.get("/authorize", query_string=auth_params(world))
    assert redirect_params(response.location)["error"] == "access_denied"


def test_expired_mandate_is_not_offered(signed_in, world, fixed_clock):
    fixed_clock.advance(days=32)
    sign_in(signed_in, world.aidant, fixed_clock.now())
    response = signed_in.get("/authorize", query_string=auth_params(world))
    assert redirect_params(response.location)["error"] == "access_denied"


def test_aidant_of_another_structure_cannot_use_the_mandate(client, world, fixed_clock):
    stranger = make_aidant(fixed_clock.now())
    sign_in(client, stranger, fixed_clock.now())
    response = client.get("/authorize", query_string=auth_params(world))
    assert redirect_params(response.location)["error"] == "access_denied"
    forged = choose(client, world, auth_params(world))
    assert forged.status_code == 400 or redirect_params(forged.location)["error"] == "access_denied"
    assert uses() == []


def test_disabled_client_is_refused_everywhere(signed_in, world, fixed_clock):
    from oidc.provider import clients

    code = get_code(signed_in, world)
    clients.disable(world.client.client_id, fixed_clock.now())
    db.commit()
    refused = token_request(signed_in, world, code)
    assert refused.status_code in (400, 401) and refused.get_json()["error"] == "invalid_client", refused.get_json()
    response = signed_in.get("/authorize", query_string=auth_params(world))
    assert response.status_code == 400


def test_tokens_signed_otherwise_are_refused(signed_in, world, fixed_clock):
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').decode().rstrip("=")
    body = base64.urlsafe_b64encode(json.dumps({"aud": world.client.client_id, "iss": "http://localhost"})
                                    .encode()).decode().rstrip("=")
    none_token = f"{header}.{body}."
    assert signed_in.get("/userinfo", headers={"Authorization": f"Bearer {none_token}"}).status_code == 401
    response = signed_in.get("/session/end", query_string={"id_token_hint": none_token,
                                                           "post_logout_redirect_uri": LOGOUT_URI})
    assert response.status_code == 400
    _, foreign_pem = jose.generate_private_pem("ES256")
    forged = jose.sign_with(foreign_pem, "foreign", "ES256", {"aud": world.client.client_id,
                                                              "iss": "http://localhost"})
    response = signed_in.get("/session/end", query_string={"id_token_hint": forged,
                                                           "post_logout_redirect_uri": LOGOUT_URI})
    assert response.status_code == 400


def test_end_session_checks_hint_and_registered_uri(signed_in, world):
    code = get_code(signed_in, world)
    id_token = token_request(signed_in, world, code).get_json()["id_token"]
    bad = signed_in.get("/session/end", query_string={"id_token_hint": id_token,
                                                      "post_logout_redirect_uri": "https://evil.example/"})
    assert bad.status_code == 400
    assert "Me déconnecter" in signed_in.get("/session/end").get_data(as_text=True)  # no hint: asked first
    good = signed_in.get("/session/end", query_string={"id_token_hint": id_token, "state": "s t",
                                                       "post_logout_redirect_uri": LOGOUT_URI})
    assert good.status_code == 302 and good.location == LOGOUT_URI + "?state=s%20t"
    assert signed_in.get("/espace-aidant").status_code == 302  # the aidant is signed out too


def test_pairwise_sub_and_act_claim(signed_in, world, fixed_clock):
    first = jwt_payload(token_request(signed_in, world, get_code(signed_in, world)).get_json()["id_token"])
    client, secret = register_client(fixed_clock.now(), act_claim=True)
    world.client, world.secret = client, secret
    second = jwt_payload(token_request(signed_in, world, get_code(signed_in, world)).get_json()["id_token"])
    assert first["sub"] != second["sub"]
    assert second["act"]["siret"] == world.organisation.siret
    assert second["act"]["sub"] != str(world.aidant.aidant.id)


def test_signed_userinfo_for_registered_clients(signed_in, world, fixed_clock):
    client, secret = register_client(fixed_clock.now(), userinfo_alg="ES256")
    world.client, world.secret = client, secret
    token = token_request(signed_in, world, get_code(signed_in, world)).get_json()["access_token"]
    response = signed_in.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.content_type == "application/jwt"
    claims = jose.verify_jwt(response.get_data(as_text=True), now=fixed_clock.now())
    assert claims["aud"] == client.client_id and claims["family_name"] == "DUBOIS"


def test_prompt_login_asks_the_code_after_a_while(signed_in, world, fixed_clock):
    fixed_clock.advance(minutes=6)
    page = signed_in.get("/authorize", query_string={**auth_params(world, prompt="login"),
                                                     "usager": world.usager.id}).get_data(as_text=True)
    assert 'name="code"' in page
    wrong = choose(signed_in, world, auth_params(world, prompt="login"), code="000000")
    assert wrong.status_code == 400
    response = choose(signed_in, world, auth_params(world, prompt="login"), code=world.aidant.code(fixed_clock.now()))
    assert response.status_code == 302 and "code" in redirect_params(response.location)


def test_search_as_you_type(signed_in, world, fixed_clock):
    other = make_usager(fixed_clock.now(), given_name="Jean", family_name="Martin")
    db.commit()
    params = auth_params(world)
    found = signed_in.get("/authorize/usagers", query_string={**params, "q": "dub"}).get_json()
    assert [u["id"] for u in found] == [world.usager.id]
    assert other.id not in [u["id"] for u in signed_in.get("/authorize/usagers", query_string=params).get_json()]


def test_rs256_clients_get_rs256_tokens_verifiable_from_the_jwks(signed_in, world, fixed_clock):
    client, secret = register_client(fixed_clock.now(), id_token_alg="RS256", userinfo_alg="RS256")
    world.client, world.secret = client, secret
    body = token_request(signed_in, world, get_code(signed_in, world)).get_json()
    header = json.loads(base64.urlsafe_b64decode(body["id_token"].split(".")[0] + "=="))
    assert header["alg"] == "RS256"
    jwks = signed_in.get("/jwks").get_json()
    assert header["kid"] in {key["kid"] for key in jwks["keys"] if key["kty"] == "RSA"}
    claims = jose.verify_with(body["id_token"], jwks, fixed_clock.now())
    assert claims["aud"] == client.client_id
