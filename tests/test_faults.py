"""Under load and faults: racing writers, a database that is gone, full or locked. Real app, real database,
real threads; never a 5xx that lies, never a wait without a bound."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy.orm import sessionmaker

from aidants import clock, db
from aidants.journal.services import verify_chain
from aidants.mandats.models import Autorisation, Mandat
from aidants.usagers import services as usagers
from aidants.usagers.models import Usager
from tests.conftest import build_app
from tests.factories import make_aidant, make_organisation, run_together, sign_in
from tests.mandats.helpers import form_token, set_draft
from tests.oidc import provider_helpers
from tests.oidc.provider_helpers import REDIRECT_URI, auth_params, give_mandat, register_client, token_request

UNAVAILABLE = "Le service est momentanément indisponible"


def postgres_only() -> None:
    if db.engine().dialect.name != "postgresql":
        pytest.skip("PostgreSQL variant: runs when DATABASE_URL points to PostgreSQL")


def all_at_once(jobs: list[Callable[[], int]]) -> list[int | BaseException]:
    """Each job (HTTP requests through its own test client) in its own thread, released together."""
    start = threading.Barrier(len(jobs))
    results: list[int | BaseException] = [0] * len(jobs)

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = jobs[index]()
        except BaseException as exc:  # reported to the test's thread
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# --- 14: creations, revocations and provider uses racing ------------------------------------------------


def test_creations_revocations_and_provider_uses_racing_never_answer_5xx(app: Flask, fixed_clock) -> None:
    postgres_only()
    organisation = make_organisation(fixed_clock.now())
    team = [make_aidant(fixed_clock.now(), organisation) for _ in range(4)]
    usager = provider_helpers.make_usager(fixed_clock.now())
    db.commit()
    service, secret = register_client(fixed_clock.now())
    https = [app.test_client() for _ in team]
    for http, who in zip(https, team, strict=True):
        sign_in(http, who, fixed_clock.now())
    statuses: list[int | BaseException] = []
    for _round in range(3):
        fixed_clock.advance(seconds=31)
        mandat = give_mandat(team[0], usager, ["social", "logement", "papiers"], fixed_clock.now())
        used = next(a.id for a in mandat.autorisations if a.demarche == "papiers")
        fixed_clock.advance(seconds=31)
        now = fixed_clock.now()
        tokens = []
        for http in https[1:3]:
            set_draft(http, organisation.id, usager.id, ["social", "logement"])
            tokens.append(form_token(http.get("/mandats/recapitulatif").get_data(as_text=True)))
        world = provider_helpers.World(organisation, team[3], usager, mandat, service, secret)
        statuses += all_at_once(_race(https, tokens, [who.code(now) for who in team], world, used))
    assert all(isinstance(s, int) and s < 500 for s in statuses), statuses
    db.session().expire_all()
    open_rows = db.session().execute(sa.select(Autorisation.demarche).where(
        Autorisation.usager_id == usager.id, Autorisation.revoked_at.is_(None), Autorisation.replaced_at.is_(None),
    )).scalars().all()
    assert len(open_rows) == len(set(open_rows))  # at most one open autorisation per démarche
    assert verify_chain().ok
    assert REDIRECT_URI.startswith("https://")


def _race(https: list[FlaskClient], tokens: list[str], codes: list[str], world: provider_helpers.World,
          used: int) -> list[Callable[[], int]]:
    """Two creations for the usager, the revocation of their mandate, and a use of it at a service."""
    params = auth_params(world)

    def create(i: int) -> Callable[[], int]:
        return lambda: https[i].post("/mandats/recapitulatif", data={
            "token": tokens[i - 1], "code": codes[i], "consent": "y"}).status_code

    def revoke() -> int:
        return https[0].post(f"/mandats/{world.mandat.uuid}/revoquer", data={"code": codes[0]}).status_code

    def use() -> int:
        http = https[3]
        response = http.post("/authorize", query_string=params, data={
            "usager_id": str(world.usager.id), "autorisation_id": str(used), "action": "valider"})
        location = response.headers.get("Location", "")
        if response.status_code != 302 or "code=" not in location:
            return response.status_code
        code = provider_helpers.redirect_params(location)["code"]
        return max(response.status_code, token_request(http, world, code).status_code)

    return [create(1), create(2), revoke, use]


# --- 15: two first identifications at once -----------------------------------------------------------------

CLAIMS = {"sub": "fc-sub-racing", "given_name": "Angela", "family_name": "DUBOIS", "birthdate": "1962-08-24",
          "gender": "female", "birthplace": "75107", "birthcountry": "99100", "email": "angela@example.org"}


def test_two_first_identifications_at_once_both_succeed(app: Flask, fixed_clock) -> None:
    now = fixed_clock.now()
    results = run_together(app, [lambda: usagers.record_identity(CLAIMS, now).id for _ in range(4)])
    assert all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 1
    assert db.session().scalar(sa.select(sa.func.count()).select_from(Usager)) == 1
    assert verify_chain().ok


# --- 18: database unreachable or full ---------------------------------------------------------------------


def _swap_engine(app: Flask, engine: sa.Engine) -> tuple[sa.Engine, sessionmaker]:
    """Point the app at another engine (the test's own session goes: requests share its app context)."""
    old = g.pop("db_session", None)
    if old is not None:
        old.close()
    before = (app.extensions["db_engine"], app.extensions["db_sessionmaker"])
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    return before


def test_an_unreachable_database_answers_503_and_recovers(app: Flask, fixed_clock, tmp_path: Path) -> None:
    who = make_aidant(fixed_clock.now())
    http = app.test_client()
    sign_in(http, who, fixed_clock.now())
    gone = ("postgresql+psycopg://postgres@127.0.0.1:1/gone" if db.is_postgresql()
            else f"sqlite:///{tmp_path}/no/such/directory/gone.sqlite3")
    engine, maker = _swap_engine(app, db.make_engine(gone))
    try:
        fixed_clock.advance(seconds=31)  # activity is due: the page would write
        page = http.get("/espace-aidant")
        health = http.get("/healthz")
    finally:
        app.extensions["db_engine"].dispose()
        g.pop("db_session", None)
        app.extensions["db_engine"], app.extensions["db_sessionmaker"] = engine, maker
    assert page.status_code == 503 and page.headers["Retry-After"] == "10"
    assert UNAVAILABLE in page.get_data(as_text=True)
    assert health.status_code == 503 and health.headers["Retry-After"] == "10"
    again = http.get("/espace-aidant")  # no restart, and the session survived
    assert again.status_code == 200 and "Camille" in again.get_data(as_text=True)


def test_a_full_disk_answers_503_for_a_mandate_creation_and_writes_nothing(app: Flask, fixed_clock) -> None:
    if db.is_postgresql():
        pytest.skip("SQLite variant: PRAGMA max_page_count stands for a full disk")
    now = fixed_clock.now()
    who = make_aidant(now)
    usager = provider_helpers.make_usager(now)
    organisation_id = who.aidant.current_organisation_id or 0
    # One wide row at the end of the mandate table: the next mandate needs a page of its own.
    db.session().execute(sa.insert(Mandat).values(
        uuid="00000000-0000-4000-8000-000000000000", organisation_id=organisation_id, usager_id=usager.id,
        aidant_id=who.aidant.id, created_at=now, expires_at=now, duration="day", template_version="filler",
        jws="x" * 3400))
    db.commit()
    with db.engine().connect() as connection:  # no free page left for the next mandate to reuse
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM")
    http = app.test_client()
    sign_in(http, who, now)
    set_draft(http, organisation_id, usager.id, ["papiers"])
    token = form_token(http.get("/mandats/recapitulatif").get_data(as_text=True))
    fixed_clock.advance(seconds=31)

    def full(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        pages = cursor.execute("PRAGMA page_count").fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    sa.event.listen(db.engine(), "connect", full)
    g.pop("db_session", None)
    db.engine().dispose()
    try:
        response = http.post("/mandats/recapitulatif", data={"token": token, "code": who.code(fixed_clock.now()),
                                                             "consent": "y"})
    finally:
        sa.event.remove(db.engine(), "connect", full)
        g.pop("db_session", None)
        db.engine().dispose()
    page = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"] == "10", page
    assert UNAVAILABLE in page and "au même moment" not in page
    assert db.session().scalar(sa.select(sa.func.count()).select_from(Mandat)) == 1  # the filler only
    assert db.session().scalar(sa.select(sa.func.count()).select_from(Autorisation)) == 0
    assert verify_chain().ok


# --- 16: every wait has a bound -----------------------------------------------------------------------------


@pytest.fixture
def impatient(database_url: str, tmp_path: Path, fixed_clock: clock.FixedClock) -> Iterator[Flask]:
    application = build_app(database_url, tmp_path, WTF_CSRF_ENABLED=False, DB_LOCK_TIMEOUT_MS=300)
    clock.set_clock(application, fixed_clock)
    with application.app_context():
        yield application
    application.extensions["db_engine"].dispose()


def test_postgresql_connections_carry_statement_and_lock_timeouts(impatient: Flask) -> None:
    postgres_only()
    with db.engine().connect() as connection:
        assert connection.execute(sa.text("SHOW lock_timeout")).scalar_one() == "300ms"
        assert connection.execute(sa.text("SHOW statement_timeout")).scalar_one() == "15s"


def test_a_stuck_writer_gives_503_to_writers_and_leaves_reads_and_healthz_alone(impatient: Flask,
                                                                                   fixed_clock) -> None:
    postgres_only()
    from aidants.accounts.models import AidantSession

    who = make_aidant(fixed_clock.now())
    http: FlaskClient = impatient.test_client()
    sign_in(http, who, fixed_clock.now())
    fixed_clock.advance(seconds=31)  # activity is due on the next page
    blocker = sa.create_engine(impatient.config["DATABASE_URL"], poolclass=sa.pool.NullPool)
    with blocker.connect() as connection:
        # Every session row (the journal takes no lock any more: appends never wait for one another).
        connection.execute(sa.select(AidantSession.id).with_for_update())
        health = http.get("/healthz")
        page = http.get("/espace-aidant")
        logout = http.post("/deconnexion")
        connection.rollback()
    blocker.dispose()
    assert health.status_code == 200
    assert page.status_code == 200  # a read-only page: its bookkeeping waits for a later request
    assert logout.status_code == 503 and logout.headers["Retry-After"] == "10"
    assert UNAVAILABLE in logout.get_data(as_text=True)
    assert http.get("/espace-aidant").status_code == 200  # still signed in: the refused logout kept nothing


def test_outgoing_http_has_short_connect_and_read_timeouts(app: Flask) -> None:
    """A FranceConnect that accepts the connection and never answers fails within the read timeout."""
    import socket

    from oidc.client import discovery
    from oidc.client.settings import current

    with app.test_request_context():
        assert current().timeout == (3.0, 5.0)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        port = silent.getsockname()[1]
        with pytest.raises(discovery.Unreachable):
            discovery.get_json(f"http://127.0.0.1:{port}/.well-known/openid-configuration", (0.5, 0.2))
    finally:
        silent.close()
