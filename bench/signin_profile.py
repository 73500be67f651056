"""CPU of one sign-in POST in process (Flask test client, SQLite file), optionally under cProfile.

    .venv/bin/python -m bench.signin_profile --requests 400            # CPU ms per POST
    .venv/bin/python -m bench.signin_profile --requests 400 --profile 30

No HTTP server, no network: what is left is the application's own CPU (Flask, forms, ORM/Core, templates,
SQLite's time), robust to a loaded machine unlike ``bench.signin``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import tempfile
import time
from pathlib import Path

from sqlalchemy import event

from aidants.security import totp
from bench.cards import bench_environ, build_app, prepare_database
from bench.signin import SUCCESS, create_accounts
from bench.statements import Counter

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the N costliest functions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        environ = bench_environ(prepare_database(None, "signin_profile", workdir), workdir)
        environ["JOBS_NUDGE"] = "false"
        accounts = create_accounts(environ, args.requests)
        app = build_app(environ)
        clients = []
        for account in accounts:  # one browser per aidant, its CSRF token from the form
            client = app.test_client()
            token = CSRF.search(client.get("/connexion").get_data(as_text=True))
            assert token is not None
            clients.append((client, account, token.group(1)))
        counter = Counter()  # the POSTs' statements only: the GETs above ran before it listens
        event.listen(app.extensions["db_engine"], "before_cursor_execute", counter)
        profiler = cProfile.Profile() if args.profile else None
        ok = 0
        started = time.process_time()
        if profiler:
            profiler.enable()
        for client, account, csrf in clients:
            response = client.post("/connexion", data={"email": account.email, "code": totp.code_for_step(
                account.seed, int(time.time()) // 30), "csrf_token": csrf, "next": ""})
            ok += SUCCESS in response.get_data(as_text=True)
        if profiler:
            profiler.disable()
        cpu = time.process_time() - started
        print(f"POSTs {len(clients)}, signed in {ok}, CPU {cpu * 1000 / len(clients):.3f} ms per POST, "
              f"{counter.count / len(clients):.2f} statements per POST")
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
