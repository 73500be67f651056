"""Sign-in under attack (issue 8): links bound to the browser, tokens out of URLs and logs, lockouts that an
attacker cannot turn against the owner, counters that survive a rollback."""

from __future__ import annotations

import html
import runpy
from pathlib import Path

import sqlalchemy as sa

from aidants import db
from aidants.access_log import ACCESS_LOG_FORMAT, TokenFreeLogger, mask_path
from aidants.accounts import services as accounts
from aidants.accounts.models import LoginLink, Throttle
from aidants.journal.models import JournalEntry
from tests.factories import last_login_path, make_aidant, run_together

ROOT = Path(__file__).resolve().parent.parent.parent


def actions(aidant_id: int) -> list[str]:
    return list(db.session().scalars(sa.select(JournalEntry.action).where(JournalEntry.aidant_id == aidant_id)
                                     .order_by(JournalEntry.seq)))


def ask_link(http, who, now, address="127.0.0.1"):
    return http.post("/connexion", data={"email": who.aidant.email, "code": who.code(now)},
                     environ_base={"REMOTE_ADDR": address})


def wrong(who, now) -> str:
    return f"{(int(who.code(now)) + 500_000) % 1_000_000:06d}"


# --- 3 and 11: the link opens a session only in the browser that asked, and leaves the URL at once ---------


def test_a_link_opened_in_another_browser_says_what_to_do_and_stays_usable(app, client, fixed_clock):
    who = make_aidant(fixed_clock.now())
    ask_link(client, who, fixed_clock.now())
    path = last_login_path(who.aidant.email)
    elsewhere = app.test_client()
    for response in (elsewhere.get(path), elsewhere.post(path)):
        assert response.status_code == 400
        assert "ne s'ouvre que dans le navigateur où vous avez saisi votre code" in html.unescape(
            response.get_data(as_text=True))
    assert elsewhere.get("/espace-aidant").status_code == 302
    assert db.session().scalars(sa.select(LoginLink)).one().used_at is None
    assert client.get(path).location == "/connexion/lien"
    assert client.post("/connexion/lien").status_code == 302
    assert client.get("/espace-aidant").status_code == 200


def test_the_clean_address_without_a_pending_link_is_refused_plainly(client):
    assert client.get("/connexion/lien").status_code == 400
    assert "a expiré ou a déjà servi" in client.post("/connexion/lien").get_data(as_text=True)


def test_access_log_format_and_logger_keep_tokens_out(tmp_path):
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert config["logger_class"] == "aidants.access_log.TokenFreeLogger"
    assert config["access_log_format"] == ACCESS_LOG_FORMAT
    for atom in ("%(r)s", "%(q)s", "%(f)s", "}i", "}e"):
        assert atom not in ACCESS_LOG_FORMAT
    token = "aVLuCToa-UPicF5gi9aHm4ru37iNkmooz4CJ_7lJmDk"
    assert mask_path(f"/connexion/lien/{token}") == "/connexion/lien/[jeton]"
    assert mask_path(f"/habilitation/acces/{token}") == "/habilitation/acces/[jeton]"
    uuid = "46e35259-7fd1-401b-a8cb-3978b067b54f"
    assert mask_path(f"/mandats/{uuid}") == f"/mandats/{uuid}"

    class Config:
        def __getattr__(self, name):
            return {"loglevel": "info", "errorlog": "-", "accesslog": str(tmp_path / "access.log"),
                    "access_log_format": ACCESS_LOG_FORMAT, "syslog": False, "logconfig": None,
                    "logconfig_dict": {}, "logconfig_json": None, "capture_output": False,
                    "disable_redirect_access_to_syslog": False, "user": 0, "group": 0,
                    "umask": 0}.get(name)

    logger = TokenFreeLogger(Config())

    class Answer:
        status, sent, headers = "200 OK", 12, []

    import datetime as dt
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/connexion/lien/{token}?code=123456",
               "PATH_INFO": f"/connexion/lien/{token}", "QUERY_STRING": "code=123456",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.1",
               "HTTP_REFERER": f"http://x/habilitation/acces/{token}"}
    logger.access(Answer(), [("AUTHORIZATION", "Basic c2VjcmV0")], environ, dt.timedelta(seconds=0.01))
    for handler in logger.access_log.handlers:
        handler.flush()
    line = (tmp_path / "access.log").read_text()
    assert "/connexion/lien/[jeton]" in line and token not in line and "123456" not in line
    assert "c2VjcmV0" not in line


# --- 4: lockouts keyed by client, links never voided, simultaneous sign-ins ---------------------------------


def test_failures_from_one_client_do_not_lock_another_out(app, client, fixed_clock):
    who = make_aidant(fixed_clock.now())
    now = fixed_clock.now()
    for _ in range(7):
        client.post("/connexion", data={"email": who.aidant.email, "code": wrong(who, now)},
                    environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert ask_link(client, who, now, "203.0.113.9").status_code == 429
    desk = app.test_client()
    page = ask_link(desk, who, now, "192.0.2.10")
    assert "Consultez votre messagerie" in page.get_data(as_text=True)
    assert "lockout_aidant" in actions(who.aidant.id)


def test_a_link_already_emailed_is_not_voided_by_others_failures(app, client, fixed_clock):
    who = make_aidant(fixed_clock.now())
    now = fixed_clock.now()
    ask_link(client, who, now)
    path = last_login_path(who.aidant.email)
    attacker = app.test_client()
    for n in range(40):  # from many addresses: the slow cap on the account is reached too
        attacker.post("/connexion", data={"email": who.aidant.email, "code": wrong(who, now)},
                      environ_base={"REMOTE_ADDR": f"198.51.100.{n}"})
    assert db.session().get(Throttle, accounts._login_keys(who.aidant.email, "x")[1]).blocked_until is not None
    assert client.post(path).status_code == 302
    assert client.get("/espace-aidant").status_code == 200


def test_simultaneous_sign_ins_with_one_good_code_never_lock_out(app, fixed_clock):
    who = make_aidant(fixed_clock.now())
    now, code, email = fixed_clock.now(), who.code(fixed_clock.now()), who.aidant.email
    results = run_together(app, [lambda: accounts.request_login(email, code, "10.0.0.1", now)] * 8)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(1 for r in results if r.ok) == 1  # type: ignore[union-attr]
    db.session().expire_all()
    assert "failed_code" not in actions(who.aidant.id) and "lockout_aidant" not in actions(who.aidant.id)
    assert db.session().scalars(sa.select(Throttle)).all() == []


def test_failure_counters_survive_a_rollback_of_the_request(app, fixed_clock):
    who = make_aidant(fixed_clock.now())
    now = fixed_clock.now()
    with app.test_request_context("/connexion", method="POST"):
        attempt = accounts.request_login(who.aidant.email, wrong(who, now), "10.0.0.7", now)
        assert not attempt.ok
        db.session().rollback()
    db.session().expire_all()
    keys = {row.key: row.failures for row in db.session().scalars(sa.select(Throttle))}
    assert keys["ip:10.0.0.7"] == 1 and keys[accounts._login_keys(who.aidant.email, "10.0.0.7")[0]] == 1
    assert "failed_code" in actions(who.aidant.id)
