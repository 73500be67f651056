"""The public JWKS: ``/jwks``."""

from __future__ import annotations

from flask import Blueprint, jsonify
from werkzeug.wrappers import Response

from aidants import clock
from aidants.signing import services as signing

bp = Blueprint("keys", __name__)


@bp.get("/jwks")
def jwks() -> Response:
    """Every published, unretired public key; anyone may fetch it."""
    body = signing.jwks(clock.now())
    response = jsonify(body)
    response.headers["Cache-Control"] = f"public, max-age={int(signing.JWKS_MAX_AGE.total_seconds())}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
