"""Notices (created, revoked, ending, daily digest) with opt-out; the export; the erasure."""

from __future__ import annotations

import base64
import datetime as dt
import html
import json

import pytest
import sqlalchemy as sa

import aidants.models  # noqa: F401  (every table on the metadata)
from aidants import db
from aidants.db import Base
from aidants.espace_usager import notices
from aidants.journal import services as journal
from aidants.mandats import services as mandats
from aidants.usagers.models import Usager
from tests.conftest import START
from tests.espace_usager.helpers import entries, outbox, two_structures, usager_client, use_mandate
from tests.factories import make_aidant, sign_in
from tests.oidc.provider_helpers import give_mandat


def text(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def world(app, fixed_clock):  # type: ignore[no-untyped-def]
    return two_structures(fixed_clock)


# --- 5. notices -----------------------------------------------------------------------------------------


def test_a_created_mandate_is_told_in_its_transaction_without_anything_to_act_on(world):
    [created_a, _] = outbox("usager-created:")
    assert created_a.key == f"usager-created:{world.a.mandat.uuid}" and created_a.recipient == world.a.usager.email
    aidant = world.a.aidant.aidant
    assert f"{aidant.first_name} {aidant.last_name[0]}." in created_a.body
    assert world.a.organisation.name in created_a.body
    assert "/usager/" in created_a.body and "révoquez-le" in created_a.body
    assert world.a.mandat.jws not in created_a.body and "eyJ" not in created_a.body
    assert "/connexion/lien" not in created_a.body


def test_each_kind_can_be_turned_off(app, world, fixed_clock):
    client = usager_client(app, world.a.usager, fixed_clock.now())
    page = text(client.get("/usager/notifications"))
    assert page.count('checked') == 4
    assert client.post("/usager/notifications", data={"revoked": "y"}).status_code == 302
    give_mandat(world.aidant_b, world.a.usager, ["logement"], fixed_clock.now())
    assert len(outbox("usager-created:")) == 2  # no third one
    assert notices.send_ending_notices(START + dt.timedelta(days=25)) == 0
    assert [e.extra for e in entries("notices_usager")] == [
        {"created": False, "revoked": True, "ending": False, "digest": False}]


def test_a_revocation_by_the_structure_says_who(world, fixed_clock):
    aidant = world.aidant_b
    mandats.revoke(aidant=aidant.aidant, mandat=world.mandat_b, code=aidant.code(fixed_clock.now()),
                   now=fixed_clock.now())
    db.commit()
    [message] = outbox("usager-revoked:")
    assert f"Camille {aidant.aidant.last_name[0]}., de la structure Association B" in message.body
    assert outbox("structure-revoked:") == []  # the structure acted: it is not told of its own act


def test_ending_notices_once_at_30_then_at_7_days(world):
    later = START + dt.timedelta(days=1, minutes=1)  # both mandates (31 days) end in less than 30 days
    assert notices.send_ending_notices(later) == 2
    db.commit()
    assert notices.send_ending_notices(later + dt.timedelta(hours=1)) == 0  # idempotent
    assert {m.key for m in outbox("usager-ending-30:")} == {f"usager-ending-30:{world.a.mandat.uuid}",
                                                             f"usager-ending-30:{world.mandat_b.uuid}"}
    assert notices.send_ending_notices(START + dt.timedelta(days=24, minutes=1)) == 2
    db.commit()
    assert notices.send_ending_notices(START + dt.timedelta(days=25)) == 0
    assert "dans 7 jours" in outbox("usager-ending-7:")[0].body
    assert notices.send_ending_notices(START + dt.timedelta(days=32)) == 0  # ended: nothing more


def test_one_digest_a_day_of_the_uses(app, world, fixed_clock):
    use_mandate(app, world.a, fixed_clock)
    assert notices.send_use_digests(START.replace(hour=23)) == 0  # the day is not over
    next_morning = START.replace(hour=0, minute=5) + dt.timedelta(days=1)
    assert notices.send_use_digests(next_morning) == 1
    db.commit()
    assert notices.send_use_digests(next_morning + dt.timedelta(hours=3)) == 0
    [digest] = outbox("usager-digest:")
    assert digest.key == f"usager-digest:{world.a.usager.id}:2026-11-27"
    assert "servi 2 fois" in digest.body and "Service de test" in digest.body and "Social - Santé" in digest.body


# --- 6. export --------------------------------------------------------------------------------------------


def test_the_export_holds_everything(app, world, fixed_clock):
    use_mandate(app, world.a, fixed_clock)
    client = usager_client(app, world.a.usager, fixed_clock.now())
    data = json.loads(client.get("/usager/donnees.json").get_data(as_text=True))
    assert data["identity"]["given_name"] == "Angela Claire Louise" and data["identity"]["birthplace"] == "75107"
    assert {m["uuid"] for m in data["mandats"]} == {world.a.mandat.uuid, world.mandat_b.uuid}
    assert {a["demarche"] for m in data["mandats"] for a in m["autorisations"]} == {"social", "logement", "famille"}
    assert len(data["uses"]) == 2 and data["uses"][0]["service"] == "Service de test"
    assert [n["kind"] for n in data["notices_sent"]] == ["created", "created"]
    page = text(client.get("/usager/donnees"))
    assert "Angela Claire Louise" in page and "Association B" in page and "Un mandat a été créé" in page


# --- 7. erasure -----------------------------------------------------------------------------------------


def _personal_values(usager: Usager) -> list[str]:
    return [usager.given_name, usager.family_name, usager.birthdate, usager.email, usager.sub]


def _texts(value: object) -> list[str]:
    """A column's value as text, with the payload of anything shaped like a JWT decoded too."""
    found = [json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)]
    for part in found[0].split():
        pieces = part.strip('"').split(".")
        if len(pieces) == 3 and pieces[0].startswith("eyJ"):
            found.append(base64.urlsafe_b64decode(pieces[1] + "=" * (-len(pieces[1]) % 4)).decode(errors="replace"))
    return found


def test_erasure_is_refused_while_a_mandate_is_active(app, world, fixed_clock):
    client = usager_client(app, world.a.usager, fixed_clock.now())
    page = client.post("/usager/effacement", data={"confirm": "y"})
    assert page.status_code == 409 and "encore actifs" in text(page)


def test_erasure_leaves_no_personal_datum_in_any_table(app, world, fixed_clock):
    use_mandate(app, world.a, fixed_clock)
    client = usager_client(app, world.a.usager, fixed_clock.now())
    for mandat in (world.a.mandat, world.mandat_b):
        assert client.post(f"/usager/mandats/{mandat.uuid}/revoquer").status_code == 302
    personal = _personal_values(world.a.usager)
    assert client.post("/usager/effacement", data={}).status_code == 422  # the box must be ticked
    done = client.post("/usager/effacement", data={"confirm": "y"})
    assert done.status_code == 200 and "Vos données sont effacées" in text(done)
    assert client.get("/usager/").status_code == 302  # signed out
    checked = 0
    with db.engine().connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(sa.select(table)):
                for column, value in zip(table.columns, row, strict=True):
                    if value is None:
                        continue
                    checked += 1
                    for found in _texts(value):
                        for datum in personal:
                            assert datum not in found, f"{table.name}.{column.name} still holds {datum!r}"
    assert checked > 100
    assert journal.verify_chain().ok
    db.session().rollback()
    erased = db.session().get(Usager, world.a.usager.id)
    assert erased is not None and erased.erased_at is not None
    assert (erased.gender, erased.birthplace, erased.birthcountry, erased.search_name) == ("", "", "", "")
    assert [e.actor_kind for e in entries("erase_usager")] == ["usager"]


def test_staff_erase_a_usager_after_a_confirmation(app, client, world, fixed_clock):
    for mandat in (world.a.mandat, world.mandat_b):
        mandats.revoke_by_usager(usager_id=world.a.usager.id, mandat=mandat, now=fixed_clock.now())
    db.commit()
    staff = make_aidant(fixed_clock.now(), is_staff=True)
    sign_in(client, staff, fixed_clock.now())
    path = f"/staff/usagers/{world.a.usager.id}/effacement"
    assert "Angela Claire Louise" in text(client.get(path))
    assert client.post(path, data={}).status_code == 422
    assert client.post(path, data={"confirm": "y"}).status_code == 302
    assert "données effacées le" in text(client.get(path))
    [entry] = entries("erase_usager")
    assert entry.actor_kind == "staff" and entry.aidant_id == staff.aidant.id
