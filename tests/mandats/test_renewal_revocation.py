"""Renewal without FranceConnect, revocation of one autorisation or of a whole mandate."""

from __future__ import annotations

import datetime as dt
import re

from aidants import db
from aidants.mandats import queries
from aidants.mandats.models import Mandat
from tests.factories import sign_in
from tests.mandats.helpers import actions, counts, create_mandat, fresh_code


def renew_token(page: str) -> str:
    found = re.search(r'name="token" type="hidden" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def renew(desk, mandat, demarches, duration="month", code=None):  # type: ignore[no-untyped-def]
    page = desk.client.get(f"/mandats/{mandat.uuid}/renouveler").get_data(as_text=True)
    data = {"token": renew_token(page), "demarches": demarches, "duration": duration, "consent": "y",
            "code": code or fresh_code(desk.aidant, desk.clock)}
    return desk.client.post(f"/mandats/{mandat.uuid}/renouveler", data=data), data


def test_renewal_of_an_expired_mandate_skips_franceconnect_and_is_journaled(desk):
    old = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers", "social"], desk.clock, "short")
    desk.clock.advance(days=100)
    sign_in(desk.client, desk.aidant, desk.clock.now())
    page = desk.client.get(f"/mandats/{old.uuid}/renouveler").get_data(as_text=True)
    assert re.search(r'<input checked id="demarches-\d+" name="demarches" type="checkbox" value="papiers">', page)
    response, _ = renew(desk, old, ["papiers", "logement"], "long")
    assert response.status_code == 302
    db.session().expire_all()
    new = queries.mandat_by_uuid(response.location.rsplit("/", 1)[-1])
    assert new is not None and new.renewed_from_id == old.id and new.usager_id == old.usager_id
    assert new.demarches == ["papiers", "logement"] and new.is_active(desk.clock.now())
    assert actions(new.id)[0] == "init_renew_mandat" and actions(new.id)[-1] == "create_attestation"
    assert new.expires_at - new.created_at == dt.timedelta(days=365)


def test_a_double_submitted_renewal_creates_one_mandate(desk):
    old = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers"], desk.clock)
    first, data = renew(desk, old, ["papiers"])
    before = counts()
    second = desk.client.post(f"/mandats/{old.uuid}/renouveler", data=data)
    assert second.status_code == 302 and second.location == first.location and counts() == before


def test_renewal_refused_more_than_a_year_after_the_end(desk):
    old = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers"], desk.clock, "short")
    desk.clock.advance(days=367)
    sign_in(desk.client, desk.aidant, desk.clock.now())
    response = desk.client.get(f"/mandats/{old.uuid}/renouveler")
    assert response.status_code == 403 and "plus d&#39;un an" in response.get_data(as_text=True)
    before = counts()
    response = desk.client.post(f"/mandats/{old.uuid}/renouveler", data={
        "token": "x" * 43, "demarches": ["papiers"], "duration": "month", "consent": "y",
        "code": fresh_code(desk.aidant, desk.clock)})
    assert response.status_code == 403 and counts() == before


def test_a_mandate_revoked_long_ago_cannot_be_renewed_but_a_recent_one_can(desk):
    revoked = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers"], desk.clock, "long")
    desk.client.post(f"/mandats/{revoked.uuid}/revoquer", data={"code": fresh_code(desk.aidant, desk.clock)})
    assert desk.client.get(f"/mandats/{revoked.uuid}/renouveler").status_code == 200  # revoked today: renewable
    desk.clock.advance(days=366)
    sign_in(desk.client, desk.aidant, desk.clock.now())
    before = counts()
    response = desk.client.get(f"/mandats/{revoked.uuid}/renouveler")
    assert response.status_code == 403 and "ne peut plus être renouvelé" in response.get_data(as_text=True)
    assert counts() == before


def test_renewal_with_bad_input_is_refused_with_a_message(desk):
    old = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers"], desk.clock)
    before = counts()
    page = desk.client.get(f"/mandats/{old.uuid}/renouveler").get_data(as_text=True)
    base = {"token": renew_token(page), "consent": "y", "code": fresh_code(desk.aidant, desk.clock)}
    response = desk.client.post(f"/mandats/{old.uuid}/renouveler", data=base | {"demarches": ["nope"],
                                                                                "duration": "month"})
    assert response.status_code == 400 and "Démarche inconnue" in response.get_data(as_text=True)
    response = desk.client.post(f"/mandats/{old.uuid}/renouveler", data=base | {"demarches": ["papiers"],
                                                                                "duration": "ever"})
    assert response.status_code == 400 and "Choisissez une durée" in response.get_data(as_text=True)
    assert counts() == before


def test_revoking_one_autorisation_then_the_whole_mandate(desk):
    mandat = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers", "social", "logement"], desk.clock)
    social = next(a for a in mandat.autorisations if a.demarche == "social")
    confirm = desk.client.get(f"/mandats/{mandat.uuid}/autorisations/{social.id}/revoquer").get_data(as_text=True)
    assert "Social - Santé" in confirm and 'name="code"' in confirm and "Papiers" not in confirm
    response = desk.client.post(f"/mandats/{mandat.uuid}/autorisations/{social.id}/revoquer",
                                data={"code": fresh_code(desk.aidant, desk.clock)})
    assert response.status_code == 302 and response.location.endswith(f"/mandats/{mandat.uuid}/attestation-revocation")
    now = desk.clock.now()
    # Effective at once for every later use: the identity provider's queries no longer offer it.
    assert not queries.autorisation_is_active(social.id, now)
    assert [a.demarche for a in queries.active_autorisations(desk.usager.id, desk.organisation.id, now)] == [
        "papiers", "logement"]
    sheet = desk.client.get(response.location).get_data(as_text=True)
    assert "Attestation de révocation" in sheet and "Social - Santé" in sheet and "print.css" in sheet
    assert actions(mandat.id)[-1] == "cancel_autorisation"

    response = desk.client.post(f"/mandats/{mandat.uuid}/revoquer", data={"code": fresh_code(desk.aidant, desk.clock)})
    assert response.status_code == 302
    assert queries.active_autorisations(desk.usager.id, desk.organisation.id, desk.clock.now()) == []
    assert actions(mandat.id)[-3:] == ["cancel_autorisation", "cancel_autorisation", "cancel_mandat"]
    db.session().expire_all()
    assert db.session().get(Mandat, mandat.id).status(desk.clock.now()) == "revoked"
    again = desk.client.post(f"/mandats/{mandat.uuid}/revoquer", data={"code": fresh_code(desk.aidant, desk.clock)})
    assert again.status_code == 409 and "rien à révoquer" in again.get_data(as_text=True)


def test_revocation_asks_the_code_again_and_a_wrong_one_revokes_nothing(desk):
    mandat = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers"], desk.clock)
    before = counts()
    wrong = "000000" if desk.aidant.code(desk.clock.now()) != "000000" else "111111"
    response = desk.client.post(f"/mandats/{mandat.uuid}/revoquer", data={"code": wrong})
    assert response.status_code == 400 and "pas valable" in response.get_data(as_text=True)
    response = desk.client.post(f"/mandats/{mandat.uuid}/revoquer", data={})
    assert response.status_code == 400
    assert counts()[:3] == before[:3]
    assert queries.autorisation_is_active(mandat.autorisations[0].id, desk.clock.now())


def test_repeated_wrong_codes_are_throttled(desk):
    mandat = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers"], desk.clock)
    wrong = "000000" if desk.aidant.code(desk.clock.now()) != "000000" else "111111"
    for _ in range(11):
        desk.client.post(f"/mandats/{mandat.uuid}/revoquer", data={"code": wrong})
    response = desk.client.post(f"/mandats/{mandat.uuid}/revoquer", data={"code": desk.aidant.code(desk.clock.now())})
    assert response.status_code == 400 and "Trop de codes erronés" in response.get_data(as_text=True)
    assert queries.autorisation_is_active(mandat.autorisations[0].id, desk.clock.now())
