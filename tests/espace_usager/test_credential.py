"""The signed attestation (a credential anyone can check) and the Token Status List, checked by node's jose."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from aidants import db
from aidants.mandats import services as mandats
from aidants.mandats import status_list
from aidants.security import crypto, jose
from tests.conftest import require
from tests.espace_usager.helpers import two_structures, usager_client
from tests.factories import sign_in

NODE_JOSE = Path(__file__).resolve().parents[1] / "peers" / "node_modules" / "jose" / "dist" / "webapi" / "index.js"

#: A third party's check, with nothing but the JWKS, the credential and the status lists it fetched.
CHECK = """
import * as jose from %s;
import { inflateSync } from "node:zlib";
const [jwks, credential, lists, now] = JSON.parse(process.argv.at(-1));
const keys = jose.createLocalJWKSet(jwks);
const at = { currentDate: new Date(now * 1000) };
const { payload } = await jose.jwtVerify(credential, keys, { algorithms: ["ES256"], typ: "mandat+jwt", ...at });
async function status(reference) {
  const token = lists[reference.status_list.uri];
  const list = await jose.jwtVerify(token, keys, { algorithms: ["ES256"], typ: "statuslist+jwt", ...at });
  if (list.payload.sub !== reference.status_list.uri) throw new Error("sub is not the list's URI");
  if (list.payload.status_list.bits !== 1) throw new Error("bits");
  const bytes = inflateSync(Buffer.from(list.payload.status_list.lst, "base64url"));
  const idx = reference.status_list.idx;
  return (bytes[idx >> 3] >> (idx & 7)) & 1;
}
const powers = {};
for (const power of payload.powers) powers[power.demarche] = await status(power.status);
console.log(JSON.stringify({ mandat: await status(payload.status), powers, payload }));
"""


def check_offline(client, credential: str, now: int) -> dict:  # type: ignore[no-untyped-def]
    require(shutil.which("node") is not None and NODE_JOSE.is_file(),
            "node and tests/peers/node_modules/jose (cd tests/peers && npm ci --ignore-scripts)")
    jwks = client.get("/jwks").get_json()
    lists = {}
    for list_id in status_list.LISTS:
        response = client.get(f"/statuslists/{list_id}")
        assert response.status_code == 200 and response.content_type == "application/statuslist+jwt"
        assert response.headers["Cache-Control"] == "public, max-age=60"
        lists[f"http://localhost/statuslists/{list_id}"] = response.get_data(as_text=True)
    done = subprocess.run(["node", "--input-type=module", "-e", CHECK % json.dumps(str(NODE_JOSE)),
                           json.dumps([jwks, credential, lists, now])],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.fixture
def world(app, fixed_clock):  # type: ignore[no-untyped-def]
    return two_structures(fixed_clock)


def test_the_credential_is_a_power_of_representation(app, client, world, fixed_clock):
    usager = usager_client(app, world.a.usager, fixed_clock.now())
    response = usager.get(f"/usager/mandats/{world.a.mandat.uuid}/attestation.jwt")
    assert response.status_code == 200 and response.content_type == "application/jwt"
    assert f'filename="mandat-{world.a.mandat.uuid}.jwt"' in response.headers["Content-Disposition"]
    token = response.get_data(as_text=True)
    sign_in(client, world.a.aidant, fixed_clock.now())
    assert client.get(f"/mandats/{world.a.mandat.uuid}/attestation.jwt").get_data(as_text=True) == token
    assert client.get(f"/mandats/{world.mandat_b.uuid}/attestation.jwt").status_code == 404  # B's mandate
    claims = jose.verify_jwt(token, typ="mandat+jwt", now=fixed_clock.now())
    assert claims["represented"] == {"given_name": "Angela Claire Louise", "family_name": "DUBOIS",
                                     "birthdate": "1962-08-24"}
    assert claims["representative"]["legal_person_identifier"] == f"SIRET:{world.a.organisation.siret}"
    assert [p["demarche"] for p in claims["powers"]] == ["social", "logement"] and claims["full_powers"] is False
    assert claims["status"] == {"status_list": {"idx": world.a.mandat.id, "uri": "http://localhost/statuslists/1"}}
    assert claims["exp"] == int(world.a.mandat.expires_at.timestamp())
    assert len(token.split(".")) == 3 and jose.unverified_header(token)["typ"] == "mandat+jwt"


def test_a_third_party_sees_a_revocation_at_once_with_only_the_jwks_and_the_lists(app, client, world, fixed_clock):
    now = int(fixed_clock.now().timestamp())
    credential = world.a.mandat.jws
    before = check_offline(client, credential, now)
    assert before == {**before, "mandat": 0, "powers": {"social": 0, "logement": 0}}
    social = next(a for a in world.a.mandat.autorisations if a.demarche == "social")
    mandats.revoke_by_usager(usager_id=world.a.usager.id, mandat=world.a.mandat, now=fixed_clock.now(),
                             autorisation_id=social.id)
    db.commit()
    one = check_offline(client, credential, now)
    assert one["mandat"] == 0 and one["powers"] == {"social": 1, "logement": 0}
    mandats.revoke_by_usager(usager_id=world.a.usager.id, mandat=world.a.mandat, now=fixed_clock.now())
    db.commit()
    assert check_offline(client, credential, now)["mandat"] == 1
    other = check_offline(client, world.mandat_b.jws, now)  # B's mandate is untouched
    assert other["mandat"] == 0 and other["powers"] == {"famille": 0}


def test_the_status_list_in_python_and_its_size(app, client, world):
    token = client.get("/statuslists/2").get_data(as_text=True)
    claims = jose.verify_jwt(token, typ="statuslist+jwt")
    assert claims["ttl"] == 60 and claims["exp"] > claims["iat"] and claims["sub"].endswith("/statuslists/2")
    packed = status_list.decode(claims["status_list"]["lst"])
    assert len(packed) * 8 >= status_list.MIN_BITS and not any(packed)
    assert client.get("/statuslists/3").status_code == 404


def test_the_attestation_prints_the_credential_as_a_second_qr_code(client, world, fixed_clock):
    sign_in(client, world.a.aidant, fixed_clock.now())
    page = client.get(f"/mandats/{world.a.mandat.uuid}/attestation").get_data(as_text=True)
    assert 'class="attestation__qr-credential"' in page
    assert f"/mandats/{world.a.mandat.uuid}/attestation.jwt" in client.get(
        f"/mandats/{world.a.mandat.uuid}").get_data(as_text=True)


# --- 10. the public verification page -------------------------------------------------------------------


def test_a_renewed_mandate_is_shown_replaced_and_the_page_links_nowhere_private(app, world, fixed_clock):
    aidant = world.aidant_b
    mandats.renew_mandat(aidant=aidant.aidant, mandat=world.mandat_b, demarches=["famille"], duration="month",
                         code=aidant.code(fixed_clock.now()), consent=True, form_token=crypto.new_token(),
                         issuer="http://localhost", now=fixed_clock.now())
    db.commit()
    anonymous = app.test_client()
    page = html.unescape(anonymous.get(f"/verifier/{world.mandat_b.uuid}").get_data(as_text=True))
    assert "Mandat remplacé" in page and "Remplacé" in page
    assert anonymous.get(f"/verifier/{world.mandat_b.uuid}/statut.json").get_json()["replaced"] is True
    for link in set(re.findall(r'href="(/[^"]*)"', page)):
        response = anonymous.get(link)
        assert response.status_code == 200, link  # public: no sign-in page, no private data behind it
    fresh = html.unescape(anonymous.get(f"/verifier/{world.a.mandat.uuid}").get_data(as_text=True))
    assert "remplacé" not in fresh.lower()
