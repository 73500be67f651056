"""Card import figures: cards read (checked) and stored (encrypted, inserted, committed) per second.

    .venv/bin/python -m bench.cards                          # a temporary SQLite file, 100,000 cards
    .venv/bin/python -m bench.cards --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

On PostgreSQL the benchmark creates its own database ``bench_cards`` next to the one named in the URL and
drops it at the end (``--keep`` to look at it afterwards). It prints plain figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import base64
import os
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from aidants import clock, create_app, db, migrate
from aidants.accounts import cards
from aidants.accounts.models import TotpDevice


def random_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _admin(url: sa.URL) -> sa.Engine:
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def prepare_database(url: str | None, name: str, workdir: Path) -> str:
    """A fresh, migrated database called ``name`` (a file in ``workdir`` without a URL); its URL."""
    if url is None:
        target = f"sqlite:///{workdir / (name + '.sqlite3')}"
    else:
        base = sa.make_url(url)
        with _admin(base).connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        target = base.set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(target, poolclass=sa.pool.NullPool)
    migrate.upgrade(engine)
    engine.dispose()
    return target


def drop_database(url: str | None, name: str) -> None:
    """Drop what ``prepare_database`` created on PostgreSQL (the SQLite file goes with its folder)."""
    if url is not None:
        with _admin(sa.make_url(url)).connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def bench_environ(target: str, workdir: Path) -> dict[str, str]:
    """Throw-away secrets and the bench database, for an in-process app or a gunicorn child."""
    return {
        "AIDANTS_ENV": "development", "DATABASE_URL": target, "AIDANTS_INSTANCE": str(workdir / "instance"),
        "SECRET_KEY": random_key(), "SEED_ENCRYPTION_KEYS": "b1:" + random_key(),
        "JOURNAL_SIGNING_KEY": random_key(), "USAGER_SUB_KEY": random_key(),
    }


def build_app(environ: dict[str, str]) -> Flask:
    os.environ["AIDANTS_INSTANCE"] = environ["AIDANTS_INSTANCE"]
    return create_app(environ=environ)


def card_file(path: Path, count: int) -> None:
    """A maker's file: ``count`` cards, hexadecimal seeds of 160 bits, default step and digits."""
    with path.open("w", encoding="utf-8") as out:
        out.write("serial_number,seed\n")
        for n in range(count):
            out.write(f"BENCH{n:08d},{os.urandom(20).hex()}\n")


def run(app: Flask, path: Path, count: int) -> None:
    with app.app_context():
        started, cpu = time.perf_counter(), time.process_time()
        parsed = cards.read_card_file(path.read_bytes().decode("utf-8"))
        read, read_cpu = time.perf_counter() - started, time.process_time() - cpu
        assert not parsed.errors and len(parsed.cards) == count, parsed.errors[:5]
        started, cpu = time.perf_counter(), time.process_time()
        stored = cards.store_cards(parsed.cards, clock.now())
        db.commit()
        store, store_cpu = time.perf_counter() - started, time.process_time() - cpu
        in_db = db.session().scalar(sa.select(sa.func.count()).select_from(TotpDevice))
    total = read + store
    print(f"database            {app.config['DATABASE_URL'].partition(':')[0]}")
    print(f"cards               {stored} (in the database: {in_db})")
    print(f"read + check        {read:6.2f} s  {count / read:9.0f} cards/s   (this process's CPU {read_cpu:5.2f} s)")
    print(f"encrypt + store     {store:6.2f} s  {count / store:9.0f} cards/s   (this process's CPU {store_cpu:5.2f} s)")
    print(f"total               {total:6.2f} s  {count / total:9.0f} cards/s   (the database's time is the rest)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL server URL (default: a temporary SQLite file)")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--name", default="bench_cards", help="the bench database's name (one per person measuring)")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cards-") as tmp:
        workdir = Path(tmp)
        target = prepare_database(args.database_url, args.name, workdir)
        try:
            path = workdir / "cartes.csv"
            card_file(path, args.count)
            app = build_app(bench_environ(target, workdir))
            run(app, path, args.count)
            app.extensions["db_engine"].dispose()
        finally:
            if not args.keep:
                drop_database(args.database_url, args.name)


if __name__ == "__main__":
    main()
