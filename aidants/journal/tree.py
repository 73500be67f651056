"""The stored Merkle tree: its size, roots and proofs, read from ``journal_leaf`` and ``journal_node``.

A proof reads only the few perfect subtrees it needs (one query each for leaves and nodes), never the
whole tree: a usager's space can prove that a listed use is in the log in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import sqlalchemy as sa

from aidants import db
from aidants.journal import merkle
from aidants.journal.models import JournalLeaf, JournalNode


class Executor(Protocol):
    """A Session or a Connection."""

    def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any: ...


class ProofError(ValueError):
    """A proof asked for a tree the log does not hold (message in French)."""


def size(executor: Executor | None = None) -> int:
    """How many leaves the tree has."""
    found = (executor or db.session()).execute(sa.select(sa.func.max(JournalLeaf.leaf_index))).scalar()
    return 0 if found is None else int(found) + 1


def fetch(executor: Executor, nodes: Iterable[merkle.Node]) -> dict[merkle.Node, bytes]:
    """The stored hashes of perfect subtrees (level 0: leaves)."""
    wanted = set(nodes)
    leaves = [index for level, index in wanted if level == 0]
    inner = [(level, index) for level, index in wanted if level > 0]
    found: dict[merkle.Node, bytes] = {}
    for start in range(0, len(leaves), 500):
        rows = executor.execute(sa.select(JournalLeaf.leaf_index, JournalLeaf.leaf_hash)
                                .where(JournalLeaf.leaf_index.in_(leaves[start:start + 500])))
        found.update({(0, int(index)): bytes(digest) for index, digest in rows})
    for start in range(0, len(inner), 500):
        rows = executor.execute(sa.select(JournalNode.level, JournalNode.idx, JournalNode.hash)
                                .where(sa.tuple_(JournalNode.level, JournalNode.idx).in_(inner[start:start + 500])))
        found.update({(int(level), int(index)): bytes(digest) for level, index, digest in rows})
    missing = wanted - found.keys()
    if missing:
        raise ProofError(f"le journal ne contient pas les nœuds {sorted(missing)[:3]} de l'arbre")
    return found


def _hashes(ranges: list[tuple[int, int]], executor: Executor | None) -> list[bytes]:
    stored = fetch(executor or db.session(), merkle.nodes_for(ranges))
    return merkle.hashes_of(ranges, stored.__getitem__)


def _check_size(tree_size: int, executor: Executor | None) -> None:
    if tree_size > size(executor):
        raise ProofError(f"l'arbre du journal n'a pas encore {tree_size} feuilles")


def root_at(tree_size: int, executor: Executor | None = None) -> bytes:
    """The root hash of the tree's first ``tree_size`` leaves."""
    if tree_size < 0:
        raise ProofError("taille d'arbre négative")
    if tree_size == 0:
        return merkle.EMPTY_ROOT
    _check_size(tree_size, executor)
    return _hashes([(0, tree_size)], executor)[0]


def inclusion_proof(leaf_index: int, tree_size: int, executor: Executor | None = None) -> list[bytes]:
    """RFC 9162 inclusion proof of one leaf in the tree of ``tree_size`` leaves."""
    if not 0 <= leaf_index < tree_size:
        raise ProofError("la feuille n'est pas dans cet arbre")
    _check_size(tree_size, executor)
    return _hashes(merkle.inclusion_ranges(leaf_index, tree_size), executor)


def consistency_proof(first: int, second: int, executor: Executor | None = None) -> list[bytes]:
    """RFC 9162 consistency proof between the trees of ``first`` and ``second`` leaves."""
    if not 0 <= first <= second:
        raise ProofError("le premier arbre doit être plus petit que le second")
    _check_size(second, executor)
    return _hashes(merkle.consistency_ranges(first, second), executor)


def frontier(executor: Executor, tree_size: int) -> merkle.Frontier:
    """The right edge of the stored tree, to extend it."""
    nodes = merkle.Frontier.nodes_of(tree_size)
    stored = fetch(executor, nodes)
    return merkle.Frontier(tree_size, [stored[node] for node in nodes])


def entry_proof(seq: int) -> dict[str, object] | None:
    """Everything a third party needs to check that an entry is in the log: its leaf, an inclusion proof in
    the latest signed tree, and that tree's signed note (None while the entry is pending)."""
    from aidants.journal.models import JournalCheckpoint

    session = db.session()
    leaf = session.execute(sa.select(JournalLeaf.leaf_index, JournalLeaf.leaf_hash)
                           .where(JournalLeaf.entry_seq == seq)).first()
    latest = session.scalars(sa.select(JournalCheckpoint).order_by(JournalCheckpoint.id.desc()).limit(1)).first()
    if leaf is None or latest is None or leaf.leaf_index >= latest.tree_size:
        return None
    return {
        "seq": seq, "leaf_index": int(leaf.leaf_index), "leaf_hash": bytes(leaf.leaf_hash).hex(),
        "tree_size": latest.tree_size, "root_hash": bytes(latest.root_hash).hex(),
        "inclusion_proof": [digest.hex() for digest in inclusion_proof(leaf.leaf_index, latest.tree_size)],
        "checkpoint": latest.note,
    }
