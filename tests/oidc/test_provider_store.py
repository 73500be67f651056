"""The provider's statements on the DBAPI cursor (oidc.provider.store) keep what SQLAlchemy's execution gave.

Types come back as the ORM would give them (UTC-aware datetimes, booleans) on both databases; the engine's
listeners still see each statement (the write marker that guards independent transactions, the input net);
a database error is SQLAlchemy's own, so the error pages map it as before.
"""

from __future__ import annotations

import base64
import datetime as dt

import pytest
import sqlalchemy as sa

from aidants import db
from aidants.accounts.models import aidant_organisation
from aidants.mandats.models import Autorisation
from aidants.security import crypto
from oidc.provider import store
from oidc.provider.models import OidcToken
from tests.factories import sign_in
from tests.oidc.provider_helpers import (
    REDIRECT_URI,
    auth_params,
    choose,
    make_usager,
    make_world,
    redirect_params,
    token_request,
)


@pytest.fixture
def world(app, fixed_clock):
    return make_world(fixed_clock)


def code_values(world, now: dt.datetime, code_hash: str) -> dict:
    autorisation = next(a for a in world.mandat.autorisations if a.demarche == "social")
    return {
        "code_hash": code_hash, "client_pk": world.client.id, "redirect_uri": REDIRECT_URI, "scope": "openid",
        "nonce": "n-1", "code_challenge": None, "code_challenge_method": None, "aidant_id": world.aidant.aidant.id,
        "organisation_id": world.organisation.id, "usager_id": world.usager.id, "autorisation_id": autorisation.id,
        "demarche": "social", "auth_time": now, "sid": None, "created_at": now,
        "expires_at": now + dt.timedelta(seconds=30), "used_at": None,
    }


def test_records_carry_utc_datetimes_and_booleans(world, fixed_clock):
    now = fixed_clock.now()
    client = store.active_client(world.client.client_id)
    assert client is not None and client.is_active is True and client.act_claim is False
    store.insert_code(code_values(world, now, crypto.hash_token("code-1")))
    assert store.nonce_used(world.client.id, "n-1") and not store.nonce_used(world.client.id, "n-2")
    claimed = store.claim_code(crypto.hash_token("code-1"), world.client.id, now)
    assert claimed is not None
    assert claimed.expires_at == now + dt.timedelta(seconds=30) and claimed.expires_at.tzinfo == dt.UTC
    assert claimed.auth_time == now and claimed.nonce == "n-1" and claimed.demarche == "social"
    assert store.claim_code(crypto.hash_token("code-1"), world.client.id, now) is None  # single use
    db.discard()


def test_a_write_on_the_cursor_is_seen_by_the_write_marker(world, fixed_clock):
    store.revoke_tokens(0, fixed_clock.now())  # an UPDATE, even of no row, takes the request's writer role
    with pytest.raises(RuntimeError), db.independent_transaction():
        pass
    db.discard()


def test_a_database_error_is_raised_as_sqlalchemys(world, fixed_clock):
    now = fixed_clock.now()
    with pytest.raises(sa.exc.IntegrityError):  # no such authorization: the foreign key refuses
        store.insert_token({"token_hash": crypto.hash_token("t"), "authorization_id": 10**6, "scope": "openid",
                            "created_at": now, "expires_at": now, "revoked_at": None})
    db.discard()


def test_a_nul_in_basic_credentials_is_refused_by_the_statement_net(client, world):
    basic = "Basic " + base64.b64encode(f"{world.client.client_id}\x00:secret".encode()).decode()
    response = client.post("/token", data={"grant_type": "authorization_code", "code": "x",
                                           "redirect_uri": REDIRECT_URI}, headers={"Authorization": basic})
    assert response.status_code == 400
    assert "caractères ou des valeurs invalides" in response.get_data(as_text=True)


# --- /authorize reads its answers ahead in one statement; each refusal stays what it was ----------


@pytest.fixture
def signed_in(client, world, fixed_clock):
    sign_in(client, world.aidant, fixed_clock.now())
    return client


def post_choice(http, world, autorisation_id: str, usager_id: str | None = None, **overrides):
    form = {"usager_id": usager_id or str(world.usager.id), "autorisation_id": autorisation_id, "action": "valider"}
    return http.post("/authorize", query_string=auth_params(world, **overrides), data=form)


def social(world) -> int:
    return next(a.id for a in world.mandat.autorisations if a.demarche == "social")


def test_a_nonce_already_sent_is_refused_at_the_choice(signed_in, world):
    first = choose(signed_in, world, auth_params(world, nonce="same-nonce-1234567890"))
    assert "code" in redirect_params(first.location)
    again = choose(signed_in, world, auth_params(world, nonce="same-nonce-1234567890"))
    assert redirect_params(again.location)["error"] == "invalid_request"


def test_an_autorisation_revoked_or_of_someone_else_is_refused_at_the_choice(signed_in, world, fixed_clock):
    other = make_usager(fixed_clock.now(), given_name="Karim", family_name="BENSAID")
    wrong_usager = post_choice(signed_in, world, str(social(world)), usager_id=str(other.id))
    assert redirect_params(wrong_usager.location)["error"] == "access_denied"  # nothing to offer for them
    db.session().execute(sa.update(Autorisation).where(Autorisation.id == social(world))
                         .values(revoked_at=fixed_clock.now()))
    db.commit()
    revoked = post_choice(signed_in, world, str(social(world)))
    assert revoked.status_code == 400 and "plus actif" in revoked.get_data(as_text=True)


@pytest.mark.parametrize("raw", ["99999999999", str(2**64), "-3", "douze", ""])
def test_an_id_that_names_no_row_is_refused_with_a_message(signed_in, world, raw):
    """Beyond PostgreSQL's integer range the statement itself would fail: such an id names no row."""
    response = post_choice(signed_in, world, raw)
    assert response.status_code == 400 and "plus actif" in response.get_data(as_text=True)


def test_a_usager_id_beyond_the_range_on_the_page_offers_nothing(signed_in, world):
    response = signed_in.get("/authorize", query_string={**auth_params(world), "usager": "99999999999"})
    assert redirect_params(response.location)["error"] == "access_denied"


def test_an_aidant_no_longer_in_their_structure_may_not_choose(signed_in, world):
    db.session().execute(sa.delete(aidant_organisation).where(
        aidant_organisation.c.aidant_id == world.aidant.aidant.id))
    db.commit()
    response = post_choice(signed_in, world, str(social(world)))
    assert response.status_code == 403 and "rattaché à aucune structure" in response.get_data(as_text=True)
    assert world.aidant.aidant.current_organisation_id is not None  # only the membership went


# --- /token: claim, identity and (PostgreSQL) the token in one statement --------------------------


def tokens_stored() -> list[str]:
    return list(db.session().scalars(sa.select(OidcToken.token_hash)))


def code_from(http, world, **overrides) -> str:
    response = choose(http, world, auth_params(world, **overrides))
    return redirect_params(response.location)["code"]


def test_the_token_given_is_the_one_stored_once(signed_in, world):
    response = token_request(signed_in, world, code_from(signed_in, world))
    assert response.status_code == 200
    assert tokens_stored() == [crypto.hash_token(response.get_json()["access_token"])]


def test_a_refusal_after_the_claim_stores_no_token(signed_in, world, fixed_clock):
    wrong_uri = token_request(signed_in, world, code_from(signed_in, world),
                              redirect_uri="https://service.example/other")
    assert wrong_uri.status_code == 400
    expiring = code_from(signed_in, world, nonce="second-nonce-12345678901")
    fixed_clock.advance(seconds=31)
    assert token_request(signed_in, world, expiring).status_code == 400
    assert tokens_stored() == []


def test_an_autorisation_revoked_before_token_stores_no_token(signed_in, world, fixed_clock):
    code = code_from(signed_in, world)
    db.session().execute(sa.update(Autorisation).values(revoked_at=fixed_clock.now()))
    db.commit()
    response = token_request(signed_in, world, code)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"
    assert tokens_stored() == []
