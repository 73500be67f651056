"""Every route answers malformed input with a 4xx, never a 5xx: NUL bytes, bytes that are not UTF-8, numbers
beyond the database's range, JSON of the wrong shape, in path parts, query strings, forms and Basic auth.

A deterministic sweep sends each kind of hostile value to every parameter of every route (enumerated
from ``app.url_map``), anonymous and signed in; hypothesis then mixes values and parameters (derandomized,
so every run tries the same cases).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.routing import IntegerConverter, Rule

from aidants import clock
from tests.access.world import World, build_world, open_session
from tests.conftest import build_app

ROLES = ("anonymous", "aidant_a", "referent_a", "staff")
#: The sweep's roles (a référent of A reaches what an aidant of A reaches, and more).
SWEEP_ROLES = ("anonymous", "referent_a", "staff")
#: The one 5xx that is the truth: the demonstration service cannot reach the test app over HTTP.
EXPECTED_5XX = {
    # The test app has no HTTP server: calls to FranceConnect (the sandbox) are unreachable, answered 503 + Retry-After.
    ("sandbox_service.login", 503),
    ("franceconnect.start_usager", 503),
}
HUGE = "9" * 30
#: Values that a view must refuse politely; ``RAW`` ones go into URLs as they are (bytes that are not UTF-8).
HOSTILE = ["\x00", "a\x00b", HUGE, "-1", str(2**31), str(2**63), "é☃\u202e", '{"id_token":1}',
           '{"id_token":{"rep_scope":1}}', '{"userinfo":[]}', "x" * 3000, "' OR 1=1 --", "../../etc/passwd",
           "\r\nSet-Cookie: x=1", "null", "[]"]
RAW = ["%ff%fe", "%c3%28", "%00"]
#: Every parameter name a view or form reads (query string or form), and the provider's.
PARAMS = ["client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "claims", "prompt", "max_age",
          "acr_values", "code_challenge", "code_challenge_method", "request", "request_uri", "usager", "aidant",
          "organisation", "q", "page", "next", "structure", "id_token_hint", "post_logout_redirect_uri", "code",
          "grant_type", "client_secret", "code_verifier", "usager_id", "autorisation_id", "action", "email",
          "mois", "source_id", "target_id", "demarche", "authz", "action", "first_code", "second_code",
          "serial_number", "siret", "reason", "target", "terms", "duration", "demarches"]
BAD_BASIC = "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()


@pytest.fixture
def fuzz(database_url: str, tmp_path: Any, fixed_clock: clock.FixedClock) -> Iterator[tuple[Flask, World]]:
    app = build_app(database_url, tmp_path, WTF_CSRF_ENABLED=False)
    clock.set_clock(app, fixed_clock)
    try:
        with app.app_context():
            yield app, build_world(fixed_clock)
    finally:
        app.extensions["db_engine"].dispose()


def rules(app: Flask) -> list[tuple[Rule, str]]:
    return sorted(((rule, method) for rule in app.url_map.iter_rules()
                   for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})),
                  key=lambda found: (found[0].rule, found[1]))


def path_with(app: Flask, rule: Rule, value: str, raw: bool = False) -> str:
    """The rule's path with every argument replaced by ``value`` (percent-encoded unless ``raw``)."""
    sentinels = {name: (424242 if isinstance(rule._converters[name], IntegerConverter) else f"ARG{name}ARG")
                 for name in rule.arguments}
    path = app.url_map.bind("localhost").build(rule.endpoint, sentinels)
    encoded = value if raw else quote(value.encode("utf-8"), safe="")
    for sentinel in sentinels.values():
        replacement = (HUGE if isinstance(sentinel, int) and not value.isdigit() else encoded)
        path = path.replace(str(sentinel), replacement, 1)
    return path


def client_for(app: Flask, world: World, role: str, clients: dict[str, FlaskClient]) -> FlaskClient:
    """A client of the role, signed in again when a route (logout…) ended its session."""
    client = clients.get(role)
    if client is None or (role != "anonymous" and client.get("/espace-aidant").status_code != 200):
        client = app.test_client()
        if role != "anonymous":
            open_session(client, world.people[role], clock.now())
        clients[role] = client
    return client


def send(client: FlaskClient, method: str, path: str, values: dict[str, str], raw_query: str = "",
         basic: bool = False) -> int:
    headers = {"Authorization": BAD_BASIC} if basic else {}
    if method == "GET":
        query: Any = raw_query or values
        return client.open(path, method=method, query_string=query, headers=headers).status_code
    target = path + (f"?{raw_query}" if raw_query else "")
    return client.open(target, method=method, data=values, headers=headers).status_code


def alternate(first: str, second: str) -> dict[str, str]:
    return {name: first if index % 2 else second for index, name in enumerate(PARAMS)}


def test_every_route_refuses_each_kind_of_hostile_value_without_a_5xx(fuzz):
    app, world = fuzz
    failures, clients = [], {}
    raw_query = "&".join(f"{name}=%ff%fe" for name in PARAMS)
    for rule, method in rules(app):
        cases = [(path_with(app, rule, "a\x00b"), alternate("a\x00b", '{"id_token":1}'), "", False),
                 (path_with(app, rule, HUGE), alternate(HUGE, "é☃\u202e"), "", False),
                 (path_with(app, rule, "%ff%fe", raw=True), {}, raw_query, True)]
        for role in SWEEP_ROLES:
            for path, values, query, basic in cases:
                status = send(client_for(app, world, role, clients), method, path, values, query, basic)
                if status >= 500 and (rule.endpoint, status) not in EXPECTED_5XX:
                    failures.append(f"{status} {method} {path[:80]} as {role} ({rule.endpoint})")
    assert failures == []


@settings(max_examples=80, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_mixed_hostile_values_never_give_a_5xx(fuzz, data):
    app, world = fuzz
    rule, method = data.draw(st.sampled_from(rules(app)), label="route")
    role = data.draw(st.sampled_from(ROLES), label="role")
    value = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12))
    path = path_with(app, rule, data.draw(value, label="path value"))
    values = data.draw(st.dictionaries(st.sampled_from(PARAMS), value, max_size=6), label="parameters")
    client = app.test_client()
    if role != "anonymous":
        open_session(client, world.people[role], clock.now())
    status = send(client, method, path, values, basic=data.draw(st.booleans(), label="basic"))
    assert status < 500 or (rule.endpoint, status) in EXPECTED_5XX, f"{status} {method} {path} {values!r} as {role}"


def test_the_cases_the_attack_found_are_4xx_with_a_french_message(app, client, fixed_clock):
    from tests.factories import make_aidant, sign_in

    staff = make_aidant(fixed_clock.now(), is_staff=True)
    sign_in(client, staff, fixed_clock.now())
    for path in ("/staff/journal?usager=" + HUGE, "/staff/journal?aidant=" + HUGE,
                 "/staff/mandats/transfert?q=a%00b", "/espace-aidant/usagers/" + HUGE, "/mandats/a%00b",
                 "/espace-aidant/usagers?q=%ff"):
        response = client.get(path)
        assert response.status_code < 500, path  # 400, 404, or the form's own French error
    response = client.get("/staff/mandats/transfert?q=a%00b")
    assert response.status_code == 400 and "caractère nul" in response.get_data(as_text=True)


def test_a_nul_in_what_franceconnect_sends_is_refused_plainly(app):
    from aidants.usagers import services as usagers

    claims = {"sub": "fc-1", "given_name": "An\x00gela", "family_name": "DUBOIS", "birthdate": "1962-08-24",
              "gender": "female", "birthplace": "75107", "birthcountry": "99100", "email": "a@example.org"}
    with pytest.raises(usagers.InvalidIdentity, match="given_name"):
        usagers.record_identity(claims, clock.now())
