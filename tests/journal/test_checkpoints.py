"""Signed checkpoints (C2SP signed note): the table, the format and its key id, the public key at a URL and
in the CLI, and verification with the public key alone."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask

from aidants import db
from aidants.journal import checkpoint as notes
from aidants.journal import merkle, sequencer, tree
from aidants.journal import services as journal_services
from aidants.journal.models import JournalCheckpoint, JournalEntry
from tests.conftest import TEST_SECRETS
from tests.journal.test_journal import cli, reference_leaf, tamper, write

ORIGIN = "localhost/journal"  # the host of PUBLIC_URL (http://localhost in tests)
ED25519 = b"\x01"


def our_public_key() -> bytes:
    seed = base64.urlsafe_b64decode(TEST_SECRETS["JOURNAL_SIGNING_KEY"])
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def checkpoint_file(app: Flask, tmp_path: Path) -> Path:
    path = tmp_path / "checkpoint.txt"
    result = cli(app, "journal", "checkpoint", "--output", str(path))
    assert result.exit_code == 0, result.output
    return path


def test_the_note_is_a_c2sp_checkpoint_signed_with_the_spec_key_id(app, client, fixed_clock, tmp_path):
    write(fixed_clock.now(), 5)
    text = checkpoint_file(app, tmp_path).read_text(encoding="utf-8")
    body, signature_line = text.split("\n\n")
    origin, size, root = body.split("\n")
    assert (origin, size) == (ORIGIN, "5")
    assert base64.b64decode(root) == tree.root_at(5)
    # Independently of the module: the signed-note key id, the line and the Ed25519 signature.
    public = our_public_key()
    key_id = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + public).digest()[:4]
    dash, name, encoded = signature_line.rstrip("\n").split(" ")
    assert (dash, name) == ("\u2014", ORIGIN) and signature_line.endswith("\n")
    raw = base64.b64decode(encoded)
    assert raw[:4] == key_id and len(raw) == 68
    Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], (body + "\n").encode())
    verifier = f"{ORIGIN}+{key_id.hex()}+{base64.b64encode(ED25519 + public).decode()}"
    published = client.get("/journal/checkpoint-key")
    assert published.status_code == 200 and published.mimetype == "text/plain"
    assert published.get_data(as_text=True) == verifier + "\n"
    assert cli(app, "journal", "public-key").output == verifier + "\n"
    stored = db.session().scalars(sa.select(JournalCheckpoint).order_by(JournalCheckpoint.id.desc())).first()
    assert stored is not None and stored.note == text and stored.tree_size == 5
    assert stored.created_at == fixed_clock.now()


def test_record_checkpoint_integrates_first_and_signs_even_an_unchanged_tree(app, fixed_clock):
    write(fixed_clock.now(), 3, integrate=False)
    first = sequencer.record_checkpoint(fixed_clock.now())
    assert first is not None and first.tree_size == 3
    again = sequencer.record_checkpoint(fixed_clock.now())
    assert again is not None and again.id > first.id and again.tree_size == 3
    assert bytes(again.root_hash) == bytes(first.root_hash)
    empty = notes.open_note(again.note, notes.service_verifier_key())
    assert empty.tree_size == 3


def test_verify_with_the_public_key_alone_and_a_kept_checkpoint(app, fixed_clock, tmp_path):
    write(fixed_clock.now(), 5)
    path = checkpoint_file(app, tmp_path)
    key = cli(app, "journal", "public-key").output.strip()
    write(fixed_clock.now(), 3)  # the log goes on after the kept checkpoint
    app.config["JOURNAL_SIGNING_KEY"] = "no-private-key-here"  # the auditor has none
    result = cli(app, "journal", "verify", "--checkpoint", str(path), "--public-key", key)
    assert result.exit_code == 0, result.output
    assert "8 entrée(s) dans l'arbre" in result.output and "point de contrôle conservé vérifié (5 feuilles)" in \
        result.output


def test_a_kept_checkpoint_catches_the_tail_cut_off_and_rewritten(app, fixed_clock, tmp_path):
    write(fixed_clock.now(), 5)
    path = checkpoint_file(app, tmp_path)
    # The operator removes the tail, every trace of it in the tree, and the checkpoints that named it.
    tamper(("DELETE FROM journal_leaf", {}), ("DELETE FROM journal_node", {}),
           ("DELETE FROM journal_checkpoint", {}), ("DELETE FROM journal_entry WHERE seq > 3", {}))
    # ...and rebuilds the tree over what is left: consistent, and signed with the service's own key.
    sequencer.integrate_all(fixed_clock.now())
    assert cli(app, "journal", "verify").exit_code == 0  # the database alone looks fine
    result = cli(app, "journal", "verify", "--checkpoint", str(path))
    assert result.exit_code == 1
    assert "le point de contrôle compte 5 feuilles, l'arbre n'en a plus que 3" in result.output
    write(fixed_clock.now(), 2)  # new entries fill the tree up to 5 again: the root differs
    result = cli(app, "journal", "verify", "--checkpoint", str(path))
    assert result.exit_code == 1
    assert "les 5 premières feuilles ne correspondent plus au point de contrôle" in result.output


def _flip(text: str) -> str:
    body, line = text.split("\n\n")
    head, encoded = line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(encoded))
    raw[-1] ^= 1
    return f"{body}\n\n{head} {base64.b64encode(bytes(raw)).decode()}\n"


def _other_key(text: str) -> str:
    other = Ed25519PrivateKey.from_private_bytes(b"o" * 32)
    public = other.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    body = text.split("\n\n")[0] + "\n"
    raw = notes.key_id(ORIGIN, public) + other.sign(body.encode())
    return f"{body}\n\u2014 {ORIGIN} {base64.b64encode(raw).decode()}\n"


@pytest.mark.parametrize(("forge", "message"), [
    (lambda text: text.replace("\n5\n", "\n4\n", 1), "signature du point de contrôle invalide"),
    (lambda text: text.replace(text.split("\n")[2], base64.b64encode(b"\0" * 32).decode()),
     "signature du point de contrôle invalide"),
    (_flip, "signature du point de contrôle invalide"),
    (_other_key, "non signé par cette clé"),
    (lambda text: text.split("\n\n")[0] + "\n", "format « signed note » attendu"),
    (lambda text: "pas un point de contrôle", "format « signed note » attendu"),
])
def test_a_forged_or_unreadable_checkpoint_is_refused(app, fixed_clock, tmp_path, forge, message):
    write(fixed_clock.now(), 5)
    path = checkpoint_file(app, tmp_path)
    path.write_text(forge(path.read_text(encoding="utf-8")), encoding="utf-8")
    result = cli(app, "journal", "verify", "--checkpoint", str(path))
    assert result.exit_code == 1
    assert message in result.output


@pytest.mark.parametrize("key", [
    "no-plus-signs", f"{ORIGIN}+00000000+{base64.b64encode(ED25519 + b'k' * 32).decode()}",
    f"{ORIGIN}+zz+AAAA",
])
def test_a_wrong_public_key_is_refused(app, fixed_clock, tmp_path, key):
    write(fixed_clock.now(), 2)
    path = checkpoint_file(app, tmp_path)
    result = cli(app, "journal", "verify", "--checkpoint", str(path), "--public-key", key)
    assert result.exit_code == 1 and "refusé" in result.output


def test_a_stored_checkpoint_signed_by_another_key_fails_the_verification(app, fixed_clock):
    write(fixed_clock.now(), 3)
    text = db.session().scalars(sa.select(JournalCheckpoint.note).order_by(JournalCheckpoint.id.desc())).first()
    assert text is not None
    tamper(("UPDATE journal_checkpoint SET note = :n", {"n": _other_key(text.replace("\n3\n", "\n3\n"))}))
    result = cli(app, "journal", "verify")
    assert result.exit_code == 1 and "non signé par cette clé" in result.output
    assert merkle.EMPTY_ROOT  # the module stays importable without a database


def test_a_verifier_key_whose_base64_holds_a_plus_sign_is_read():
    """Standard base64 uses "+": only the first two "+" separate the parts (as Go's note.NewVerifier reads it)."""
    seed = 0
    while True:
        public = Ed25519PrivateKey.from_private_bytes(seed.to_bytes(32, "big")).public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw)
        key = notes.verifier_key(ORIGIN, public)
        if key.count("+") > 2:
            break
        seed += 1
    assert notes.parse_verifier_key(key) == (ORIGIN, notes.key_id(ORIGIN, public), public)


def test_an_entry_proof_verifies_with_the_public_key_and_the_proof_alone(app, fixed_clock):
    entries = write(fixed_clock.now(), 6)
    pending = journal_services.append("pending", now=fixed_clock.now())
    db.commit()
    assert tree.entry_proof(pending.seq) is None
    found = tree.entry_proof(entries[3].seq)
    assert found is not None
    signed = notes.open_note(str(found["checkpoint"]), notes.service_verifier_key())
    assert (signed.tree_size, signed.root_hash.hex()) == (found["tree_size"], found["root_hash"])
    proof = [bytes.fromhex(h) for h in found["inclusion_proof"]]  # type: ignore[attr-defined]
    assert merkle.verify_inclusion(bytes.fromhex(str(found["leaf_hash"])), int(str(found["leaf_index"])),
                                   signed.tree_size, proof, signed.root_hash)
    assert bytes.fromhex(str(found["leaf_hash"])) == reference_leaf(db.session().get(JournalEntry, entries[3].seq))


# --- incremental verification (an explicit option; the full check stays the default) ------------------------


def test_incremental_verify_recomputes_only_the_leaves_after_the_kept_checkpoint(app, fixed_clock, tmp_path):
    write(fixed_clock.now(), 5)
    saved = tmp_path / "verified.txt"
    full = cli(app, "journal", "verify", "--save", str(saved))
    assert full.exit_code == 0, full.output
    assert notes.open_note(saved.read_text(), notes.service_verifier_key()).tree_size == 5
    write(fixed_clock.now(), 3)
    journal_services.append("waiting", now=fixed_clock.now())
    db.commit()
    result = cli(app, "journal", "verify", "--checkpoint", str(saved), "--incremental", "--save", str(saved))
    assert result.exit_code == 0, result.output
    assert "(5 feuilles, non relues) : 3 entrée(s) ajoutée(s) depuis recalculée(s), 1 en attente" in result.output
    assert notes.open_note(saved.read_text(), notes.service_verifier_key()).tree_size == 8
    kept = notes.open_note(saved.read_text(), notes.service_verifier_key())
    outcome = journal_services.verify(since=kept)
    assert outcome.ok and (outcome.start, outcome.checked, outcome.tree_size) == (8, 0, 8)


def test_incremental_verify_catches_a_new_entry_altered_and_names_its_leaf(app, fixed_clock, tmp_path):
    write(fixed_clock.now(), 5)
    path = checkpoint_file(app, tmp_path)
    write(fixed_clock.now(), 3)
    tamper(("UPDATE journal_entry SET action = 'forged' WHERE seq = 7", {}))
    result = cli(app, "journal", "verify", "--checkpoint", str(path), "--incremental")
    assert result.exit_code == 1
    assert "feuille n° 6, entrée n° 7 (contenu modifié)" in result.output


def test_incremental_verify_catches_a_rewritten_past_and_a_cut_tail(app, fixed_clock, tmp_path):
    write(fixed_clock.now(), 5)
    path = checkpoint_file(app, tmp_path)
    write(fixed_clock.now(), 3)
    # An old leaf rewritten with its stored subtree: the kept root no longer comes out of the stored edge.
    tamper(("UPDATE journal_leaf SET leaf_hash = :h WHERE leaf_index = 4", {"h": b"\x01" * 32}))
    result = cli(app, "journal", "verify", "--checkpoint", str(path), "--incremental")
    assert result.exit_code == 1
    assert "les 5 premières feuilles ne correspondent plus au point de contrôle conservé" in result.output
    tamper(("DELETE FROM journal_leaf WHERE leaf_index >= 2", {}), ("DELETE FROM journal_node", {}))
    result = cli(app, "journal", "verify", "--checkpoint", str(path), "--incremental")
    assert result.exit_code == 1
    assert "l'arbre n'a plus les 5 feuilles du point de contrôle conservé" in result.output


def test_incremental_needs_a_kept_checkpoint_and_the_full_check_stays_the_default(app, fixed_clock, tmp_path):
    write(fixed_clock.now(), 4)
    result = cli(app, "journal", "verify", "--incremental")
    assert result.exit_code == 1 and "--checkpoint" in result.output
    path = checkpoint_file(app, tmp_path)
    # An old entry altered together with its leaf hash (the stored nodes left alone): only the full check,
    # which recomputes every leaf and the tree, sees it.
    tamper(("UPDATE journal_entry SET action = 'forged' WHERE seq = 2", {}))
    forged = db.session().get(JournalEntry, 2)
    tamper(("UPDATE journal_leaf SET leaf_hash = :h WHERE leaf_index = 1", {"h": reference_leaf(forged)}))
    assert cli(app, "journal", "verify", "--checkpoint", str(path), "--incremental").exit_code == 0
    result = cli(app, "journal", "verify")
    assert result.exit_code == 1 and "racine ne correspond plus" in result.output
