"""The list's tabs read the usager index's summary, which the database's triggers keep: after every write path
(creation, renewal, revocation by the structure or the usager, expiry by time, a new mandate over an expired one,
transfer, deletion) the stored summary equals the one recomputed from the autorisations, and each tab lists
exactly the usagers that the definition on the autorisations gives."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from aidants import db
from aidants.clock import FixedClock
from aidants.mandats import queries
from aidants.mandats import services as mandats
from aidants.mandats.models import Autorisation, Mandat, MandatUsager
from aidants.organisations.models import Organisation
from aidants.staff import services as staff
from aidants.usagers.models import Usager
from tests.factories import AidantWithDevice, make_aidant, make_organisation
from tests.mandats.helpers import make_usager
from tests.staff.helpers import make_mandat

TABS = ("actifs", "termines", "revoques")


def recomputed(organisation_id: int) -> dict[int, tuple[dt.datetime | None, bool, bool]]:
    """Per usager listed by the structure: the summary recomputed from their autorisations there."""
    session = db.session()
    session.expire_all()
    summaries = {}
    for usager_id in session.scalars(sa.select(MandatUsager.usager_id)
                                     .where(MandatUsager.organisation_id == organisation_id)):
        found = list(session.scalars(sa.select(Autorisation).where(Autorisation.organisation_id == organisation_id,
                                                                   Autorisation.usager_id == usager_id)))
        unrevoked = [a.expires_at for a in found if a.revoked_at is None]
        summaries[usager_id] = (max(unrevoked) if unrevoked else None,
                                any(a.revoked_reason == "replaced" for a in found),
                                any(a.revoked_reason in queries.REVOCATION_REASONS for a in found))
    return summaries


def stored(organisation_id: int) -> dict[int, tuple[dt.datetime | None, bool, bool]]:
    rows = db.session().execute(sa.select(MandatUsager.usager_id, MandatUsager.active_until,
                                          MandatUsager.has_replaced, MandatUsager.has_revocation)
                                .where(MandatUsager.organisation_id == organisation_id))
    return {row.usager_id: (row.active_until, bool(row.has_replaced), bool(row.has_revocation)) for row in rows}


def expected_tab(organisation_id: int, tab: str, now: dt.datetime) -> set[int]:
    """The tab's definition on the autorisations themselves (what the list showed before the summary)."""
    members = set()
    for usager_id in recomputed(organisation_id):
        found = list(db.session().scalars(sa.select(Autorisation).where(
            Autorisation.organisation_id == organisation_id, Autorisation.usager_id == usager_id)))
        active = any(a.is_active(now) for a in found)
        ended = any((a.revoked_at is None and a.expires_at <= now) or a.revoked_reason == "replaced" for a in found)
        revoked = any(a.revoked_reason in queries.REVOCATION_REASONS for a in found)
        if {"actifs": active, "termines": not active and ended, "revoques": not active and revoked}[tab]:
            members.add(usager_id)
    return members


def listed(organisation_id: int, tab: str, now: dt.datetime) -> set[int]:
    window = queries.usager_window(organisation_id, now, queries.UsagerFilters("", tab), per_page=100)
    assert window.next_cursor is None and window.total == len(window.rows)
    return {row.usager.id for row in window.rows}


def check(organisation: Organisation, now: dt.datetime) -> None:
    """The stored summary is exact, and every tab agrees with the definition, now and later (expiries)."""
    assert stored(organisation.id) == recomputed(organisation.id)
    for moment in (now, now + dt.timedelta(days=2), now + dt.timedelta(days=40), now + dt.timedelta(days=400)):
        for tab in TABS:
            assert listed(organisation.id, tab, moment) == expected_tab(organisation.id, tab, moment), (tab, moment)


@pytest.fixture
def structures(app, fixed_clock: FixedClock):  # type: ignore[no-untyped-def]
    now = fixed_clock.now()
    a, b = make_organisation(now, "Mairie A"), make_organisation(now, "Association B")
    return a, b, make_aidant(now, a), make_aidant(now, make_organisation(now, "Équipe nationale"), is_staff=True)


def revoke(who: AidantWithDevice, mandat: Mandat, now: dt.datetime, autorisation_id: int | None = None) -> None:
    session = db.session()
    session.expire_all()
    mandats.revoke(aidant=session.merge(who.aidant), mandat=session.get(Mandat, mandat.id),  # type: ignore[arg-type]
                   code=who.code(now), now=now, autorisation_id=autorisation_id)
    db.commit()


def test_the_summary_follows_every_write_path_and_the_tabs_match_their_definition(structures, fixed_clock):
    a, b, who, staff_member = structures
    now = fixed_clock.now()
    usagers: list[Usager] = [make_usager(now, "Usager", f"Numero {n}") for n in range(5)]

    first = make_mandat(who, usagers[0], ["papiers", "social"], now, "month")  # created
    make_mandat(who, usagers[1], ["famille"], now, "short")
    check(a, now)
    gone = make_mandat(who, usagers[2], ["logement"], now + dt.timedelta(minutes=1), "long")
    revoke(who, gone, now + dt.timedelta(minutes=2))  # revoked by the structure
    half = make_mandat(who, usagers[3], ["papiers", "travail"], now + dt.timedelta(minutes=3), "month")
    db.session().expire_all()
    papiers = next(x for x in db.session().get(Mandat, half.id).autorisations if x.demarche == "papiers")  # type: ignore[union-attr]
    mandats.revoke_by_usager(usager_id=usagers[3].id, mandat=db.session().get(Mandat, half.id),  # type: ignore[arg-type]
                             now=now + dt.timedelta(minutes=4), autorisation_id=papiers.id)  # by the usager, one of two
    db.commit()
    check(a, now + dt.timedelta(minutes=5))

    make_mandat(who, usagers[0], ["papiers"], now + dt.timedelta(minutes=6), "long")  # renewal: papiers replaced
    assert stored(a.id)[usagers[0].id][1] is True
    later = now + dt.timedelta(days=3)  # expired by time: usagers[1]'s one-day mandate
    check(a, later)
    make_mandat(who, usagers[1], ["famille"], later, "month")  # over an expired one: replaced_at, not revoked
    make_mandat(who, usagers[4], ["argent"], later, "short")
    revoke(who, first, later + dt.timedelta(minutes=1))  # social revoked; papiers had been replaced already
    check(a, later + dt.timedelta(minutes=1))

    moving = [usagers[0].id, usagers[4].id]  # transfer: the autorisations change structure
    staff.transfer_mandats(a.id, b.id, moving, staff=db.session().merge(staff_member.aidant),
                           now=later + dt.timedelta(minutes=2))
    db.commit()
    assert set(stored(b.id)) == set(moving) and not set(moving) & set(stored(a.id))
    check(a, later + dt.timedelta(minutes=2))
    check(b, later + dt.timedelta(minutes=2))

    db.session().execute(sa.delete(Mandat).where(Mandat.id == gone.id))  # deleted (its autorisations cascade)
    db.commit()
    assert stored(a.id)[usagers[2].id] == (None, False, False)
    check(a, later + dt.timedelta(minutes=3))
