"""The journal: chaining, append-only triggers, verification (service and CLI), checkpoints, no personal data."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask

from aidants import db
from aidants.cli import main
from aidants.journal import checkpoint as checkpoints
from aidants.journal import services as journal
from aidants.journal.models import GENESIS_HASH, HASHED_FIELDS, JournalEntry, canonical_bytes
from aidants.security import crypto
from tests.conftest import TEST_SECRETS
from tests.factories import make_aidant, sign_in

APPEND_ONLY = "append-only"


# --- helpers --------------------------------------------------------------------------------


def write(now: dt.datetime, count: int) -> list[JournalEntry]:
    """Append ``count`` varied entries and commit them."""
    entries = []
    for n in range(1, count + 1):
        entries.append(journal.append(
            f"action_{n}", now=now + dt.timedelta(seconds=n), aidant_id=n, organisation_id=100 + n,
            usager_id=n if n % 2 else None, mandat_id=n * 7 if n % 3 else None,
            demarches=["papiers", "famille"] if n % 2 else None, client_id="service-test" if n == 2 else None,
            extra={"n": n, "éàü": "ok", "nested": {"b": 1, "a": [1, 2]}} if n % 2 else None,
        ))
    db.commit()
    return entries


def rows() -> list[JournalEntry]:
    return list(db.session().scalars(sa.select(JournalEntry).order_by(JournalEntry.seq)))


def reference_verify() -> journal.Verification:
    """The chain checked the slow, obvious way (ORM objects, json.dumps): verify_chain must agree."""
    expected, prev, checked = 1, GENESIS_HASH, 0
    for entry in rows():
        data = {name: getattr(entry, name) for name in HASHED_FIELDS}
        data["created_at"] = entry.created_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
        if entry.seq != expected:
            return journal.Verification(checked, expected, "numéro manquant ou en trop", expected - 1, prev)
        if entry.prev_hash != prev:
            return journal.Verification(checked, entry.seq, "chaînage rompu", expected - 1, prev)
        if crypto.sha256_hex(prev.encode() + b"\n" + canonical) != entry.hash:
            return journal.Verification(checked, entry.seq, "contenu modifié", expected - 1, prev)
        prev, expected, checked = entry.hash, expected + 1, checked + 1
    return journal.Verification(checked, None, "", expected - 1, prev)


def is_postgresql() -> bool:
    return db.is_postgresql()


def tamper(*statements: tuple[str, dict[str, object]]) -> None:
    """Change the table behind the application's back: without the triggers, in one transaction."""
    db.session().rollback()
    with db.engine().begin() as connection:
        if is_postgresql():
            connection.exec_driver_sql("ALTER TABLE journal_entry DISABLE TRIGGER USER")
        else:
            connection.exec_driver_sql("DROP TRIGGER journal_entry_no_update")
            connection.exec_driver_sql("DROP TRIGGER journal_entry_no_delete")
        for sql, params in statements:
            connection.execute(sa.text(sql), params)
        if is_postgresql():
            connection.exec_driver_sql("ALTER TABLE journal_entry ENABLE TRIGGER USER")
    db.session().expire_all()


def cli(app: Flask, *args: str) -> Result:
    """Run an ``aidants`` command against the test app (and so the test database)."""
    return app.test_cli_runner().invoke(main, list(args))


def stored(seq: int) -> dict[str, object]:
    """Every column of one entry, as raw SQL would reinsert it."""
    row = db.session().get(JournalEntry, seq)
    assert row is not None
    values = {name: getattr(row, name) for name in (*HASHED_FIELDS, "prev_hash", "hash")}
    values["extra"] = json.dumps(values["extra"]) if values["extra"] is not None else None
    return values


INSERT = (
    "INSERT INTO journal_entry (seq, created_at, action, actor_kind, aidant_id, organisation_id, usager_id, "
    "mandat_id, autorisation_id, demarches, client_id, extra, prev_hash, hash) VALUES (:seq, :created_at, "
    ":action, :actor_kind, :aidant_id, :organisation_id, :usager_id, :mandat_id, :autorisation_id, :demarches, "
    ":client_id, :extra, :prev_hash, :hash)"
)


def insert_params(values: dict[str, object]) -> dict[str, object]:
    params = dict(values)
    created = params["created_at"]
    assert isinstance(created, dt.datetime)
    # What the application's UTCDateTime would bind: SQLite keeps text, PostgreSQL a timestamptz.
    params["created_at"] = created if is_postgresql() else created.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return params


# --- chaining -------------------------------------------------------------------------------


def test_entries_are_numbered_and_chained_from_the_genesis_hash(app, fixed_clock):
    assert journal.head() == (0, GENESIS_HASH)
    written = write(fixed_clock.now(), 4)
    found = rows()
    assert [entry.seq for entry in found] == [1, 2, 3, 4]
    assert found[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(found):
        assert after.prev_hash == before.hash
    for entry in found:
        fields = {name: getattr(entry, name) for name in HASHED_FIELDS}
        assert entry.hash == journal.entry_hash(entry.prev_hash, fields)
    assert len({entry.hash for entry in found}) == 4
    assert journal.head() == (4, written[-1].hash)
    assert journal.hash_at(2) == found[1].hash and journal.hash_at(5) is None
    result = journal.verify_chain()
    assert result.ok and result.checked == 4 and (result.head_seq, result.head_hash) == journal.head()
    assert result == reference_verify()


def test_an_entry_rolled_back_with_its_transaction_leaves_no_gap(app, fixed_clock):
    write(fixed_clock.now(), 2)
    journal.append("abandoned", now=fixed_clock.now())
    db.session().rollback()
    journal.append("kept", now=fixed_clock.now())
    db.commit()
    assert [(entry.seq, entry.action) for entry in rows()][-1] == (3, "kept")
    assert journal.verify_chain().ok


def test_hash_is_independent_of_the_time_zone_given_and_of_the_database_round_trip(app, fixed_clock):
    paris = fixed_clock.now().astimezone(ZoneInfo("Europe/Paris"))
    entry = journal.append("zoned", now=paris, extra={"z": 1, "a": "é", "list": [3, 1]})
    db.commit()
    fields = {name: getattr(entry, name) for name in HASHED_FIELDS}
    assert b'"created_at":"2026-11-27T09:00:00.000000+00:00"' in canonical_bytes(fields)
    db.session().expire_all()
    reloaded = db.session().get(JournalEntry, entry.seq)
    assert reloaded is not None
    assert journal.entry_hash(GENESIS_HASH, {name: getattr(reloaded, name) for name in HASHED_FIELDS}) == entry.hash
    assert journal.verify_chain().ok


VALUES = [None, 0, 1, -7, 2**63 - 1, 12345678901234567890, True, False, 1.5, -0.0, 1e300, "", "é", "\u2028",
          "a\"b\\c\n\t\x00", "😀", "papiers,famille", [], {}, [1, "x", None, {"b": 2, "a": [3, {"z": 0, "y": 1}]}],
          {"z": 1, "a": {"d": "é", "c": [1.25, None, True]}, "M": "😀", "é": 2}]


def test_canonical_encoding_is_sorted_compact_ascii_json():
    """Byte for byte what json.dumps gives, for every kind of value a field may hold."""
    times = [dt.datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Paris")),
             dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC), dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
             "2026-01-01T00:00:00.000000+00:00", None]
    cases = 0
    for i, value in enumerate(VALUES):
        for j, name in enumerate(HASHED_FIELDS):
            fields: dict[str, object] = {other: VALUES[(i + k) % len(VALUES)] for k, other in enumerate(HASHED_FIELDS)}
            fields[name] = value
            fields["created_at"] = times[(i + j) % len(times)]
            expected_data = dict(fields)
            created = fields["created_at"]
            if isinstance(created, dt.datetime):
                expected_data["created_at"] = created.astimezone(dt.UTC).isoformat(timespec="microseconds")
            expected = json.dumps(expected_data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
            assert canonical_bytes(fields) == expected, fields
            cases += 1
    assert cases == len(VALUES) * len(HASHED_FIELDS)
    assert canonical_bytes({}) == json.dumps(dict.fromkeys(HASHED_FIELDS), sort_keys=True,
                                             separators=(",", ":")).encode()
    assert canonical_bytes({**dict.fromkeys(HASHED_FIELDS, 1), "unhashed": "x"}) == canonical_bytes(
        dict.fromkeys(HASHED_FIELDS, 1))


# --- the database refuses changes -----------------------------------------------------------


def _refused(action: Callable[[], object]) -> None:
    with pytest.raises(sa.exc.DBAPIError, match=APPEND_ONLY):
        action()
        db.session().flush()
    db.session().rollback()


def test_database_refuses_update_and_delete_through_the_orm(app, fixed_clock):
    write(fixed_clock.now(), 3)
    session = db.session()

    def edit() -> None:
        entry = session.get(JournalEntry, 2)
        assert entry is not None
        entry.aidant_id = 999

    _refused(edit)
    _refused(lambda: session.delete(session.get(JournalEntry, 2)))
    _refused(lambda: session.execute(sa.update(JournalEntry).values(action="x")))
    _refused(lambda: session.execute(sa.delete(JournalEntry).where(JournalEntry.seq == 3)))
    assert [entry.aidant_id for entry in rows()] == [1, 2, 3]
    assert journal.verify_chain().ok


@pytest.mark.parametrize("sql", [
    "UPDATE journal_entry SET action = 'x' WHERE seq = 2",
    "UPDATE journal_entry SET hash = prev_hash",
    "DELETE FROM journal_entry WHERE seq = 3",
    "DELETE FROM journal_entry",
])
def test_database_refuses_update_and_delete_in_raw_sql(app, fixed_clock, sql):
    write(fixed_clock.now(), 3)
    _refused(lambda: db.session().execute(sa.text(sql)))
    with pytest.raises(sa.exc.DBAPIError, match=APPEND_ONLY), db.engine().begin() as connection:
        connection.exec_driver_sql(sql)
    assert len(rows()) == 3 and journal.verify_chain().ok


def test_postgresql_refuses_truncate(app, fixed_clock):
    if not is_postgresql():
        pytest.skip("TRUNCATE exists only on PostgreSQL (SQLite's DELETE without WHERE is covered above)")
    write(fixed_clock.now(), 3)
    _refused(lambda: db.session().execute(sa.text("TRUNCATE journal_entry")))
    assert len(rows()) == 3


# --- verification: the service and the CLI --------------------------------------------------


def test_intact_chain_verifies_in_the_service_and_the_cli(app, fixed_clock):
    empty = cli(app, "journal", "verify")
    assert empty.exit_code == 0, empty.output
    assert "Journal intègre : 0 entrée(s)" in empty.output
    write(fixed_clock.now(), 5)
    result = cli(app, "journal", "verify")
    assert result.exit_code == 0, result.output
    assert "Journal intègre : 5 entrée(s), tête n° 5" in result.output


def _edit_field() -> list[tuple[str, dict[str, object]]]:
    return [("UPDATE journal_entry SET aidant_id = 42 WHERE seq = 3", {})]


def _edit_extra() -> list[tuple[str, dict[str, object]]]:
    return [("UPDATE journal_entry SET extra = :extra WHERE seq = 3", {"extra": '{"n": 4}'})]


def _edit_time() -> list[tuple[str, dict[str, object]]]:
    return [("UPDATE journal_entry SET created_at = :created_at WHERE seq = 3",
             insert_params({"created_at": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)}))]


def _delete_middle() -> list[tuple[str, dict[str, object]]]:
    return [("DELETE FROM journal_entry WHERE seq = 3", {})]


def _shift_from_3() -> list[tuple[str, dict[str, object]]]:
    """Make room at seq 3 (two steps, since PostgreSQL checks the primary key row by row)."""
    return [("UPDATE journal_entry SET seq = seq + 1000 WHERE seq >= 3", {}),
            ("UPDATE journal_entry SET seq = seq - 999 WHERE seq >= 1000", {})]


def _insert_copy() -> list[tuple[str, dict[str, object]]]:
    """A naive forgery: entry 2 copied to seq 3 with a fresh hash that chains to nothing."""
    forged = {**stored(2), "seq": 3, "action": "forged", "hash": "f" * 64}
    return [*_shift_from_3(), (INSERT, insert_params(forged))]


def _insert_well_hashed() -> list[tuple[str, dict[str, object]]]:
    """A careful forgery at seq 3, chained to entry 2 and hashed like the application does.

    It is indistinguishable from a real entry; the entry it pushed to seq 4 no longer is.
    """
    fields = {**{name: stored(2)[name] for name in HASHED_FIELDS}, "seq": 3, "action": "forged", "extra": None}
    prev = stored(2)["hash"]
    assert isinstance(prev, str)
    forged = {**fields, "prev_hash": prev, "hash": journal.entry_hash(prev, fields)}
    return [*_shift_from_3(), (INSERT, insert_params(forged))]


def _insert_after_gap() -> list[tuple[str, dict[str, object]]]:
    forged = {**stored(5), "seq": 7, "hash": "e" * 64}
    return [(INSERT, insert_params(forged))]


def _swap() -> list[tuple[str, dict[str, object]]]:
    return [("UPDATE journal_entry SET seq = -3 WHERE seq = 3", {}),
            ("UPDATE journal_entry SET seq = 3 WHERE seq = 4", {}),
            ("UPDATE journal_entry SET seq = 4 WHERE seq = -3", {})]


def _swap_contents_keep_numbers() -> list[tuple[str, dict[str, object]]]:
    """Entries 3 and 4 exchange everything but their numbers (as if their rows were swapped)."""
    three, four = stored(3), stored(4)
    return [("DELETE FROM journal_entry WHERE seq IN (3, 4)", {}),
            (INSERT, insert_params({**four, "seq": 3})), (INSERT, insert_params({**three, "seq": 4}))]


@pytest.mark.parametrize(("tampering", "first_bad", "reason"), [
    (_edit_field, 3, "contenu modifié"),
    (_edit_extra, 3, "contenu modifié"),
    (_edit_time, 3, "contenu modifié"),
    (_delete_middle, 3, "numéro manquant"),
    (_insert_copy, 3, "chaînage rompu"),
    (_insert_well_hashed, 4, "chaînage rompu"),
    (_insert_after_gap, 6, "numéro manquant"),
    (_swap, 3, "chaînage rompu"),
    (_swap_contents_keep_numbers, 3, "chaînage rompu"),
])
def test_tampering_is_detected_at_the_first_bad_entry(app, fixed_clock, tampering, first_bad, reason):
    write(fixed_clock.now(), 5)
    assert journal.verify_chain().ok
    tamper(*tampering())
    result = journal.verify_chain()
    assert not result.ok
    assert result.first_bad_seq == first_bad and reason in result.reason
    assert result == reference_verify()
    assert result.checked == first_bad - 1 and result.head_seq == first_bad - 1
    command = cli(app, "journal", "verify")
    assert command.exit_code == 1
    assert f"première entrée invalide n° {first_bad} ({reason}" in command.output


def test_verification_streams_in_batches_smaller_than_the_chain(app, fixed_clock):
    write(fixed_clock.now(), 7)
    assert journal.verify_chain(batch=2).checked == 7
    tamper(*_edit_field())
    assert journal.verify_chain(batch=2).first_bad_seq == 3


def test_a_reading_error_reaches_the_caller(app, fixed_clock, monkeypatch):
    write(fixed_clock.now(), 3)
    monkeypatch.setattr(journal, "_verify_sql", lambda postgresql: "SELECT no_such_column FROM journal_entry")
    with pytest.raises((sqlite3.Error, psycopg.Error), match="no_such_column"):
        journal.verify_chain()
    monkeypatch.undo()
    assert journal.verify_chain().checked == 3  # and the connection went back to the pool in a usable state
    with pytest.raises(ValueError, match="batch"):
        journal.verify_chain(batch=0)


# --- checkpoints ----------------------------------------------------------------------------


def checkpoint_file(app: Flask, tmp_path: Path) -> Path:
    path = tmp_path / "cp.json"
    result = cli(app, "journal", "checkpoint", "--output", str(path))
    assert result.exit_code == 0, result.output
    return path


def test_checkpoint_is_signed_and_verifies_against_the_chain(app, fixed_clock, tmp_path):
    write(fixed_clock.now(), 5)
    path = checkpoint_file(app, tmp_path)
    data = json.loads(path.read_text())
    assert data["seq"] == 5 and data["hash"] == journal.hash_at(5)
    assert data["time"] == "2026-11-27T09:00:00+00:00"
    public = crypto.public_key_b64(crypto.signing_key(TEST_SECRETS["JOURNAL_SIGNING_KEY"]))
    assert data["public_key"] == public
    assert crypto.verify_signature(public, checkpoints._message(5, data["hash"], data["time"]), data["signature"])
    write(fixed_clock.now(), 2)  # the chain goes on after the checkpoint
    result = cli(app, "journal", "verify", "--checkpoint", str(path))
    assert result.exit_code == 0, result.output
    assert "7 entrée(s)" in result.output


def test_checkpoint_of_an_empty_journal(app, fixed_clock, tmp_path):
    path = checkpoint_file(app, tmp_path)
    assert json.loads(path.read_text())["seq"] == 0
    assert cli(app, "journal", "verify", "--checkpoint", str(path)).exit_code == 0


def test_checkpoint_on_stdout(app, fixed_clock):
    write(fixed_clock.now(), 1)
    result = cli(app, "journal", "checkpoint")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["seq"] == 1


def test_checkpoint_detects_the_tail_cut_off(app, fixed_clock, tmp_path):
    write(fixed_clock.now(), 5)
    path = checkpoint_file(app, tmp_path)
    tamper(("DELETE FROM journal_entry WHERE seq > 3", {}))
    assert journal.verify_chain().ok  # the chain alone cannot see it
    result = cli(app, "journal", "verify", "--checkpoint", str(path))
    assert result.exit_code == 1
    assert "l'entrée 5 du point de contrôle a disparu du journal" in result.output


def test_checkpoint_detects_the_tail_cut_off_and_rewritten(app, fixed_clock, tmp_path):
    write(fixed_clock.now(), 5)
    path = checkpoint_file(app, tmp_path)
    tamper(("DELETE FROM journal_entry WHERE seq > 3", {}))
    write(fixed_clock.now(), 3)  # new, well-chained entries 4, 5, 6
    assert journal.verify_chain().ok
    result = cli(app, "journal", "verify", "--checkpoint", str(path))
    assert result.exit_code == 1
    assert "l'entrée 5 ne correspond plus au point de contrôle" in result.output


@pytest.mark.parametrize("forge", [
    lambda data: {**data, "seq": data["seq"] - 1},
    lambda data: {**data, "hash": "0" * 64},
    lambda data: {**data, "time": "2030-01-01T00:00:00+00:00"},
    lambda data: {**data, "signature": _flip(data["signature"])},
    # Signed with another key (and naming that key's public key): still refused, only ours counts.
    lambda data: {**data, **_signed_by_other_key(data)},
])
def test_checkpoint_with_a_forged_signature_is_refused(app, fixed_clock, tmp_path, forge):
    write(fixed_clock.now(), 5)
    path = checkpoint_file(app, tmp_path)
    path.write_text(json.dumps(forge(json.loads(path.read_text()))))
    result = cli(app, "journal", "verify", "--checkpoint", str(path))
    assert result.exit_code == 1
    assert "signature du point de contrôle invalide" in result.output


def _flip(signature: str) -> str:
    """The same signature with its last bytes changed."""
    return signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")


def _signed_by_other_key(data: dict[str, object]) -> dict[str, object]:
    other = crypto.signing_key(crypto.b64encode(b"o" * 32))
    message = checkpoints._message(int(str(data["seq"])), str(data["hash"]), str(data["time"]))
    return {"public_key": crypto.public_key_b64(other), "signature": crypto.sign(other, message)}


@pytest.mark.parametrize("content", ["not json", "{}", '{"seq": "x", "hash": 1}'])
def test_unreadable_checkpoint_is_refused(app, fixed_clock, tmp_path, content):
    write(fixed_clock.now(), 1)
    path = tmp_path / "cp.json"
    path.write_text(content)
    result = cli(app, "journal", "verify", "--checkpoint", str(path))
    assert result.exit_code == 1
    assert "lisible" in result.output


# --- no personal data -----------------------------------------------------------------------


def test_entries_about_an_aidant_hold_identifiers_not_personal_data(app, client, fixed_clock):
    who = make_aidant(fixed_clock.now(), email="camille.martin@exemple.fr")
    client.post("/connexion", data={"email": who.aidant.email, "code": "000000" if who.code(
        fixed_clock.now()) != "000000" else "111111"})
    sign_in(client, who, fixed_clock.now())
    entries = rows()
    assert {"create_aidant", "failed_code", "connect_aidant"} <= {entry.action for entry in entries}
    personal = [who.aidant.email, "camille.martin", who.aidant.first_name, who.aidant.last_name]
    for entry in entries:
        if entry.action != "create_organisation":
            assert entry.aidant_id == who.aidant.id
        encoded = canonical_bytes({name: getattr(entry, name) for name in HASHED_FIELDS}).decode()
        stored_row = json.dumps(stored(entry.seq), default=str)
        for value in personal:
            assert value.lower() not in encoded.lower() and value.lower() not in stored_row.lower()
    assert journal.verify_chain().ok


@pytest.mark.parametrize("extra", [
    {"email": "x"},
    {"device": {"first_name": "Camille"}},
    {"to": "camille.martin@exemple.fr"},
    {"list": ["ok", "camille@exemple.fr"]},
    {"birthdate": "1980-01-01"},
])
def test_append_refuses_personal_data(app, fixed_clock, extra):
    with pytest.raises(ValueError, match="identifiants"):
        journal.append("oops", now=fixed_clock.now(), extra=extra)
    with pytest.raises(ValueError, match="identifiants"):
        journal.append("oops", now=fixed_clock.now(), client_id="camille@exemple.fr")
    assert rows() == []
