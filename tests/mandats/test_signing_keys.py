"""The service's signing keys: created on first use, encrypted at rest, published before they sign,
kept published until the tokens they signed have expired; the JWKS; the rotation command."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
import sqlalchemy as sa
from joserfc.jwk import ECKey

from aidants import db
from aidants.accounts import devices
from aidants.cli import keys_group
from aidants.security import jose
from aidants.security.crypto import DecryptionError
from aidants.signing import services as signing
from aidants.signing.models import SigningKey


def kid_of(token: str) -> str:
    return jose.unverified_header(token)["kid"]


def test_first_signature_creates_a_key_encrypted_at_rest(app, fixed_clock):
    now = fixed_clock.now()
    assert db.session().scalar(sa.select(sa.func.count()).select_from(SigningKey)) == 0
    token = jose.sign_jwt({"sub": "x", "iat": int(now.timestamp())}, "ES256", now=now)
    key = db.session().scalars(sa.select(SigningKey)).one()
    assert key.alg == "ES256" and kid_of(token) == key.kid
    assert "PRIVATE KEY" not in key.private_key_encrypted and key.private_key_encrypted.startswith("t1:")
    assert "PRIVATE KEY" in signing.private_pem(key)
    with pytest.raises(DecryptionError):  # bound to its own context: not usable as a TOTP seed ciphertext
        devices.keyring().decrypt(key.private_key_encrypted, b"totp-seed:app")
    assert ECKey.import_key(signing.private_pem(key)).thumbprint() == key.kid  # kid = RFC 7638 thumbprint


def test_jwks_lists_public_keys_only(client, fixed_clock):
    response = client.get("/jwks")
    assert response.status_code == 200 and "max-age" in response.headers["Cache-Control"]
    keys = response.get_json()["keys"]
    assert sorted(k["alg"] for k in keys) == ["ES256", "RS256"]
    assert all(k["use"] == "sig" and k["kid"] for k in keys)
    assert not any(private in k for k in keys for private in ("d", "p", "q", "dp", "dq", "qi"))
    assert client.get("/jwks").get_json() == response.get_json()  # stable: no new key per request


def test_rotation_publishes_first_signs_later_and_keeps_the_old_key_until_its_tokens_expire(app, fixed_clock):
    t0 = fixed_clock.now()
    old_token = jose.sign_jwt({"exp": int((t0 + dt.timedelta(days=365)).timestamp())}, now=t0)
    old_kid = kid_of(old_token)
    new = signing.rotate("ES256", t0)
    db.session().commit()
    published = {k["kid"] for k in jose.public_jwks(t0)["keys"]}
    assert {old_kid, new.kid} <= published  # published at once...
    assert kid_of(jose.sign_jwt({"a": 1}, now=t0)) == old_kid  # ...but it does not sign yet
    later = t0 + signing.PUBLISH_AHEAD
    assert kid_of(jose.sign_jwt({"a": 1}, now=later)) == new.kid
    # The year-long token signed by the old key still verifies until it expires.
    just_before_expiry = t0 + dt.timedelta(days=364)
    assert jose.verify_jwt(old_token, now=just_before_expiry)["exp"]
    retired = later + signing.MAX_TOKEN_LIFETIME
    assert old_kid in {k["kid"] for k in jose.public_jwks(retired - dt.timedelta(seconds=1))["keys"]}
    assert old_kid not in {k["kid"] for k in jose.public_jwks(retired)["keys"]}


def test_verification_refuses_what_we_did_not_sign(app, fixed_clock):
    now = fixed_clock.now()
    token = jose.sign_jwt({"exp": int(now.timestamp()) + 60, "x": 1}, typ="mandat+jwt", now=now)
    assert jose.verify_jwt(token, typ="mandat+jwt", now=now)["x"] == 1
    header, payload, signature = token.split(".")
    changed = base64.urlsafe_b64encode(json.dumps({"exp": int(now.timestamp()) + 60, "x": 2}).encode())
    with pytest.raises(jose.InvalidJWT):
        jose.verify_jwt(f"{header}.{changed.decode().rstrip('=')}.{signature}", now=now)
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
    with pytest.raises(jose.InvalidJWT):
        jose.verify_jwt(f"{none_header}.{payload}.", now=now)
    with pytest.raises(jose.InvalidJWT):
        jose.verify_jwt(token, typ="JWT", now=now)  # a mandate attestation is not an ID token
    with pytest.raises(jose.InvalidJWT):
        jose.verify_jwt(token, now=now + dt.timedelta(seconds=61))
    assert jose.verify_jwt(token, accept_expired=True, now=now + dt.timedelta(seconds=61))["x"] == 1
    with pytest.raises(jose.InvalidJWT):
        jose.verify_jwt("not.a.token", now=now)
    foreign = jose.sign_with(jose.generate_private_pem("ES256")[1], "foreign", "ES256", {"x": 1})
    with pytest.raises(jose.InvalidJWT):
        jose.verify_jwt(foreign, now=now)


def test_rs256_keys_sign_and_verify(app, fixed_clock):
    now = fixed_clock.now()
    token = jose.sign_jwt({"x": 1}, "RS256", now=now)
    assert jose.unverified_header(token)["alg"] == "RS256" and jose.verify_jwt(token, now=now)["x"] == 1
    with pytest.raises(ValueError):
        jose.sign_jwt({"x": 1}, "HS256", now=now)


def test_the_rotation_command(app, fixed_clock):
    jose.sign_jwt({"x": 1}, now=fixed_clock.now())
    db.session().commit()
    result = app.test_cli_runner().invoke(keys_group, ["rotate", "--alg", "ES256"])
    assert result.exit_code == 0, result.output
    assert "Nouvelle clé ES256 publiée" in result.output
    db.session().expire_all()
    keys = list(db.session().scalars(sa.select(SigningKey).order_by(SigningKey.id)))
    assert len(keys) == 2 and keys[0].retire_after is not None and keys[1].retire_after is None
    assert keys[1].sign_from == fixed_clock.now() + signing.PUBLISH_AHEAD
    assert app.test_cli_runner().invoke(keys_group, ["rotate", "--alg", "HS256"]).exit_code != 0


def count_statements(app):
    seen: list[str] = []
    sa.event.listen(db.engine(), "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_a_process_signs_from_its_key_cache_and_sees_a_rotation_within_its_ttl(app, fixed_clock):
    t0 = fixed_clock.now()
    first = kid_of(jose.sign_jwt({"a": 1}, now=t0))
    db.session().commit()
    db.session().info.clear()  # a new request's session: nothing uncommitted
    jose.sign_jwt({"a": 1}, now=t0)  # fills the cache from committed rows
    seen = count_statements(app)
    assert kid_of(jose.sign_jwt({"a": 2}, now=t0 + dt.timedelta(seconds=1))) == first
    assert seen == []  # neither the key row nor its decryption: the imported key is kept
    # A rotation by another process (the CLI), committed: seen once the cache is older than its TTL,
    # long before the new key may sign.
    new = signing.rotate("ES256", t0)
    db.session().commit()
    db.session().info.clear()
    assert signing.KEY_CACHE_TTL < signing.PUBLISH_AHEAD
    assert kid_of(jose.sign_jwt({"a": 3}, now=t0 + signing.KEY_CACHE_TTL)) == first
    assert kid_of(jose.sign_jwt({"a": 4}, now=t0 + signing.PUBLISH_AHEAD)) == new.kid
    assert jose.verify_jwt(jose.sign_jwt({"x": 5}, now=t0 + signing.PUBLISH_AHEAD),
                           now=t0 + signing.PUBLISH_AHEAD)["x"] == 5


def test_a_key_created_then_rolled_back_is_not_kept_by_the_cache(app, fixed_clock):
    now = fixed_clock.now()
    lost = kid_of(jose.sign_jwt({"a": 1}, now=now))
    assert kid_of(jose.sign_jwt({"a": 1}, now=now)) == lost  # the same transaction signs with it again
    db.session().rollback()
    db.session().info.clear()
    kept = kid_of(jose.sign_jwt({"a": 2}, now=now))
    db.session().commit()
    assert kept != lost
    assert [k.kid for k in db.session().scalars(sa.select(SigningKey))] == [kept]
