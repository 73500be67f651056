"""The journal for the staff: filters, pages by sequence number, a streamed CSV export (itself journaled),
and the chain verification on request."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import sqlalchemy as sa
from flask.testing import FlaskClient

from aidants import db
from aidants.clock import FixedClock
from aidants.journal import checkpoint as notes
from aidants.journal import sequencer
from aidants.journal import services as journal
from aidants.journal.models import JournalEntry
from tests.journal.test_journal import tamper
from tests.mandats.helpers import make_usager
from tests.staff.conftest import Team
from tests.staff.helpers import journal_actions, make_mandat, text


def seqs(page: str) -> list[int]:
    table = re.search(r'<table tabindex="0" id="journal">(.*?)</table>', page, re.S)
    return [int(n) for n in re.findall(r"<tr>\s*<td>(\d+)</td>", table.group(1))] if table else []


def add(action: str, when: dt.datetime, **fields: object) -> None:
    journal.append(action, now=when, **fields)  # type: ignore[arg-type]
    db.commit()


def csv_rows(client: FlaskClient, query: str = "") -> list[list[str]]:
    response = client.get(f"/staff/journal.csv{query}")
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.is_streamed
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_the_newest_first_with_names_staff_may_see_but_no_usager(team: Team, fixed_clock: FixedClock) -> None:
    now = fixed_clock.now()
    usager = make_usager(now, "Gisèle", "Secrète")
    mandat = make_mandat(team.aidant, usager, ["papiers"], now)
    page = text(team.staff_client.get("/staff/journal"))
    numbers = seqs(page)
    assert numbers == sorted(numbers, reverse=True) and len(numbers) > 5
    assert "create_attestation" in page and "Création du mandat et de son attestation" in page
    assert f"{team.aidant.aidant.full_name} (n° {team.aidant.aidant.id})" in page and "Mairie A" in page
    assert "Secrète" not in page and "Gisèle" not in page and f"<td>{usager.id}</td>" in page
    assert f"<td>{mandat.id}</td>" in page


def test_filters(team: Team, fixed_clock: FixedClock) -> None:
    now = fixed_clock.now()
    add("probe_action", now - dt.timedelta(days=10), aidant_id=team.aidant.aidant.id, organisation_id=team.a.id)
    add("probe_action", now - dt.timedelta(days=3), aidant_id=team.referent.aidant.id, organisation_id=team.b.id)
    add("probe_action", now, actor_kind="system")
    probes = [e.seq for e in journal_actions("probe_action")]
    client = team.staff_client
    assert seqs(text(client.get("/staff/journal?action=probe_action"))) == probes[::-1]
    assert seqs(text(client.get(f"/staff/journal?action=probe_action&aidant={team.aidant.aidant.id}"))) == probes[:1]
    assert seqs(text(client.get(f"/staff/journal?action=probe_action&organisation={team.b.id}"))) == probes[1:2]
    # Days are Paris days, both ends included.
    day = (now - dt.timedelta(days=3)).date().isoformat()
    assert seqs(text(client.get(f"/staff/journal?action=probe_action&du={day}&au={day}"))) == probes[1:2]
    assert seqs(text(client.get(f"/staff/journal?action=probe_action&du={day}"))) == probes[:0:-1]
    assert "Aucune entrée ne correspond" in text(client.get("/staff/journal?action=nothing_like_this"))
    assert 'value="probe_action"' in text(client.get("/staff/journal"))  # suggested in the datalist


def test_bad_filters_are_explained(team: Team) -> None:
    for query, message in [("action=DROP TABLE", "Une action s'écrit en minuscules"),
                           ("du=2026-05-02&au=2026-05-01", "La date de fin précède la date de début."),
                           ("aidant=abc", "N'est pas un entier valide."), ("du=hier", "N'est pas une date valide.")]:
        response = team.staff_client.get(f"/staff/journal?{query}")
        assert response.status_code == 400, query
        assert message in text(response), query
        assert team.staff_client.get(f"/staff/journal.csv?{query}").status_code == 400, query


def test_pages_by_sequence_number(team: Team, fixed_clock: FixedClock) -> None:
    for n in range(120):
        journal.append("page_probe", now=fixed_clock.now(), extra={"n": n})
    db.commit()
    probes = [e.seq for e in journal_actions("page_probe")][::-1]
    client = team.staff_client
    first = text(client.get("/staff/journal?action=page_probe"))
    assert seqs(first) == probes[:50] and "Entrées plus récentes" not in first
    older = re.search(r'href="(/staff/journal\?[^"]*avant=\d+[^"]*)"', first)
    assert older
    second = text(client.get(older.group(1).replace("&amp;", "&")))
    assert seqs(second) == probes[50:100]
    newer = re.search(r'href="(/staff/journal\?[^"]*apres=\d+[^"]*)"', second)
    assert newer
    assert seqs(text(client.get(newer.group(1).replace("&amp;", "&")))) == probes[:50]
    third = text(client.get(f"/staff/journal?action=page_probe&avant={probes[99]}"))
    assert seqs(third) == probes[100:] and "Entrées plus anciennes" not in third


def test_the_csv_export_streams_every_filtered_entry_and_is_journaled(team: Team, fixed_clock: FixedClock) -> None:
    for n in range(2500):  # more than one batch of the stream
        journal.append("export_probe", now=fixed_clock.now(), organisation_id=team.a.id, extra={"n": n})
    journal.append("export_probe", now=fixed_clock.now(), client_id="=HYPERLINK(1)")
    db.commit()
    rows = csv_rows(team.staff_client, "?action=export_probe")
    assert rows[0][:3] == ["seq", "created_at", "action"] and rows[0][-2:] == ["leaf_index", "leaf_hash"]
    assert len(rows) == 1 + 2501
    assert [int(r[0]) for r in rows[1:]] == [e.seq for e in journal_actions("export_probe")]
    assert rows[1][1] == "2026-11-27T09:00:00+00:00" and rows[1][5] == str(team.a.id) and rows[1][11] == '{"n": 0}'
    assert rows[-1][10] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet
    export = journal_actions("export_journal")[-1]
    assert export.actor_kind == "staff" and export.aidant_id == team.staff.aidant.id
    assert export.extra == {"action": "export_probe", "aidant": None, "organisation": None, "start": None,
                            "end": None}


def test_verification_of_an_intact_journal(team: Team, fixed_clock: FixedClock) -> None:
    page = text(team.staff_client.get("/staff/journal/verification"))
    assert "Lancer la vérification" in page and "Le journal est intact" not in page
    sequencer.integrate_all(fixed_clock.now())
    count = db.session().scalar(sa.select(sa.func.count()).select_from(JournalEntry))
    response = team.staff_client.post("/staff/journal/verification")
    page = text(response)
    assert response.status_code == 200 and "Le journal est intact" in page
    assert f"{count} entrées vérifiées" in page and "0 entrée en attente" in page
    entry = journal_actions("verify_journal")[-1]
    assert entry.extra == {"ok": True, "checked": count, "first_bad_seq": None, "first_bad_leaf": None,
                           "tree_size": count, "pending": 0}


def test_verification_names_the_first_altered_entry(team: Team, fixed_clock: FixedClock) -> None:
    sequencer.integrate_all(fixed_clock.now())
    tamper(("UPDATE journal_entry SET action = 'rewritten' WHERE seq = 3", {}))
    response = team.staff_client.post("/staff/journal/verification")
    page = text(response)
    assert response.status_code == 200 and "Le journal a été altéré" in page
    assert "Première feuille en cause : n° 2 (entrée n° 3) : contenu modifié" in page
    assert journal_actions("verify_journal")[-1].extra["first_bad_seq"] == 3  # type: ignore[index]


def test_checkpoints_are_listed_downloadable_and_exported(team: Team, fixed_clock: FixedClock) -> None:
    sequencer.integrate_all(fixed_clock.now())
    recorded = sequencer.record_checkpoint(fixed_clock.now())
    assert recorded is not None
    add("after_the_checkpoint", fixed_clock.now())
    page = text(team.staff_client.get("/staff/journal/points-de-controle"))
    assert notes.service_verifier_key() in page and bytes(recorded.root_hash).hex() in page
    assert "1 entrée en attente" in page
    note = team.staff_client.get(f"/staff/journal/points-de-controle/{recorded.id}.txt")
    assert note.status_code == 200 and note.get_data(as_text=True) == recorded.note
    assert team.staff_client.get("/staff/journal/points-de-controle/999999.txt").status_code == 404
    assert team.staff_client.get("/staff/journal/points-de-controle?avant=x").status_code == 400
    response = team.staff_client.get("/staff/journal/points-de-controle.csv")
    found = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert found[0] == ["id", "created_at", "tree_size", "root_hash", "note"]
    assert found[-1][0] == str(recorded.id) and found[-1][3] == bytes(recorded.root_hash).hex()
