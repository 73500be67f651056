"""Journal figures: appends per second with concurrent writers, and verification speed over a long chain.

    .venv/bin/python -m bench.journal                       # a temporary SQLite file
    .venv/bin/python -m bench.journal --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

On PostgreSQL the benchmark creates its own database ``bench_journal`` next to the one named in the URL and
drops it at the end (``--keep`` to look at it afterwards). It prints plain figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
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
from aidants.journal import services as journal
from aidants.journal.models import HASHED_FIELDS

BENCH_DATABASE = "bench_journal"
COLUMNS = (*HASHED_FIELDS, "prev_hash", "hash")
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


# --- (b) a long chain, then verification -----------------------------------------------------------


def _entries(first_seq: int, prev_hash: str, count: int, start: dt.datetime) -> Iterator[tuple[Any, ...]]:
    """Valid chained rows, hashed with the application's own entry_hash."""
    for seq in range(first_seq, first_seq + count):
        n = seq % 1000
        extra = {"n": n, "device_id": seq % 97} if seq % 3 else None
        fields: dict[str, Any] = {
            "seq": seq, "created_at": start + dt.timedelta(milliseconds=seq), "action": ACTIONS[seq % len(ACTIONS)],
            "actor_kind": "aidant", "aidant_id": seq % 5000, "organisation_id": seq % 700,
            "usager_id": seq % 90000 if seq % 2 else None, "mandat_id": seq % 40000 if seq % 2 else None,
            "autorisation_id": seq % 80000 if seq % 4 == 1 else None,
            "demarches": "papiers,famille" if seq % 2 else None, "client_id": "impots" if seq % 4 == 1 else None,
            "extra": extra,
        }
        digest = journal.entry_hash(prev_hash, fields)
        yield (*(fields[name] for name in HASHED_FIELDS), prev_hash, digest)
        prev_hash = digest


def _insert_postgresql(engine: sa.Engine, rows: Iterator[tuple[Any, ...]]) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        extra = COLUMNS.index("extra")
        with cursor.copy(f"COPY journal_entry ({', '.join(COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in rows:
                values = list(row)
                values[extra] = json.dumps(values[extra]) if values[extra] is not None else None
                copy.write_row(values)
        raw.commit()
    finally:
        raw.close()


def _insert_sqlite(engine: sa.Engine, rows: Iterator[tuple[Any, ...]]) -> None:
    created, extra = COLUMNS.index("created_at"), COLUMNS.index("extra")

    def encoded() -> Iterator[list[Any]]:
        for row in rows:
            values = list(row)
            values[created] = values[created].strftime("%Y-%m-%d %H:%M:%S.%f")  # as UTCDateTime stores it
            values[extra] = json.dumps(values[extra]) if values[extra] is not None else None
            yield values

    raw = engine.raw_connection()
    try:
        marks = ", ".join("?" for _ in COLUMNS)
        statement = f"INSERT INTO journal_entry ({', '.join(COLUMNS)}) VALUES ({marks})"  # noqa: S608 (constants)
        raw.cursor().executemany(statement, encoded())
        raw.commit()
    finally:
        raw.close()


def fill(app: Flask, entries: int) -> None:
    """Extend the chain to ``entries`` valid entries, fast (bulk insert, no ORM)."""
    with app.app_context():
        head_seq, head_hash = journal.head()
        db.session().close()
        count = entries - head_seq
        if count <= 0:
            return
        began = time.perf_counter()
        rows = _entries(head_seq + 1, head_hash, count, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        if db.is_postgresql():
            _insert_postgresql(db.engine(), rows)
            with db.engine().begin() as connection:
                connection.exec_driver_sql("ANALYZE journal_entry")
        else:
            _insert_sqlite(db.engine(), rows)
        elapsed = time.perf_counter() - began
    print(f"fill: {count} chained entries hashed and inserted in {elapsed:.1f} s ({count / elapsed:,.0f}/s)")


def bench_verify(app: Flask) -> None:
    with app.app_context():
        began, cpu = time.perf_counter(), time.process_time()
        result = journal.verify_chain()
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    state = "intact" if result.ok else f"BROKEN at {result.first_bad_seq} ({result.reason})"
    print(f"verify: {result.checked} entries in {elapsed:.2f} s, {result.checked / elapsed:,.0f} entries/s "
          f"(this process's CPU: {cpu:.2f} s); chain {state}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL server URL (default: a temporary SQLite file)")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--appends", type=int, default=4000, help="entries appended by the writers in all")
    parser.add_argument("--entries", type=int, default=1_000_000, help="length of the chain to verify")
    parser.add_argument("--verify-runs", type=int, default=1, help="time the verification this many times")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database bench_journal")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-journal-") as workdir:
        target = prepare_database(args.database_url, Path(workdir))
        print(f"database: {sa.make_url(target).render_as_string(hide_password=True)}")
        app = build_app(target, Path(workdir))
        try:
            bench_appends(app, args.writers, args.appends)
            fill(app, args.entries)
            for _ in range(args.verify_runs):
                bench_verify(app)
        finally:
            app.extensions["db_engine"].dispose()
            if not args.keep:
                drop_database(args.database_url, target)


if __name__ == "__main__":
    main()
