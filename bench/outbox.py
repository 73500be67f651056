"""Outbox figures: delivery throughput to a local SMTP sink, and the delay from commit to delivery.

    .venv/bin/python -m bench.outbox                                   # embedded broker, SQLite
    .venv/bin/python -m bench.outbox --broker-url redis://127.0.0.1:6379/5
    .venv/bin/python -m bench.outbox --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Creates its own database, starts an SMTP sink (aiosmtpd) in this process and ``--workers`` real Celery workers
(``celery -A aidants.jobs.worker worker``) on 127.0.0.1. Throughput: ``--messages`` rows committed at once, one
sweep task per worker, timed until the sink has them all. Delay: ``--delays`` single messages, each committed
by a request-like unit of work whose commit wakes a worker (``JOBS_NUDGE``), timed from the commit to the sink's
receipt. Bounded in count and time; nothing is asserted.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from aidants import clock, db
from aidants.outbox.services import enqueue_mail
from bench.cards import bench_environ, build_app, drop_database, prepare_database

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "bench_outbox"


class Sink:
    """Records the time each message arrives, by subject."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.changed = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        subject = next((line[9:] for line in envelope.content.decode(errors="replace").splitlines()
                        if line.startswith("Subject: ")), "")
        with self.changed:
            self.arrived[subject] = time.perf_counter()
            self.changed.notify_all()
        return "250 OK"

    def wait(self, count: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.arrived) >= count, timeout)


def main() -> None:
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command otherwise
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--broker-url", help="Redis URL; default: the embedded SQLite broker")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--delays", type=int, default=30)
    parser.add_argument("--time-limit", type=float, default=180.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as folder:
        workdir = Path(folder)
        target = prepare_database(args.database_url, DATABASE, workdir)
        try:
            run(args, target, workdir)
        finally:
            drop_database(args.database_url, DATABASE)


def run(args: argparse.Namespace, target: str, workdir: Path) -> None:
    sink = Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    environ = {**bench_environ(target, workdir), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port),
               "SMTP_STARTTLS": "false", "CELERY_QUEUE": f"bench-{uuid.uuid4().hex[:8]}", "JOBS_NUDGE": "true",
               "CELERY_BROKER_URL": args.broker_url or f"sqla+sqlite:///{workdir / 'broker.sqlite3'}"}
    app = build_app(environ)
    from aidants.jobs.celery_app import celery

    command = [sys.executable, "-m", "celery", "-A", "aidants.jobs.worker", "worker", "--pool", "solo",
               "-Q", environ["CELERY_QUEUE"], "--without-gossip", "--without-mingle", "--without-heartbeat",
               "-l", "warning"]
    workers = [subprocess.Popen(command, cwd=ROOT, env={**os.environ, **environ}, start_new_session=True)
               for _ in range(args.workers)]
    deadline = time.monotonic() + args.time_limit
    try:
        with app.app_context():
            # Warm-up: every worker up and delivering.
            enqueue_mail("banc@exemple.fr", "warm-up", "Corps", now=clock.now())
            db.commit()
            if not sink.wait(1, 90):
                raise SystemExit("no worker delivered the warm-up message within 90 s")
            app.config["JOBS_NUDGE"] = False
            for n in range(args.messages):
                enqueue_mail("banc@exemple.fr", f"debit {n}", "Un corps de message ordinaire.\n" * 5, now=clock.now())
            db.commit()
            started = time.perf_counter()
            for _ in range(args.workers):
                celery.send_task("aidants.deliver_outbox")
            total = 1 + args.messages
            while not sink.wait(total, 5) and time.monotonic() < deadline:
                celery.send_task("aidants.deliver_outbox")  # the periodic sweep, sooner
            elapsed = time.perf_counter() - started
            got = len(sink.arrived) - 1
            print(f"throughput: {got} messages in {elapsed:.2f} s = {got / elapsed:.0f} messages/s "
                  f"({args.workers} worker(s), {'Redis' if args.broker_url else 'embedded broker'}, "
                  f"{'PostgreSQL' if target.startswith('postgresql') else 'SQLite'})")
            delays = []
            for n in range(args.delays):
                if time.monotonic() >= deadline:
                    break
                enqueue_mail("banc@exemple.fr", f"delai {n}", "Corps", now=clock.now())
                committed = time.perf_counter()
                db.commit()  # the commit wakes a worker
                if not sink.wait(total + n + 1, 40):
                    print(f"delay {n}: not delivered within 40 s (the sweep would take it)")
                    break
                delays.append(sink.arrived[f"delai {n}"] - committed)
            if delays:
                ordered = sorted(delays)
                p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
                print(f"commit → delivery: p50 {statistics.median(delays) * 1000:.0f} ms, "
                      f"p99 {p99 * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms over {len(delays)} messages")
            print(f"machine load: {os.getloadavg()[0]:.2f} (1 min)")
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        controller.stop()
        app.extensions["db_engine"].dispose()


if __name__ == "__main__":
    main()
