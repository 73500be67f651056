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
from tests.access.world import ROLES, USAGER_ROLES, build_world, open_session, open_usager_session, outcome, path_for
from tests.conftest import build_app

ANY = ("ok",) * 7
SIGNED_IN = ("login", "ok", "ok", "ok", "ok", "ok", "ok")
OF_A = ("login", "ok", "hidden", "ok", "hidden", "hidden", "ok")
FORM_OF_A = ("login", "invalid", "hidden", "invalid", "hidden", "hidden", "invalid")
REFERENT_OF_A = ("login", "forbidden", "forbidden", "ok", "hidden", "forbidden", "ok")
REFERENT_FORM = ("login", "forbidden", "forbidden", "invalid", "hidden", "forbidden", "invalid")
REFERENT_ACTION = ("login", "forbidden", "forbidden", "redirect", "hidden", "forbidden", "redirect")
REFERENT_ANY = ("login", "forbidden", "forbidden", "ok", "ok", "forbidden", "ok")
STAFF = ("login", "forbidden", "forbidden", "forbidden", "forbidden", "ok", "forbidden")
STAFF_FORM = ("login", "forbidden", "forbidden", "forbidden", "forbidden", "invalid", "forbidden")
STAFF_ACTION = ("login", "forbidden", "forbidden", "forbidden", "forbidden", "redirect", "forbidden")
ISSUER_ONLY = ("redirect",) * 7  # habilitation pages: the issuer's emailed link, not an account, opens them
INVALID = ("invalid",) * 7
UNAUTHORIZED = ("unauthorized",) * 7
SIGNED_IN_INVALID = ("login", "invalid", "invalid", "invalid", "invalid", "invalid", "invalid")
# co-référents may not create mandates (so not renew them either)
NO_MANDATE_CREATION = ("login", "ok", "ok", "ok", "ok", "ok", "forbidden")
NO_MANDATE_CREATION_INVALID = ("login", "invalid", "invalid", "invalid", "invalid", "invalid", "forbidden")
OF_A_CREATOR = ("login", "ok", "hidden", "ok", "hidden", "hidden", "forbidden")
FORM_OF_A_CREATOR = ("login", "invalid", "hidden", "invalid", "hidden", "hidden", "forbidden")
# done by referent_a first (roles run in ROLES order), so the co-référent finds it already done
REFERENT_ACTION_ONCE = ("login", "forbidden", "forbidden", "redirect", "hidden", "forbidden", "invalid")
ANONYMOUS_ONLY = ("ok", "redirect", "redirect", "redirect", "redirect", "redirect", "redirect")
STAFF_HIDDEN = ("login", "forbidden", "forbidden", "forbidden", "forbidden", "hidden", "forbidden")
STAFF_UNPROCESSABLE = ("login", "forbidden", "forbidden", "forbidden", "forbidden", "error-422", "forbidden")
STAFF_CONFLICT = ("login", "forbidden", "forbidden", "forbidden", "forbidden", "error-409", "forbidden")
GONE = ("error-410",) * 7  # an activation link or path that is not (or no longer) usable
# The espace usager: the aidant roles above, then the usager of A's mandate and another usager. No aidant
# session opens it; another usager's mandate is hidden. A line of the aidant roles only gives both usagers what
# the anonymous visitor gets: a usager's cookie grants nothing outside the espace usager.
NOT_AIDANTS = ("login",) * 7
USAGER_OWN = (*NOT_AIDANTS, "ok", "hidden")
USAGER_ANY = (*NOT_AIDANTS, "ok", "ok")

EXPECTED: dict[tuple[str, str], tuple[str, ...]] = {
    # public
    ("accounts.home", "GET"): ANONYMOUS_ONLY,
    ("accounts.login", "GET"): ANONYMOUS_ONLY,
    ("accounts.login", "POST"): ANONYMOUS_ONLY,
    ("accounts.login_link", "GET"): INVALID,  # an unknown link
    ("accounts.login_link", "POST"): INVALID,
    ("accounts.open_login_link", "GET"): INVALID,  # no link pending in this browser
    ("accounts.open_login_link", "POST"): INVALID,
    ("healthz", "GET"): ANY,
    ("csp_report", "POST"): ANY,
    ("static", "GET"): ANY,
    ("dsfr", "GET"): ANY,
    ("keys.jwks", "GET"): ANY,
    ("journal.checkpoint_key", "GET"): ANY,
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
    ("legal.mentions", "GET"): ANY,
    ("legal.donnees", "GET"): ANY,
    ("legal.accessibilite", "GET"): ANY,
    ("legal.cgu_page", "GET"): ANY,
    ("legal.help_login", "GET"): ANY,
    # CGU acceptance: everyone here accepted the current version already, so the page sends them on
    ("legal.accept_cgu", "GET"): ("login",) + ("redirect",) * 6,
    ("legal.accept_cgu", "POST"): SIGNED_IN_INVALID,  # the box not ticked
    # the aidant's own space
    ("accounts.reverify", "GET"): SIGNED_IN,
    ("accounts.reverify", "POST"): SIGNED_IN,
    ("accounts.logout", "POST"): ("login",) * 7,  # signed out, back to the sign-in page
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
    ("mandats.revocation_attestation", "GET"): ("login",) + ("hidden",) * 6,  # not revoked: nothing to print
    ("mandats.revoke_autorisation", "GET"): OF_A,
    ("mandats.revoke_autorisation", "POST"): FORM_OF_A,
    ("mandats.renew", "GET"): OF_A_CREATOR,
    ("mandats.renew", "POST"): FORM_OF_A_CREATOR,
    ("mandats.revoke", "GET"): OF_A,
    ("mandats.revoke", "POST"): FORM_OF_A,
    ("mandats.new", "GET"): NO_MANDATE_CREATION,
    ("mandats.new", "POST"): NO_MANDATE_CREATION_INVALID,
    ("mandats.recap", "GET"): SIGNED_IN_INVALID,  # no FranceConnect identification under way
    ("mandats.recap", "POST"): SIGNED_IN_INVALID,
    ("franceconnect.start", "GET"): NO_MANDATE_CREATION_INVALID,  # no mandate being prepared
    ("franceconnect.callback", "GET"): ("unauthorized",) + ("invalid",) * 6,
    ("mandats.cancel_draft", "POST"): ("login",) + ("redirect",) * 6,  # back to the dashboard
    ("franceconnect.logged_out", "GET"): SIGNED_IN_INVALID,
    # identity provider
    ("oidc_provider.discovery", "GET"): ANY,
    # a valid request of a registered client: A's and B's aidants see the usager picker (each structure has a
    # mandate of its own); staff have nothing to offer (access_denied back to the service); a co-référent who may
    # not create mandates may not use them either
    ("oidc_provider.authorize", "GET"): ("login", "ok", "ok", "ok", "ok", "redirect", "forbidden"),
    # an empty choice: nothing chosen, so nothing to offer (access_denied back to the service)
    ("oidc_provider.authorize", "POST"): ("login", "redirect", "redirect", "redirect", "redirect", "redirect",
                                          "forbidden"),
    ("oidc_provider.search_usagers", "GET"): ("unauthorized", "ok", "ok", "ok", "ok", "ok", "forbidden"),
    ("oidc_provider.token", "POST"): INVALID,
    ("oidc_provider.userinfo", "GET"): UNAUTHORIZED,
    ("oidc_provider.userinfo", "POST"): UNAUTHORIZED,
    ("oidc_provider.end_session", "GET"): ANY,  # no hint: a confirmation page
    ("oidc_provider.end_session", "POST"): ANY,  # confirmed: this browser's session ends, if any
    # référents: their structures only
    ("referents.index", "GET"): ("login", "forbidden", "forbidden", "redirect", "redirect", "forbidden",
                                  "redirect"),
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
    ("referents.deactivate", "POST"): REFERENT_ACTION_ONCE,
    ("referents.reactivate", "POST"): REFERENT_FORM,  # already active
    ("referents.appoint", "GET"): REFERENT_OF_A,
    ("referents.appoint", "POST"): REFERENT_ACTION_ONCE,
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
    ("journal.checkpoints", "GET"): STAFF,
    ("journal.checkpoints_csv", "GET"): STAFF,
    ("journal.checkpoint_note", "GET"): STAFF_HIDDEN,  # none signed yet in the world
    ("staff.transfer", "GET"): STAFF,
    ("staff.transfer_confirm", "POST"): STAFF_FORM,
    ("staff.transfer_do", "POST"): STAFF_ACTION,
    ("jobs.index", "GET"): STAFF,
    ("jobs.latest_checkpoint", "GET"): STAFF_HIDDEN,  # none signed yet in the world
    ("jobs.run_now", "GET"): STAFF,
    ("jobs.run_now", "POST"): STAFF_ACTION,
    ("jobs.retry", "POST"): STAFF_ACTION,  # no failed message: refused with a notice, back to the page
    ("staff_people.requests", "GET"): STAFF,
    ("staff_people.request_trained", "POST"): STAFF_HIDDEN,  # no such request
    ("staff_people.request_refuse", "GET"): STAFF_HIDDEN,
    ("staff_people.request_refuse", "POST"): STAFF_HIDDEN,
    ("staff_people.search", "GET"): STAFF,
    ("staff_people.aidant", "GET"): STAFF,
    ("staff_people.assign_card", "POST"): STAFF_FORM,  # no serial number
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
    ("habilitation.confirm_access", "GET"): INVALID,  # no link pending in this browser
    ("habilitation.confirm_access", "POST"): INVALID,
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
    ("sandbox_service.login", "GET"): ("error-503",) * 7,  # no HTTP server to reach: 503 + Retry-After
    ("sandbox_service.callback", "GET"): ("invalid",) * 7,
    ("sandbox_service.logout", "POST"): ("redirect",) * 7,
    # the espace usager (issue 11)
    ("usager.login", "GET"): (*ANY, "redirect", "redirect"),
    ("usager.logout", "POST"): ("login",) * 9,
    ("usager.home", "GET"): USAGER_ANY,
    ("usager.mandat", "GET"): USAGER_OWN,
    ("usager.attestation_page", "GET"): USAGER_OWN,
    ("usager.revocation_attestation", "GET"): (*NOT_AIDANTS, "hidden", "hidden"),  # nothing revoked yet
    ("usager.credential", "GET"): USAGER_OWN,
    ("usager.revoke", "GET"): USAGER_OWN,
    ("usager.revoke", "POST"): (*NOT_AIDANTS, "redirect", "hidden"),
    ("usager.revoke_autorisation", "GET"): USAGER_OWN,
    ("usager.revoke_autorisation", "POST"): (*NOT_AIDANTS, "redirect", "hidden"),
    ("usager.uses", "GET"): USAGER_ANY,
    ("usager.uses_csv", "GET"): USAGER_ANY,
    ("usager.notices", "GET"): USAGER_ANY,
    ("usager.notices", "POST"): (*NOT_AIDANTS, "redirect", "redirect"),
    ("usager.export_page", "GET"): USAGER_ANY,
    ("usager.export_json", "GET"): USAGER_ANY,
    ("usager.erase", "GET"): USAGER_ANY,
    ("usager.erase", "POST"): (*NOT_AIDANTS, "error-409", "error-409"),  # both still have an active mandate
    ("franceconnect.start_usager", "GET"): ("error-503",) * 9,  # the test app has no HTTP server to reach
    ("credentials.status_list_token", "GET"): ("ok",) * 9,
    ("credentials.aidant_credential", "GET"): (*OF_A, "login", "login"),
    ("credentials.staff_erase", "GET"): STAFF,
    ("credentials.staff_erase", "POST"): ("login", "forbidden", "forbidden", "forbidden", "forbidden",
                                          "error-409", "forbidden"),  # the usager still has an active mandate
}


def expected_outcomes(endpoint: str, method: str) -> tuple[str, ...]:
    """The line of the matrix, with the usager roles getting the anonymous outcome when not named."""
    line = EXPECTED[(endpoint, method)]
    return line if len(line) == len(ROLES) else (*line, *(line[0],) * len(USAGER_ROLES))


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
    expected = dict(zip(ROLES, expected_outcomes(endpoint, method), strict=True))
    order = sorted(ROLES, key=lambda role: expected[role] in ("ok", "invalid", "redirect"))  # refusals first
    try:
        with app.app_context():
            world = build_world(fixed_clock)
            rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint and method in (r.methods or ()))
            path = path_for(app, rule, world.values)
            seen = {}
            for role in order:
                client = app.test_client()
                if role in USAGER_ROLES:
                    open_usager_session(client, world.usagers[role], fixed_clock.now())
                elif role != "anonymous":
                    open_session(client, world.people[role], fixed_clock.now())
                seen[role] = outcome(client.open(path, method=method, data={} if method == "POST" else None))
        assert seen == expected, f"{method} {path}"
    finally:
        app.extensions["db_engine"].dispose()
