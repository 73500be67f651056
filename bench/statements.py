"""Where a provider flow's time goes, in process: SQL statements and CPU per step, no HTTP, no peer.

    .venv/bin/python -m bench.statements                     # a temporary SQLite file
    .venv/bin/python -m bench.statements --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_stmts
    .venv/bin/python -m bench.statements --show-sql          # the statements of one flow

Builds the same world as bench.provider, signs one aidant in through the Flask test client, then runs complete
flows (POST /authorize, POST /token, GET /userinfo) in this process, counting the statements each step sends
(an event listener on the engine) and its CPU time. The figure to watch is statements per step: each is a round
trip to the database under load. Bounded by ``--flows``; nothing is asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from flask.testing import FlaskClient
from sqlalchemy import event

from aidants.accounts import devices
from aidants.security import totp
from bench.cards import bench_environ, build_app, drop_database, prepare_database
from bench.provider import LINK, bench_database, create_world
from bench.provider_load import REDIRECT_URI, SCOPE
from bench.signin import CSRF

STEPS = ("authorize", "token", "userinfo")


class Counter:
    """Statements sent to the database, with their text when asked."""

    def __init__(self) -> None:
        self.count, self.keep = 0, False
        self.texts: list[str] = []
        self.profiler: cProfile.Profile | None = None
        self.profiled_step: str | None = None

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        self.count += 1
        if self.keep:
            self.texts.append(" ".join(statement.split())[:160])

    @contextmanager
    def step(self, figures: dict[str, list[tuple[int, float]]], name: str) -> Iterator[None]:
        profiler = self.profiler if self.profiled_step in (None, name) else None
        if profiler is not None:
            profiler.enable()
        before, cpu = self.count, time.process_time()
        yield
        if profiler is not None:
            profiler.disable()
        figures.setdefault(name, []).append((self.count - before, time.process_time() - cpu))


def csrf_of(body: bytes) -> str:
    found = CSRF.search(body.decode())
    assert found is not None, body[:300]
    return found.group(1)


def sign_in(client: FlaskClient, email: str, seed: bytes, last_step: int) -> None:
    """Email + code, then the emailed link: the session cookie stays in the test client."""
    page = client.get("/connexion")
    step = max(last_step + 1, totp.step_at(dt.datetime.now(dt.UTC), devices.APP_PERIOD) - 1)
    sent = client.post("/connexion", data={"csrf_token": csrf_of(page.data), "email": email,
                                           "code": totp.code_for_step(seed, step), "next": ""})
    assert "Consultez votre messagerie" in sent.data.decode(), sent.data[:500]
    found = LINK.search(client.get("/dev/outbox").data.decode())
    assert found is not None
    opened = client.get(found.group(1))  # the token leaves the address bar: a redirect to the clean address
    clean = urlsplit(opened.headers["Location"]).path if opened.status_code == 302 else found.group(1)
    confirm = client.get(clean)
    done = client.post(clean, data={"csrf_token": csrf_of(confirm.data)})
    assert done.status_code == 302, done.status_code


def params(client_id: str) -> str:
    return urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI,
                      "scope": SCOPE, "state": "s", "nonce": str(time.perf_counter_ns()), "acr_values": "eidas1"})


def flow(client: FlaskClient, service: FlaskClient, counter: Counter, figures: dict[str, list[tuple[int, float]]],
         client_id: str, secret: str, choice: dict[str, str]) -> None:
    with counter.step(figures, "authorize"):
        reply = client.post(f"/authorize?{params(client_id)}", data=choice)
    assert reply.status_code == 302, reply.data[:300]
    code = parse_qs(urlsplit(reply.headers["Location"]).query)["code"][0]
    with counter.step(figures, "token"):
        reply = service.post("/token", data={"grant_type": "authorization_code", "code": code,
                                            "redirect_uri": REDIRECT_URI, "client_id": client_id,
                                            "client_secret": secret})
    assert reply.status_code == 200, reply.data[:300]
    access = reply.get_json()["access_token"]
    with counter.step(figures, "userinfo"):
        reply = service.get("/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert reply.status_code == 200, reply.data[:300]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL URL naming the bench database (default: SQLite file)")
    parser.add_argument("--flows", type=int, default=300)
    parser.add_argument("--show-sql", action="store_true", help="print the statements of the last flow")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="profile the timed flows (cProfile) and print the N costliest functions")
    parser.add_argument("--profile-step", choices=STEPS, help="profile this step only (with --profile)")
    parser.add_argument("--profile-out", metavar="PATH", help="also write the profile there (pstats file)")
    args = parser.parse_args()
    base_url, name = bench_database(args.database_url)
    with tempfile.TemporaryDirectory(prefix="bench-statements-") as tmp:
        workdir = Path(tmp)
        target = prepare_database(base_url, name, workdir)
        try:
            environ = bench_environ(target, workdir)
            aidants, client_id, secret = create_world(environ, 1, 3)
            app = build_app(environ)
            counter = Counter()
            event.listen(app.extensions["db_engine"], "before_cursor_execute", counter)
            client, service = app.test_client(), app.test_client()  # the aidant's browser; the service (no cookie)
            aidant = aidants[0]
            sign_in(client, aidant.email, aidant.seed, aidant.last_step)
            page = client.get(f"/authorize?{params(client_id)}&usager={aidant.choices[0][0]}")
            token = csrf_of(page.data)
            choices = [{"csrf_token": token, "usager_id": str(u), "autorisation_id": str(x), "action": "valider"}
                       for u, x in aidant.choices]
            figures: dict[str, list[tuple[int, float]]] = {}
            for n in range(20):
                flow(client, service, counter, {}, client_id, secret, choices[n % len(choices)])
            profiler = cProfile.Profile(time.process_time) if args.profile else None  # CPU, not waits
            counter.profiler, counter.profiled_step = profiler, args.profile_step
            for n in range(args.flows):
                counter.keep = n == args.flows - 1 and args.show_sql
                flow(client, service, counter, figures, client_id, secret, choices[n % len(choices)])
            app.extensions["db_engine"].dispose()
        finally:
            drop_database(base_url, name)
    print(f"database            {target.partition(':')[0]}; {args.flows} flows in process (no HTTP)")
    print(f"{'step':<12}{'statements':>12}{'CPU p50 ms':>12}{'CPU mean ms':>13}")
    total_statements, total_cpu = 0.0, 0.0
    for step in STEPS:
        counts = [c for c, _ in figures[step]]
        cpus = [cpu * 1000 for _, cpu in figures[step]]
        total_statements += statistics.mean(counts)
        total_cpu += statistics.mean(cpus)
        print(f"{step:<12}{statistics.mean(counts):>12.1f}{statistics.median(cpus):>12.2f}"
              f"{statistics.mean(cpus):>13.2f}")
    print(f"{'flow':<12}{total_statements:>12.1f}{'':>12}{total_cpu:>13.2f}")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
        if args.profile_out:
            profiler.dump_stats(args.profile_out)
    if args.show_sql:
        print()
        for text in counter.texts:
            print(text)


if __name__ == "__main__":
    main()
