"""Checking the journal end to end: every leaf hash recomputed from its entry, the tree's root rebuilt from
them and compared with the latest signed checkpoint, and every pending entry read.

Rows are read through the driver, without the ORM (on PostgreSQL a thread fetches the next batch while
this one is hashed), and the tree is built by aligned blocks: a million entries would otherwise spend
most of their time in result processing.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from aidants import db
from aidants.journal import checkpoint as notes
from aidants.journal import merkle, tree
from aidants.journal.models import HASHED_FIELDS, JournalCheckpoint, JournalEntry, canonical_encoding


def entry_columns(postgresql: bool) -> str:
    """The entry's columns in HASHED_FIELDS order (``e.``), ``extra`` as its JSON text.

    PostgreSQL writes the time as the canonical encoding does (UTC ISO 8601, microseconds), on its
    own core; SQLite's stored text goes through the column type's own parsing, as the ORM would.
    """
    columns = []
    for name in HASHED_FIELDS:
        if name == "extra":
            columns.append("CAST(e.extra AS TEXT)")
        elif name == "created_at" and postgresql:
            columns.append("""to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')""")
        else:
            columns.append(f"e.{name}")
    return ", ".join(columns)


def leaf_hasher(engine: sa.Engine) -> Callable[[Sequence[Any]], bytes]:
    """A function from the raw columns of ``entry_columns`` to the entry's leaf hash."""
    to_time: Any = None  # PostgreSQL's text is already the canonical one
    if engine.dialect.name != "postgresql":
        created_type = JournalEntry.__table__.c.created_at.type.dialect_impl(engine.dialect)
        to_time = created_type.result_processor(engine.dialect, None)
    loads = json.JSONDecoder().decode
    sha256 = hashlib.sha256

    def leaf(values: Sequence[Any]) -> bytes:
        (seq, created_at, action, actor_kind, aidant_id, organisation_id, usager_id, mandat_id,
         autorisation_id, demarches, client_id, extra) = values
        if to_time is not None:
            created_at = to_time(created_at)
        return sha256(b"\x00" + canonical_encoding(
            seq, created_at, action, actor_kind, aidant_id, organisation_id, usager_id, mandat_id,
            autorisation_id, demarches, client_id, None if extra is None else loads(extra))).digest()

    return leaf


def read_raw(engine: sa.Engine, sql: str, params: Sequence[Any], batch: int,
             settings: Sequence[str] = ()) -> Iterator[Sequence[Any]]:
    """Rows of a query ``batch`` at a time, through the driver (a server-side cursor on PostgreSQL), after
    the given ``SET LOCAL`` statements (our own constants)."""
    postgresql = engine.dialect.name == "postgresql"
    raw = engine.raw_connection()
    try:
        if postgresql:  # the whole result is read: plan for all of it, not for the first rows; and a
            # long tree takes longer than a request's statement timeout (this is a batch job's reading)
            raw.cursor().execute("SET LOCAL cursor_tuple_fraction = 1")
            raw.cursor().execute("SET LOCAL statement_timeout = 0")
            for setting in settings:
                raw.cursor().execute(setting)
        cursor = (raw.driver_connection.cursor(name="journal_verify", binary=True)  # type: ignore[union-attr]
                  if postgresql else raw.cursor())
        try:
            cursor.execute(sql if postgresql else sql.replace("%s", "?"), tuple(params))
            while chunk := cursor.fetchmany(batch):
                yield chunk
        finally:
            cursor.close()
    finally:
        raw.rollback()
        raw.close()


_END = object()


def _batches(sql: str, batch: int) -> Iterator[Sequence[Any]]:
    """Like ``read_raw``; on PostgreSQL a thread fetches the next batches while the caller hashes this one."""
    engine = db.engine()
    if engine.dialect.name != "postgresql":
        yield from read_raw(engine, sql, (), batch)
        return
    ready: queue.Queue[Any] = queue.Queue(maxsize=3)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for chunk in read_raw(engine, sql, (), batch):
                ready.put(chunk)
                if stop.is_set():
                    break
        except BaseException as exc:  # handed to the caller's thread
            ready.put(exc)
        ready.put(_END)

    reader = threading.Thread(target=fetch, name="journal-verify-reader", daemon=True)
    reader.start()
    item: Any = None
    try:
        while (item := ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while item is not _END:  # let the reader finish (it may be waiting for room in the queue)
            item = ready.get()
        reader.join()


@dataclass(frozen=True)
class Verification:
    """The outcome of a verification."""

    checked: int  # leaves whose entry was recomputed, in order
    first_bad_seq: int | None
    reason: str
    tree_size: int
    root_hash: str  # hex, of the leaves checked
    pending: int = 0
    first_bad_leaf: int | None = None
    checkpoint_size: int | None = None
    roots: dict[int, bytes] = field(default_factory=dict)  # the roots at the sizes asked for
    start: int = 0  # leaves below this index were trusted from a kept checkpoint (incremental), not recomputed
    note: str | None = None  # the latest checkpoint's signed note, when it was verified

    @property
    def ok(self) -> bool:
        return self.reason == ""

    @property
    def head_seq(self) -> int:
        return self.tree_size

    @property
    def head_hash(self) -> str:
        return self.root_hash


def _leaves_sql(postgresql: bool, start: int = 0) -> str:
    # Only our own column names and an integer go into this text.
    return (f"SELECT l.leaf_index, l.leaf_hash, e.seq IS NOT NULL, {entry_columns(postgresql)} "  # noqa: S608
            "FROM journal_leaf l LEFT JOIN journal_entry e ON e.seq = l.entry_seq "
            f"WHERE l.leaf_index >= {int(start)} ORDER BY l.leaf_index")


# PostgreSQL's fast path: the server rebuilds the canonical encoding and hashes it, on its own core, when
# every string field is plain printable ASCII without a quote or a backslash (then its JSON form is the string
# between quotes, and no field can masquerade as another); ``extra`` is stored in its canonical text, which a
# json column keeps as written and which is one valid JSON value. A leaf it cannot confirm (other strings, an
# entry written before the canonical storage of ``extra``, or a tampered one) is checked in Python.
_PLAIN = "'^[ !#-[\\]-~]*$'"


def _quoted(column: str) -> str:
    return f"""COALESCE('"' || e.{column} || '"', 'null')"""


def _number(column: str) -> str:
    return f"COALESCE(CAST(e.{column} AS TEXT), 'null')"


def _canonical_text() -> str:
    """The server's rebuilding of a plain entry's canonical encoding (``e``), as text.

    One ``concat`` call builds the line at once (a chain of ``||`` would copy it at each step); every
    argument is already a non-null text, so ``concat``'s treatment of NULL never comes into play.
    """
    return "concat(" + ", ".join([
        """'{"action":'""", _quoted("action"), """',"actor_kind":'""", _quoted("actor_kind"),
        """',"aidant_id":'""", _number("aidant_id"), """',"autorisation_id":'""", _number("autorisation_id"),
        """',"client_id":'""", _quoted("client_id"),
        """',"created_at":"'""",
        """to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')""",
        """'","demarches":'""", _quoted("demarches"), """',"extra":'""", "COALESCE(CAST(e.extra AS TEXT), 'null')",
        """',"mandat_id":'""", _number("mandat_id"), """',"organisation_id":'""", _number("organisation_id"),
        """',"seq":'""", "CAST(e.seq AS TEXT)", """',"usager_id":'""", _number("usager_id"), "'}'",
    ]) + ")"


_STRINGS = "(e.action || e.actor_kind || COALESCE(e.demarches, '') || COALESCE(e.client_id, ''))"


def _quick_expression() -> str:
    """Whether the server confirms a leaf (``l``) from its entry (``e``): true, or false when it cannot."""
    # One regular expression over the four strings together (plain characters are plain side by side).
    return (f"COALESCE(e.seq IS NOT NULL AND {_STRINGS} ~ {_PLAIN} AND "
            f"l.leaf_hash = sha256('\\x00'::bytea || convert_to({_canonical_text()}, 'UTF8')), false)")


def _quick_sql(start: int = 0) -> str:
    """Each leaf from ``start``, its stored hash and whether the server confirmed it (``l``, ``e``), in order."""
    return (f"SELECT l.leaf_index, l.leaf_hash, {_quick_expression()} FROM journal_leaf l "  # noqa: S608
            f"LEFT JOIN journal_entry e ON e.seq = l.entry_seq WHERE l.leaf_index >= {int(start)} "
            "ORDER BY l.leaf_index")


def _slow_rows(engine: sa.Engine, indexes: list[int]) -> dict[int, Sequence[Any]]:
    """The full rows of the leaves the fast path could not confirm, for Python to check."""
    sql = (f"SELECT l.leaf_index, l.leaf_hash, e.seq IS NOT NULL, {entry_columns(True)} "  # noqa: S608
           "FROM journal_leaf l LEFT JOIN journal_entry e ON e.seq = l.entry_seq WHERE l.leaf_index = ANY(%s)")
    return {row[0]: row for chunk in read_raw(engine, sql, [indexes], 10000) for row in chunk}


def _pending_sql(postgresql: bool) -> str:
    return (f"SELECT {entry_columns(postgresql)} FROM journal_entry e WHERE NOT EXISTS "  # noqa: S608
            "(SELECT 1 FROM journal_leaf l WHERE l.entry_seq = e.seq) ORDER BY e.seq")


def verify(batch: int = 10000, *, verifier: str | None = None, sizes: Iterable[int] = (),
           since: notes.Checkpoint | None = None) -> Verification:
    """Recompute every leaf and the root; check the latest checkpoint with ``verifier`` (default: ours).

    On PostgreSQL an intact tree is checked by the fast path (``_fast_leaves``); any doubt it raises (a
    gap, a leaf of the wrong length, an entry that does not match) sends the whole check down the
    streaming path, which finds and names the first bad leaf.

    ``since`` (incremental, an explicit choice): a checkpoint the caller verified earlier and kept (its
    signature already checked). Its leaves are not recomputed: the stored subtrees of its right edge must
    give its root (the tree was not rewritten below it), and the leaves after it are recomputed from their
    entries and extend that edge to the latest signed root (consistency). An entry below it that was
    altered together with its leaf hash, the stored nodes left alone, is only caught by the full check.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    engine = db.engine()
    postgresql = engine.dialect.name == "postgresql"
    latest = db.session().execute(sa.select(JournalCheckpoint).order_by(JournalCheckpoint.id.desc()).limit(1)
                                  ).scalars().first()
    wanted = sorted({*sizes, *([latest.tree_size] if latest else [])})
    leaf = leaf_hasher(engine)
    frontier = merkle.Frontier()
    roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT} if 0 in wanted else {}
    start = 0
    if since is not None and since.tree_size > 0:
        start = since.tree_size
        kept = _kept_frontier(since)
        if isinstance(kept, str):
            return Verification(0, None, kept, 0, "", first_bad_leaf=None,
                                checkpoint_size=latest.tree_size if latest else None, start=start)
        frontier, roots[start] = kept, since.root_hash
    targets = [size for size in wanted if size > start]
    bad: tuple[int, int | None, str] | None = None
    fast = _fast_leaves(engine, leaf, start) if postgresql else None
    if fast is not None:
        _extend(frontier, fast, targets, roots)
        return _finish(frontier, None, latest, verifier, roots, leaf, batch, start)
    for chunk in _batches(_quick_sql(start) if postgresql else _leaves_sql(postgresql, start), batch):
        unconfirmed = [row[0] for row in chunk if not row[2]] if postgresql else []
        slow = _slow_rows(engine, unconfirmed) if unconfirmed else {}
        hashes: list[bytes] = []
        for quick_row in chunk:
            index = quick_row[0]
            if index != frontier.size + len(hashes):
                bad = (frontier.size + len(hashes), None, "feuille manquante")
                break
            if postgresql and quick_row[2]:
                hashes.append(bytes(quick_row[1]))
                continue
            row = slow.get(index, quick_row)
            if not row[2]:
                bad = (index, None, "entrée intégrée disparue")
                break
            digest = leaf(row[3:])
            if digest != bytes(row[1]):
                bad = (index, row[3], "contenu modifié")
                break
            hashes.append(digest)
        _extend(frontier, hashes, targets, roots)
        if bad:
            break
    return _finish(frontier, bad, latest, verifier, roots, leaf, batch, start)


def _kept_frontier(since: notes.Checkpoint) -> merkle.Frontier | str:
    """The stored right edge of the kept checkpoint's tree when it still gives the kept root; else why not."""
    size = since.tree_size
    try:
        kept = tree.frontier(db.session(), size) if size <= tree.size() else None
    except tree.ProofError:
        kept = None
    if kept is None:
        return f"l'arbre n'a plus les {size} feuilles du point de contrôle conservé"
    if kept.root() != since.root_hash:
        return f"les {size} premières feuilles ne correspondent plus au point de contrôle conservé"
    return kept


def _finish(frontier: merkle.Frontier, bad: tuple[int, int | None, str] | None, latest: JournalCheckpoint | None,
            verifier: str | None, roots: dict[int, bytes], leaf: Callable[[Sequence[Any]], bytes],
            batch: int, start: int = 0) -> Verification:
    """The pending entries read, the latest checkpoint checked, the outcome (after the leaves were)."""
    postgresql = db.engine().dialect.name == "postgresql"
    reason, first_bad_leaf, first_bad_seq = "", None, None
    if bad:
        first_bad_leaf, first_bad_seq, reason = bad
    pending = 0
    if not bad:
        for chunk in _batches(_pending_sql(postgresql), batch):
            for row in chunk:
                leaf(row)  # readable and encodable: the sequencer will be able to integrate it
            pending += len(chunk)
    if not bad and latest is not None:
        reason = _check_latest(latest, verifier, roots)
    note = latest.note if latest is not None and not reason else None
    return Verification(frontier.size - start, first_bad_seq, reason, frontier.size, frontier.root().hex(), pending,
                        first_bad_leaf, latest.tree_size if latest else None, roots, start, note)


# --- PostgreSQL's fast path ------------------------------------------------------------------------------------
#
# The server is good at joining and concatenating and slow at SHA-256 (a new digest context per call, about
# ten times hashlib's cost): it sends, block after block of leaves, their stored hashes (one bytea) and the
# canonical encodings of their plain entries (one text, a line per leaf, empty for a leaf it cannot rebuild);
# Python hashes the lines in one tight loop and compares the digests with the stored ones, while the server
# (on its own core) prepares the next block. A plain entry's strings hold no quote, backslash or newline:
# then its fields cannot masquerade as one another, and any other character (control, non-ASCII) would be
# escaped in the true canonical encoding, so the rebuilt text could only fail to match, never match wrongly.
# A leaf whose line does not match is checked from its full row in Python; anything else the fast path cannot
# explain (a gap, a hash of another length, a mismatch) sends the whole check down the streaming path.

FAST_BLOCK = 65_536

_PLAIN_STRINGS = (f"strpos({_STRINGS}, '\"') = 0 AND strpos({_STRINGS}, '\\') = 0 "
                  f"AND strpos({_STRINGS}, E'\\n') = 0")


def _block_sql() -> str:
    """A block without a join: its leaves (count, hashes, entry ids, in index order), then the lines of the
    entries whose ids lie between the smallest and the largest of the block's, in id order.

    The sequencer integrates entries in id order, so these two lists of ids are nearly always equal, and then
    the lines line up with the leaves: two range scans, where the join would probe the entries' index once a
    leaf (about a quarter of the server's time). When they differ (an entry integrated late, one pending or
    missing inside the range), ``_joined_block_sql`` reads the block again. Each side's aggregates read one
    ordered subquery, so they see its rows in one order; were it ever another, the ids would not match (a
    second reading) or the root would not (a false alarm), never a false confirmation.
    """
    line = f"COALESCE(CASE WHEN {_PLAIN_STRINGS} THEN {_canonical_text()} END, '')"
    return ("SELECT l.n, l.hashes, l.seqs, b.seqs, b.lines FROM ("  # noqa: S608 (our columns)
            "SELECT COUNT(*) AS n, string_agg(leaf_hash, ''::bytea) AS hashes, array_agg(entry_seq) AS seqs, "
            "MIN(entry_seq) AS lo, MAX(entry_seq) AS hi FROM (SELECT leaf_hash, entry_seq FROM journal_leaf "
            "WHERE leaf_index >= %s AND leaf_index < %s ORDER BY leaf_index) AS x) AS l, LATERAL ("
            "SELECT array_agg(seq) AS seqs, convert_to(string_agg(line, E'\n'), 'UTF8') AS lines FROM ("
            f"SELECT e.seq, {line} AS line FROM journal_entry e WHERE e.seq BETWEEN l.lo AND l.hi "
            "ORDER BY e.seq) AS y) AS b")


def _joined_block_sql() -> str:
    # The leaves in index order (an index scan, then a nested loop on the entries' primary key: a block
    # touches only its own entries) feed the two aggregates in that order, with no sort; were the order ever
    # different, the root would not match the checkpoint: a false alarm, never a false confirmation.
    return ("SELECT COUNT(*), string_agg(leaf_hash, ''::bytea), "  # noqa: S608 (our columns)
            "convert_to(string_agg(line, E'\\n'), 'UTF8') FROM ("
            f"SELECT l.leaf_hash, COALESCE(CASE WHEN e.seq IS NOT NULL AND {_PLAIN_STRINGS} "
            f"THEN {_canonical_text()} END, '') AS line "
            "FROM journal_leaf l LEFT JOIN journal_entry e ON e.seq = l.entry_seq "
            "WHERE l.leaf_index >= %s AND l.leaf_index < %s ORDER BY l.leaf_index) AS block")


_BLOCK_SETTINGS = ("SET LOCAL enable_hashjoin = off", "SET LOCAL enable_mergejoin = off",
                   "SET LOCAL max_parallel_workers_per_gather = 0")


def _one(engine: sa.Engine, sql: str, params: Sequence[Any], settings: Sequence[str] = ()) -> Sequence[Any]:
    """The one row of a query, read through ``read_raw`` (its connection back in the pool after)."""
    (row,) = [row for chunk in read_raw(engine, sql, params, 1, settings) for row in chunk]
    return row


def _blocks(engine: sa.Engine, start: int, size: int) -> Iterator[tuple[int, Sequence[Any]]]:
    """Each block's first index and row, in order; two connections read the next blocks (the server
    rebuilds their lines on two cores) while the caller hashes this one."""
    firsts = range(start, size, FAST_BLOCK)

    def read(first: int) -> Sequence[Any]:
        end = min(size, first + FAST_BLOCK)
        count, hashes, leaf_seqs, entry_seqs, lines = _one(engine, _block_sql(), [first, end], _BLOCK_SETTINGS)
        if leaf_seqs != entry_seqs:  # not lined up: the join pairs each leaf with its entry
            count, hashes, lines = _one(engine, _joined_block_sql(), [first, end], _BLOCK_SETTINGS)
        return count, hashes, lines

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="journal-verify") as pool:
        ahead = [pool.submit(read, first) for first in firsts[:3]]
        try:
            for position, first in enumerate(firsts):
                row = ahead.pop(0).result()
                if position + 3 < len(firsts):
                    ahead.append(pool.submit(read, firsts[position + 3]))
                yield first, row
        finally:
            for future in ahead:
                future.cancel()


def _fast_leaves(engine: sa.Engine, leaf: Callable[[Sequence[Any]], bytes], start: int = 0) -> list[bytes] | None:
    """Every leaf hash of an intact tree from ``start``, in order, each confirmed from its entry; None at the
    first doubt."""
    size = int(_one(engine, "SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM journal_leaf", ())[0])
    if size == 0:
        return None
    sha256 = hashlib.sha256
    leaves: list[bytes] = []
    for first, (count, joined, lines) in _blocks(engine, start, size):
        expected = min(size, first + FAST_BLOCK) - first
        if count != expected or joined is None or len(joined) != 32 * expected:
            return None  # a gap (indexes are unique), or a hash of another length
        stored = bytes(joined)
        block = [stored[start:start + 32] for start in range(0, 32 * expected, 32)]
        texts = bytes(lines).split(b"\n")
        if len(texts) != expected:
            return None
        digests = [sha256(b"\x00" + text).digest() for text in texts]
        if digests != block:
            unconfirmed = [first + n for n, (ours, theirs) in enumerate(zip(digests, block, strict=True))
                           if ours != theirs]
            if not _confirmed(engine, unconfirmed, leaf, block, first):
                return None
        leaves.extend(block)
    return leaves


def _confirmed(engine: sa.Engine, indexes: list[int], leaf: Callable[[Sequence[Any]], bytes],
               block: list[bytes], first: int) -> bool:
    """Whether each leaf the server could not rebuild has its entry, and that entry hashes to the leaf."""
    for start in range(0, len(indexes), 10000):
        rows = _slow_rows(engine, indexes[start:start + 10000])
        for index in indexes[start:start + 10000]:
            row = rows.get(index)
            if row is None or not row[2] or leaf(row[3:]) != block[index - first]:
                return False
    return True
def _extend(frontier: merkle.Frontier, hashes: list[bytes], targets: list[int], roots: dict[int, bytes]) -> None:
    """Add leaves, noting the root whenever the tree passes through a size asked for."""
    position = 0
    for size in targets:
        if frontier.size < size <= frontier.size + len(hashes) - position:
            step = size - frontier.size
            frontier.extend(hashes[position:position + step])
            position += step
            roots[size] = frontier.root()
    frontier.extend(hashes[position:])


def _check_latest(latest: JournalCheckpoint, verifier: str | None, roots: dict[int, bytes]) -> str:
    """Why the latest stored checkpoint does not hold (empty when it does)."""
    try:
        found = notes.open_note(latest.note, verifier or notes.service_verifier_key())
    except notes.NoteError as exc:
        return f"dernier point de contrôle n° {latest.id} : {exc}"
    if (found.tree_size, found.root_hash) != (latest.tree_size, bytes(latest.root_hash)):
        return f"dernier point de contrôle n° {latest.id} : la note signée ne correspond pas à la table"
    if latest.tree_size not in roots:
        return f"dernier point de contrôle n° {latest.id} : l'arbre n'a plus ses {latest.tree_size} feuilles"
    if roots[latest.tree_size] != found.root_hash:
        return f"dernier point de contrôle n° {latest.id} : la racine ne correspond plus à l'arbre"
    return ""
