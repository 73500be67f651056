"""Checkpoints of the journal's Merkle tree as C2SP signed notes (tlog-checkpoint), verifiable with the
public key alone.

    <origin>\\n<tree size>\\n<base64 root hash>\\n\\n— <key name> <base64(key id || Ed25519 signature)>\\n

The key id is the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || public key); the verifier key an
auditor is given is ``<name>+<hex key id>+<base64(0x01 || public key)>`` (c2sp.org/signed-note).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app

from aidants.security import crypto

_ED25519 = b"\x01"
_DASH = "\u2014 "


class NoteError(ValueError):
    """A checkpoint or a verifier key that cannot be read or does not verify (message in French)."""


@dataclass(frozen=True)
class Checkpoint:
    """What a verified checkpoint says."""

    origin: str
    tree_size: int
    root_hash: bytes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError("base64 illisible") from None


def origin() -> str:
    """The log's origin line and key name: the public host, then ``/journal``."""
    configured = current_app.config.get("JOURNAL_ORIGIN")
    if configured:
        return str(configured)
    host = urlsplit(current_app.config.get("PUBLIC_URL") or "").hostname or "aidants.localhost"
    return f"{host}/journal"


def key_id(name: str, public: bytes) -> bytes:
    """The signed-note key id of an Ed25519 key."""
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public).digest()[:4]


def verifier_key(name: str, public: bytes) -> str:
    """The verifier key string to publish."""
    return f"{name}+{key_id(name, public).hex()}+{_b64(_ED25519 + public)}"


def service_verifier_key() -> str:
    """This service's verifier key (derived from JOURNAL_SIGNING_KEY; only the public half is shown)."""
    key = crypto.signing_key(current_app.config["JOURNAL_SIGNING_KEY"])
    return verifier_key(origin(), crypto.public_key_raw(key))


def parse_verifier_key(text: str) -> tuple[str, bytes, bytes]:
    """Name, key id and raw public key of a verifier key; NoteError when malformed."""
    parts = text.strip().split("+", 2)  # the base64 key may itself hold a "+"
    if len(parts) != 3 or not parts[0]:
        raise NoteError("clé publique illisible (attendu : nom+identifiant+clé)")
    name, hex_id, encoded = parts
    try:
        wanted_id = bytes.fromhex(hex_id)
    except ValueError:
        raise NoteError("identifiant de clé illisible") from None
    raw = _unb64(encoded)
    if len(wanted_id) != 4 or len(raw) != 33 or raw[:1] != _ED25519:
        raise NoteError("clé publique illisible (une clé Ed25519 est attendue)")
    public = raw[1:]
    if key_id(name, public) != wanted_id:
        raise NoteError("l'identifiant ne correspond pas à la clé publique")
    return name, wanted_id, public


def body(origin_line: str, tree_size: int, root_hash: bytes) -> str:
    """The checkpoint text that is signed."""
    return f"{origin_line}\n{tree_size}\n{_b64(root_hash)}\n"


def sign(tree_size: int, root_hash: bytes) -> str:
    """The signed note of a tree head, signed with JOURNAL_SIGNING_KEY."""
    key = crypto.signing_key(current_app.config["JOURNAL_SIGNING_KEY"])
    name = origin()
    text = body(name, tree_size, root_hash)
    signature = crypto.sign_raw(key, text.encode())
    return f"{text}\n{_DASH}{name} {_b64(key_id(name, crypto.public_key_raw(key)) + signature)}\n"


def open_note(note: str, verifier: str) -> Checkpoint:
    """The checkpoint a signed note holds, once its signature by ``verifier`` is checked; NoteError otherwise."""
    name, wanted_id, public = parse_verifier_key(verifier)
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("point de contrôle illisible (format « signed note » attendu)")
    text += "\n"
    signed = False
    for line in signatures[:-1].split("\n"):
        if not line.startswith(_DASH):
            raise NoteError("ligne de signature illisible")
        signer, _, encoded = line[len(_DASH):].rpartition(" ")
        raw = _unb64(encoded)
        if signer != name or raw[:4] != wanted_id or len(raw) != 68:
            continue  # another signer's line: not ours to check
        if not crypto.verify_raw(public, text.encode(), raw[4:]):
            raise NoteError("signature du point de contrôle invalide")
        signed = True
    if not signed:
        raise NoteError("point de contrôle non signé par cette clé")
    lines = text.split("\n")
    if len(lines) < 4 or not lines[1].isdigit() or (lines[1] != "0" and lines[1].startswith("0")):
        raise NoteError("point de contrôle illisible (origine, taille, racine)")
    root = _unb64(lines[2])
    if len(root) != 32:
        raise NoteError("racine du point de contrôle illisible")
    return Checkpoint(lines[0], int(lines[1]), root)
