"""Aidant sign-in: email + code → one-time link → revocable session."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from aidants import db
from aidants.accounts.models import AidantSession, LoginLink
from aidants.journal.models import JournalEntry
from tests.factories import last_login_path, make_aidant, sign_in


def actions(aidant_id: int | None = None) -> list[str]:
    statement = sa.select(JournalEntry.action).order_by(JournalEntry.seq)
    if aidant_id is not None:
        statement = statement.where(JournalEntry.aidant_id == aidant_id)
    return list(db.session().scalars(statement))


def test_login_with_code_sends_a_link_that_opens_a_session(client, fixed_clock):
    who = make_aidant(fixed_clock.now())
    response = client.post("/connexion", data={"email": who.aidant.email.upper(), "code": who.code(fixed_clock.now())})
    assert "Consultez votre messagerie" in response.get_data(as_text=True)
    assert client.get("/espace-aidant").status_code == 302  # not signed in before the link
    path = last_login_path(who.aidant.email)
    opened = client.get(path)  # a GET does not spend the link: it keeps the token and drops it from the URL
    assert opened.status_code == 302 and opened.location == "/connexion/lien"
    assert "Me connecter" in client.get(opened.location).get_data(as_text=True)
    response = client.post("/connexion/lien")
    assert response.status_code == 302 and response.location.endswith("/espace-aidant")
    page = client.get("/espace-aidant").get_data(as_text=True)
    assert "Espace aidant" in page and who.aidant.first_name in page
    assert actions(who.aidant.id)[-1] == "connect_aidant"


def test_link_is_single_use_and_expires_after_five_minutes(client, fixed_clock):
    who = make_aidant(fixed_clock.now())
    client.post("/connexion", data={"email": who.aidant.email, "code": who.code(fixed_clock.now())})
    path = last_login_path(who.aidant.email)
    assert client.post(path).status_code == 302
    other = client.application.test_client()
    response = other.post(path)
    assert response.status_code == 400 and "Ce lien a expiré ou a déjà servi" in response.get_data(as_text=True)

    fixed_clock.advance(minutes=1)
    client.post("/connexion", data={"email": who.aidant.email, "code": who.code(fixed_clock.now())})
    late = last_login_path(who.aidant.email)
    fixed_clock.advance(minutes=5, seconds=1)
    assert other.post(late).status_code == 400
    assert other.get("/espace-aidant").status_code == 302


def test_wrong_code_and_unknown_email_get_the_same_answer(client, fixed_clock):
    who = make_aidant(fixed_clock.now())
    wrong = "000000" if who.code(fixed_clock.now()) != "000000" else "111111"
    known = client.post("/connexion", data={"email": who.aidant.email, "code": wrong}).get_data(as_text=True)
    unknown = client.post("/connexion", data={"email": "personne@exemple.fr", "code": wrong}).get_data(as_text=True)
    assert "Adresse e-mail ou code incorrect" in known
    assert known.replace(who.aidant.email, "X") == unknown.replace("personne@exemple.fr", "X")
    assert db.session().scalar(sa.select(sa.func.count()).select_from(LoginLink)) == 0
    assert "failed_code" in actions(who.aidant.id)


def test_a_code_is_accepted_only_once(client, fixed_clock):
    who = make_aidant(fixed_clock.now())
    code = who.code(fixed_clock.now())
    assert "Consultez" in client.post("/connexion", data={"email": who.aidant.email, "code": code}).get_data(True)
    replay = client.post("/connexion", data={"email": who.aidant.email, "code": code}).get_data(as_text=True)
    assert "Adresse e-mail ou code incorrect" in replay
    assert db.session().scalar(sa.select(sa.func.count()).select_from(LoginLink)) == 1


def test_previous_step_is_tolerated_but_not_two_steps_back(client, fixed_clock):
    who = make_aidant(fixed_clock.now())
    late = who.code(fixed_clock.now(), offset=-1)
    assert "Consultez" in client.post("/connexion", data={"email": who.aidant.email, "code": late}).get_data(True)
    fixed_clock.advance(minutes=2)
    too_late = who.code(fixed_clock.now(), offset=-2)
    page = client.post("/connexion", data={"email": who.aidant.email, "code": too_late}).get_data(as_text=True)
    assert "Adresse e-mail ou code incorrect" in page


def test_five_failures_lock_that_client_out_of_the_account_for_fifteen_minutes(client, fixed_clock):
    who = make_aidant(fixed_clock.now())
    good = who.code(fixed_clock.now())
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    for _ in range(5):
        client.post("/connexion", data={"email": who.aidant.email, "code": wrong})
    assert "lockout_aidant" in actions(who.aidant.id)
    refused = client.post("/connexion", data={"email": who.aidant.email, "code": good})
    assert refused.status_code == 429  # this client: even the right code waits
    fixed_clock.advance(minutes=15, seconds=30)
    assert "Consultez" in client.post(
        "/connexion", data={"email": who.aidant.email, "code": who.code(fixed_clock.now())}).get_data(True)


def test_client_ip_backoff_after_many_failures(client, fixed_clock):
    make_aidant(fixed_clock.now())
    statuses = [client.post("/connexion", data={"email": f"x{i}@exemple.fr", "code": "123456"}).status_code
                for i in range(12)]
    assert statuses[:10] == [200] * 10
    assert statuses[-1] == 429
    page = client.post("/connexion", data={"email": "y@exemple.fr", "code": "123456"}).get_data(as_text=True)
    assert "Trop de tentatives depuis ce poste" in page


def test_malformed_input_gets_french_messages(client):
    page = client.post("/connexion", data={"email": "pas-un-email", "code": "12a"}).get_data(as_text=True)
    assert "Saisissez une adresse e-mail valide" in page
    assert "Le code compte 6 chiffres." in page


def test_logout_ends_every_session_of_the_aidant(app, client, fixed_clock):
    who = make_aidant(fixed_clock.now())
    sign_in(client, who, fixed_clock.now())
    fixed_clock.advance(minutes=1)
    second = app.test_client()
    sign_in(second, who, fixed_clock.now())
    assert second.get("/espace-aidant").status_code == 200
    client.post("/deconnexion")
    assert client.get("/espace-aidant").status_code == 302
    assert second.get("/espace-aidant").status_code == 302
    assert db.session().scalar(
        sa.select(sa.func.count()).select_from(AidantSession).where(AidantSession.revoked_at.is_(None))) == 0
    assert actions(who.aidant.id)[-1] == "logout_aidant"


def test_session_expires_after_24_hours(client, fixed_clock):
    who = make_aidant(fixed_clock.now())
    sign_in(client, who, fixed_clock.now())
    for _ in range(24):  # active all day long: the session still ends after 24 h
        fixed_clock.advance(minutes=59)
        client.get("/espace-aidant")
    fixed_clock.advance(minutes=25)
    assert client.get("/espace-aidant").status_code == 302


def test_sensitive_action_asks_the_code_again_after_15_minutes_idle(client, fixed_clock):
    who = make_aidant(fixed_clock.now())
    sign_in(client, who, fixed_clock.now())
    assert client.get("/espace-aidant/application").status_code == 200
    fixed_clock.advance(minutes=16)
    response = client.get("/espace-aidant/application")
    assert response.status_code == 302 and "/connexion/verification" in response.location
    fixed_clock.advance(seconds=40)
    response = client.post("/connexion/verification?next=/espace-aidant/application",
                           data={"code": who.code(fixed_clock.now()), "next": "/espace-aidant/application"})
    assert response.status_code == 302 and response.location.endswith("/espace-aidant/application")
    assert client.get("/espace-aidant/application").status_code == 200
    assert "activity_check_aidant" in actions(who.aidant.id)


def test_next_url_only_within_the_site(client, fixed_clock):
    who = make_aidant(fixed_clock.now())
    client.post("/connexion", data={"email": who.aidant.email, "code": who.code(fixed_clock.now()),
                                    "next": "https://evil.example/steal"})
    response = client.post(last_login_path(who.aidant.email))
    assert response.location.endswith("/espace-aidant")


def test_inactive_aidant_cannot_sign_in(client, fixed_clock):
    who = make_aidant(fixed_clock.now())
    who.aidant.is_active = False
    db.commit()
    page = client.post("/connexion", data={"email": who.aidant.email, "code": who.code(fixed_clock.now())})
    assert "Adresse e-mail ou code incorrect" in page.get_data(as_text=True)


def test_session_cookie_flags(client, fixed_clock):
    who = make_aidant(fixed_clock.now())
    client.post("/connexion", data={"email": who.aidant.email, "code": who.code(fixed_clock.now())})
    response = client.post(last_login_path(who.aidant.email))
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert dt.timedelta(hours=24) == client.application.config["PERMANENT_SESSION_LIFETIME"]
