"""Every request's fixed cost, in process: CPU and SQL statements of a small page, anonymous and signed in.

    .venv/bin/python -m bench.fixed_cost                     # a temporary SQLite file
    .venv/bin/python -m bench.fixed_cost --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_fixed
    .venv/bin/python -m bench.fixed_cost --profile 30 --profile-case signed_in

A small page (``--path``, the legal notice by default: a template and no query of its own) asked through the
Flask test client, so what is measured is what every route pays: the WSGI middleware, the input guard,
the session cookie, the session lookup and its activity bookkeeping, CSRF, the security headers, the
boundary's transaction and the template. CPU is this process's (``time.process_time``), so the figure holds
under load better than wall time; statements are counted by an engine listener. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import tempfile
import time
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import event

from bench.cards import bench_environ, build_app, drop_database, prepare_database
from bench.provider import bench_database, create_world
from bench.statements import Counter, sign_in

CASES = ("anonymous", "signed_in")


def measure(client: FlaskClient, path: str, counter: Counter, requests: int,
            profiler: cProfile.Profile | None) -> list[tuple[int, float]]:
    """CPU seconds and statements of each GET (after a few warm-up requests)."""
    for _ in range(20):
        assert client.get(path).status_code == 200
    figures: list[tuple[int, float]] = []
    for _ in range(requests):
        before, cpu = counter.count, time.process_time()
        if profiler is not None:
            profiler.enable()
        reply = client.get(path)
        if profiler is not None:
            profiler.disable()
        figures.append((counter.count - before, time.process_time() - cpu))
        assert reply.status_code == 200, reply.status_code
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL URL naming the bench database (default: SQLite file)")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--path", default="/mentions-legales")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="profile the timed requests (cProfile, CPU) and print the N costliest functions")
    parser.add_argument("--profile-case", choices=CASES, help="profile this case only (with --profile)")
    args = parser.parse_args()
    base_url, name = bench_database(args.database_url)
    results: dict[str, list[tuple[int, float]]] = {}
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    with tempfile.TemporaryDirectory(prefix="bench-fixed-") as tmp:
        workdir = Path(tmp)
        target = prepare_database(base_url, name, workdir)
        try:
            environ = bench_environ(target, workdir)
            aidants, _client_id, _secret = create_world(environ, 1, 1)
            app = build_app(environ)
            counter = Counter()
            event.listen(app.extensions["db_engine"], "before_cursor_execute", counter)
            anonymous, signed_in = app.test_client(), app.test_client()
            sign_in(signed_in, aidants[0].email, aidants[0].seed, aidants[0].last_step)
            for case, client in (("anonymous", anonymous), ("signed_in", signed_in)):
                chosen = profiler if args.profile_case in (None, case) else None
                results[case] = measure(client, args.path, counter, args.requests, chosen)
            app.extensions["db_engine"].dispose()
        finally:
            drop_database(base_url, name)
    print(f"database            {target.partition(':')[0]}; GET {args.path}, {args.requests} requests each, in process")
    print(f"{'case':<12}{'statements':>12}{'CPU p50 ms':>12}{'CPU mean ms':>13}")
    for case in CASES:
        counts = [c for c, _ in results[case]]
        cpus = [cpu * 1000 for _, cpu in results[case]]
        print(f"{case:<12}{statistics.mean(counts):>12.1f}{statistics.median(cpus):>12.3f}"
              f"{statistics.mean(cpus):>13.3f}")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)


if __name__ == "__main__":
    main()
