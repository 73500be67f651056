"""The provider's rules added by the hardening (issue 8): who may use mandates, scopes, prompt, max_age, logout."""

from __future__ import annotations

import pytest

from aidants import db
from tests.factories import make_aidant, sign_in
from tests.oidc.provider_helpers import auth_params, choose, make_world


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
