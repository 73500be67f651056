"""The printable attestation, the public verification page and JSON, and the JWS checked by independent code."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jwt
from joserfc.jwk import KeySet

from aidants import db
from aidants.mandats.models import Mandat
from tests.conftest import require
from tests.mandats.helpers import create_mandat, fresh_code

ROOT = Path(__file__).resolve().parents[2]
NODE_JOSE = ROOT / "tests" / "peers" / "node_modules" / "jose"


def b64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def test_attestation_is_a_printable_page_with_text_demarches_structure_signatures_and_qr(desk):
    mandat = create_mandat(desk.client, desk.aidant, desk.usager, ["argent", "papiers"], desk.clock, "long")
    page = desk.client.get(f"/mandats/{mandat.uuid}/attestation").get_data(as_text=True)
    assert "/static/print.css" in page and "/static/mandats/print.js" in page and "data-print" in page
    assert "texte version v1" in page and "donne mandat à la structure" in page
    assert "Argent - Impôts - Consommation" in page and "Papiers - Citoyenneté - Élections" in page
    assert desk.organisation.name in page and desk.organisation.siret in page
    assert page.count('class="signature__box"') == 2 and "L'usager" in page and "L'aidant habilité" in page
    assert 'src="data:image/svg+xml' in page and f"http://localhost/verifier/{mandat.uuid}" in page
    assert "style=" not in page and "<script>" not in page  # strict CSP: no inline style or script
    css = (ROOT / "static" / "print.css").read_text()
    assert "size: A4" in css and "@media print" in css


def test_public_verification_says_valid_then_revoked_and_shows_only_initials(desk):
    mandat = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers", "social"], desk.clock)
    anonymous = desk.client.application.test_client()
    page = anonymous.get(f"/verifier/{mandat.uuid}").get_data(as_text=True)
    response = anonymous.get(f"/verifier/{mandat.uuid}")
    assert response.mimetype == "text/html" and response.headers["Cache-Control"] == "no-store"
    assert "Mandat valide" in page and "J. D." in page
    assert "Dupont" not in page and "Jeanne" not in page and "14/03/1950" not in page and "1950" not in page
    status = anonymous.get(f"/verifier/{mandat.uuid}/statut.json").get_json()
    assert status["status"] == "valid" and status["valid_demarches"] == ["papiers", "social"]
    assert status["usager"] == "J. D." and status["organisation"]["siret"] == desk.organisation.siret
    assert "Dupont" not in json.dumps(status) and desk.usager.sub not in json.dumps(status)

    social = next(a for a in mandat.autorisations if a.demarche == "social")
    desk.client.post(f"/mandats/{mandat.uuid}/autorisations/{social.id}/revoquer",
                     data={"code": fresh_code(desk.aidant, desk.clock)})
    status = anonymous.get(f"/verifier/{mandat.uuid}/statut.json").get_json()
    assert status["status"] == "valid" and status["valid_demarches"] == ["papiers"]
    assert {d["demarche"]: d["status"] for d in status["demarches"]} == {"papiers": "valid", "social": "revoked"}
    desk.client.post(f"/mandats/{mandat.uuid}/revoquer", data={"code": fresh_code(desk.aidant, desk.clock)})
    status = anonymous.get(f"/verifier/{mandat.uuid}/statut.json").get_json()
    assert status["status"] == "revoked" and status["valid_demarches"] == [] and status["revoked_at"]
    assert "Mandat révoqué" in anonymous.get(f"/verifier/{mandat.uuid}").get_data(as_text=True)


def test_public_verification_says_expired(desk):
    mandat = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers"], desk.clock, "short")
    desk.clock.advance(days=1, seconds=1)
    response = desk.client.application.test_client().get(f"/verifier/{mandat.uuid}/statut.json")
    assert response.get_json()["status"] == "expired" and response.headers["Cache-Control"] == "no-store"


def test_unknown_mandates_are_404_without_a_500(client):
    assert client.get("/verifier/00000000-0000-4000-8000-000000000000").status_code == 404
    assert client.get("/verifier/pas-un-uuid").status_code == 404
    response = client.get("/verifier/00000000-0000-4000-8000-000000000000/statut.json")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_the_jws_verifies_with_joserfc_from_the_published_jwks(desk):
    mandat = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers", "famille"], desk.clock, "long")
    jwks = desk.client.application.test_client().get("/jwks").get_json()
    token = jwt.decode(mandat.jws, KeySet.import_key_set(jwks), algorithms=["ES256"])
    assert token.header["alg"] == "ES256" and token.header["typ"] == "mandat+jwt"
    assert token.header["kid"] in {key["kid"] for key in jwks["keys"]}
    claims = token.claims
    assert claims["jti"] == mandat.uuid and claims["siret"] == desk.organisation.siret
    assert claims["demarches"] == ["papiers", "famille"] and claims["sub"] == desk.usager.sub
    assert claims["exp"] - claims["iat"] == 365 * 86400 and claims["nbf"] == claims["iat"]
    jwt.JWTClaimsRegistry(now=claims["iat"] + 10, exp={"essential": True}).validate(claims)


def test_the_jws_signature_is_a_plain_p256_ecdsa_signature_over_the_published_key(desk):
    """A second, independent check: ECDSA P-256 / SHA-256 by hand with ``cryptography``."""
    mandat = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers"], desk.clock)
    header_b64, payload_b64, signature_b64 = mandat.jws.split(".")
    header = json.loads(b64(header_b64))
    jwk = next(k for k in desk.client.get("/jwks").get_json()["keys"] if k["kid"] == header["kid"])
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256" and "d" not in jwk
    public = ec.EllipticCurvePublicNumbers(int.from_bytes(b64(jwk["x"]), "big"), int.from_bytes(b64(jwk["y"]), "big"),
                                           ec.SECP256R1()).public_key()
    raw = b64(signature_b64)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{header_b64}.{payload_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    forged = json.loads(b64(payload_b64)) | {"demarches": ["papiers", "argent"]}
    forged_b64 = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    try:
        public.verify(der, f"{header_b64}.{forged_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        pass
    else:
        raise AssertionError("a changed payload must not verify")


def test_the_jws_verifies_with_nodes_jose(desk, tmp_path):
    require(shutil.which("node") is not None and NODE_JOSE.is_dir(),
            "node and tests/peers/node_modules/jose (npm ci in tests/peers)")
    mandat = create_mandat(desk.client, desk.aidant, desk.usager, ["social"], desk.clock)
    jwks = desk.client.get("/jwks").get_json()
    script = tmp_path / "verify.mjs"
    script.write_text(
        f"import * as jose from {json.dumps(str(NODE_JOSE / 'dist' / 'webapi' / 'index.js'))};\n"
        "const [jwks, token, now] = JSON.parse(process.argv[2]);\n"
        "const { payload, protectedHeader } = await jose.jwtVerify(token, jose.createLocalJWKSet(jwks),\n"
        "  { algorithms: ['ES256'], typ: 'mandat+jwt', currentDate: new Date(now * 1000) });\n"
        "console.log(JSON.stringify({ payload, protectedHeader }));\n"
    )
    entry = NODE_JOSE / "dist" / "webapi" / "index.js"
    require(entry.is_file(), f"jose's ESM entry point {entry}")
    now = int(desk.clock.now().timestamp())
    result = subprocess.run(["node", str(script), json.dumps([jwks, mandat.jws, now])],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["payload"]["jti"] == mandat.uuid and out["payload"]["demarches"] == ["social"]
    db.session().expire_all()
    assert db.session().get(Mandat, mandat.id) is not None
