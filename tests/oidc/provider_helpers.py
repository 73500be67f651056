"""Building a world where an aidant can use a mandate at a registered service, through the real services."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient

from aidants import clock, db
from aidants.mandats import services as mandats
from aidants.organisations.models import Organisation
from aidants.security import crypto
from aidants.usagers.models import Usager
from oidc.provider import clients
from oidc.provider.models import SCOPES, OidcClient
from tests.factories import AidantWithDevice, make_aidant, make_organisation

REDIRECT_URI = "https://service.example/callback"
LOGOUT_URI = "https://service.example/bye"
_numbers = itertools.count(1)


def make_usager(now: dt.datetime, given_name: str = "Angela Claire Louise", family_name: str = "DUBOIS") -> Usager:
    n = next(_numbers)
    usager = Usager(
        sub=crypto.sha256_hex(f"fc-sub-{n}".encode()), given_name=given_name, family_name=family_name,
        preferred_username="", birthdate="1962-08-24", gender="female", birthplace="75107",
        birthcountry="99100", email=f"usager{n}@exemple.fr", created_at=now, updated_at=now,
        search_name=f"{given_name} {family_name}".lower(),
    )
    db.session().add(usager)
    db.session().flush()
    return usager


def give_mandat(who: AidantWithDevice, usager: Usager, demarches: list[str], now: dt.datetime,
                duration: str = "month") -> Any:
    """A mandate created through the real service (it spends one code of the aidant's device)."""
    organisation = who.aidant.current_organisation
    assert organisation is not None
    mandat = mandats.create_mandat(
        aidant=who.aidant, usager_id=usager.id, organisation_id=organisation.id, demarches=demarches,
        duration=duration, code=who.code(now), consent=True, form_token=crypto.new_token(),
        issuer="http://localhost", now=now,
    )
    db.commit()
    return mandat


def register_client(now: dt.datetime, **overrides: Any) -> tuple[OidcClient, str | None]:
    options: dict[str, Any] = {
        "name": "Service de test", "redirect_uris": [REDIRECT_URI], "post_logout_redirect_uris": [LOGOUT_URI],
        "auth_method": "client_secret_post", "userinfo_alg": None, "id_token_alg": "ES256", "act_claim": False,
        "scopes": list(SCOPES),
    }
    options.update(overrides)
    done = clients.register(now=now, **options)
    db.commit()
    return done.client, done.secret


@dataclass
class World:
    organisation: Organisation
    aidant: AidantWithDevice
    usager: Usager
    mandat: Any
    client: OidcClient
    secret: str | None


def make_world(fixed_clock: clock.FixedClock, demarches: tuple[str, ...] = ("social", "logement"),
               **client_options: Any) -> World:
    now = fixed_clock.now()
    organisation = make_organisation(now)
    aidant = make_aidant(now, organisation)
    usager = make_usager(now)
    mandat = give_mandat(aidant, usager, list(demarches), now)
    fixed_clock.advance(seconds=31)  # the mandate spent the current code
    client, secret = register_client(fixed_clock.now(), **client_options)
    return World(organisation, aidant, usager, mandat, client, secret)


def auth_params(world: World, **overrides: str) -> dict[str, str]:
    params = {
        "response_type": "code", "client_id": world.client.client_id, "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email birth", "state": "state-1234567890", "nonce": "nonce-12345678901234567890",
        "acr_values": "eidas1",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def redirect_params(location: str) -> dict[str, str]:
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == REDIRECT_URI, location
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


def choose(http: FlaskClient, world: World, params: dict[str, str], demarche: str = "social",
           code: str | None = None) -> Any:
    """POST the aidant's choice on the authorization page; returns the response."""
    autorisation = next(a for a in world.mandat.autorisations if a.demarche == demarche)
    form = {"usager_id": str(world.usager.id), "autorisation_id": str(autorisation.id), "action": "valider"}
    if code is not None:
        form["code"] = code
    return http.post("/authorize", query_string=params, data=form)


def token_request(http: FlaskClient, world: World, code: str, **overrides: str) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "client_id": world.client.client_id, "client_secret": world.secret or ""}
    data.update(overrides)
    return http.post("/token", data={k: v for k, v in data.items() if v is not None})
