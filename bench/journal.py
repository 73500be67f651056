"""Journal figures: appends per second with concurrent writers (no lock: each inserts its entry), the
sequencer's integration rate, and verification speed over a long tree.

    .venv/bin/python -m bench.journal                       # a temporary SQLite file
    .venv/bin/python -m bench.journal --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m bench.journal --database-url … --processes   # 8 writers as gunicorn serves them
    .venv/bin/python -m bench.journal --database-url … --processes --threads 1 --commit-delay 100
    .venv/bin/python -m bench.journal --database-url … --pieces --appends 8 --entries 0   # where the CPU goes

``--processes`` runs the 8 writers as ``gunicorn.conf.py`` serves requests: 2 worker processes of 4 threads
(``--threads``), the shape the figure should describe. Against raw psycopg's rate in the same run (8
processes), on the shared 2-core machine at load 8-13: 8 x 1 0.46-0.55, 4 x 2 0.64, 2 x 4 0.56-0.80, 1 x 8
1.28 (one run): threads overlap their waits (round trips, the WAL flush), but the spread is the machine's load.
Group commit (``--commit-delay``: ``commit_delay``/``commit_siblings``) is the deployment's choice and keeps
durability (each COMMIT still waits for its WAL flush, shared with its neighbours); ``synchronous_commit=off``
would not, and is not an option for the journal. On this machine the box is CPU-bound, not flush-bound:
commit_delay=100 moved the rates by +18-21 % in one run and commit_delay=1000 by +1-9 % in another (load 3-9),
within the noise. ``--pieces`` shows why the service's append stays above raw psycopg's: the per-transaction
work of SQLAlchemy's Session (begin, connection checkout and return, commit), about 530 Python calls for a
request-like append. Verification's Python side alone costs ~1.3 us (leaf hash) + ~0.6 us (interior nodes) per
leaf, on top of the server's ~2 us rebuilding each line: on 2 cores a full recomputation cannot reach 1 M
entries/s (1 us of the machine per entry for everything); the incremental check from a kept checkpoint does.

On PostgreSQL the benchmark creates its own database ``bench_journal_j`` next to the one named in the URL and
drops it at the end (``--keep`` to look at it afterwards). It prints plain figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from aidants import create_app, db, migrate
from aidants.journal import checkpoint as notes
from aidants.journal import merkle, sequencer, tree, verification
from aidants.journal import services as journal
from aidants.journal.models import HASHED_FIELDS, JournalCheckpoint, canonical_encoding

BENCH_DATABASE = "bench_journal_j"
COLUMNS = (*HASHED_FIELDS, "txid")
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode
#: Threads per worker as ``gunicorn.conf.py`` serves (gthread, ``GUNICORN_THREADS``, default 4): the writer
#: processes of ``--processes`` model the deployment, where a worker's threads overlap their round trips and
#: WAL flushes and two workers hold the two cores, rather than eight processes contending for them.
GUNICORN_THREADS = int(os.environ.get("GUNICORN_THREADS", "4"))
ACTIONS = ("connect_aidant", "create_attestation", "use_autorisation", "cancel_autorisation", "failed_code")


def _key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _admin(url: sa.URL) -> sa.Engine:
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def prepare_database(url: str | None, workdir: Path) -> str:
    """A fresh, migrated database for the benchmark; its URL."""
    if url is None:
        target = f"sqlite:///{workdir / 'bench_journal.sqlite3'}"
    else:
        base = sa.make_url(url)
        with _admin(base).connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)'))
            connection.execute(sa.text(f'CREATE DATABASE "{BENCH_DATABASE}"'))
        target = base.set(database=BENCH_DATABASE).render_as_string(hide_password=False)
    engine = sa.create_engine(target, poolclass=sa.pool.NullPool)
    migrate.upgrade(engine)
    engine.dispose()
    return target


def drop_database(url: str | None, target: str) -> None:
    if url is not None:
        with _admin(sa.make_url(url)).connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)'))


def build_app(target: str, workdir: Path) -> Flask:
    os.environ["AIDANTS_INSTANCE"] = str(workdir / "instance")
    environ = {
        "AIDANTS_ENV": "test", "DATABASE_URL": target, "SECRET_KEY": _key(), "SEED_ENCRYPTION_KEYS": "b1:" + _key(),
        "JOURNAL_SIGNING_KEY": _key(), "USAGER_SUB_KEY": _key(),
    }
    return create_app({"TESTING": True}, environ=environ)


# --- (a) concurrent appends ---------------------------------------------------------------------


def bench_appends(app: Flask, writers: int, total: int) -> None:
    """``writers`` threads, each appending its share of ``total`` entries, one transaction per entry."""
    share = total // writers
    start = threading.Barrier(writers + 1)
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            with app.app_context():
                db.session().execute(sa.text("SELECT 1"))  # connect before the clock starts
                db.commit()
                start.wait()
                for n in range(share):
                    journal.append("bench_append", now=dt.datetime.now(dt.UTC), actor_kind="system",
                                   aidant_id=number, organisation_id=n, extra={"writer": number, "n": n})
                    db.commit()
        except BaseException as exc:
            errors.append(exc)
            raise

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(writers)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise SystemExit(f"appends failed: {errors[0]!r}")
    done = share * writers
    print(f"appends: {done} entries, {writers} writer threads, one transaction each: "
          f"{elapsed:.2f} s, {done / elapsed:,.0f} appends/s")


def _session_settings(settings: tuple[str, ...]) -> Any:
    """A ``connect`` listener that applies the bench's session settings (``SET commit_delay …``)."""
    def apply(dbapi_connection: Any, _record: Any) -> None:
        for setting in settings:
            dbapi_connection.execute(setting)
        dbapi_connection.commit()
    return apply


def _process_writer(target: str, workdir: str, number: int, share: int, barrier: Any, failures: Any,
                    threads: int = 1, settings: tuple[str, ...] = ()) -> None:
    """One writer process: its own app, ``threads`` threads with a connection each, ``share`` appends per
    thread, one transaction each (as a gunicorn worker with that many threads would)."""
    try:
        app = build_app(target, Path(workdir) / f"w{number}")
        if settings:
            app.extensions["db_engine"].dispose()
            sa.event.listen(app.extensions["db_engine"], "connect", _session_settings(settings))

        def write(thread: int, ready: threading.Barrier | None) -> None:
            with app.app_context():
                db.session().execute(sa.text("SELECT 1"))
                db.commit()
                if ready is not None:
                    ready.wait()
                else:
                    barrier.wait()
                writer = number * threads + thread
                for n in range(share):
                    journal.append("bench_append", now=dt.datetime.now(dt.UTC), actor_kind="system",
                                   aidant_id=writer, organisation_id=n, extra={"writer": writer, "n": n})
                    db.commit()

        if threads == 1:
            write(0, None)
        else:
            ready = threading.Barrier(threads + 1)
            workers = [threading.Thread(target=write, args=(thread, ready)) for thread in range(threads)]
            for worker in workers:
                worker.start()
            ready.wait()  # every thread connected: now the common start
            barrier.wait()
            for worker in workers:
                worker.join()
        app.extensions["db_engine"].dispose()
    except BaseException as exc:
        failures.put(repr(exc))
        raise


def _raw_writer(target: str, _workdir: str, number: int, share: int, barrier: Any, failures: Any,
                threads: int = 1, settings: tuple[str, ...] = (), *, autocommit: bool = False) -> None:
    """The floor to compare with: the same INSERT and commit through psycopg alone (no app, no SQLAlchemy);
    with ``autocommit`` the INSERT is its own transaction (one round trip, no BEGIN or COMMIT sent): the
    machine's ceiling for one commit per entry, which no service transaction can beat."""
    import psycopg
    from psycopg.types.json import Json

    del threads  # one connection per process
    try:
        url = sa.make_url(target)
        with psycopg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                             dbname=url.database, autocommit=autocommit) as connection:
            for setting in settings:
                connection.execute(setting)
            connection.execute("SELECT 1")
            connection.commit()
            barrier.wait()
            for n in range(share):
                connection.execute(journal._INSERT_POSTGRESQL, (  # the very statement append sends
                    dt.datetime.now(dt.UTC), "bench_append", "system", number, n, None, None, None, None, None,
                    Json({"writer": number, "n": n}, dumps=_CANONICAL)), prepare=True).fetchone()
                if not autocommit:
                    connection.commit()
    except BaseException as exc:
        failures.put(repr(exc))
        raise


def _raw_autocommit_writer(*args: Any) -> None:
    _raw_writer(*args, autocommit=True)


def bench_append_processes(target: str, workdir: Path, writers: int, total: int, *, raw: str = "",
                           threads: int = 1, settings: tuple[str, ...] = ()) -> float:
    """``writers`` concurrent writers in ``writers // threads`` processes of ``threads`` threads (as gunicorn
    workers would be), each appending its share of ``total``; with ``raw`` ("tx" or "autocommit"), the same
    statement through psycopg alone (one process per writer), to show what the service's layers cost.
    The rate."""
    context = multiprocessing.get_context("fork")
    threads = 1 if raw else threads
    share = total // writers
    count = writers // threads
    barrier, failures = context.Barrier(count + 1), context.Queue()
    function = {"": _process_writer, "tx": _raw_writer, "autocommit": _raw_autocommit_writer}[raw]
    processes = [context.Process(target=function, args=(target, str(workdir), n, share, barrier, failures, threads,
                                                        settings))
                 for n in range(count)]
    for process in processes:
        process.start()
    barrier.wait()
    began = time.perf_counter()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - began
    if not failures.empty():
        raise SystemExit(f"appends failed: {failures.get()}")
    done = share * count * threads
    what = {"": "journal.services.append + commit", "tx": "raw psycopg, same INSERT + COMMIT",
            "autocommit": "raw psycopg, the INSERT alone in autocommit"}[raw]
    how = f"{count} processes" if threads == 1 else f"{count} processes x {threads} threads"
    extra = f", {'; '.join(settings)}" if settings else ""
    print(f"appends ({what}): {done} entries, {how}, one transaction each{extra}: "
          f"{elapsed:.2f} s, {done / elapsed:,.0f} appends/s")
    return done / elapsed


# --- (a') where an append's CPU goes ------------------------------------------------------------------


def _cpu_per_call(function: Any, count: int) -> float:
    """This process's CPU per call of ``function(count)`` (µs), after a warm-up: load-robust, unlike rates."""
    function(50)
    began = time.process_time()
    function(count)
    return (time.process_time() - began) / count * 1e6


def bench_pieces(app: Flask, target: str, count: int = 2000) -> None:
    """One writer's CPU per piece of an append, each measured alone in this process, and the raw psycopg floor:
    what the layers cost (the server's CPU is not counted). Then the count of Python calls per request-like
    append (deterministic) and verification's Python cost per leaf (why a full check cannot reach 1 M/s here)."""
    import cProfile
    import pstats

    import psycopg
    from psycopg.types.json import Json

    url = sa.make_url(target)
    raw = psycopg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                          dbname=url.database)

    def values(n: int) -> tuple[Any, ...]:
        return (dt.datetime.now(dt.UTC), "bench_append", "system", 1, n, None, None, None, None, None,
                Json({"writer": 1, "n": n}, dumps=_CANONICAL))

    def raw_commit(count: int) -> None:
        for n in range(count):
            raw.execute(journal._INSERT_POSTGRESQL, values(n), prepare=True).fetchone()
            raw.commit()

    def raw_one_transaction(count: int) -> None:
        for n in range(count):
            raw.execute(journal._INSERT_POSTGRESQL, values(n), prepare=True).fetchone()
        raw.commit()

    def append(n: int) -> None:
        journal.append("bench_append", now=dt.datetime.now(dt.UTC), actor_kind="system", aidant_id=1,
                       organisation_id=n, extra={"writer": 1, "n": n})

    def app_commit(count: int) -> None:
        for n in range(count):
            append(n)
            db.commit()

    def app_one_transaction(count: int) -> None:
        for n in range(count):
            append(n)
        db.commit()

    def session_transaction(count: int) -> None:  # begin (checkout) and commit (checkin), no statement
        for _ in range(count):
            db.session().connection()
            db.commit()

    engine: sa.Engine = app.extensions["db_engine"]

    def connection_only(count: int) -> None:
        for _ in range(count):
            engine.connect().close()

    def pool_only(count: int) -> None:
        for _ in range(count):
            engine.raw_connection().close()

    def request_like(count: int) -> None:  # what a request that only journals adds: context, session, boundary
        for n in range(count):
            with app.app_context():
                append(n)
                db.end_unit_of_work(200)

    rows: list[tuple[str, float]] = [
        ("raw psycopg: INSERT + COMMIT", _cpu_per_call(raw_commit, count)),
        ("raw psycopg: INSERT, many in one transaction", _cpu_per_call(raw_one_transaction, count)),
    ]
    with app.app_context():
        rows += [
            ("append + db.commit()", _cpu_per_call(app_commit, count)),
            ("append, many in one transaction", _cpu_per_call(app_one_transaction, count)),
            ("session transaction alone (connection() + commit, no statement)",
             _cpu_per_call(session_transaction, count)),
            ("engine.connect() + close (Connection + pool)", _cpu_per_call(connection_only, count)),
            ("pool checkout + checkin", _cpu_per_call(pool_only, count)),
        ]
    rows.append(("app context + append + end_unit_of_work (a request's share)", _cpu_per_call(request_like, count)))
    raw.close()
    for label, micros in rows:
        print(f"  CPU per call: {micros:8.1f} µs  {label}")
    profile = cProfile.Profile()
    profile.enable()
    request_like(500)
    profile.disable()
    calls = pstats.Stats(profile).total_calls / 500  # type: ignore[attr-defined]
    print(f"  Python calls per request-like append: {calls:.0f} (load-independent)")
    texts = [canonical_encoding(*row[:-1]) for row in _entries(1, 100_000, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))]
    began = time.process_time()
    leaves = [merkle.leaf_hash(text) for text in texts]
    hashing = time.process_time() - began
    began = time.process_time()
    merkle.root_of(leaves)
    interior = time.process_time() - began
    print(f"  verify, Python per leaf: {hashing / len(texts) * 1e6:.2f} µs leaf hash (SHA-256 of a "
          f"{sum(map(len, texts)) // len(texts)}-byte line), {interior / len(texts) * 1e6:.2f} µs interior nodes; "
          f"1 M entries/s leaves 1 µs per entry for all of it, server included")


# --- (b) the sequencer ----------------------------------------------------------------------------


def bench_integrate(app: Flask) -> None:
    """Integrate every pending entry (what the scheduled job does), in batches of the default size."""
    with app.app_context():
        began = time.perf_counter()
        count = sequencer.integrate_all(dt.datetime.now(dt.UTC))
        elapsed = time.perf_counter() - began
    if count:
        print(f"integrate: {count} entries given their leaf and signed in {elapsed:.2f} s "
              f"({count / elapsed:,.0f} entries/s)")


# --- (c) a long tree, then verification --------------------------------------------------------------


def _entries(first_seq: int, count: int, start: dt.datetime) -> Iterator[tuple[Any, ...]]:
    """Valid entries (the columns of ``COLUMNS``), txid 0 as if written before a sequencer run."""
    for seq in range(first_seq, first_seq + count):
        n = seq % 1000
        yield (seq, start + dt.timedelta(milliseconds=seq), ACTIONS[seq % len(ACTIONS)], "aidant", seq % 5000,
               seq % 700, seq % 90000 if seq % 2 else None, seq % 40000 if seq % 2 else None,
               seq % 80000 if seq % 4 == 1 else None, "papiers,famille" if seq % 2 else None,
               "impots" if seq % 4 == 1 else None, {"n": n, "device_id": seq % 97} if seq % 3 else None, 0)


def _copy(engine: sa.Engine, table: str, columns: tuple[str, ...], rows: Iterator[list[Any]]) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SET LOCAL statement_timeout = 0")  # a bulk load, not a request
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


def _insert(engine: sa.Engine, table: str, columns: tuple[str, ...], rows: list[list[Any]]) -> None:
    if engine.dialect.name == "postgresql":
        _copy(engine, table, columns, iter(rows))
        return
    raw = engine.raw_connection()
    try:
        marks = ", ".join("?" for _ in columns)
        statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 (constants)
        raw.cursor().executemany(statement, rows)
        raw.commit()
    finally:
        raw.close()


def fill(app: Flask, entries: int) -> None:
    """Extend the tree to ``entries`` valid, integrated entries, fast (bulk insert of entries, leaves and
    nodes computed here as the sequencer would, then one signed checkpoint)."""
    with app.app_context():
        engine = db.engine()
        size = tree.size()
        count = entries - size
        if count <= 0:
            return
        first_seq = int(db.session().execute(sa.text("SELECT COALESCE(MAX(seq), 0) FROM journal_entry")).scalar_one())
        frontier = tree.frontier(db.session(), size)
        db.session().close()
        began = time.perf_counter()
        postgresql = engine.dialect.name == "postgresql"
        entry_rows, leaf_rows, node_rows = [], [], []
        completed: list[tuple[int, int, bytes]] = []
        for row in _entries(first_seq + 1, count, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)):
            digest = merkle.leaf_hash(canonical_encoding(*row[:-1]))
            leaf_rows.append([frontier.size, row[0], digest])
            frontier.append(digest, completed)
            values = list(row)
            if not postgresql:
                values[1] = values[1].strftime("%Y-%m-%d %H:%M:%S.%f")  # as UTCDateTime stores it
            values[11] = _CANONICAL(values[11]) if values[11] is not None else None  # as the app stores it
            entry_rows.append(values)
        node_rows = [[level, index, digest] for level, index, digest in completed]
        hashed = time.perf_counter() - began
        _insert(engine, "journal_entry", COLUMNS, entry_rows)
        _insert(engine, "journal_leaf", ("leaf_index", "entry_seq", "leaf_hash"), leaf_rows)
        _insert(engine, "journal_node", ("level", "idx", "hash"), node_rows)
        with engine.begin() as connection:
            if postgresql:
                connection.exec_driver_sql(
                    "SELECT setval('journal_entry_seq_seq', (SELECT MAX(seq) FROM journal_entry))")
                for table in ("journal_entry", "journal_leaf", "journal_node"):
                    connection.exec_driver_sql(f"ANALYZE {table}")
            root = frontier.root()
            connection.execute(sa.insert(JournalCheckpoint).values(
                created_at=dt.datetime.now(dt.UTC), tree_size=frontier.size, root_hash=root,
                note=notes.sign(frontier.size, root), txid_floor=None))
        elapsed = time.perf_counter() - began
    print(f"fill: {count} entries hashed into the tree in {hashed:.1f} s, inserted with their leaves and nodes "
          f"in {elapsed:.1f} s in all")


def bench_verify(app: Flask) -> str | None:
    """The full check (the default of ``aidants journal verify``); the latest signed note it verified."""
    with app.app_context():
        began, cpu = time.perf_counter(), time.process_time()
        result = verification.verify()
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    state = "intact" if result.ok else f"BROKEN at leaf {result.first_bad_leaf} ({result.reason})"
    print(f"verify (full, every leaf recomputed): {result.checked} entries (+{result.pending} pending) in "
          f"{elapsed:.2f} s, {result.checked / elapsed:,.0f} entries/s (this process's CPU: {cpu:.2f} s); "
          f"journal {state}")
    return result.note


def bench_verify_incremental(app: Flask, note: str) -> None:
    """``verify --incremental`` from the checkpoint the full check verified: the kept tree's consistency
    (its stored right edge gives its root; not re-read), the later leaves recomputed, the pending read."""
    with app.app_context():
        kept = notes.open_note(note, notes.service_verifier_key())
        began, cpu = time.perf_counter(), time.process_time()
        result = verification.verify(since=kept)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    state = "intact" if result.ok else f"BROKEN at leaf {result.first_bad_leaf} ({result.reason})"
    print(f"verify --incremental: {result.start} kept leaves (consistency only, not re-read) + {result.checked} "
          f"new leaves recomputed (+{result.pending} pending) in {elapsed:.3f} s: {result.tree_size / elapsed:,.0f} "
          f"entries covered/s, {result.checked / elapsed:,.0f} recomputed/s (CPU {cpu:.2f} s); journal {state}")


def main() -> None:
    global BENCH_DATABASE  # the one name the helpers above use, --name's
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL server URL (default: a temporary SQLite file)")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--processes", action="store_true", help="writers are processes (default: threads)")
    parser.add_argument("--appends", type=int, default=4000, help="entries appended by the writers in all")
    parser.add_argument("--entries", type=int, default=1_000_000, help="size of the tree to verify")
    parser.add_argument("--verify-runs", type=int, default=1, help="time the verification this many times")
    parser.add_argument("--threads", type=int, default=GUNICORN_THREADS,
                        help="with --processes: threads per writer process (gunicorn's gthread; writers in all "
                             "stay --writers); default: gunicorn.conf.py's, so 8 writers are 2 workers x 4 "
                             "threads as served (--threads 1: one process per writer, the figures before)")
    parser.add_argument("--commit-delay", type=int, default=0, metavar="MICROSECONDS",
                        help="then the same appends with the writers' sessions SET commit_delay (group commit; "
                             "a superuser setting, the deployment's choice)")
    parser.add_argument("--new-entries", type=int, default=10_000,
                        help="entries added after the full check, for the incremental one")
    parser.add_argument("--pieces", action="store_true",
                        help="first, one writer's CPU per piece of an append (PostgreSQL), and verify's per leaf")
    parser.add_argument("--name", default=BENCH_DATABASE, help="the PostgreSQL database to create and drop")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database (--name)")
    args = parser.parse_args()
    BENCH_DATABASE = args.name
    with tempfile.TemporaryDirectory(prefix="bench-journal-") as workdir:
        target = prepare_database(args.database_url, Path(workdir))
        print(f"database: {sa.make_url(target).render_as_string(hide_password=True)}")
        app = build_app(target, Path(workdir))
        try:
            if args.pieces and args.database_url:
                bench_pieces(app, target)
            if args.processes:
                variants: list[tuple[str, ...]] = [()]
                if args.commit_delay and args.database_url:
                    variants.append((f"SET commit_delay = {int(args.commit_delay)}", "SET commit_siblings = 2"))
                for settings in variants:
                    bench_append_processes(target, Path(workdir), args.writers, args.appends, threads=args.threads,
                                           settings=settings)
                    if args.database_url:  # the same run's floors
                        for raw in ("tx", "autocommit"):
                            bench_append_processes(target, Path(workdir), args.writers, args.appends, raw=raw,
                                                   settings=settings)
            else:
                bench_appends(app, args.writers, args.appends)
            bench_integrate(app)
            fill(app, args.entries)
            note = None
            for _ in range(args.verify_runs):
                note = bench_verify(app)
            if note is not None and args.new_entries > 0:
                fill(app, args.entries + args.new_entries)
                bench_verify_incremental(app, note)
        finally:
            app.extensions["db_engine"].dispose()
            if not args.keep:
                drop_database(args.database_url, target)


if __name__ == "__main__":
    main()
