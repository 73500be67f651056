"""One transaction boundary: views never commit, refusals keep nothing but their counters, errors are
rendered in one place, a deadlock victim runs once more, log lines cannot be forged."""

from __future__ import annotations

import json
import logging
import re
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask, g

from aidants import clock, db, errors, logs
from aidants.accounts.models import Aidant, Throttle
from aidants.journal.models import JournalEntry
from aidants.mandats.models import Autorisation
from aidants.outbox.models import OutboxMessage
from aidants.outbox.services import enqueue_mail
from tests.factories import make_aidant, sign_in
from tests.mandats.helpers import make_usager, set_draft
from tests.oidc.provider_helpers import give_mandat

ROOT = Path(__file__).resolve().parent.parent


def _count(app: Flask, model: type) -> int:
    with app.extensions["db_engine"].connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


# --- 19: no view commits; the boundary decides ---------------------------------------------------


def test_no_view_module_commits_or_rolls_back() -> None:
    found = subprocess.run(
        ["grep", "-rn", r"commit()\|rollback()", "aidants", "oidc", "--include=*views*.py"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    ).stdout
    by_hand = re.compile(r"commit\(\)|rollback\(\)")
    also = [path for path in ("oidc/sandbox/service.py", "aidants/web.py") if by_hand.search((ROOT / path).read_text())]
    assert found == "" and also == [], found + "\n".join(also)


def test_a_refusal_that_redirects_keeps_nothing(app: Flask) -> None:
    def refused() -> tuple[str, int, dict[str, str]]:
        enqueue_mail("a@example.org", "refusé", "Corps", now=clock.now())
        db.refuse()
        return "", 302, {"Location": "/"}

    app.add_url_rule("/_t/refused-redirect", "t_refused_redirect", refused)
    assert app.test_client().get("/_t/refused-redirect").status_code == 302
    assert _count(app, OutboxMessage) == 0


def test_a_domain_error_is_rendered_in_one_place_and_rolls_back(app: Flask) -> None:
    def conflict() -> str:
        enqueue_mail("a@example.org", "conflit", "Corps", now=clock.now())
        raise errors.Conflict("Quelqu'un d'autre vient de modifier cette fiche.")

    app.add_url_rule("/_t/conflict", "t_conflict", conflict)
    response = app.test_client().get("/_t/conflict")
    assert response.status_code == 409
    assert "Quelqu&#39;un d&#39;autre vient de modifier cette fiche." in response.get_data(as_text=True)
    assert _count(app, OutboxMessage) == 0


def test_after_commit_runs_only_after_a_commit(app: Flask) -> None:
    ran: list[str] = []

    def page(status: int) -> tuple[str, int]:
        db.after_commit(lambda: ran.append(str(status)))
        return "", status

    app.add_url_rule("/_t/after/ok", "t_after_ok", lambda: page(200))
    app.add_url_rule("/_t/after/refused", "t_after_refused", lambda: page(422))
    client = app.test_client()
    client.get("/_t/after/refused")
    client.get("/_t/after/ok")
    assert ran == ["200"]


def test_a_wrong_revocation_code_is_counted_although_the_refusal_rolls_back(app: Flask, fixed_clock) -> None:
    now = fixed_clock.now()
    who = make_aidant(now)
    usager = make_usager(now)
    mandat = give_mandat(who, usager, ["papiers"], now)
    fixed_clock.advance(seconds=31)
    http = app.test_client()
    sign_in(http, who, fixed_clock.now())
    response = http.post(f"/mandats/{mandat.uuid}/revoquer", data={"code": "000000"})
    assert response.status_code == 400
    with app.extensions["db_engine"].connect() as connection:
        failures = connection.execute(sa.select(Throttle.failures).where(
            Throttle.key == f"mandat-code:{who.aidant.id}")).scalar_one()
        revoked = connection.execute(sa.select(Autorisation.revoked_at)).scalars().all()
    assert failures == 1 and revoked == [None]


def test_a_wrong_provider_code_is_counted_and_journaled_on_its_own(app: Flask, fixed_clock) -> None:
    from aidants.accounts import services as accounts

    now = fixed_clock.now()
    who = make_aidant(now)
    http = app.test_client()
    sign_in(http, who, now)
    fixed_clock.advance(minutes=16)  # the code is asked again
    response = http.post("/connexion/verification", data={"code": "000000"})
    assert response.status_code == 200
    db.session().rollback()  # whatever the request did, the count is committed
    with app.extensions["db_engine"].connect() as connection:
        failures = connection.execute(sa.select(Aidant.failed_logins).where(Aidant.id == who.aidant.id)).scalar_one()
        actions = connection.execute(sa.select(JournalEntry.action)).scalars().all()
    assert failures == 1 and "failed_code" in actions
    assert accounts.MAX_FAILURES == 5


def test_independent_transaction_refuses_to_wait_for_its_own_request(app: Flask) -> None:
    def page() -> str:
        enqueue_mail("a@example.org", "écrit", "Corps", now=clock.now())
        db.session().flush()
        with db.independent_transaction():
            pass
        return ""

    app.add_url_rule("/_t/late-independent", "t_late_independent", page)
    assert app.test_client().get("/_t/late-independent").status_code == 500


# --- 14: a deadlock victim runs once more ------------------------------------------------------------


class _Deadlock(Exception):
    sqlstate = "40P01"


def test_a_deadlock_victim_is_run_again_once_transparently(app: Flask) -> None:
    calls: list[int] = []

    def page() -> str:
        calls.append(1)
        enqueue_mail("a@example.org", f"essai {len(calls)}", "Corps", now=clock.now())
        if len(calls) == 1:
            raise sa.exc.OperationalError("UPDATE …", {}, _Deadlock("deadlock detected"))
        return "ok"

    app.add_url_rule("/_t/deadlock", "t_deadlock", page, methods=["POST"])
    response = app.test_client().post("/_t/deadlock", data={"x": "1"})
    assert response.status_code == 200 and response.get_data(as_text=True) == "ok"
    assert len(calls) == 2
    with app.extensions["db_engine"].connect() as connection:
        subjects = connection.execute(sa.select(OutboxMessage.subject)).scalars().all()
    assert subjects == ["essai 2"]  # the victim's writes were rolled back


def test_a_second_deadlock_answers_503_with_retry_after(app: Flask) -> None:
    def page() -> str:
        raise sa.exc.OperationalError("UPDATE …", {}, _Deadlock("deadlock detected"))

    app.add_url_rule("/_t/deadlock-again", "t_deadlock_again", page)
    response = app.test_client().get("/_t/deadlock-again")
    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    assert "très sollicité" in response.get_data(as_text=True)


def test_revoke_writes_each_autorisation_once(app: Flask, fixed_clock) -> None:
    """One UPDATE of the autorisations: no second one (whose foreign-key checks took the usager's lock)."""
    from aidants.mandats import services as mandats

    now = fixed_clock.now()
    who = make_aidant(now)
    usager = make_usager(now)
    mandat = give_mandat(who, usager, ["papiers", "social"], now)
    fixed_clock.advance(seconds=31)
    statements: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa.event.listen(db.engine(), "before_cursor_execute", note)
    try:
        mandats.revoke(aidant=who.aidant, mandat=mandat, code=who.code(fixed_clock.now()), now=fixed_clock.now())
        db.session().flush()
        db.commit()
    finally:
        sa.event.remove(db.engine(), "before_cursor_execute", note)
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE AUTORISATION")]
    assert len(updates) == 1, updates
    locks = [i for i, s in enumerate(statements) if "FROM usager" in s and s.lstrip().upper().startswith("SELECT")]
    assert locks and locks[0] < statements.index(updates[0])  # the usager first, as a creation does


# --- 17: a mail server down gives a true page -------------------------------------------------------


def test_a_mail_server_down_at_sign_in_answers_a_true_page(app: Flask, fixed_clock) -> None:
    """No request talks SMTP: with the mail server down, sign-in says the link is on its way, and it is queued."""
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=1)  # nothing listens there
    who = make_aidant(fixed_clock.now())
    response = app.test_client().post("/connexion", data={"email": who.aidant.email,
                                                           "code": who.code(fixed_clock.now())})
    assert response.status_code == 200 and "Consultez votre messagerie" in response.get_data(as_text=True)
    queued = db.session().scalars(sa.select(OutboxMessage).where(OutboxMessage.recipient == who.aidant.email)).all()
    assert [m.status for m in queued] == ["pending"]


# --- 10: one event per line --------------------------------------------------------------------------

HOSTILE_PRINTABLE = 'x\u2028 2026-12-02 00:00:00 CRITICAL aidants.web: forged line'
HOSTILE = 'x\n2026-12-02 00:00:00 CRITICAL aidants.web: forged line\r\x1b[31mred\x1b[0m\u2028end'


def _one_line_each(record: logging.LogRecord) -> tuple[str, dict[str, object]]:
    plain = logs.PlainFormatter().format(record)
    encoded = logs.JsonFormatter().format(record)
    assert "\n" not in plain and "\r" not in plain and "\x1b" not in plain and "\u2028" not in plain
    assert "\n" not in encoded and "\x1b" not in encoded
    return plain, json.loads(encoded)


def test_a_csp_report_cannot_write_a_line_of_its_own(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="aidants.web"):
        response = app.test_client().post("/csp-report", data=HOSTILE.encode(),
                                          content_type="application/csp-report")
    assert response.status_code == 204
    record = next(r for r in caplog.records if "CSP violation" in r.getMessage())
    plain, event = _one_line_each(record)
    assert "\\nforged" not in plain and "\\n2026-12-02 00:00:00 CRITICAL" in plain and "\\x1b[31m" in plain
    assert event["csp_report"] == HOSTILE and event["level"] == "WARNING"


def test_a_franceconnect_error_cannot_write_a_line_of_its_own(app: Flask, fixed_clock,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    now = fixed_clock.now()
    who = make_aidant(now)
    http = app.test_client()
    sign_in(http, who, now)
    set_draft(http, who.aidant.current_organisation_id or 0, None, ["papiers"])
    with app.test_request_context():
        from oidc.client.settings import current

        issuer = current().issuer
    with http.session_transaction() as session:  # an identification started in this browser
        session["franceconnect"] = {"state": "s" * 32, "nonce": "n" * 32, "issuer": issuer,
                                    "aidant_id": who.aidant.id, "started_at": now.timestamp()}
    with caplog.at_level(logging.INFO):
        # Control characters are refused at the door (aidants.input_guard), before any view logs anything…
        assert http.get("/franceconnect/retour", query_string={"error": HOSTILE, "state": "s" * 32}).status_code == 400
        # …and a value that passes the door is logged escaped, on one line.
        http.get("/franceconnect/retour", query_string={"error": HOSTILE_PRINTABLE, "state": "s" * 32})
    records = [r for r in caplog.records if "CRITICAL" in r.getMessage()]
    assert records, [r.getMessage() for r in caplog.records]
    for record in records:
        plain, _event = _one_line_each(record)
        assert plain.count("CRITICAL") == 1  # the forged level stays inside the escaped value
    for record in caplog.records:
        _one_line_each(record)


def test_log_format_is_a_setting_json_or_plain(tmp_path: Path) -> None:
    from aidants.config import load_config

    assert isinstance(logs.formatter("json"), logs.JsonFormatter)
    assert isinstance(logs.formatter("plain"), logs.PlainFormatter)
    assert load_config({"AIDANTS_ENV": "development"}, tmp_path)["LOG_FORMAT"] == "plain"
    assert load_config({"AIDANTS_ENV": "development", "LOG_FORMAT": "json"}, tmp_path)["LOG_FORMAT"] == "json"


# --- reads before BEGIN: only marked plain SELECTs, and never a write on its own --------------------


def _in_transaction(app: Flask) -> bool:
    """Whether the request's connection has a transaction open on the server (PostgreSQL's status)."""
    dbapi = db.session().connection().connection.dbapi_connection
    assert dbapi is not None
    return bool(dbapi.info.transaction_status != 0)  # psycopg.pq.TransactionStatus.IDLE


def _postgres_only() -> None:
    if db.engine().dialect.name != "postgresql":
        pytest.skip("PostgreSQL variant: SQLite's driver begins a transaction only before a write already")


def _marked(sql: str) -> sa.Executable:
    return db.outside_transaction(sa.text(sql))


def test_a_marked_plain_select_runs_before_begin_and_the_next_write_begins_the_transaction(app: Flask) -> None:
    _postgres_only()
    db.session().rollback()
    assert db.session().execute(_marked("SELECT count(*) FROM aidant")).scalar_one() == 0
    assert not _in_transaction(app)
    enqueue_mail("a@example.org", "Objet", "Corps", now=clock.now())
    db.session().flush()
    assert _in_transaction(app)
    db.session().rollback()
    assert _count(app, OutboxMessage) == 0  # the write was inside the transaction, not committed alone


@pytest.mark.parametrize("sql", [
    "SELECT id FROM aidant FOR UPDATE",
    "select id from aidant for no key update",
    "SELECT id FROM aidant FOR SHARE",
    "SELECT pg_advisory_xact_lock(42)",
    "SELECT nextval('aidant_id_seq')",
    "SELECT set_config('statement_timeout', '1000', true)",
    "WITH gone AS (DELETE FROM throttle RETURNING key) SELECT count(*) FROM gone",
    "SELECT 1 INTO TEMPORARY t_into",
])
def test_a_marked_statement_that_locks_or_has_an_effect_begins_the_transaction(app: Flask, sql: str) -> None:
    _postgres_only()
    db.session().rollback()
    db.session().execute(_marked(sql))
    assert _in_transaction(app)
    db.session().rollback()


def test_an_unmarked_select_begins_the_transaction_as_before(app: Flask) -> None:
    _postgres_only()
    db.session().rollback()
    db.session().execute(sa.text("SELECT count(*) FROM aidant"))
    assert _in_transaction(app)
    db.session().rollback()


def test_a_marked_select_inside_a_transaction_stays_inside(app: Flask) -> None:
    _postgres_only()
    db.session().rollback()
    enqueue_mail("a@example.org", "Objet", "Corps", now=clock.now())
    db.session().flush()
    db.session().execute(_marked("SELECT count(*) FROM outbox_message"))
    assert _in_transaction(app)
    db.session().rollback()
    assert _count(app, OutboxMessage) == 0


def test_after_a_failing_marked_select_the_next_statement_is_in_a_transaction(app: Flask) -> None:
    _postgres_only()
    db.session().rollback()
    with pytest.raises(sa.exc.ProgrammingError):
        db.session().execute(_marked("SELECT nothing FROM nowhere"))
    db.session().rollback()
    enqueue_mail("a@example.org", "Objet", "Corps", now=clock.now())
    db.session().flush()
    assert _in_transaction(app)
    db.session().rollback()
    assert _count(app, OutboxMessage) == 0


def test_a_signed_in_page_reads_its_session_before_begin_and_still_writes_activity(app: Flask,
                                                                                    fixed_clock) -> None:
    from aidants.accounts.models import AidantSession

    seen: list[tuple[bool, bool]] = []

    def probe() -> str:
        seen.append((g.aidant is not None, _in_transaction(app) if db.is_postgresql() else False))
        return "ok"

    app.add_url_rule("/_t/probe", "t_probe", probe)
    who = make_aidant(fixed_clock.now())
    client = app.test_client()
    sign_in(client, who, fixed_clock.now())
    assert client.get("/_t/probe").status_code == 200
    assert seen == [(True, False)]  # signed in, and the session lookup opened no transaction
    fixed_clock.advance(seconds=45)  # past the activity granularity: one write, kept
    assert client.get("/_t/probe").status_code == 200
    with app.extensions["db_engine"].connect() as connection:
        last = connection.execute(sa.select(sa.func.max(AidantSession.last_active_at))).scalar_one()
    assert last == fixed_clock.now()


def test_an_engine_in_autocommit_by_its_own_setting_stays_so_across_checkins(app: Flask) -> None:
    _postgres_only()
    engine = sa.create_engine(db.engine().url, isolation_level="AUTOCOMMIT", pool_size=1)
    try:
        for _ in range(2):
            with engine.connect() as connection:
                connection.execute(db.outside_transaction(sa.text("SELECT 1")))
                dbapi = connection.connection.dbapi_connection
                assert dbapi is not None and dbapi.autocommit
    finally:
        engine.dispose()
