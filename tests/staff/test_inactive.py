"""Deactivating aidants who have not signed in for months: listed, confirmed, journaled, sessions ended."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from flask import Flask

from aidants import db
from aidants.accounts.models import Aidant, AidantSession
from aidants.clock import FixedClock
from aidants.staff import services as staff
from tests.factories import AidantWithDevice, make_aidant, sign_in
from tests.staff.conftest import Team
from tests.staff.helpers import journal_actions, text


def last_login(who: AidantWithDevice, when: dt.datetime | None) -> None:
    db.session().execute(sa.update(Aidant).where(Aidant.id == who.aidant.id).values(last_login_at=when))
    db.commit()


def is_active(who: AidantWithDevice) -> bool:
    db.session().expire_all()
    aidant = db.session().get(Aidant, who.aidant.id)
    assert aidant is not None
    return aidant.is_active


@pytest.fixture
def sleepers(team: Team, app: Flask, fixed_clock: FixedClock) -> dict[str, AidantWithDevice]:
    """Eight months without signing in (with a session still open), never signed in for seven months,
    four months without signing in."""
    now = fixed_clock.now()
    eight = make_aidant(now, team.a)
    sign_in(app.test_client(), eight, now)
    last_login(eight, now - dt.timedelta(days=245))
    never = make_aidant(now - dt.timedelta(days=215), team.b)
    four = make_aidant(now, team.a)
    last_login(four, now - dt.timedelta(days=125))
    last_login(team.staff, now - dt.timedelta(days=400))  # the staff member never lists themselves
    return {"eight": eight, "never": never, "four": four}


def test_months_before_keeps_the_day_or_takes_the_months_last() -> None:
    at = dt.datetime(2026, 3, 31, 10, tzinfo=dt.UTC)
    assert staff.months_before(at, 1) == dt.datetime(2026, 2, 28, 10, tzinfo=dt.UTC)
    assert staff.months_before(at, 3) == dt.datetime(2025, 12, 31, 10, tzinfo=dt.UTC)
    assert staff.months_before(at, 24) == dt.datetime(2024, 3, 31, 10, tzinfo=dt.UTC)


def test_the_list_shows_who_has_not_signed_in_since(team: Team, sleepers: dict[str, AidantWithDevice]) -> None:
    page = text(team.staff_client.get("/staff/aidants/inactifs"))
    assert "2 aidants sans connexion depuis le 27 mai 2026" in page
    assert sleepers["eight"].aidant.email in page and sleepers["never"].aidant.email in page
    assert sleepers["four"].aidant.email not in page and team.staff.aidant.email not in page
    assert "Jamais (compte créé le" in page
    three = text(team.staff_client.get("/staff/aidants/inactifs?mois=3"))
    assert sleepers["four"].aidant.email in three and team.aidant.aidant.email not in three
    assert team.staff_client.get("/staff/aidants/inactifs?mois=5").status_code == 400


def test_deactivation_after_a_confirmation(team: Team, app: Flask, sleepers: dict[str, AidantWithDevice],
                                           fixed_clock: FixedClock) -> None:
    chosen = [sleepers["eight"].aidant.id, sleepers["never"].aidant.id, team.aidant.aidant.id,
              team.staff.aidant.id]
    page = text(team.staff_client.post("/staff/aidants/inactifs/confirmation",
                                       data={"mois": "6", "aidants": chosen}))
    assert "2 aidants sans connexion depuis 6 mois vont être désactivés" in page
    assert sleepers["eight"].aidant.email in page and team.aidant.aidant.email not in page
    assert is_active(sleepers["eight"])  # nothing yet

    response = team.staff_client.post("/staff/aidants/inactifs/desactiver", data={"mois": "6", "aidants": chosen})
    assert response.status_code == 302
    assert "2 aidant(s) désactivé(s). 2 autre(s) laissé(s) actif(s)" in text(team.staff_client.get(response.location))
    assert not is_active(sleepers["eight"]) and not is_active(sleepers["never"])
    assert is_active(team.aidant) and is_active(team.staff) and is_active(sleepers["four"])
    entries = journal_actions("deactivate_aidant")
    assert sorted(e.aidant_id for e in entries) == sorted([sleepers["eight"].aidant.id, sleepers["never"].aidant.id])
    assert all(e.actor_kind == "staff" and e.extra == {"by_staff": team.staff.aidant.id, "reason": "inactivity",
                                                         "months": 6} for e in entries)
    open_sessions = db.session().scalar(sa.select(sa.func.count()).select_from(AidantSession).where(
        AidantSession.aidant_id == sleepers["eight"].aidant.id, AidantSession.revoked_at.is_(None)))
    assert open_sessions == 0


def test_someone_who_signed_in_meanwhile_is_left_alone(team: Team, sleepers: dict[str, AidantWithDevice],
                                                       fixed_clock: FixedClock) -> None:
    last_login(sleepers["eight"], fixed_clock.now())
    response = team.staff_client.post("/staff/aidants/inactifs/desactiver",
                                      data={"mois": "6", "aidants": [sleepers["eight"].aidant.id]})
    assert "n'est encore inactif" in text(team.staff_client.get(response.location))
    assert is_active(sleepers["eight"]) and journal_actions("deactivate_aidant") == []


@pytest.mark.parametrize(("data", "message"), [
    ({"mois": "6"}, "Cochez au moins un aidant"),
    ({"mois": "6", "aidants": ["abc"]}, "Le formulaire est incomplet"),
    ({"mois": "7", "aidants": ["1"]}, "Le formulaire est incomplet"),
])
def test_bad_requests_change_nothing(team: Team, sleepers: dict[str, AidantWithDevice], data: dict[str, object],
                                     message: str) -> None:
    for path in ("/staff/aidants/inactifs/confirmation", "/staff/aidants/inactifs/desactiver"):
        response = team.staff_client.post(path, data=data)
        assert response.status_code == 302
        assert message in text(team.staff_client.get(response.location)), path
    assert is_active(sleepers["eight"]) and journal_actions("deactivate_aidant") == []
