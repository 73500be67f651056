"""The provider's rules added by the hardening (issue 8): who may use mandates, scopes, prompt, max_age, logout."""

from __future__ import annotations

import base64
import itertools
import json

import pytest

from aidants import db
from aidants.cli import main
from oidc.provider import clients
from tests.factories import make_aidant, sign_in
from tests.oidc.provider_helpers import (
    LOGOUT_URI,
    REDIRECT_URI,
    auth_params,
    choose,
    make_world,
    redirect_params,
    register_client,
    token_request,
)


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


def test_co_referent_who_may_not_create_mandates_may_not_use_them(client, world, fixed_clock):
    co_referent = make_aidant(fixed_clock.now(), world.organisation, is_referent=True, can_create_mandats=False)
    sign_in(client, co_referent, fixed_clock.now())
    page = client.get("/authorize", query_string=auth_params(world))
    assert page.status_code == 403
    assert "seuls les aidants habilités" in page.get_data(as_text=True)
    assert world.usager.family_name not in page.get_data(as_text=True)
    assert client.get("/authorize/usagers", query_string=auth_params(world)).status_code == 403
    response = choose(client, world, auth_params(world))
    assert response.status_code == 403 and "code=" not in (response.location or "")


def test_aidant_whose_right_to_create_is_withdrawn_stops_using_mandates(signed_in, world):
    world.aidant.aidant.can_create_mandats = False
    db.commit()
    assert signed_in.get("/authorize", query_string=auth_params(world)).status_code == 403


NONCES = itertools.count(1)


def fresh(world, **overrides) -> dict[str, str]:
    """Authorization parameters with a nonce of their own (a nonce serves once)."""
    return auth_params(world, **{"nonce": f"nonce-{next(NONCES):020d}", **overrides})


def get_code(http, world, **overrides) -> str:
    response = choose(http, world, fresh(world, **overrides))
    assert response.status_code == 302, response.get_data(as_text=True)
    return redirect_params(response.location)["code"]


# --- 2: scopes per client -----------------------------------------------------------------------------------


def test_a_client_gets_invalid_scope_for_scopes_it_was_not_registered_for(signed_in, world, fixed_clock):
    client, secret = register_client(fixed_clock.now(), scopes=["openid", "given_name"])
    world.client, world.secret = client, secret
    response = signed_in.get("/authorize", query_string=auth_params(world, scope="openid given_name email"))
    found = redirect_params(response.location)
    assert found["error"] == "invalid_scope" and "email" in found["error_description"]
    assert found["state"] == "state-1234567890" and found["iss"] == "http://localhost"
    code = get_code(signed_in, world, scope="openid given_name")
    token = token_request(signed_in, world, code).get_json()["access_token"]
    info = signed_in.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert set(info) == {"sub", "given_name"}


def test_clients_commands_register_show_and_change_scopes(app, fixed_clock):
    runner = app.test_cli_runner()
    done = runner.invoke(main, ["clients", "register", "--name", "Impots", "--redirect-uri", REDIRECT_URI,
                                "--scopes", "profile birth", "--json"])
    assert done.exit_code == 0, done.output
    registered = json.loads(done.output)
    assert registered["scopes"] == ["openid", "profile", "birth"]
    listed = runner.invoke(main, ["clients", "list"])
    assert "[openid profile birth]" in listed.output
    changed = runner.invoke(main, ["clients", "set-scopes", registered["client_id"], "email"])
    assert changed.exit_code == 0 and "openid email" in changed.output
    db.session().expire_all()
    assert clients.find(registered["client_id"]).scopes == ["openid", "email"]
    refused = runner.invoke(main, ["clients", "set-scopes", registered["client_id"], "telephone"])
    assert refused.exit_code == 1 and "telephone" in refused.output
    missing = runner.invoke(main, ["clients", "register", "--name", "X", "--redirect-uri", REDIRECT_URI])
    assert missing.exit_code != 0 and "--scopes" in missing.output


# --- 6: max_age and prompt=login -----------------------------------------------------------------------------


def test_max_age_asks_the_code_again_and_auth_time_tells_when_it_was_typed(signed_in, world, fixed_clock):
    signed_in_at = fixed_clock.now()
    fixed_clock.advance(minutes=3)
    page = signed_in.get("/authorize", query_string={**auth_params(world, max_age="600"), "usager": world.usager.id})
    assert 'name="code"' not in page.get_data(as_text=True)
    code = get_code(signed_in, world, max_age="600")
    claims = jwt_payload(token_request(signed_in, world, code).get_json()["id_token"])
    assert claims["auth_time"] == int(signed_in_at.timestamp())
    params = fresh(world, max_age="60")
    page = signed_in.get("/authorize", query_string={**params, "usager": world.usager.id})
    assert 'name="code"' in page.get_data(as_text=True)
    assert choose(signed_in, world, params).status_code == 400  # no code typed
    fixed_clock.advance(seconds=31)
    now = fixed_clock.now()
    response = choose(signed_in, world, params, code=world.aidant.code(now))
    claims = jwt_payload(token_request(signed_in, world, redirect_params(response.location)["code"])
                         .get_json()["id_token"])
    assert claims["auth_time"] == int(now.timestamp())


def test_max_age_that_is_not_a_number_is_an_invalid_request(signed_in, world):
    response = signed_in.get("/authorize", query_string=auth_params(world, max_age="-1"))
    assert redirect_params(response.location)["error"] == "invalid_request"


def test_prompt_login_needs_a_code_typed_during_this_authorization(signed_in, world, fixed_clock):
    fixed_clock.advance(seconds=40)  # signed in 40 s ago: still not during this authorization
    params = auth_params(world, prompt="login")
    page = signed_in.get("/authorize", query_string={**params, "usager": world.usager.id})
    assert 'name="code"' in page.get_data(as_text=True)
    assert choose(signed_in, world, params).status_code == 400


def test_prompt_login_is_satisfied_by_the_sign_in_this_authorization_led_to(client, world, fixed_clock):
    params = auth_params(world, prompt="login")
    first = client.get("/authorize", query_string=params)
    assert first.status_code == 302 and "/connexion" in first.location
    fixed_clock.advance(seconds=31)
    sign_in(client, world.aidant, fixed_clock.now())
    page = client.get("/authorize", query_string={**params, "usager": world.usager.id})
    assert 'name="code"' not in page.get_data(as_text=True)
    assert choose(client, world, params).status_code == 302


# --- 7: sid and RP-initiated logout -----------------------------------------------------------------------------


def id_token_of(http, world) -> str:
    return token_request(http, world, get_code(http, world)).get_json()["id_token"]


def test_a_fresh_hint_of_this_session_ends_this_session_only(app, signed_in, world, fixed_clock):
    other_browser = app.test_client()
    fixed_clock.advance(seconds=31)
    sign_in(other_browser, world.aidant, fixed_clock.now())
    hint = id_token_of(signed_in, world)
    assert jwt_payload(hint)["sid"]
    response = signed_in.get("/session/end", query_string={"id_token_hint": hint, "state": "s",
                                                           "post_logout_redirect_uri": LOGOUT_URI})
    assert response.status_code == 302 and response.location == LOGOUT_URI + "?state=s"
    assert signed_in.get("/espace-aidant").status_code == 302
    assert other_browser.get("/espace-aidant").status_code == 200  # the aidant's other session stays open


def test_a_hint_of_another_session_or_expired_asks_for_confirmation(app, signed_in, world, fixed_clock):
    victim = app.test_client()
    fixed_clock.advance(seconds=31)
    sign_in(victim, world.aidant, fixed_clock.now())
    foreign = id_token_of(signed_in, world)  # a hint from the other browser's flow
    page = victim.get("/session/end", query_string={"id_token_hint": foreign,
                                                    "post_logout_redirect_uri": LOGOUT_URI})
    assert page.status_code == 200 and "Me déconnecter" in page.get_data(as_text=True)
    assert victim.get("/espace-aidant").status_code == 200
    own = id_token_of(victim, world)
    fixed_clock.advance(minutes=2)  # ID tokens live 60 s
    page = victim.get("/session/end", query_string={"id_token_hint": own})
    assert page.status_code == 200 and victim.get("/espace-aidant").status_code == 200
    confirmed = victim.post("/session/end", data={"client_id": world.client.client_id,
                                                  "post_logout_redirect_uri": LOGOUT_URI, "state": "x"})
    assert confirmed.status_code == 302 and confirmed.location == LOGOUT_URI + "?state=x"
    assert victim.get("/espace-aidant").status_code == 302
    assert signed_in.get("/espace-aidant").status_code == 200


def test_confirmation_needs_the_csrf_token(app, world, fixed_clock):
    strict = app.test_client()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        fixed_clock.advance(seconds=31)
        sign_in_page = strict.post("/session/end", data={})
        assert sign_in_page.status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_a_confirmation_to_an_unregistered_uri_is_refused(signed_in, world):
    response = signed_in.post("/session/end", data={"client_id": world.client.client_id,
                                                    "post_logout_redirect_uri": "https://evil.example/"})
    assert response.status_code == 400 and signed_in.get("/espace-aidant").status_code == 200


# --- 8: request objects and iss --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "error"), [("request", "request_not_supported"),
                                             ("request_uri", "request_uri_not_supported")])
def test_request_objects_are_refused_by_name(signed_in, world, name, error):
    response = signed_in.get("/authorize", query_string={**auth_params(world), name: "eyJhbGciOiJub25lIn0.e30."})
    found = redirect_params(response.location)
    assert found["error"] == error and found["iss"] == "http://localhost"


def test_every_authorization_response_carries_iss_and_discovery_says_so(signed_in, world):
    response = choose(signed_in, world, auth_params(world))
    assert redirect_params(response.location)["iss"] == "http://localhost"
    refused = signed_in.post("/authorize", query_string=fresh(world), data={"action": "refuser"})
    assert redirect_params(refused.location)["error"] == "access_denied"
    assert redirect_params(refused.location)["iss"] == "http://localhost"
    discovery = signed_in.get("/.well-known/openid-configuration").get_json()
    assert discovery["authorization_response_iss_parameter_supported"] is True
    assert discovery["request_parameter_supported"] is False
    assert discovery["request_uri_parameter_supported"] is False


# --- 9: malformed input at the provider -------------------------------------------------------------------------


@pytest.mark.parametrize("claims", ['{"id_token":1}', '{"userinfo":[]}', '{"id_token":{"rep_scope":1}}',
                                    '{"id_token":{"rep_scope":{"values":"Logement"}}}'])
def test_claims_of_the_wrong_shape_are_an_invalid_request(signed_in, world, claims):
    response = signed_in.get("/authorize", query_string=auth_params(world, claims=claims))
    assert response.status_code == 302
    assert redirect_params(response.location)["error"] == "invalid_request"


def test_hostile_bytes_at_authorize_and_token_are_4xx(signed_in, world):
    assert signed_in.get("/authorize", query_string=auth_params(world, client_id="a\x00b")).status_code == 400
    response = signed_in.get("/authorize", query_string=auth_params(world, response_type="cöde"))
    assert response.status_code < 500
    assert redirect_params(response.location)["error"] == "unsupported_response_type"
    assert signed_in.post("/token", data={"grant_type": "authorization_code", "client_id": "a\x00b",
                                          "code": "x"}).status_code == 400
    bad_basic = "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()
    response = signed_in.post("/token", data={"grant_type": "authorization_code", "code": "x"},
                              headers={"Authorization": bad_basic})
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"
