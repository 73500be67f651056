"""Sign-in figures: POST /connexion (email + TOTP code) per second under gunicorn, with p50/p99 latency.

    .venv/bin/python -m bench.signin                         # a temporary SQLite file
    .venv/bin/python -m bench.signin --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_signin_web

The benchmark creates (and drops) its own database on PostgreSQL: the one the URL names, or ``bench_signin``
when it names a system database (``postgres``),
creates aidants with authenticator apps through the app's services, starts gunicorn on 127.0.0.1 (development
settings with throw-away secrets, so login links go to the development outbox), opens one browser session per
aidant (GET /connexion for the CSRF token), then times the POSTs from a few client threads. Each POST carries a
valid, never used code: an aidant's codes are spent in increasing step order, at most two per window.
Bounded in requests and time; nothing is asserted.
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from aidants import clock, db
from aidants.accounts import devices
from aidants.accounts import services as accounts
from aidants.organisations import services as organisations
from aidants.security import totp
from bench.cards import bench_environ, build_app, drop_database, prepare_database

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DATABASE = "bench_signin"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
SUCCESS = "Consultez votre messagerie"
START_TIMEOUT = 60.0
REQUEST_TIMEOUT = 30.0


@dataclass
class Account:
    """An aidant as a client sees it: email, app seed, browser session, last step spent."""

    email: str
    seed: bytes
    cookie: str = ""
    csrf: str = ""
    last_step: int = -1

    def next_code(self, now: float) -> str | None:
        """A code the server will accept once: the next unspent step of [current, current + 1].

        The server tolerates current - 1 too, but such a code sent just before a step boundary may arrive
        after it; the bench must only send codes that are valid when they arrive.
        """
        current = int(now) // devices.APP_PERIOD
        step = max(self.last_step + 1, current)
        if step > current + 1:
            return None
        self.last_step = step
        return totp.code_for_step(self.seed, step)


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)


def bench_database(url: str | None) -> tuple[str | None, str]:
    """The server to connect to (its ``postgres`` database) and the database to create and drop there.

    The URL's database is the bench's own, unless it names a system database: then ``bench_signin``, so that
    two people benchmarking on one server can each name their own."""
    if url is None:
        return None, DATABASE
    parsed = sa.make_url(url)
    named = parsed.database or ""
    name = DATABASE if named in ("", "postgres", "template0", "template1") else named
    return parsed.set(database="postgres").render_as_string(hide_password=False), name


def create_accounts(environ: dict[str, str], count: int) -> list[Account]:
    """``count`` aidants, each with an active authenticator app, through the app's own services."""
    app = build_app(environ)
    created: list[Account] = []
    with app.app_context():
        now = clock.now()
        organisation = organisations.create_organisation(name="Mairie du banc d'essai", siret="13002526500013",
                                                         now=now)
        for n in range(count):
            aidant = accounts.create_aidant(email=f"aidant{n:05d}@banc-essai.exemple.fr", first_name="Banc",
                                            last_name=f"Essai {n}", organisation=organisation, now=now)
            enrolment = devices.start_app_enrolment(aidant, now)
            enrolment.device.status, enrolment.device.activated_at = "active", now
            created.append(Account(aidant.email, devices.seed_of(enrolment.device)))
        db.commit()
    app.extensions["db_engine"].dispose()
    return created


#: The queue the wake-ups go to: nobody consumes it; it is deleted at the end.
QUEUE = "bench_signin"


def broker_environ(broker_url: str | None) -> dict[str, str]:
    """The development default would publish each wake-up to an embedded SQLite broker (one writer for every
    worker, a file sync each): not what production does. With a URL, Redis as in production; else none."""
    if not broker_url:
        return {"JOBS_NUDGE": "false"}
    return {"JOBS_NUDGE": "true", "CELERY_BROKER_URL": broker_url, "CELERY_QUEUE": QUEUE}


def forget_queue(broker_url: str | None) -> None:
    """Delete the wake-ups nobody consumed."""
    if broker_url and broker_url.startswith("redis"):
        import redis

        redis.Redis.from_url(broker_url).delete(QUEUE)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def request(port: int, method: str, path: str, body: str = "", cookie: str = "") -> tuple[int, str, str]:
    """One HTTP request on a new connection (gunicorn's sync workers close each one); status, body, cookie."""
    connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    headers = {"Host": f"{HOST}:{port}"}
    if cookie:
        headers["Cookie"] = cookie
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        set_cookie = response.getheader("Set-Cookie") or ""
        return response.status, text, set_cookie.partition(";")[0]
    finally:
        connection.close()


def start_gunicorn(environ: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = {"PUBLIC_URL": f"http://{HOST}:{port}", **os.environ, **environ}  # the issuer the flows check
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"{HOST}:{port}",
               "--log-level", "warning", "wsgi:app"]
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn stopped (exit {server.returncode}); see {log}:\n{log.read_text()[-2000:]}")
        try:
            if request(port, "GET", "/healthz")[0] == 200:
                return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit(f"gunicorn did not answer within {START_TIMEOUT:.0f} s")


def open_session(port: int, account: Account) -> None:
    """GET the form: the session cookie and the CSRF token a browser would send back."""
    status, page, cookie = request(port, "GET", "/connexion")
    found = CSRF.search(page)
    if status != 200 or not found or not cookie:
        raise SystemExit(f"GET /connexion gave {status} without a CSRF token or a cookie")
    account.cookie, account.csrf = cookie, found.group(1)


def sign_in(port: int, account: Account, outcome: Outcome) -> None:
    code = account.next_code(time.time())
    if code is None:
        outcome.errors.append(f"{account.email}: no unspent code left in this window")
        return
    body = urllib.parse.urlencode({"csrf_token": account.csrf, "email": account.email, "code": code, "next": ""})
    started = time.perf_counter()
    status, page, _ = request(port, "POST", "/connexion", body, account.cookie)
    outcome.latencies.append(time.perf_counter() - started)
    if status == 200 and SUCCESS in page:
        outcome.ok += 1
    else:
        outcome.refused += 1
        if len(outcome.errors) < 5:
            outcome.errors.append(f"{account.email}: HTTP {status} {_message(page)}")


def _message(page: str) -> str:
    """The first error shown on a page, to explain a refusal."""
    found = re.search(r'class="fr-(?:error-text|alert[^"]*)"[^>]*>\s*(?:<[^>]+>\s*)*([^<]+)', page)
    return found.group(1).strip()[:150] if found else ""


def run_clients(port: int, accounts_: list[Account], total: int, concurrency: int, deadline: float) -> Outcome:
    """``concurrency`` threads; each owns a slice of the aidants, so one aidant's codes are sent in order."""
    outcome, lock = Outcome(), threading.Lock()
    slices = [accounts_[i::concurrency] for i in range(concurrency)]
    quotas = [total // concurrency + (1 if i < total % concurrency else 0) for i in range(concurrency)]

    def client(mine: list[Account], quota: int) -> None:
        local = Outcome()
        for n in range(quota):
            if time.monotonic() > deadline:
                local.errors.append("time limit reached")
                break
            sign_in(port, mine[n % len(mine)], local)
        with lock:
            outcome.latencies += local.latencies
            outcome.ok += local.ok
            outcome.refused += local.refused
            outcome.errors += local.errors[:5]

    threads = [threading.Thread(target=client, args=(mine, quota)) for mine, quota in zip(slices, quotas, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL server URL (default: a temporary SQLite file)")
    parser.add_argument("--requests", type=int, default=1500, help="sign-in POSTs to time")
    parser.add_argument("--aidants", type=int, default=0, help="default: requests / 2 (two codes each)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds for the timed phase, at most")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--broker-url", help="wake a worker after each sign-in through this broker (Redis, as in "
                                             "production); default: no wake-up, the sweep would deliver")
    args = parser.parse_args()
    count = args.aidants or math.ceil(args.requests / 2)
    if count * 2 < args.requests or count < args.concurrency:
        parser.error("need at least requests / 2 aidants (two codes each per window) and one per client thread")

    with tempfile.TemporaryDirectory(prefix="bench-signin-") as tmp:
        workdir = Path(tmp)
        server_url, database = bench_database(args.database_url)
        target = prepare_database(server_url, database, workdir)
        server: subprocess.Popen[bytes] | None = None
        try:
            environ = {**bench_environ(target, workdir), **broker_environ(args.broker_url)}
            started = time.perf_counter()
            accounts_ = create_accounts(environ, count)
            print(f"database            {target.partition(':')[0]}")
            print(f"aidants created     {count} in {time.perf_counter() - started:.1f} s")
            port = free_port()
            server = start_gunicorn(environ, port, args.workers, workdir / "gunicorn.log")
            started = time.perf_counter()
            for account in accounts_:
                open_session(port, account)
            print(f"GET /connexion      {count} sessions in {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            outcome = run_clients(port, accounts_, args.requests, args.concurrency,
                                  time.monotonic() + args.time_limit)
            elapsed = time.perf_counter() - started
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
            if not args.keep:
                drop_database(server_url, database)
            forget_queue(args.broker_url)
    sent = len(outcome.latencies)
    print(f"worker wake-up      {'through ' + args.broker_url if args.broker_url else 'none (--broker-url)'}")
    print(f"gunicorn            {args.workers} workers (gunicorn.conf.py: gthread) on {HOST}; "
          f"{args.concurrency} client threads")
    print(f"POST /connexion     {sent} in {elapsed:.2f} s: {outcome.ok} links sent, {outcome.refused} refused")
    if sent:
        print(f"throughput          {sent / elapsed:.1f} requests/s")
        print(f"latency             p50 {percentile(outcome.latencies, 0.5) * 1000:.1f} ms, "
              f"p99 {percentile(outcome.latencies, 0.99) * 1000:.1f} ms, "
              f"mean {statistics.fmean(outcome.latencies) * 1000:.1f} ms")
    for error in outcome.errors[:5]:
        print(f"note                {error}")


if __name__ == "__main__":
    main()
