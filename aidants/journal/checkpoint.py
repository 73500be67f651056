"""Signed checkpoints of the journal's head, to keep outside the database.

A checkpoint (sequence number, head hash, time) signed with Ed25519 proves later
that the chain up to that point is unchanged, and that no entry up to it was
removed from the end, which the chain alone cannot show.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from aidants.journal import services as journal
from aidants.security import crypto

FORMAT = "aidants-journal-checkpoint/1"


def _message(seq: int, head_hash: str, time: str) -> bytes:
    return json.dumps({"format": FORMAT, "seq": seq, "hash": head_hash, "time": time},
                      sort_keys=True, separators=(",", ":")).encode()


def make(signing_key_b64: str, now: dt.datetime) -> dict[str, Any]:
    """Sign the current head of the journal."""
    key = crypto.signing_key(signing_key_b64)
    seq, head_hash = journal.head()
    time = now.astimezone(dt.UTC).isoformat(timespec="seconds")
    return {
        "format": FORMAT, "seq": seq, "hash": head_hash, "time": time,
        "public_key": crypto.public_key_b64(key), "signature": crypto.sign(key, _message(seq, head_hash, time)),
    }


def check(checkpoint: dict[str, Any], signing_key_b64: str) -> str | None:
    """None when the checkpoint is ours, well signed, and matches the chain; otherwise why not."""
    try:
        seq, head_hash, time = int(checkpoint["seq"]), str(checkpoint["hash"]), str(checkpoint["time"])
        signature = str(checkpoint["signature"])
    except (KeyError, TypeError, ValueError):
        return "point de contrôle illisible"
    public = crypto.public_key_b64(crypto.signing_key(signing_key_b64))
    if not crypto.verify_signature(public, _message(seq, head_hash, time), signature):
        return "signature du point de contrôle invalide (ou clé différente)"
    if seq == 0:
        return None
    stored = journal.hash_at(seq)
    if stored is None:
        return f"l'entrée {seq} du point de contrôle a disparu du journal"
    if not crypto.equal(stored, head_hash):
        return f"l'entrée {seq} ne correspond plus au point de contrôle"
    return None
