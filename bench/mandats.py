"""Mandate figures on PostgreSQL with one big structure: creation latency, espace aidant list and search latency.

    .venv/bin/python -m bench.mandats --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

The first run fills a database ``bench_mandats`` (next to the one named in the URL; ``--name`` for another, so
that two people measuring on one server never drop each other's) with one structure,
100,000 usagers and 1,000,000 mandates (about 2,000,000 autorisations), in SQL, then keeps it: later runs
reuse it (``--regenerate`` to start again, ``--drop`` to remove it at the end). Each usager has ten
mandates, the older ones expired or replaced, the newest active (70 %), expired (20 %) or revoked (10 %),
like a structure after years of use. The generated rows carry a placeholder instead of a signed JWS and
no journal entries (neither is read by the pages measured); mandates created during the measure are real.

Then, through the real app (Flask test client, no network), with one signed-in aidant:
* creation: the recap's POST (code check, JWS, revocation of the overlapping autorisations, journal), p50/p95;
* list: ``/espace-aidant/usagers?page=N`` for random pages, p50/p95;
* tabs: ``/espace-aidant/usagers?filtre=actifs|termines|revoques``, page 1 and random pages, p50/p95;
* search: ``/espace-aidant/usagers?q=…`` with name prefixes that match from a handful to thousands, p50/p95.
It prints plain figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import os
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidants import clock, create_app, db, migrate
from aidants.accounts import cgu, devices
from aidants.accounts import services as accounts
from aidants.accounts.models import TotpDevice
from aidants.mandats import queries as mandat_queries
from aidants.organisations import services as organisations
from aidants.security import totp

BENCH_DATABASE = "bench_mandats"
SIRET = "13002526500013"
#: Fixed secrets, so that a reused database's TOTP seed still opens (bench data only, never production).
SECRETS = {name: base64.urlsafe_b64encode(hashlib.sha256(name.encode()).digest()).decode()
           for name in ("SECRET_KEY", "SEED", "JOURNAL_SIGNING_KEY", "USAGER_SUB_KEY")}
SEED = b"bench-mandats-seed-0123456789"
GIVEN = ["Adele", "Alain", "Alice", "Andre", "Anne", "Bernard", "Camille", "Claire", "Daniel", "Denise", "Elise",
         "Emile", "Fatima", "Francois", "Gabriel", "Helene", "Hugo", "Ines", "Jacques", "Jeanne", "Julien", "Karim",
         "Laura", "Louis", "Lucie", "Manon", "Marc", "Marie", "Michel", "Nadia", "Nicolas", "Odile", "Paul",
         "Pierre", "Rachid", "Rose", "Sophie", "Thomas", "Yasmine", "Zoe"]
FAMILY_HEADS = ["Ber", "Mar", "Dub", "Lef", "Gar", "Rou", "Mor", "Fau", "Bla", "Gui", "Mer", "Bou", "Cha", "Dum",
                "Fon", "Gir", "Lam", "Mas", "Noe", "Per", "Ren", "Sch", "Ton", "Vid", "Wei", "Cla", "Leb", "Hen",
                "Joly", "Ker", "Pic", "Rol", "Sim", "Tes", "Val", "Bon", "Col", "Dan", "Eti", "Ha"]
FAMILY_TAILS = ["nard", "tin", "ois", "evre", "cia", "sseau", "eau", "re", "nc", "ot", "cier", "vier", "rles",
                "ont", "taine", "ard", "bert", "son", "lle", "rin", "aud", "midt", "nelli", "al", "ss"]
PATTERNS = ["{papiers}", "{papiers,social}", "{famille,logement,argent}", "{travail,transports}"]


def _admin(url: sa.URL) -> sa.Engine:
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def build_app(target: str, workdir: Path) -> Flask:
    os.environ["AIDANTS_INSTANCE"] = str(workdir / "instance")
    environ = {
        "AIDANTS_ENV": "test", "DATABASE_URL": target, "SECRET_KEY": SECRETS["SECRET_KEY"],
        "SEED_ENCRYPTION_KEYS": "bench:" + SECRETS["SEED"], "JOURNAL_SIGNING_KEY": SECRETS["JOURNAL_SIGNING_KEY"],
        "USAGER_SUB_KEY": SECRETS["USAGER_SUB_KEY"],
    }
    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False}, environ=environ)


def database(url: str, name: str, regenerate: bool) -> tuple[str, bool]:
    """The bench database's URL, and whether it must be filled."""
    base = sa.make_url(url)
    target = base.set(database=name).render_as_string(hide_password=False)
    with _admin(base).connect() as connection:
        exists = connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists and not regenerate:
            engine = sa.create_engine(target, poolclass=sa.pool.NullPool)
            migrate.upgrade(engine)  # a kept database gets the revisions written since (indexes)
            engine.dispose()
            return target, False
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(target, poolclass=sa.pool.NullPool)
    migrate.upgrade(engine)
    engine.dispose()
    return target, True


def _step(label: str, started: float) -> float:
    now = time.perf_counter()
    print(f"  {label}: {now - started:.1f} s", flush=True)
    return now


def generate(app: Flask, usagers: int, per_usager: int) -> None:
    """One structure, ``usagers`` usagers, ``per_usager`` mandates each, in SQL."""
    with app.app_context():
        now = clock.now()
        organisation = organisations.create_organisation(name="France Services du Banc d'essai", siret=SIRET,
                                                         now=now)
        aidant = accounts.create_aidant(email="banc@bench.localhost", first_name="Banc", last_name="Essai",
                                        organisation=organisation, now=now)
        db.session().add(TotpDevice(kind="app", aidant_id=aidant.id, status="active", period=30, digits=6,
                                    seed_encrypted=devices.encrypt_seed("app", SEED), created_at=now,
                                    activated_at=now))
        db.commit()
        org_id, aidant_id = organisation.id, aidant.id
    engine = sa.create_engine(app.config["DATABASE_URL"], poolclass=sa.pool.NullPool)
    params = {"n": usagers, "k": per_usager, "org": org_id, "aidant": aidant_id, "now": now,
              "given": GIVEN, "heads": FAMILY_HEADS, "tails": FAMILY_TAILS, "patterns": PATTERNS}
    print(f"Filling {engine.url.database}: {usagers} usagers, {usagers * per_usager} mandates…", flush=True)
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(sa.text("SET LOCAL synchronous_commit = off"))
        connection.execute(sa.text("""
            INSERT INTO usager (sub, given_name, family_name, preferred_username, birthdate, gender, birthplace,
                                birthcountry, email, created_at, updated_at, search_name)
            SELECT md5('sub' || i) || md5('bus' || i), g, f, '', (date '1940-01-01' + (i % 20000))::text,
                   CASE WHEN i % 2 = 0 THEN 'female' ELSE 'male' END, '75056', '99100', '', :now, :now,
                   lower(g || ' ' || f)
            FROM (SELECT i, (CAST(:given AS text[]))[1 + i % array_length(CAST(:given AS text[]), 1)] AS g,
                         (CAST(:heads AS text[]))[1 + (i / 7) % array_length(CAST(:heads AS text[]), 1)]
                         || (CAST(:tails AS text[]))[1 + (i / 280) % array_length(CAST(:tails AS text[]), 1)] AS f
                  FROM generate_series(1, :n) AS i) AS names
        """), params)
        started = _step("usagers", started)
        # Mandate k of usager u: ten, 60 days apart, the last one created 0-29 days ago.
        connection.execute(sa.text("""
            INSERT INTO mandat (uuid, organisation_id, usager_id, aidant_id, created_at, expires_at, duration,
                                template_version, jws, request_key, renewed_from_id)
            SELECT gen_random_uuid()::text, :org, u.id, :aidant, c.created, c.created + make_interval(days => c.days),
                   c.duration, 'v1', 'bench-placeholder', NULL, NULL
            FROM usager AS u
            CROSS JOIN generate_series(0, :k - 1) AS k
            CROSS JOIN LATERAL (
                SELECT CAST(:now AS timestamptz) - make_interval(days => (:k - 1 - k) * 60 + u.id % 30) AS created,
                       CASE WHEN k < :k - 1 THEN (ARRAY[1, 31, 182, 365])[1 + (u.id + k) % 4]
                            WHEN u.id % 10 < 2 THEN 1 ELSE 365 END AS days,
                       CASE WHEN k < :k - 1 THEN (ARRAY['short', 'month', 'semester', 'long'])[1 + (u.id + k) % 4]
                            WHEN u.id % 10 < 2 THEN 'short' ELSE 'long' END AS duration
            ) AS c
        """), params)
        started = _step("mandats", started)
        # Older mandates' autorisations are closed by the next one (revoked when still active, else replaced);
        # the newest: 70 % active, 20 % expired (short), 10 % revoked.
        connection.execute(sa.text("""
            INSERT INTO autorisation (mandat_id, demarche, usager_id, organisation_id, expires_at, revoked_at,
                                      revoked_by_id, revoked_reason, replaced_at)
            SELECT m.id, d, m.usager_id, m.organisation_id, m.expires_at,
                   CASE WHEN NOT m.newest AND m.expires_at > m.next_at THEN m.next_at
                        WHEN m.newest AND m.usager_id % 10 = 9 THEN m.created_at + interval '1 day' END,
                   CASE WHEN (NOT m.newest AND m.expires_at > m.next_at) OR (m.newest AND m.usager_id % 10 = 9)
                        THEN :aidant END,
                   CASE WHEN NOT m.newest AND m.expires_at > m.next_at THEN 'replaced'
                        WHEN m.newest AND m.usager_id % 10 = 9 THEN 'revocation' END,
                   CASE WHEN NOT m.newest AND m.expires_at <= m.next_at THEN m.next_at END
            FROM (SELECT mandat.*, created_at + interval '60 days' AS next_at,
                         created_at > CAST(:now AS timestamptz) - interval '30 days' AS newest,
                         CAST((CAST(:patterns AS text[]))[
                                  1 + (usager_id + extract(epoch FROM created_at)::bigint / 86400) % 4]
                              AS text[]) AS demarches
                  FROM mandat) AS m
            CROSS JOIN LATERAL unnest(m.demarches) AS d
        """), params)
        started = _step("autorisations", started)
        # Last: each row's insertion trigger summarises the usager's autorisations once (written before it, the
        # rows would be summarised again at each of their 2,000,000 autorisations). Analyzed first, so that the
        # triggers' statements read the (organisation, usager) index instead of scanning a table thought empty.
        connection.execute(sa.text("ANALYZE autorisation"))
        connection.execute(sa.text("""
            INSERT INTO mandat_usager (organisation_id, usager_id, name_key, since)
            SELECT :org, id, lower(given_name || ' ' || family_name), :now FROM usager
        """), params)
        _step("espace aidant index", started)
    started = time.perf_counter()
    with _admin(engine.url).connect() as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))
        connection.execute(sa.text("CHECKPOINT"))  # the load's writes reach the disk before anything is timed
    _step("vacuum analyze, checkpoint", started)
    engine.dispose()


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p = statistics.quantiles(ordered, n=100, method="inclusive")
    return (f"p50 {ordered[len(ordered) // 2] * 1000:6.1f} ms   p95 {p[94] * 1000:6.1f} ms   "
            f"max {ordered[-1] * 1000:6.1f} ms   (n={len(ordered)})")


def signed_in_client(app: Flask) -> FlaskClient:
    """A test client holding a fresh session of the bench aidant (the sign-in pages are not measured)."""
    client = app.test_client()
    with app.app_context():
        aidant = accounts.find_aidant("banc@bench.localhost")
        assert aidant is not None
        # A reused database may hold a code step from an earlier run's (advanced) clock: forget it.
        db.session().execute(sa.text("UPDATE totp_device SET last_step = NULL WHERE aidant_id = :a"),
                             {"a": aidant.id})
        now = clock.now()
        cgu.accept(aidant, now)  # else every page would lead to the terms of use (a no-op once accepted)
        code = totp.code_for_step(SEED, totp.step_at(now, 30), 6)
        attempt = accounts.request_login(aidant.email, code, "127.0.0.1", now)
        assert attempt.link_token, "bench aidant could not sign in"
        opened = accounts.use_login_link(attempt.link_token, "127.0.0.1", now)
        assert opened is not None
        db.commit()
    with client.session_transaction() as session:
        session["sid"] = opened.token
    return client


def bench_creation(app: Flask, client: FlaskClient, fixed: clock.FixedClock, count: int) -> None:
    with app.app_context():
        org_id = db.session().scalar(sa.text("SELECT id FROM organisation WHERE siret = :s"), {"s": SIRET})
        high = db.session().scalar(sa.text("SELECT max(id) FROM usager"))
    samples = []
    for _ in range(count):
        fixed.advance(seconds=30)  # a new TOTP step: each creation spends a fresh code
        usager_id = random.randint(1, int(high))
        with client.session_transaction() as session:
            session["mandat_draft"] = {"demarches": random.choice([["papiers", "social"], ["famille"],
                                                                   ["argent", "logement", "travail"]]),
                                       "duration": "long", "organisation_id": org_id, "usager_id": usager_id}
        page = client.get("/mandats/recapitulatif").get_data(as_text=True)
        found = re.search(r'name="token" type="hidden" value="([^"]+)"', page)
        assert found, page[:500]
        code = totp.code_for_step(SEED, totp.step_at(fixed.now(), 30), 6)
        started = time.perf_counter()
        response = client.post("/mandats/recapitulatif", data={"token": found.group(1), "code": code,
                                                               "consent": "y"})
        samples.append(time.perf_counter() - started)
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    print(f"mandate creation (recap POST)       {percentiles(samples)}")


#: The rows of each tab of the list, as the usager summary says (``aidants.mandats.queries._tab_filter``).
TAB_ROWS = {
    "tous": "true",
    "actifs": "active_until > now()",
    "termines": "(active_until IS NULL OR active_until <= now()) AND (active_until IS NOT NULL OR has_replaced)",
    "revoques": "has_revocation AND (active_until IS NULL OR active_until <= now())",
}


def random_cursors(app: Flask, count: int, tab: str = "tous") -> list[dict[str, str]]:
    """Cursors to pages anywhere in the list (of a tab), as the "page suivante" links of earlier pages give
    them."""
    rows = TAB_ROWS[tab]
    with app.app_context():
        total = db.session().scalar(sa.text(f"SELECT count(*) FROM mandat_usager WHERE {rows}")) or 1  # noqa: S608
        found = []
        for _ in range(count):
            row = db.session().execute(sa.text(
                f"SELECT name_key, usager_id FROM mandat_usager WHERE {rows} "  # noqa: S608
                "ORDER BY name_key, usager_id OFFSET :o LIMIT 1"), {"o": random.randrange(total)}).one()
            found.append({"curseur": mandat_queries.encode_cursor("n", row.name_key, row.usager_id)})
        return found


def last_cursor(app: Flask) -> str:
    """The cursor of the list's last page ("page précédente" from past the end)."""
    with app.app_context():
        row = db.session().execute(sa.text(
            "SELECT name_key, usager_id FROM mandat_usager ORDER BY name_key DESC, usager_id DESC LIMIT 1")).one()
        return mandat_queries.encode_cursor("p", row.name_key, row.usager_id + 1)


def bench_pages(client: FlaskClient, label: str, queries: list[dict[str, str]]) -> None:
    """Latency of whole pages, and (less moved by the machine's load) this process's CPU and the statements
    of a page."""
    samples, cpu = [], []
    statements = 0
    engine = client.application.extensions["db_engine"]

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        for query in queries:
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get("/espace-aidant/usagers", query_string=query)
            samples.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
            assert response.status_code == 200, (response.status_code, response.location)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    print(f"{label:<36}{percentiles(samples)}   CPU p50 {statistics.median(cpu) * 1000:5.1f} ms, "
          f"{statements / len(queries):.1f} statements")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), help="a PostgreSQL URL")
    parser.add_argument("--usagers", type=int, default=100_000)
    parser.add_argument("--per-usager", type=int, default=10, help="mandates per usager (10 → 1,000,000)")
    parser.add_argument("--creations", type=int, default=200)
    parser.add_argument("--requests", type=int, default=300, help="list pages and searches, each")
    parser.add_argument("--name", default=BENCH_DATABASE, help="the bench database's name")
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--drop", action="store_true", help="drop the bench database at the end")
    args = parser.parse_args()
    if not args.database_url or not args.database_url.startswith("postgresql"):
        parser.error("a PostgreSQL --database-url (or DATABASE_URL) is required")
    random.seed(20261127)
    with tempfile.TemporaryDirectory() as workdir:
        target, empty = database(args.database_url, args.name, args.regenerate)
        app = build_app(target, Path(workdir))
        fixed = clock.FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
        clock.set_clock(app, fixed)
        if empty:
            generate(app, args.usagers, args.per_usager)
        with app.app_context():
            counts = {table: db.session().scalar(sa.text(f"SELECT count(*) FROM {table}"))  # noqa: S608
                      for table in ("usager", "mandat", "autorisation", "mandat_usager")}
        print("database:", ", ".join(f"{n} {t}" for t, n in counts.items()))
        client = signed_in_client(app)
        client.get("/espace-aidant/usagers")  # warm-up: connections, templates
        bench_pages(client, "list, page 1", [{}] * args.requests)
        bench_pages(client, "list, random page (cursor)", random_cursors(app, args.requests))
        bench_pages(client, "list, last page (cursor)", [{"curseur": last_cursor(app)}] * args.requests)
        for tab in ("actifs", "termines", "revoques"):
            bench_pages(client, f"tab {tab}, page 1", [{"filtre": tab}] * args.requests)
            bench_pages(client, f"tab {tab}, random page (cursor)",
                        [{"filtre": tab, **cursor} for cursor in random_cursors(app, args.requests, tab)])
        prefixes = [random.choice(FAMILY_HEADS).lower() + random.choice(FAMILY_TAILS)[:2] for _ in range(args.requests)]
        bench_pages(client, "search, family name prefix", [{"q": p} for p in prefixes])
        names = [f"{random.choice(GIVEN)} {random.choice(FAMILY_HEADS)}" for _ in range(args.requests)]
        bench_pages(client, "search, given name + family prefix", [{"q": n} for n in names])
        bench_pages(client, "search, no match", [{"q": f"zz{i}"} for i in range(args.requests)])
        bench_creation(app, client, fixed, args.creations)
        app.extensions["db_engine"].dispose()
    if args.drop:
        with _admin(sa.make_url(args.database_url)).connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{args.name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
