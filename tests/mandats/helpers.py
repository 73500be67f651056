"""Building mandates in tests: usagers straight from the model, drafts as FranceConnect leaves them."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from itertools import count

import sqlalchemy as sa
from flask.testing import FlaskClient

from aidants import db
from aidants.clock import FixedClock
from aidants.journal.models import JournalEntry
from aidants.mandats.models import Autorisation, Mandat
from aidants.usagers.models import Usager
from tests.factories import AidantWithDevice

_numbers = count(1)


def make_usager(now: dt.datetime, given_name: str = "Jeanne Marie", family_name: str = "Dupont",
                birthdate: str = "1950-03-14") -> Usager:
    """A usager as FranceConnect would have identified them (random sub)."""
    n = next(_numbers)
    usager = Usager(sub=secrets.token_hex(32), given_name=given_name, family_name=family_name,
                    birthdate=birthdate, gender="female", birthplace="75056", birthcountry="99100",
                    email=f"usager{n}@exemple.fr", created_at=now, updated_at=now,
                    search_name=f"{given_name} {family_name}".lower())
    db.session().add(usager)
    db.session().flush()
    db.commit()
    return usager


def set_draft(client: FlaskClient, organisation_id: int, usager_id: int | None, demarches: list[str],
              duration: str = "month") -> None:
    """The session as the FranceConnect callback leaves it (the draft, plus the usager identified)."""
    with client.session_transaction() as session:
        draft: dict[str, object] = {"demarches": demarches, "duration": duration, "organisation_id": organisation_id}
        if usager_id is not None:
            draft["usager_id"] = usager_id
        session["mandat_draft"] = draft


TOKEN = re.compile(r'name="token" type="hidden" value="([^"]+)"')


def form_token(page: str) -> str:
    found = TOKEN.search(page)
    assert found, page
    return found.group(1)


def fresh_code(who: AidantWithDevice, clock: FixedClock) -> str:
    """The next code of the aidant's app: the clock moves one step on, so the code was never used."""
    clock.advance(seconds=who.device.period)
    return who.code(clock.now())


def confirm_recap(client: FlaskClient, who: AidantWithDevice, clock: FixedClock,
                  consent: bool = True):  # type: ignore[no-untyped-def]
    """Open the recap, then confirm it with a fresh code and the consent box."""
    page = client.get("/mandats/recapitulatif")
    assert page.status_code == 200, page.get_data(as_text=True)
    data = {"token": form_token(page.get_data(as_text=True)), "code": fresh_code(who, clock)}
    if consent:
        data["consent"] = "y"
    return client.post("/mandats/recapitulatif", data=data)


def create_mandat(client: FlaskClient, who: AidantWithDevice, usager: Usager, demarches: list[str],
                  clock: FixedClock, duration: str = "month") -> Mandat:
    """A mandate through the real recap page; the returned object is fresh from the database."""
    assert who.aidant.current_organisation_id is not None
    set_draft(client, who.aidant.current_organisation_id, usager.id, demarches, duration)
    response = confirm_recap(client, who, clock)
    assert response.status_code == 302, response.get_data(as_text=True)
    uuid = response.location.rsplit("/", 1)[-1]
    db.session().expire_all()
    mandat = db.session().scalars(sa.select(Mandat).where(Mandat.uuid == uuid)).one()
    return mandat


def count_rows(model: type) -> int:
    return db.session().scalar(sa.select(sa.func.count()).select_from(model)) or 0


def counts() -> tuple[int, int, int]:
    """(mandats, autorisations, journal entries): what a refused request must leave unchanged."""
    db.session().expire_all()
    return count_rows(Mandat), count_rows(Autorisation), count_rows(JournalEntry)


def actions(mandat_id: int) -> list[str]:
    statement = sa.select(JournalEntry.action).where(JournalEntry.mandat_id == mandat_id).order_by(JournalEntry.seq)
    return list(db.session().scalars(statement))
