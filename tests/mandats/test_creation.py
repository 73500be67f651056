"""Creating a mandate: choices, the recap after FranceConnect, one transaction, no double, nothing half-written."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from aidants import db
from aidants.mandats.models import Autorisation, Mandat, MandatUsager
from aidants.organisations.models import Organisation
from aidants.security import jose
from tests.factories import make_aidant, sign_in
from tests.mandats.helpers import (
    actions,
    confirm_recap,
    counts,
    create_mandat,
    form_token,
    fresh_code,
    make_usager,
    set_draft,
)


def test_new_form_offers_only_the_structures_demarches_and_warns_about_argent(desk):
    desk.organisation.allowed_demarches = "papiers,argent,social"
    db.commit()
    page = desk.client.get("/mandats/nouveau").get_data(as_text=True)
    assert 'value="papiers"' in page and 'value="argent"' in page and 'value="social"' in page
    assert 'value="famille"' not in page and 'value="loisirs"' not in page
    assert 'id="argent-warning"' in page
    desk.organisation.allowed_demarches = "papiers"
    db.commit()
    assert 'id="argent-warning"' not in desk.client.get("/mandats/nouveau").get_data(as_text=True)


def test_valid_choices_become_the_draft_and_go_to_franceconnect(desk):
    response = desk.client.post("/mandats/nouveau", data={"demarches": ["social", "papiers"], "duration": "semester"})
    assert response.status_code == 302 and response.location.endswith("/franceconnect/identification")
    with desk.client.session_transaction() as session:
        assert session["mandat_draft"] == {"demarches": ["papiers", "social"], "duration": "semester",
                                           "organisation_id": desk.organisation.id}


@pytest.mark.parametrize(("data", "message"), [
    ({"demarches": ["papiers", "inconnue"], "duration": "month"}, "Démarche inconnue"),
    ({"demarches": ["papiers"], "duration": "forever"}, "Choisissez une durée"),
    ({"duration": "month"}, "Choisissez au moins une démarche"),
    ({"demarches": ["famille"], "duration": "month"}, "non autorisée pour votre structure"),
])
def test_bad_choices_get_a_clear_message_and_no_draft(desk, data, message):
    desk.organisation.allowed_demarches = "papiers,social"
    db.commit()
    response = desk.client.post("/mandats/nouveau", data=data)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    with desk.client.session_transaction() as session:
        assert "mandat_draft" not in session


def test_recap_creates_the_mandate_its_autorisations_and_journal_together(desk):
    before = counts()
    mandat = create_mandat(desk.client, desk.aidant, desk.usager, ["social", "papiers"], desk.clock, "semester")
    assert counts()[0] == before[0] + 1
    assert mandat.organisation_id == desk.organisation.id and mandat.usager_id == desk.usager.id
    assert mandat.duration == "semester" and mandat.template_version == "v1"
    assert mandat.expires_at - mandat.created_at == dt.timedelta(days=182)
    assert [a.demarche for a in mandat.autorisations] == ["papiers", "social"]
    assert all(a.expires_at == mandat.expires_at and a.usager_id == desk.usager.id for a in mandat.autorisations)
    assert actions(mandat.id) == ["create_autorisation", "create_autorisation", "create_attestation"]
    claims = jose.verify_jwt(mandat.jws, typ="mandat+jwt", now=desk.clock.now())
    assert claims["jti"] == claims["mandat"] == mandat.uuid and claims["siret"] == desk.organisation.siret
    assert claims["demarches"] == ["papiers", "social"] and claims["sub"] == desk.usager.sub
    assert claims["exp"] == int(mandat.expires_at.timestamp()) and claims["nbf"] == claims["iat"]
    assert db.session().get(MandatUsager, (desk.organisation.id, desk.usager.id)).name_key == "jeanne marie dupont"
    with desk.client.session_transaction() as session:
        assert "mandat_draft" not in session


@pytest.mark.parametrize(("duration", "days"), [("short", 1), ("month", 31), ("semester", 182), ("long", 365)])
def test_durations(desk, duration, days):
    mandat = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers"], desk.clock, duration)
    assert mandat.expires_at == mandat.created_at + dt.timedelta(days=days)


def test_a_new_mandate_closes_the_overlapping_autorisations(desk):
    first = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers", "famille"], desk.clock)
    short = create_mandat(desk.client, desk.aidant, desk.usager, ["logement"], desk.clock, "short")
    desk.clock.advance(days=2)  # the "logement" autorisation has expired
    sign_in(desk.client, desk.aidant, desk.clock.now())
    second = create_mandat(desk.client, desk.aidant, desk.usager, ["famille", "social", "logement"], desk.clock)
    old = {a.demarche: a for a in db.session().get(Mandat, first.id).autorisations}
    assert old["famille"].revoked_at == second.created_at and old["famille"].revoked_reason == "replaced"
    assert old["papiers"].revoked_at is None and db.session().get(Mandat, first.id).is_active(desk.clock.now())
    expired = db.session().get(Mandat, short.id).autorisations[0]
    assert expired.revoked_at is None and expired.replaced_at is not None  # stays "expired", not "revoked"
    assert db.session().get(Mandat, short.id).status(desk.clock.now()) == "expired"
    assert actions(first.id)[-1] == "cancel_autorisation"


def test_the_database_refuses_two_open_autorisations_for_the_same_demarche(desk):
    mandat = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers"], desk.clock)
    db.session().add(Autorisation(mandat_id=mandat.id, demarche="papiers", usager_id=desk.usager.id,
                                  organisation_id=desk.organisation.id, expires_at=mandat.expires_at))
    with pytest.raises(IntegrityError):
        db.session().flush()
    db.session().rollback()


def test_a_double_submitted_recap_creates_one_mandate(desk):
    set_draft(desk.client, desk.organisation.id, desk.usager.id, ["papiers"])
    page = desk.client.get("/mandats/recapitulatif").get_data(as_text=True)
    data = {"token": form_token(page), "code": fresh_code(desk.aidant, desk.clock), "consent": "y"}
    with desk.client.session_transaction() as session:
        cookie_with_draft = dict(session)
    first = desk.client.post("/mandats/recapitulatif", data=data)
    assert first.status_code == 302
    before = counts()
    # The second click left before the first answer: same cookie (draft still there), same code, same token.
    with desk.client.session_transaction() as session:
        session.update(cookie_with_draft)
    second = desk.client.post("/mandats/recapitulatif", data=data)
    assert second.status_code == 302 and second.location == first.location
    assert counts() == before
    assert "déjà été créé" in desk.client.get(second.location).get_data(as_text=True)
    # And once the draft is gone, a third submission still lands on the same mandate.
    third = desk.client.post("/mandats/recapitulatif", data=data)
    assert third.status_code == 302 and third.location == first.location and counts() == before


def test_wrong_code_or_missing_consent_creates_nothing(desk):
    set_draft(desk.client, desk.organisation.id, desk.usager.id, ["papiers"])
    token = form_token(desk.client.get("/mandats/recapitulatif").get_data(as_text=True))
    before = counts()
    response = desk.client.post("/mandats/recapitulatif", data={"token": token, "code": "000000", "consent": "y"})
    if desk.aidant.code(desk.clock.now()) != "000000":
        assert response.status_code == 400 and "pas valable" in response.get_data(as_text=True)
    response = desk.client.post("/mandats/recapitulatif",
                                data={"token": token, "code": fresh_code(desk.aidant, desk.clock)})
    assert response.status_code == 400 and "accord de l&#39;usager" in response.get_data(as_text=True)
    assert counts()[:2] == before[:2]


def test_a_failure_at_any_step_leaves_nothing_behind(desk, monkeypatch):
    desk.client.application.config["PROPAGATE_EXCEPTIONS"] = False  # answer like production: a 500 page
    first = create_mandat(desk.client, desk.aidant, desk.usager, ["papiers"], desk.clock)
    before = counts()
    from aidants.mandats import services

    real_append = services.journal.append

    def failing_append(action, **kwargs):  # type: ignore[no-untyped-def]
        if action == "create_attestation":
            raise RuntimeError("disk full")
        return real_append(action, **kwargs)

    monkeypatch.setattr(services.journal, "append", failing_append)
    set_draft(desk.client, desk.organisation.id, desk.usager.id, ["papiers", "social"])
    response = confirm_recap(desk.client, desk.aidant, desk.clock)
    assert response.status_code == 500 and "Rien n&#39;a été enregistré" in response.get_data(as_text=True)
    assert counts() == before
    assert db.session().get(Mandat, first.id).autorisations[0].revoked_at is None  # the revocation was undone too


def test_a_recap_shown_for_another_identification_cannot_be_confirmed(desk):
    set_draft(desk.client, desk.organisation.id, desk.usager.id, ["papiers"])
    token = form_token(desk.client.get("/mandats/recapitulatif").get_data(as_text=True))
    other = make_usager(desk.clock.now(), "Paul", "Martin")
    set_draft(desk.client, desk.organisation.id, other.id, ["papiers"])  # FranceConnect again, someone else
    with desk.client.session_transaction() as session:
        session["mandat_draft"]["token"] = token  # the callback keeps the draft's other keys
    before = counts()
    response = desk.client.post("/mandats/recapitulatif",
                                data={"token": token, "code": fresh_code(desk.aidant, desk.clock), "consent": "y"})
    assert response.status_code == 409 and "remplacé" in response.get_data(as_text=True)
    assert counts()[:2] == before[:2]


def test_recap_without_draft_or_for_another_structure_is_refused(desk, fixed_clock):
    assert desk.client.get("/mandats/recapitulatif").status_code == 400
    set_draft(desk.client, desk.organisation.id, None, ["papiers"])
    assert "FranceConnect" in desk.client.get("/mandats/recapitulatif").get_data(as_text=True)
    other = db.session().scalars(sa.select(Organisation).where(Organisation.id != desk.organisation.id)).first()
    set_draft(desk.client, (other.id if other else 0) or 999, desk.usager.id, ["papiers"])
    response = desk.client.get("/mandats/recapitulatif")
    assert response.status_code == 400 and "autre structure" in response.get_data(as_text=True)


def test_an_aidant_not_allowed_to_create_mandates_cannot(client, fixed_clock):
    now = fixed_clock.now()
    who = make_aidant(now, can_create_mandats=False)
    sign_in(client, who, now)
    assert client.get("/mandats/nouveau").status_code == 403
    assert client.post("/mandats/nouveau", data={"demarches": ["papiers"], "duration": "month"}).status_code == 403
    usager = make_usager(now)
    set_draft(client, who.aidant.current_organisation_id, usager.id, ["papiers"])
    response = client.get("/mandats/recapitulatif")
    assert response.status_code == 400 and "ne permet pas" in response.get_data(as_text=True)
    assert counts()[0] == 0
