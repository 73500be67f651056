"""Every route × every role, with the expected outcome; a new route fails here until it is placed in the matrix.

Roles: anonymous, an aidant of structure A, an aidant of B, a référent of A, a référent of B, a staff member
(of a third structure). Routes with an id are aimed at structure A's objects (its mandate, usager, aidant,
device, a habilitation request), so "hidden" (404) for B means B cannot even learn that they exist.
Forms are posted empty, CSRF off (CSRF has its own test): what is checked is who gets past the door.
Refusals run first, so that an allowed form that changes something cannot hide a refusal.
"""

from __future__ import annotations

import pytest
from flask import Flask

from aidants import clock
from tests.access.world import ROLES, build_world, open_session, outcome, path_for
from tests.conftest import build_app

ANY = ("ok",) * 6
SIGNED_IN = ("login", "ok", "ok", "ok", "ok", "ok")
OF_A = ("login", "ok", "hidden", "ok", "hidden", "hidden")
FORM_OF_A = ("login", "invalid", "hidden", "invalid", "hidden", "hidden")
REFERENT_OF_A = ("login", "forbidden", "forbidden", "ok", "hidden", "forbidden")
REFERENT_FORM = ("login", "forbidden", "forbidden", "invalid", "hidden", "forbidden")
REFERENT_ACTION = ("login", "forbidden", "forbidden", "redirect", "hidden", "forbidden")
REFERENT_ANY = ("login", "forbidden", "forbidden", "ok", "ok", "forbidden")
STAFF = ("login", "forbidden", "forbidden", "forbidden", "forbidden", "ok")
STAFF_FORM = ("login", "forbidden", "forbidden", "forbidden", "forbidden", "invalid")
STAFF_ACTION = ("login", "forbidden", "forbidden", "forbidden", "forbidden", "redirect")
STAFF_HIDDEN = ("login", "forbidden", "forbidden", "forbidden", "forbidden", "hidden")
STAFF_UNPROCESSABLE = ("login", "forbidden", "forbidden", "forbidden", "forbidden", "error-422")
STAFF_CONFLICT = ("login", "forbidden", "forbidden", "forbidden", "forbidden", "error-409")
ISSUER_ONLY = ("redirect",) * 6  # habilitation pages: the issuer's emailed link, not an account, opens them
INVALID = ("invalid",) * 6
UNAUTHORIZED = ("unauthorized",) * 6
SIGNED_IN_INVALID = ("login", "invalid", "invalid", "invalid", "invalid", "invalid")
ANONYMOUS_ONLY = ("ok", "redirect", "redirect", "redirect", "redirect", "redirect")
GONE = ("error-410",) * 6  # an activation link or path that is not (or no longer) usable

EXPECTED: dict[tuple[str, str], tuple[str, ...]] = {
    # public
    ("accounts.home", "GET"): ANONYMOUS_ONLY,
    ("accounts.login", "GET"): ANONYMOUS_ONLY,
    ("accounts.login", "POST"): ANONYMOUS_ONLY,
    ("accounts.login_link", "GET"): INVALID,  # an unknown link
    ("accounts.login_link", "POST"): INVALID,
    ("healthz", "GET"): ANY,
    ("csp_report", "POST"): ANY,
    ("static", "GET"): ANY,
    ("dsfr", "GET"): ANY,
    ("keys.jwks", "GET"): ANY,
    ("dev.outbox", "GET"): ANY,  # development only: absent in production (tests/test_web.py)
    ("mandats.verify", "GET"): ANY,
    ("mandats.status_json", "GET"): ANY,
    ("stats.public", "GET"): ANY,
    ("stats.public_csv", "GET"): ANY,
    # activation: the emailed link, then the path in that browser (none here)
    ("activation.open_link", "GET"): GONE,
    ("activation.open_link", "POST"): GONE,
    ("activation.step", "GET"): GONE,
    ("activation.existing", "POST"): GONE,
    ("activation.enrol_app", "GET"): GONE,
    ("activation.enrol_app", "POST"): GONE,
    ("activation.activate_card", "GET"): GONE,
    ("activation.activate_card", "POST"): GONE,
    ("activation.conditions", "GET"): GONE,
    ("activation.conditions", "POST"): GONE,
    # the aidant's own space
    ("accounts.reverify", "GET"): SIGNED_IN,
    ("accounts.reverify", "POST"): SIGNED_IN,
    ("accounts.logout", "POST"): ("login",) * 6,  # signed out, back to the sign-in page
    ("accounts.dashboard", "GET"): SIGNED_IN,
    ("accounts.enrol_app", "GET"): SIGNED_IN,
    ("accounts.enrol_app", "POST"): SIGNED_IN,
    ("accounts.activate_card", "GET"): SIGNED_IN,
    ("accounts.activate_card", "POST"): SIGNED_IN,
    ("referents.switch", "GET"): SIGNED_IN,
    ("referents.switch", "POST"): SIGNED_IN_INVALID,
    # mandates: structure A's only
    ("mandats.usagers", "GET"): SIGNED_IN,
    ("mandats.usager", "GET"): OF_A,
    ("mandats.detail", "GET"): OF_A,
    ("mandats.attestation_page", "GET"): OF_A,
    ("mandats.revocation_attestation", "GET"): ("login",) + ("hidden",) * 5,  # not revoked: nothing to print
    ("mandats.revoke_autorisation", "GET"): OF_A,
    ("mandats.revoke_autorisation", "POST"): FORM_OF_A,
    ("mandats.renew", "GET"): OF_A,
    ("mandats.renew", "POST"): FORM_OF_A,
    ("mandats.revoke", "GET"): OF_A,
    ("mandats.revoke", "POST"): FORM_OF_A,
    ("mandats.new", "GET"): SIGNED_IN,
    ("mandats.new", "POST"): SIGNED_IN_INVALID,
    ("mandats.recap", "GET"): SIGNED_IN_INVALID,  # no FranceConnect identification under way
    ("mandats.recap", "POST"): SIGNED_IN_INVALID,
    ("franceconnect.start", "GET"): SIGNED_IN_INVALID,  # no mandate being prepared
    ("franceconnect.callback", "GET"): ("unauthorized",) + ("invalid",) * 5,
    ("franceconnect.logged_out", "GET"): SIGNED_IN_INVALID,
    # identity provider
    ("oidc_provider.discovery", "GET"): ANY,
    ("oidc_provider.authorize", "GET"): INVALID,  # no client: an error page, never a redirect
    ("oidc_provider.authorize", "POST"): INVALID,
    ("oidc_provider.search_usagers", "GET"): ("unauthorized",) + ("invalid",) * 5,
    ("oidc_provider.token", "POST"): INVALID,
    ("oidc_provider.userinfo", "GET"): UNAUTHORIZED,
    ("oidc_provider.userinfo", "POST"): UNAUTHORIZED,
    ("oidc_provider.end_session", "GET"): INVALID,
    # référents: their structures only
    ("referents.index", "GET"): ("login", "forbidden", "forbidden", "redirect", "redirect", "forbidden"),
    ("referents.structure", "GET"): REFERENT_OF_A,
    ("referents.aidant", "GET"): REFERENT_OF_A,
    ("referents.retire_device", "GET"): REFERENT_OF_A,
    ("referents.retire_device", "POST"): REFERENT_FORM,
    ("referents.enrol_app", "GET"): REFERENT_OF_A,
    ("referents.enrol_app", "POST"): REFERENT_FORM,
    ("referents.assign_card", "GET"): REFERENT_OF_A,
    ("referents.assign_card", "POST"): REFERENT_FORM,
    ("referents.validate_card", "GET"): REFERENT_ACTION,  # no card assigned yet: back to the aidant's page
    ("referents.validate_card", "POST"): REFERENT_ACTION,
    ("referents.move", "GET"): REFERENT_OF_A,
    ("referents.move", "POST"): REFERENT_FORM,
    ("referents.deactivate", "GET"): REFERENT_OF_A,  # the confirmation page
    ("referents.deactivate", "POST"): REFERENT_ACTION,
    ("referents.reactivate", "POST"): REFERENT_FORM,  # already active
    ("referents.appoint", "GET"): REFERENT_OF_A,
    ("referents.appoint", "POST"): REFERENT_ACTION,
    ("referents.revoke", "GET"): REFERENT_OF_A,
    ("referents.revoke", "POST"): REFERENT_FORM,  # not a référent
    ("referents.resend_activation", "POST"): REFERENT_ACTION,
    ("referents.new_aidant", "GET"): REFERENT_OF_A,
    ("referents.new_aidant", "POST"): REFERENT_FORM,
    ("referents.new_co_referent", "GET"): REFERENT_OF_A,
    ("referents.new_co_referent", "POST"): REFERENT_FORM,
    ("referents.demarches", "GET"): REFERENT_OF_A,
    ("referents.demarches", "POST"): REFERENT_FORM,
    ("stats.structure", "GET"): REFERENT_ANY,  # each référent sees their own structures
    ("stats.structure_csv", "GET"): REFERENT_ANY,
    # staff
    ("staff.home", "GET"): STAFF,
    ("staff.cards", "GET"): STAFF,
    ("staff.cards", "POST"): STAFF_FORM,
    ("staff.inactive", "GET"): STAFF,
    ("staff.inactive_confirm", "POST"): STAFF_ACTION,
    ("staff.inactive_do", "POST"): STAFF_ACTION,
    ("staff.journal_list", "GET"): STAFF,
    ("staff.journal_csv", "GET"): STAFF,
    ("staff.journal_verify", "GET"): STAFF,
    ("staff.journal_verify", "POST"): STAFF,
    ("staff.transfer", "GET"): STAFF,
    ("staff.transfer_confirm", "POST"): STAFF_FORM,
    ("staff.transfer_do", "POST"): STAFF_ACTION,
    ("staff_people.requests", "GET"): STAFF,
    ("staff_people.request_trained", "POST"): STAFF_HIDDEN,  # no such request
    ("staff_people.request_refuse", "GET"): STAFF_HIDDEN,
    ("staff_people.request_refuse", "POST"): STAFF_HIDDEN,
    ("staff_people.search", "GET"): STAFF,
    ("staff_people.aidant", "GET"): STAFF,
    ("staff_people.assign_card", "POST"): STAFF_UNPROCESSABLE,  # no serial number
    ("staff_people.resend_activation", "POST"): STAFF_ACTION,
    ("staff_people.deactivate", "GET"): STAFF,  # the confirmation page
    ("staff_people.deactivate", "POST"): STAFF_ACTION,
    ("staff_people.reactivate", "POST"): STAFF_CONFLICT,  # already active
    ("staff_people.structure", "GET"): STAFF,
    ("staff_habilitation.index", "GET"): STAFF,
    ("staff_habilitation.detail", "GET"): STAFF,
    ("staff_habilitation.trained", "POST"): STAFF_ACTION,
    ("staff_habilitation.answer", "POST"): STAFF_FORM,
    # habilitation requests: public start, then the issuer's link
    ("habilitation.start", "GET"): ANY,
    ("habilitation.start", "POST"): ANY,
    ("habilitation.access", "GET"): INVALID,
    ("habilitation.access", "POST"): INVALID,
    ("habilitation.space", "GET"): ISSUER_ONLY,
    ("habilitation.new_request", "POST"): ISSUER_ONLY,
    ("habilitation.leave", "POST"): ISSUER_ONLY,
    ("habilitation.request_page", "GET"): ISSUER_ONLY,
    ("habilitation.close", "GET"): ISSUER_ONLY,
    ("habilitation.close", "POST"): ISSUER_ONLY,
    ("habilitation.issuer_step", "GET"): ISSUER_ONLY,
    ("habilitation.issuer_step", "POST"): ISSUER_ONLY,
    ("habilitation.organisation_step", "GET"): ISSUER_ONLY,
    ("habilitation.organisation_step", "POST"): ISSUER_ONLY,
    ("habilitation.referent_step", "GET"): ISSUER_ONLY,
    ("habilitation.referent_step", "POST"): ISSUER_ONLY,
    ("habilitation.aidants_step", "GET"): ISSUER_ONLY,
    ("habilitation.aidants_step", "POST"): ISSUER_ONLY,
    ("habilitation.remove_aidant", "POST"): ISSUER_ONLY,
    ("habilitation.submit_step", "GET"): ISSUER_ONLY,
    ("habilitation.submit_step", "POST"): ISSUER_ONLY,
    ("habilitation.post_message", "POST"): ISSUER_ONLY,
    # development sandboxes (never registered in production)
    ("fc_sandbox.discovery", "GET"): ANY,
    ("fc_sandbox.jwks", "GET"): ANY,
    ("fc_sandbox.authorize", "GET"): INVALID,
    ("fc_sandbox.authorize", "POST"): INVALID,
    ("fc_sandbox.end_session", "GET"): INVALID,
    ("fc_sandbox.token", "POST"): UNAUTHORIZED,
    ("fc_sandbox.userinfo", "GET"): UNAUTHORIZED,
    ("fc_sandbox.userinfo", "POST"): UNAUTHORIZED,
    ("sandbox_service.home", "GET"): ANY,
    ("sandbox_service.login", "GET"): ("error-502",) * 6,  # the test app has no HTTP server to reach
    ("sandbox_service.callback", "GET"): ("invalid",) * 6,
    ("sandbox_service.logout", "POST"): ("redirect",) * 6,
}


def routes(app: Flask) -> list[tuple[str, str]]:
    return sorted({(rule.endpoint, method) for rule in app.url_map.iter_rules()
                   for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}})


def _app(database_url, tmp_path) -> Flask:  # type: ignore[no-untyped-def]
    return build_app(database_url, tmp_path, WTF_CSRF_ENABLED=False)


def test_every_route_is_in_the_matrix(database_url, tmp_path):
    app = _app(database_url, tmp_path)
    found = set(routes(app))
    app.extensions["db_engine"].dispose()
    assert sorted(found - set(EXPECTED)) == [], "new routes: give each its expected outcome per role"
    assert sorted(set(EXPECTED) - found) == [], "the matrix names routes that no longer exist"


@pytest.mark.parametrize(("endpoint", "method"), sorted(EXPECTED))
def test_route_answers_each_role_as_expected(database_url, tmp_path, fixed_clock, endpoint, method):
    app = _app(database_url, tmp_path)
    clock.set_clock(app, fixed_clock)
    expected = dict(zip(ROLES, EXPECTED[(endpoint, method)], strict=True))
    order = sorted(ROLES, key=lambda role: expected[role] in ("ok", "invalid", "redirect"))  # refusals first
    try:
        with app.app_context():
            world = build_world(fixed_clock)
            rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint and method in (r.methods or ()))
            path = path_for(app, rule, world.values)
            seen = {}
            for role in order:
                client = app.test_client()
                if role != "anonymous":
                    open_session(client, world.people[role], fixed_clock.now())
                seen[role] = outcome(client.open(path, method=method, data={} if method == "POST" else None))
        assert seen == expected, f"{method} {path}"
    finally:
        app.extensions["db_engine"].dispose()
