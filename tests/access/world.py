"""Two structures, their aidants and référents, a staff member, and objects of structure A to aim at."""

from __future__ import annotations

import datetime as dt
import re
import uuid as uuid_lib
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from aidants import db
from aidants.accounts.models import AidantSession
from aidants.habilitation import services as habilitation
from aidants.security import crypto
from tests.factories import AidantWithDevice, make_aidant, make_organisation
from tests.oidc.provider_helpers import give_mandat, make_usager

ROLES = ("anonymous", "aidant_a", "aidant_b", "referent_a", "referent_b", "staff")


@dataclass
class World:
    people: dict[str, AidantWithDevice]
    values: dict[str, Any] = field(default_factory=dict)


def build_world(fixed_clock: Any) -> World:
    now = fixed_clock.now()
    a, b, s = make_organisation(now, "Mairie A"), make_organisation(now, "Mairie B"), make_organisation(now, "DNUM")
    people = {
        "aidant_a": make_aidant(now, a),
        "aidant_b": make_aidant(now, b),
        "referent_a": make_aidant(now, a, is_referent=True),
        "referent_b": make_aidant(now, b, is_referent=True),
        "staff": make_aidant(now, s, is_staff=True),
    }
    usager = make_usager(now)
    mandat = give_mandat(people["aidant_a"], usager, ["social", "logement"], now)
    fixed_clock.advance(seconds=31)
    issuer = habilitation.confirm_access(habilitation.request_access("demandeur@exemple.fr", "127.0.0.1", now).token,
                                         now)
    assert issuer is not None
    request = habilitation.start_request(issuer, now)
    db.commit()
    values = {
        "organisation_id": a.id, "aidant_id": people["aidant_a"].aidant.id,
        "device_id": people["aidant_a"].device.id, "usager_id": usager.id, "uuid": mandat.uuid,
        "autorisation_id": mandat.autorisations[0].id, "token": crypto.new_token(),
        "filename": "app.css", "request_uuid": request.uuid, "request_id": 999999,
    }
    return World(people, values)


def open_session(client: FlaskClient, who: AidantWithDevice, now: dt.datetime) -> None:
    """A signed-in client without going through the forms (the sign-in itself is tested elsewhere)."""
    token = crypto.new_token()
    db.session().add(AidantSession(token_hash=crypto.hash_token(token), aidant_id=who.aidant.id, created_at=now,
                                   expires_at=now + dt.timedelta(hours=24), last_active_at=now, verified_at=now))
    db.commit()
    with client.session_transaction() as session:
        session["sid"] = token


#: Placeholders whose value depends on the route.
PER_ENDPOINT = {
    "dsfr": {"filename": "dsfr.min.css"},
}


def path_for(app: Flask, rule: Rule, values: dict[str, Any]) -> str:
    """A path for the rule, aimed at structure A's objects."""
    chosen = {**values, **PER_ENDPOINT.get(rule.endpoint, {})}
    if rule.endpoint.startswith(("habilitation.", "staff_habilitation.")):
        chosen["uuid"] = values["request_uuid"]
    arguments = {name: chosen.get(name, str(uuid_lib.UUID(int=1))) for name in rule.arguments}
    return app.url_map.bind("localhost").build(rule.endpoint, arguments)


LOGIN = re.compile(r"/connexion(\?|$)")


def outcome(response: Any) -> str:
    """A response as one word: ok, login, redirect, forbidden, hidden, invalid, error-<code>."""
    status = response.status_code
    if status in (301, 302, 303):
        return "login" if LOGIN.search(response.location or "") else "redirect"
    return {200: "ok", 201: "ok", 204: "ok", 400: "invalid", 401: "unauthorized", 403: "forbidden",
            404: "hidden", 405: "not-allowed", 429: "throttled"}.get(status, f"error-{status}")
