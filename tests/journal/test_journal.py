"""The journal: appends without a lock, the sequencer's tree, append-only tables, verification (service and
CLI), and no personal data."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask

from aidants import db
from aidants.cli import main
from aidants.journal import merkle, sequencer, tree
from aidants.journal import services as journal
from aidants.journal.models import HASHED_FIELDS, JournalCheckpoint, JournalEntry, JournalLeaf, canonical_bytes
from tests.factories import make_aidant, sign_in

APPEND_ONLY = "append-only"
TABLES = ("journal_entry", "journal_leaf", "journal_node", "journal_checkpoint")


# --- helpers --------------------------------------------------------------------------------


def write(now: dt.datetime, count: int, integrate: bool = True) -> list[JournalEntry]:
    """Append ``count`` varied entries, commit them, and (by default) let the sequencer integrate them."""
    entries = []
    for n in range(1, count + 1):
        entries.append(journal.append(
            f"action_{n}", now=now + dt.timedelta(seconds=n), aidant_id=n, organisation_id=100 + n,
            usager_id=n if n % 2 else None, mandat_id=n * 7 if n % 3 else None,
            demarches=["papiers", "famille"] if n % 2 else None, client_id="service-test" if n == 2 else None,
            extra={"n": n, "éàü": "ok", "nested": {"b": 1, "a": [1, 2]}} if n % 2 else None,
        ))
    db.commit()
    if integrate:
        sequencer.integrate_all(now)
    return entries


def rows() -> list[JournalEntry]:
    return list(db.session().scalars(sa.select(JournalEntry).order_by(JournalEntry.seq)))


def leaves() -> list[JournalLeaf]:
    return list(db.session().scalars(sa.select(JournalLeaf).order_by(JournalLeaf.leaf_index)))


def reference_leaf(entry: JournalEntry) -> bytes:
    """An entry's leaf hash the slow, obvious way (ORM object, json.dumps)."""
    data = {name: getattr(entry, name) for name in HASHED_FIELDS}
    data["created_at"] = entry.created_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return hashlib.sha256(b"\x00" + json.dumps(data, sort_keys=True, separators=(",", ":"),
                                                ensure_ascii=True).encode()).digest()


def is_postgresql() -> bool:
    return db.is_postgresql()


def tamper(*statements: tuple[str, dict[str, object]]) -> None:
    """Change the tables behind the application's back: without the triggers, in one transaction."""
    db.session().rollback()
    with db.engine().begin() as connection:
        if is_postgresql():
            for table in TABLES:
                connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        else:
            for table in TABLES:
                connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_update")
                connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        for sql, params in statements:
            connection.execute(sa.text(sql), params)
        if is_postgresql():
            for table in TABLES:
                connection.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    db.session().expire_all()


def cli(app: Flask, *args: str) -> Result:
    """Run an ``aidants`` command against the test app (and so the test database)."""
    return app.test_cli_runner().invoke(main, list(args))


def time_param(value: dt.datetime) -> object:
    """What the application's UTCDateTime would bind: SQLite keeps text, PostgreSQL a timestamptz."""
    return value if is_postgresql() else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


# --- appending and integrating --------------------------------------------------------------


def test_append_only_inserts_and_the_sequencer_builds_the_tree(app, fixed_clock):
    assert journal.head() == (0, merkle.EMPTY_ROOT.hex())
    write(fixed_clock.now(), 4, integrate=False)
    assert [entry.seq for entry in rows()] == [1, 2, 3, 4]
    assert leaves() == [] and journal.pending_count() == 4
    assert sequencer.integrate(fixed_clock.now(), max_batch=3) == 3
    assert journal.pending_count() == 1
    assert sequencer.integrate(fixed_clock.now()) == 1
    assert sequencer.integrate(fixed_clock.now()) == 0  # nothing left: no new checkpoint
    found = leaves()
    assert [(leaf.leaf_index, leaf.entry_seq) for leaf in found] == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert [leaf.leaf_hash for leaf in found] == [reference_leaf(entry) for entry in rows()]
    root = merkle.root_of([leaf.leaf_hash for leaf in found])
    assert journal.head() == (4, root.hex())
    checkpoints = list(db.session().scalars(sa.select(JournalCheckpoint).order_by(JournalCheckpoint.id)))
    assert [c.tree_size for c in checkpoints] == [3, 4]
    assert journal.leaf_of(3) == 2 and journal.leaf_of(99) is None
    result = journal.verify_chain()
    assert result.ok and result.checked == 4 and result.pending == 0 and result.root_hash == root.hex()


def test_an_entry_rolled_back_leaves_a_gap_in_ids_but_none_in_the_tree(app, fixed_clock):
    write(fixed_clock.now(), 2)
    journal.append("abandoned", now=fixed_clock.now())
    db.session().rollback()
    journal.append("kept", now=fixed_clock.now())
    db.commit()
    sequencer.integrate(fixed_clock.now())
    kept = rows()[-1]
    assert kept.action == "kept"
    assert [leaf.leaf_index for leaf in leaves()] == [0, 1, 2] and leaves()[-1].entry_seq == kept.seq
    assert journal.verify_chain().ok


def test_leaf_hash_is_independent_of_the_time_zone_given_and_of_the_database_round_trip(app, fixed_clock):
    paris = fixed_clock.now().astimezone(ZoneInfo("Europe/Paris"))
    entry = journal.append("zoned", now=paris, extra={"z": 1, "a": "é", "list": [3, 1]})
    db.commit()
    fields = {name: getattr(entry, name) for name in HASHED_FIELDS}
    assert b'"created_at":"2026-11-27T09:00:00.000000+00:00"' in canonical_bytes(fields)
    sequencer.integrate(fixed_clock.now())
    db.session().expire_all()
    reloaded = db.session().get(JournalEntry, entry.seq)
    assert reloaded is not None
    assert leaves()[0].leaf_hash == reference_leaf(reloaded) == merkle.leaf_hash(canonical_bytes(fields))
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


def test_stored_nodes_give_proofs_that_verify_against_the_signed_root(app, fixed_clock):
    write(fixed_clock.now(), 11)
    size, root_hex = journal.head()
    root = bytes.fromhex(root_hex)
    assert size == 11 and tree.root_at(11) == root
    hashes = [leaf.leaf_hash for leaf in leaves()]
    for index in range(size):
        proof = tree.inclusion_proof(index, size)
        assert merkle.verify_inclusion(hashes[index], index, size, proof, root)
        assert not merkle.verify_inclusion(hashes[index - 1], index, size, proof, root) or hashes[index - 1] == \
            hashes[index]
    for first in range(size + 1):
        proof = tree.consistency_proof(first, size)
        assert merkle.verify_consistency(first, size, tree.root_at(first), root, proof)
    with pytest.raises(tree.ProofError):
        tree.inclusion_proof(3, 12)  # a tree the log does not hold yet
    with pytest.raises(tree.ProofError):
        tree.consistency_proof(5, 4)


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
    _refused(lambda: session.execute(sa.delete(JournalLeaf).where(JournalLeaf.leaf_index == 2)))
    assert [entry.aidant_id for entry in rows()] == [1, 2, 3]
    assert journal.verify_chain().ok


@pytest.mark.parametrize("sql", [
    "UPDATE journal_entry SET action = 'x' WHERE seq = 2",
    "DELETE FROM journal_entry WHERE seq = 3",
    "DELETE FROM journal_entry",
    "UPDATE journal_leaf SET entry_seq = 1 WHERE leaf_index = 2",
    "DELETE FROM journal_leaf WHERE leaf_index = 2",
    "UPDATE journal_node SET hash = hash",
    "DELETE FROM journal_node",
    "UPDATE journal_checkpoint SET tree_size = 1",
    "DELETE FROM journal_checkpoint",
])
def test_database_refuses_update_and_delete_in_raw_sql(app, fixed_clock, sql):
    write(fixed_clock.now(), 3)
    _refused(lambda: db.session().execute(sa.text(sql)))
    with pytest.raises(sa.exc.DBAPIError, match=APPEND_ONLY), db.engine().begin() as connection:
        connection.exec_driver_sql(sql)
    assert len(rows()) == 3 and journal.verify_chain().ok


@pytest.mark.parametrize("table", TABLES)
def test_postgresql_refuses_truncate(app, fixed_clock, table):
    if not is_postgresql():
        pytest.skip("TRUNCATE exists only on PostgreSQL (SQLite's DELETE without WHERE is covered above)")
    write(fixed_clock.now(), 3)
    _refused(lambda: db.session().execute(sa.text(f"TRUNCATE {table}")))
    assert len(rows()) == 3


# --- verification: the service and the CLI --------------------------------------------------


def test_intact_journal_verifies_in_the_service_and_the_cli(app, fixed_clock):
    empty = cli(app, "journal", "verify")
    assert empty.exit_code == 0, empty.output
    assert "Journal intègre : 0 entrée(s) dans l'arbre, 0 en attente" in empty.output
    write(fixed_clock.now(), 5)
    write(fixed_clock.now(), 2, integrate=False)
    result = cli(app, "journal", "verify")
    assert result.exit_code == 0, result.output
    assert "Journal intègre : 5 entrée(s) dans l'arbre, 2 en attente d'intégration" in result.output
    integrated = cli(app, "journal", "integrate")
    assert integrated.exit_code == 0 and "2 entrée(s) intégrée(s)" in integrated.output
    assert "7 entrée(s) dans l'arbre, 0 en attente" in cli(app, "journal", "verify").output


def _edit_field() -> list[tuple[str, dict[str, object]]]:
    return [("UPDATE journal_entry SET aidant_id = 42 WHERE seq = 3", {})]


def _edit_extra() -> list[tuple[str, dict[str, object]]]:
    return [("UPDATE journal_entry SET extra = :extra WHERE seq = 3", {"extra": '{"n": 4}'})]


def _edit_time() -> list[tuple[str, dict[str, object]]]:
    return [("UPDATE journal_entry SET created_at = :t WHERE seq = 3",
             {"t": time_param(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))})]


def _delete_entry() -> list[tuple[str, dict[str, object]]]:
    return [("DELETE FROM journal_entry WHERE seq = 3", {})]


def _delete_leaf() -> list[tuple[str, dict[str, object]]]:
    return [("DELETE FROM journal_leaf WHERE leaf_index = 2", {})]


def _swap_leaves() -> list[tuple[str, dict[str, object]]]:
    return [("UPDATE journal_leaf SET entry_seq = -3 WHERE entry_seq = 3", {}),
            ("UPDATE journal_leaf SET entry_seq = 3 WHERE entry_seq = 4", {}),
            ("UPDATE journal_leaf SET entry_seq = 4 WHERE entry_seq = -3", {})]


@pytest.mark.parametrize(("tampering", "leaf", "seq", "reason"), [
    (_edit_field, 2, 3, "contenu modifié"),
    (_edit_extra, 2, 3, "contenu modifié"),
    (_edit_time, 2, 3, "contenu modifié"),
    (_delete_entry, 2, None, "entrée intégrée disparue"),
    (_delete_leaf, 2, None, "feuille manquante"),
    (_swap_leaves, 2, 4, "contenu modifié"),
])
def test_tampering_is_detected_at_the_first_bad_leaf(app, fixed_clock, tampering, leaf, seq, reason):
    write(fixed_clock.now(), 5)
    assert journal.verify_chain().ok
    tamper(*tampering())
    result = journal.verify_chain()
    assert not result.ok
    assert (result.first_bad_leaf, result.first_bad_seq, result.reason) == (leaf, seq, reason)
    assert result.checked == leaf
    command = cli(app, "journal", "verify")
    assert command.exit_code == 1
    assert f"Journal altéré : feuille n° {leaf}" in command.output and reason in command.output


def test_a_careful_forgery_of_entry_and_leaf_is_caught_by_the_signed_root(app, fixed_clock):
    """The entry rewritten and its leaf hash recomputed as the sequencer would: only the checkpoint sees it."""
    write(fixed_clock.now(), 5)
    entry = rows()[2]
    entry_fields = {name: getattr(entry, name) for name in HASHED_FIELDS}
    forged = merkle.leaf_hash(canonical_bytes({**entry_fields, "action": "forged"}))
    tamper(("UPDATE journal_entry SET action = 'forged' WHERE seq = 3", {}),
           ("UPDATE journal_leaf SET leaf_hash = :h WHERE leaf_index = 2", {"h": forged}))
    result = journal.verify_chain()
    assert not result.ok and result.checked == 5
    assert "la racine ne correspond plus à l'arbre" in result.reason


def test_a_reading_error_reaches_the_caller(app, fixed_clock, monkeypatch):
    from aidants.journal import verification

    write(fixed_clock.now(), 3)
    monkeypatch.setattr(verification, "_leaves_sql",
                        lambda postgresql, start=0: "SELECT no_such_column FROM journal_leaf")
    monkeypatch.setattr(verification, "_quick_sql", lambda start=0: "SELECT no_such_column FROM journal_leaf")
    monkeypatch.setattr(verification, "_block_sql",
                        lambda: "SELECT no_such_column FROM journal_leaf WHERE leaf_index BETWEEN %s AND %s")
    with pytest.raises(Exception, match="no_such_column"):
        journal.verify_chain()
    monkeypatch.undo()
    assert journal.verify_chain().checked == 3  # and the connection went back to the pool in a usable state
    with pytest.raises(ValueError, match="batch"):
        journal.verify_chain(batch=0)


def test_postgresql_confirms_plain_leaves_itself_and_leaves_the_others_to_python(app, fixed_clock):
    from aidants.journal import verification

    if not is_postgresql():
        pytest.skip("the server-side fast path is PostgreSQL's")
    write(fixed_clock.now(), 5)
    journal.append('quote " and backslash \\', now=fixed_clock.now(), client_id="é", extra={"k": "\u2028"})
    db.commit()
    sequencer.integrate(fixed_clock.now())
    quick = [row[2] for row in db.session().execute(sa.text(verification._quick_sql()))]
    assert quick == [True] * 5 + [False]
    assert journal.verify_chain().ok
    tamper(("UPDATE journal_entry SET action = 'x' WHERE seq = 6", {}), *_edit_field())
    result = journal.verify_chain()
    assert (result.first_bad_leaf, result.reason) == (2, "contenu modifié")


def test_postgresql_fast_path_confirms_block_by_block_and_doubts_a_tampered_tree(app, fixed_clock, monkeypatch):
    from aidants.journal import verification

    if not is_postgresql():
        pytest.skip("the server-side fast path is PostgreSQL's")
    monkeypatch.setattr(verification, "FAST_BLOCK", 2)
    write(fixed_clock.now(), 4)
    journal.append('quote " and backslash \\', now=fixed_clock.now(), client_id="é", extra={"k": "\u2028"})
    db.commit()
    write(fixed_clock.now(), 2)
    engine = db.engine()
    leaves = verification._fast_leaves(engine, verification.leaf_hasher(engine))
    assert leaves is not None and len(leaves) == 7  # the odd entry confirmed by Python, the others by lines
    assert journal.verify_chain().ok
    tamper(*_edit_extra())
    assert verification._fast_leaves(engine, verification.leaf_hasher(engine)) is None
    result = journal.verify_chain()
    assert (result.first_bad_leaf, result.reason) == (2, "contenu modifié")


def test_verification_streams_in_batches_smaller_than_the_tree(app, fixed_clock):
    write(fixed_clock.now(), 7)
    assert journal.verify_chain(batch=2).checked == 7
    tamper(*_edit_field())
    assert journal.verify_chain(batch=2).first_bad_leaf == 2


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
        for value in personal:
            assert value.lower() not in encoded.lower()
    sequencer.integrate(fixed_clock.now())
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



def test_append_goes_through_the_engines_listeners_and_marks_the_transaction_written(app, fixed_clock):
    seen: list[str] = []

    def note(_conn, _cursor, statement, parameters, _context, _many):
        seen.append(statement)

    sa.event.listen(db.engine(), "before_cursor_execute", note)
    try:
        entry = journal.append("listened", now=fixed_clock.now(), aidant_id=3, extra={"k": 1})
    finally:
        sa.event.remove(db.engine(), "before_cursor_execute", note)
    assert [statement for statement in seen if "journal_entry" in statement] != []
    # The request wrote: an independent transaction would wait for it, so it is refused (db's rule).
    with pytest.raises(RuntimeError, match="already wrote"), db.independent_transaction():
        pass
    db.commit()
    assert [(row.seq, row.action, row.extra) for row in rows()] == [(entry.seq, "listened", {"k": 1})]


def test_append_of_an_unstorable_value_is_refused_as_malformed_input(app, fixed_clock):
    from aidants.input_guard import MalformedInput

    with pytest.raises(MalformedInput):
        journal.append("nul", now=fixed_clock.now(), client_id="service\x00")
    with pytest.raises(MalformedInput):
        journal.append("huge", now=fixed_clock.now(), aidant_id=2**64)
    db.session().rollback()
    assert rows() == []


def test_a_database_error_of_append_reaches_the_caller_wrapped_and_the_session_recovers(app, fixed_clock):
    if not is_postgresql():
        pytest.skip("SQLite stores any integer in an INTEGER column")
    with pytest.raises(sa.exc.DBAPIError):  # aidant_id is a 32-bit integer column
        journal.append("too_big", now=fixed_clock.now(), aidant_id=2**40)
    db.session().rollback()
    journal.append("after", now=fixed_clock.now())
    db.commit()
    assert [row.action for row in rows()] == ["after"]
