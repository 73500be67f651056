"""Identity provider figures: complete flows per second against ours and against panva's oidc-provider.

    .venv/bin/python -m bench.provider                       # a temporary SQLite file
    .venv/bin/python -m bench.provider --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_provider

A flow is what a service and a signed-in aidant cause: the authorization (ours: the aidant's choice POSTed on
/authorize with the session cookie; theirs: GET /authorize with the session cookie), POST /token with
client_secret_post, GET /userinfo with the access token. The benchmark creates its own database (the one named in
the URL, dropped at the end unless ``--keep``), an organisation, aidants with authenticator apps, usagers with
active mandates and a client, all through the app's services; starts gunicorn and bench/peer_provider.mjs
(oidc-provider as pinned in tests/peers, configured alike) on 127.0.0.1; signs each client thread in once over
HTTP; then times complete flows, and /token alone (codes made by the authorization step first, untimed).
Every loop is bounded in count and time; both servers are stopped at the end, even on error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import selectors
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa

from aidants import clock, db
from aidants.accounts import cgu, devices
from aidants.accounts import services as accounts
from aidants.mandats import services as mandats
from aidants.organisations import services as organisations
from aidants.security import totp
from aidants.usagers import services as usagers
from bench.cards import bench_environ, build_app, drop_database, prepare_database
from bench.provider_load import (
    REDIRECT_URI,
    FlowError,
    Jar,
    Outcome,
    Reply,
    Seat,
    Side,
    call,
    check,
    code_from,
    quotas,
    run_flows,
    run_tokens,
)
from bench.signin import CSRF, HOST, free_port, start_gunicorn
from oidc.provider import clients

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / "bench" / "peer_provider.mjs"
PEER_PACKAGE = ROOT / "tests" / "peers" / "node_modules" / "oidc-provider" / "package.json"
DATABASE = "bench_provider"
DEMARCHES = ["social", "logement"]
PEER_START_TIMEOUT = 30.0
LINK = re.compile(r"(/connexion/lien/[\w-]+)")


# --- data, through the app's services -------------------------------------------------------------------------


@dataclass
class Aidant:
    email: str
    seed: bytes
    last_step: int
    choices: list[tuple[int, int]]  # (usager id, autorisation id for "social")


def identity(n: int) -> dict[str, str]:
    """A pivot identity as FranceConnect returns it (also the peer's account claims)."""
    return {"sub": f"fc-bench-{n:05d}", "given_name": "Angela Claire Louise", "family_name": f"DUBOIS{n}",
            "birthdate": "1962-08-24", "gender": "female", "birthplace": "75107", "birthcountry": "99100",
            "email": f"usager{n}@banc-essai.exemple.fr", "preferred_username": ""}


def create_world(environ: dict[str, str], count: int, per_aidant: int) -> tuple[list[Aidant], str, str]:
    """Aidants with apps, each with ``per_aidant`` usagers under active mandates, and a client.

    Mandates need one fresh code each: they are dated one step apart, in the recent past, so that each code
    is accepted once and the sign-in over HTTP can follow at once with the current step."""
    app = build_app(environ)
    created: list[Aidant] = []
    with app.app_context():
        first = clock.now() - dt.timedelta(seconds=devices.APP_PERIOD * (per_aidant + 2))
        organisation = organisations.create_organisation(name="Mairie du banc d'essai", siret="13002526500013",
                                                         now=first)
        registered = clients.register(name="Service du banc d'essai", redirect_uris=[REDIRECT_URI],
                                      post_logout_redirect_uris=[], auth_method="client_secret_post",
                                      userinfo_alg=None, id_token_alg="ES256", act_claim=False, now=first,
                                      scopes=["openid", "profile", "email", "birth"])
        for a in range(count):
            aidant = accounts.create_aidant(email=f"aidant{a:04d}@banc-essai.exemple.fr", first_name="Banc",
                                            last_name=f"Essai {a}", organisation=organisation, now=first)
            cgu.accept(aidant, first)  # else the first authorization would stop at the terms of use
            enrolment = devices.start_app_enrolment(aidant, first)
            enrolment.device.status, enrolment.device.activated_at = "active", first
            seed = devices.seed_of(enrolment.device)
            entry = Aidant(aidant.email, seed, -1, [])
            for u in range(per_aidant):
                when = first + dt.timedelta(seconds=devices.APP_PERIOD * u)
                usager = usagers.record_identity(identity(a * per_aidant + u), when, aidant_id=aidant.id,
                                                 organisation_id=organisation.id)
                entry.last_step = totp.step_at(when, devices.APP_PERIOD)
                mandat = mandats.create_mandat(
                    aidant=aidant, usager_id=usager.id, organisation_id=organisation.id, demarches=DEMARCHES,
                    duration="month", code=totp.code_for_step(seed, entry.last_step), consent=True,
                    form_token=mandats.new_form_token(), issuer=f"http://{HOST}", now=when)
                social = next(x for x in mandat.autorisations if x.demarche == "social")
                entry.choices.append((usager.id, social.id))
            created.append(entry)
            db.commit()
        client_id, secret = registered.client.client_id, registered.secret
    app.extensions["db_engine"].dispose()
    assert secret is not None
    return created, client_id, secret


def sign_in_ours(side: Side, aidant: Aidant) -> Seat:
    """Email + code, the emailed link, then the authorization page once (for its CSRF token)."""
    jar, port = Jar(), side.port
    page = jar.keep(call(port, "GET", "/connexion"))
    step = max(aidant.last_step + 1, totp.step_at(dt.datetime.now(dt.UTC), devices.APP_PERIOD) - 1)
    sent = jar.keep(call(port, "POST", "/connexion", {
        "csrf_token": csrf(page), "email": aidant.email, "code": totp.code_for_step(aidant.seed, step), "next": "",
    }, jar.header()))
    if "Consultez votre messagerie" not in sent.body:
        raise FlowError(f"sign-in of {aidant.email} refused (HTTP {sent.status})")
    found = LINK.search(call(port, "GET", "/dev/outbox", cookie=jar.header()).body)
    if found is None:
        raise FlowError("no login link in the development outbox")
    opened = jar.keep(call(port, "GET", found.group(1), cookie=jar.header()))  # the token leaves the address bar
    clean = urlsplit(opened.location).path if opened.status == 302 else found.group(1)
    confirm = jar.keep(call(port, "GET", clean, cookie=jar.header()))
    done = jar.keep(call(port, "POST", clean, {"csrf_token": csrf(confirm)}, jar.header()))
    if done.status != 302:
        raise FlowError(f"login link: HTTP {done.status}")
    usager_id, autorisation_id = aidant.choices[0]
    page = jar.keep(call(port, "GET", f"/authorize?{side.params(usager=str(usager_id))}", cookie=jar.header()))
    if f'value="{autorisation_id}"' not in page.body:
        raise FlowError(f"the authorization page does not offer autorisation {autorisation_id} "
                        f"(HTTP {page.status} {page.location})")
    token = csrf(page)
    return Seat(jar.header(), [{"csrf_token": token, "usager_id": str(u), "autorisation_id": str(x),
                                "action": "valider"} for u, x in aidant.choices])


def csrf(reply: Reply) -> str:
    found = CSRF.search(reply.body)
    if found is None:
        raise FlowError(f"no CSRF token in the page (HTTP {reply.status})")
    return found.group(1)


def sign_in_peer(side: Side, account: str) -> Seat:
    """Login then consent through the peer's interaction, once; the session cookie is what stays."""
    jar, query = Jar(), side.params(login_hint=account)
    reply = jar.keep(call(side.port, "GET", f"/authorize?{query}"))
    for _ in range(5):
        if reply.location.startswith(REDIRECT_URI):
            break
        target = urlsplit(reply.location)
        reply = jar.keep(call(side.port, "GET", f"{target.path}?{target.query}".rstrip("?"), cookie=jar.header()))
    code_from(reply, parse_qs(query)["state"][0])
    return Seat(jar.header("_session"))


# --- servers ---------------------------------------------------------------------------------------------------


def start_peer(client_id: str, secret: str, accounts_: dict[str, dict[str, str]],
               log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """bench/peer_provider.mjs on 127.0.0.1; its port, once it said it listens."""
    config = {"host": HOST, "port": 0, "accounts": accounts_,
              "client": {"client_id": client_id, "client_secret": secret, "redirect_uri": REDIRECT_URI}}
    with log.open("wb") as err:
        peer = subprocess.Popen(["node", str(PEER), json.dumps(config)], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=err)
    assert peer.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(peer.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout=PEER_START_TIMEOUT)
    line = peer.stdout.readline() if ready else b""
    if not line:
        peer.kill()
        raise SystemExit(f"oidc-provider did not start; see {log}:\n{log.read_text()[-2000:]}")
    return peer, int(json.loads(line)["port"])


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate one process we started, kill it if it lingers."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# --- timing ----------------------------------------------------------------------------------------------------


# --- the run ---------------------------------------------------------------------------------------------------


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its children (gunicorn's workers), from /proc."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1] is the parent's pid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def measure(sides: list[Side], args: argparse.Namespace) -> list[tuple[str, Outcome, Outcome]]:
    """Flows, then /token alone, in rounds that alternate between the providers: the load of the machine,
    whatever it is, falls on both alike. Each call is bounded by its share of the time limit."""
    for side in sides:
        print(f"{side.name:<20}warm-up and check: {check(side)}", flush=True)
        run_flows(side, args.warmup, time.monotonic() + args.time_limit)
    results = {side.name: (Outcome(), Outcome()) for side in sides}
    share = args.time_limit / args.rounds
    for flows_total, tokens_total in zip(quotas(args.flows, args.rounds), quotas(args.tokens, args.rounds),
                                         strict=True):
        for side in sides:
            flows, tokens = results[side.name]
            before = server_cpu(side.server_pid)
            done = run_flows(side, flows_total, time.monotonic() + share)
            flows.server_cpu += server_cpu(side.server_pid) - before
            flows.merge(done)
            flows.elapsed += done.elapsed
            flows.client_cpu += done.client_cpu
            done = run_tokens(side, tokens_total, args.batch, time.monotonic() + share)
            tokens.merge(done)
            tokens.elapsed += done.elapsed
    for name, (flows, tokens) in results.items():
        print(f"{name:<20}{len(flows.latencies)} flows in {flows.elapsed:.1f} s; {len(tokens.latencies)} token "
              f"requests in {tokens.elapsed:.1f} s (timed part)", flush=True)
    return [(name, flows, tokens) for name, (flows, tokens) in results.items()]


def report(results: list[tuple[str, Outcome, Outcome]]) -> None:
    rows: list[tuple[str, Callable[[Outcome, Outcome], float], str]] = [
        ("complete flows/s", lambda f, t: f.rate(), "{:.1f}"),
        ("flow latency p50 ms", lambda f, t: f.ms(0.5), "{:.1f}"),
        ("flow latency p99 ms", lambda f, t: f.ms(0.99), "{:.1f}"),
        ("  authorize p50 ms", lambda f, t: f.ms(0.5, "authorize"), "{:.1f}"),
        ("  token p50 ms", lambda f, t: f.ms(0.5, "token"), "{:.1f}"),
        ("  userinfo p50 ms", lambda f, t: f.ms(0.5, "userinfo"), "{:.1f}"),
        ("server CPU ms/flow", lambda f, t: 1000 * f.server_cpu / len(f.latencies) if f.latencies else 0.0,
         "{:.1f}"),
        ("bench's own CPU %", lambda f, t: 100 * f.client_cpu / f.elapsed if f.elapsed else 0.0, "{:.0f}"),
        ("/token alone req/s", lambda f, t: t.rate(), "{:.1f}"),
        ("/token alone p50 ms", lambda f, t: t.ms(0.5), "{:.1f}"),
        ("/token alone p99 ms", lambda f, t: t.ms(0.99), "{:.1f}"),
    ]
    names = [name for name, _, _ in results]
    print()
    print(f"{'':<22}" + "".join(f"{name:>16}" for name in names) + ("   ours/theirs" if len(results) == 2 else ""))
    for label, value, form in rows:
        values = [value(f, t) for _, f, t in results]
        ratio = f"{values[0] / values[1]:>14.2f}" if len(values) == 2 and values[1] else ""
        print(f"{label:<22}" + "".join(f"{form.format(v):>16}" for v in values) + ratio)
    for name, flows, tokens in results:
        for error in (flows.errors + tokens.errors)[:5]:
            print(f"note {name}: {error}")


def bench_database(url: str | None) -> tuple[str | None, str]:
    """The server to connect to (its ``postgres`` database) and the database to create and drop there.

    The URL's database is the bench's own, unless it names a system database: then ``bench_provider``."""
    if url is None:
        return None, DATABASE
    parsed = sa.make_url(url)
    named = parsed.database or ""
    name = DATABASE if named in ("", "postgres", "template0", "template1") else named
    return parsed.set(database="postgres").render_as_string(hide_password=False), name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL URL naming the bench database (default: SQLite file)")
    parser.add_argument("--flows", type=int, default=600, help="complete flows to time, per provider")
    parser.add_argument("--tokens", type=int, default=600, help="token requests to time, per provider")
    parser.add_argument("--batch", type=int, default=25, help="codes each thread makes before a timed round")
    parser.add_argument("--warmup", type=int, default=20, help="untimed flows first, per provider")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads (one signed-in aidant each)")
    parser.add_argument("--usagers", type=int, default=3, help="usagers under mandate per aidant")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--rounds", type=int, default=6, help="alternations between the two providers")
    parser.add_argument("--time-limit", type=float, default=240.0,
                        help="seconds for each provider's flows, and again for its tokens, at most")
    parser.add_argument("--no-peer", action="store_true", help="measure ours only")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    if not args.no_peer and (shutil.which("node") is None or not PEER_PACKAGE.exists()):
        parser.error("node and tests/peers/node_modules are needed for the peer (`make test` installs them), "
                     "or pass --no-peer")
    base_url, name = bench_database(args.database_url)
    servers: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="bench-provider-") as tmp:
        workdir = Path(tmp)
        target = prepare_database(base_url, name, workdir)
        try:
            environ = bench_environ(target, workdir)
            started = time.perf_counter()
            aidants, client_id, secret = create_world(environ, args.concurrency, args.usagers)
            print(f"database            {target.partition(':')[0]} ({name})")
            print(f"data                {args.concurrency} aidants, {args.concurrency * args.usagers} usagers "
                  f"under mandate, 1 client, in {time.perf_counter() - started:.1f} s", flush=True)
            port = free_port()
            gunicorn = start_gunicorn(environ, port, args.workers, workdir / "gunicorn.log")
            servers.append(gunicorn)
            ours = Side("ours", port, client_id, secret, server_pid=gunicorn.pid)
            ours.seats = [sign_in_ours(ours, aidant) for aidant in aidants]
            sides = [ours]
            if not args.no_peer:
                accounts_ = {f"usager-{n}": {k: v for k, v in identity(n).items() if k != "sub" and v}
                             for n in range(args.concurrency)}
                peer, peer_port = start_peer(client_id, secret, accounts_, workdir / "peer.log")
                servers.append(peer)
                theirs = Side("oidc-provider", peer_port, client_id, secret, server_pid=peer.pid)
                theirs.seats = [sign_in_peer(theirs, account) for account in accounts_]
                sides.append(theirs)
            print(f"signed in           {args.concurrency} sessions per provider, reused for every flow", flush=True)
            load = os.getloadavg()[0]
            results = measure(sides, args)
            load = max(load, os.getloadavg()[0])
        finally:
            for server in servers:
                stop(server)
            if not args.keep:
                drop_database(base_url, name)
    version = json.loads(PEER_PACKAGE.read_text())["version"] if PEER_PACKAGE.exists() else "-"
    print(f"setting             {HOST} only; {args.concurrency} client threads, a new connection per request; "
          f"machine load (1 min) up to {load:.1f} on {os.cpu_count()} CPUs")
    print(f"ours                gunicorn {args.workers} workers as gunicorn.conf.py sets them (gthread, "
          f"{os.environ.get('GUNICORN_THREADS', '4')} threads), {target.partition(':')[0]}, journal on each use")
    print(f"theirs              oidc-provider {version}, one node process, in-memory adapter, no journal")
    report(results)


if __name__ == "__main__":
    main()
