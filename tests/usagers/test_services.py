"""Usagers recorded from FranceConnect's claims: exactly as received, keyed sub, journaled."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from aidants import clock, db
from aidants.journal.models import JournalEntry
from aidants.journal.services import verify_chain
from aidants.security import crypto
from aidants.usagers import services as usagers
from aidants.usagers.models import Usager

CLAIMS = {
    "sub": "b6048e95bb134ec5b1d1e1fa69f287172e91722b9354d637a1bcf2ebb0fd2ef5v1",
    "given_name": "Angela Claire Louise", "family_name": "DUBOIS", "birthdate": "1962-08-24",
    "gender": "female", "birthplace": "75107", "birthcountry": "99100", "email": "angela@example.org",
    "preferred_username": "",
}


def entries() -> list[JournalEntry]:
    return list(db.session().scalars(sa.select(JournalEntry).order_by(JournalEntry.seq)))


def test_creates_the_usager_with_a_keyed_sub_and_journals_it(app: Flask, fixed_clock: clock.FixedClock) -> None:
    usager = usagers.record_identity(CLAIMS, fixed_clock.now(), aidant_id=7, organisation_id=3)
    db.commit()
    assert usager.sub == crypto.keyed_hash(b"test-usager-sub-key", CLAIMS["sub"])
    assert CLAIMS["sub"] not in (usager.sub, usager.search_name)
    assert usager.search_name == "angela claire louise dubois"
    assert usager.created_at == usager.updated_at == fixed_clock.now()
    [entry] = entries()
    assert (entry.action, entry.aidant_id, entry.organisation_id, entry.usager_id) == (
        "franceconnect_usager", 7, 3, usager.id)
    assert entry.extra == {"created": True}
    assert verify_chain().ok


def test_a_different_sub_key_gives_a_different_sub(app: Flask, fixed_clock: clock.FixedClock) -> None:
    first = usagers.usager_sub(CLAIMS["sub"])
    app.config["USAGER_SUB_KEY"] = "another-key"
    assert usagers.usager_sub(CLAIMS["sub"]) != first


@pytest.mark.parametrize("changes", [
    {"birthdate": "1948-00-00"},
    {"birthdate": "2001-11-00"},
    {"birthplace": "", "birthcountry": "99350"},
    {"birthplace": "2A004"},
    {"given_name": "  Jean-Baptiste  Éric ", "family_name": "de LA FONTAINE"},
    {"email": "", "preferred_username": "MOREAU"},
])
def test_stores_the_identity_exactly_as_received(app: Flask, fixed_clock: clock.FixedClock,
                                                 changes: dict[str, str]) -> None:
    claims = {**CLAIMS, **changes}
    usager = usagers.record_identity(claims, fixed_clock.now())
    db.commit()
    db.session().expire_all()
    stored = db.session().get(Usager, usager.id)
    assert stored is not None
    for name in ("given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry", "email",
                 "preferred_username"):
        assert getattr(stored, name) == claims[name], name


def test_a_known_usager_is_updated_and_a_changed_email_journaled(app: Flask, fixed_clock: clock.FixedClock) -> None:
    first = usagers.record_identity(CLAIMS, fixed_clock.now(), aidant_id=1)
    fixed_clock.advance(days=3)
    same = usagers.record_identity(CLAIMS, fixed_clock.now(), aidant_id=1)
    fixed_clock.advance(days=3)
    changed = usagers.record_identity({**CLAIMS, "email": "nouvelle@example.org"}, fixed_clock.now(), aidant_id=2)
    db.commit()
    assert first.id == same.id == changed.id
    assert db.session().scalar(sa.select(sa.func.count()).select_from(Usager)) == 1
    assert changed.email == "nouvelle@example.org"
    assert changed.updated_at == fixed_clock.now() != changed.created_at
    actions = [(e.action, e.aidant_id) for e in entries()]
    assert actions == [("franceconnect_usager", 1), ("franceconnect_usager", 1), ("franceconnect_usager", 2),
                       ("update_email_usager", 2)]
    assert all(e.extra is None or "nouvelle" not in str(e.extra) for e in entries())  # identifiers only


@pytest.mark.parametrize("changes", [
    {"sub": ""},
    {"given_name": ""},
    {"family_name": None},
    {"birthdate": "1962-13-01"},
    {"birthdate": "1962-00-05"},
    {"birthdate": "1962-02-30"},
    {"birthdate": "24/08/1962"},
    {"gender": "F"},
    {"birthcountry": "France"},
    {"birthplace": "7510"},
    {"given_name": "x" * 257},
    {"email": 42},
])
def test_refuses_claims_that_are_no_pivot_identity(app: Flask, fixed_clock: clock.FixedClock,
                                                   changes: dict[str, object]) -> None:
    claims = {**CLAIMS, **changes}
    with pytest.raises(usagers.InvalidIdentity):
        usagers.record_identity(claims, fixed_clock.now())
    db.session().rollback()
    assert db.session().scalar(sa.select(sa.func.count()).select_from(Usager)) == 0
    assert entries() == []
