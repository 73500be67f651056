"""TOTP devices through the web: card activation with drift, app enrolment, single use, key rotation."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidants import clock, db
from aidants.accounts import devices
from aidants.accounts.models import Aidant, LoginLink, TotpDevice
from aidants.cli import main
from aidants.journal.models import JournalEntry
from aidants.security import jose, totp
from tests.conftest import TEST_SECRETS, build_app
from tests.factories import AidantWithDevice, Card, make_aidant, sign_in

CARD_PAGE = "/espace-aidant/carte"
APP_PAGE = "/espace-aidant/application"


def journal_actions() -> list[str]:
    return list(db.session().scalars(sa.select(JournalEntry.action).order_by(JournalEntry.seq)))


def activate(client: FlaskClient, serial: str, first: str, second: str) -> tuple[int, str]:
    response = client.post(CARD_PAGE, data={"serial_number": serial, "first_code": first, "second_code": second})
    return response.status_code, response.get_data(as_text=True)


def signed_in(client: FlaskClient, now: dt.datetime) -> AidantWithDevice:
    who = make_aidant(now)
    sign_in(client, who, now)
    return who


def login(app: Flask, email: str, code: str) -> str:
    """Email + code on a fresh browser; the page that answers."""
    return app.test_client().post("/connexion", data={"email": email, "code": code}).get_data(as_text=True)


# --- cards ----------------------------------------------------------------------------------------


def test_card_seven_minutes_ahead_is_calibrated_and_its_window_stays_tight(app, client, fixed_clock):
    who = signed_in(client, fixed_clock.now())
    card = Card("CARTE-7", fixed_clock.now(), ahead=7)
    first = card.shows(fixed_clock.now())
    fixed_clock.advance(seconds=60)  # the aidant waits for the next code
    status, page = activate(client, " CARTE-7 ", first, card.shows(fixed_clock.now()))
    assert status == 302, page
    row = card.row()
    assert (row.status, row.aidant_id, row.drift) == ("active", who.aidant.id, 7)
    assert row.activated_at == fixed_clock.now()
    assert journal_actions()[-1] == "card_activation"

    # The second activation code is spent: typed again to sign in, it is refused.
    assert "Adresse e-mail ou code incorrect" in login(app, who.aidant.email, card.shows(fixed_clock.now()))

    fixed_clock.advance(seconds=60)
    now = fixed_clock.now()
    server_step = totp.step_at(now, 60)
    # Codes the card would show if its clock were right, or 5 minutes ahead, or 2 steps further: refused.
    for step in (server_step, server_step + 5, server_step + 7 + 2):
        assert "Adresse e-mail ou code incorrect" in login(app, who.aidant.email, totp.code_for_step(card.seed, step))
    assert "Consultez votre messagerie" in login(app, who.aidant.email, card.shows(now))
    link = db.session().scalars(sa.select(LoginLink).order_by(LoginLink.id.desc())).first()
    assert link is not None and link.device_id == row.id
    # One step of tolerance after the drift, and the drift follows what was accepted.
    fixed_clock.advance(seconds=60)
    assert "Consultez votre messagerie" in login(app, who.aidant.email, card.shows(fixed_clock.now(), offset=1))
    assert card.row().drift == 8


def test_card_activation_refusals_change_nothing(app, client, fixed_clock):
    who = signed_in(client, fixed_clock.now())
    card = Card("CARTE-A", fixed_clock.now())
    other = make_aidant(fixed_clock.now())
    taken = Card("CARTE-PRISE", fixed_clock.now())
    now = fixed_clock.now()
    assert devices.activate_card(other.aidant, "CARTE-PRISE", taken.shows(now, -1), taken.shows(now), now) is None
    db.commit()
    before = (journal_actions(), card.row().last_step, taken.row().aidant_id)

    cases = [
        ("INCONNUE", card.shows(now, -1), card.shows(now), "Aucune carte ne porte ce numéro de série"),
        ("CARTE-PRISE", taken.shows(now), taken.shows(now, 1), "Cette carte est déjà attribuée"),
        ("CARTE-A", card.shows(now), card.shows(now, -1), "Les deux codes ne correspondent pas"),  # reversed
        ("CARTE-A", card.shows(now, -1), card.shows(now, 1), "Les deux codes ne correspondent pas"),  # not next
        ("CARTE-A", card.shows(now, -40), card.shows(now, -39), "Les deux codes ne correspondent pas"),  # too far
        ("CARTE-A", taken.shows(now, -1), taken.shows(now), "Les deux codes ne correspondent pas"),  # other card
    ]
    for serial, first, second, message in cases:
        status, page = activate(client, serial, first, second)
        assert status == 422 and message in page, (serial, page)
    status, page = activate(client, "CARTE-A", "12345", "abcdef")
    assert status == 200 and "Le code compte 6 chiffres" in page
    row = card.row()
    assert (row.status, row.aidant_id, row.last_step, row.drift) == ("stock", None, None, 0)
    assert (journal_actions(), card.row().last_step, taken.row().aidant_id) == before
    assert taken.row().aidant_id == other.aidant.id
    assert devices.usable_devices(who.aidant) == [who.device]


def test_an_app_code_never_activates_a_card(app, client, fixed_clock):
    who = signed_in(client, fixed_clock.now())
    fixed_clock.advance(seconds=60)
    now = fixed_clock.now()
    status, page = activate(client, "", who.code(now, -1), who.code(now))
    assert status == 200 and "Saisissez le numéro de série" in page


# --- authenticator apps --------------------------------------------------------------------------


def enrolment_page(client: FlaskClient) -> tuple[str, bytes]:
    """The QR code's SVG and the secret shown on the enrolment page."""
    page = client.get(APP_PAGE).get_data(as_text=True)
    start = page.index('src="data:image/svg+xml') + len('src="')
    uri = page[start:page.index('"', start)]
    svg = urllib.parse.unquote(uri.partition(",")[2])
    secret_start = page.index('id="totp-secret">') + len('id="totp-secret">')
    secret = page[secret_start:page.index("<", secret_start)]
    bare = "".join(secret.split())
    return svg, base64.b32decode(bare + "=" * (-len(bare) % 8))


def test_app_enrolment_shows_a_qr_code_and_keeps_its_secret_across_reloads(app, client, fixed_clock):
    who = signed_in(client, fixed_clock.now())
    svg, seed = enrolment_page(client)
    assert svg.lstrip().startswith(("<?xml", "<svg")) and "</svg>" in svg
    assert len(seed) == 20
    again_svg, again = enrolment_page(client)
    assert again == seed and again_svg == svg
    pending = db.session().scalars(sa.select(TotpDevice).where(TotpDevice.status == "pending")).one()
    assert pending.aidant_id == who.aidant.id and pending.period == 30
    assert seed.hex() not in pending.seed_encrypted


def test_app_enrolment_wrong_code_then_good_code(app, client, fixed_clock):
    who = signed_in(client, fixed_clock.now())
    _, seed = enrolment_page(client)
    fixed_clock.advance(seconds=30)
    step = totp.step_at(fixed_clock.now(), 30)
    wrong = totp.code_for_step(seed, step + 5)
    page = client.post(APP_PAGE, data={"code": wrong}).get_data(as_text=True)
    assert "Ce code ne correspond pas" in page
    assert db.session().scalars(sa.select(TotpDevice.status).where(TotpDevice.kind == "app")
                                .order_by(TotpDevice.id)).all() == ["active", "pending"]
    good = totp.code_for_step(seed, step)
    response = client.post(APP_PAGE, data={"code": good[:3] + " " + good[3:]})
    assert response.status_code == 302 and response.location.endswith("/espace-aidant")
    db.session().expire_all()
    assert len(devices.usable_devices(who.aidant)) == 2
    assert journal_actions()[-1] == "enrol_app"
    # The code that confirmed the app is spent: it does not sign in.
    assert "Adresse e-mail ou code incorrect" in login(app, who.aidant.email, good)
    fixed_clock.advance(seconds=30)
    assert "Consultez votre messagerie" in login(app, who.aidant.email,
                                                 totp.code_for_step(seed, totp.step_at(fixed_clock.now(), 30)))


def test_the_same_code_is_refused_the_second_time(app, fixed_clock):
    who = make_aidant(fixed_clock.now())
    code = who.code(fixed_clock.now())
    assert devices.check_code(who.device, code, fixed_clock.now())
    db.commit()
    fixed_clock.advance(seconds=10)
    assert not devices.check_code(who.device, code, fixed_clock.now())
    # An earlier code, still inside the tolerance, is refused too once a later one was used.
    assert not devices.check_code(who.device, who.code(fixed_clock.now(), -1), fixed_clock.now())
    assert devices.check_code(who.device, who.code(fixed_clock.now(), 1), fixed_clock.now())


def test_totp_code_command_prints_a_code_that_is_accepted(app, fixed_clock):
    who = make_aidant(fixed_clock.now())
    runner = app.test_cli_runner()
    for _ in range(2):  # the second time, the current code is spent: the next one is printed
        result = runner.invoke(main, ["totp-code", who.aidant.email])
        assert result.exit_code == 0, result.output
        assert devices.check_code(who.device, result.stdout.strip(), fixed_clock.now())
        db.commit()
    result = runner.invoke(main, ["totp-code", who.aidant.email])  # current and next steps both spent
    assert result.exit_code == 1 and "déjà servi" in result.stderr
    result = runner.invoke(main, ["totp-code", "personne@exemple.fr"])
    assert result.exit_code == 1 and "Aucun appareil actif" in result.stderr


# --- concurrency: the database decides ------------------------------------------------------------


def _in_threads(app: Flask, work, rounds: int) -> list[list[object]]:
    """Run ``work(round)`` in two threads at once (each with its own app context and session), round by round."""
    barrier = threading.Barrier(2, timeout=30)

    def one(round_: int) -> object:
        with app.app_context():
            try:
                return work(round_, barrier)
            finally:
                db.session().rollback()

    outcomes = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for round_ in range(rounds):
            futures = [pool.submit(one, round_) for _ in range(2)]
            outcomes.append([future.result() for future in futures])
    return outcomes


def test_two_workers_checking_the_same_code_at_once_accept_it_once(app, database_url, fixed_clock):
    if not database_url.startswith("postgresql"):
        pytest.skip("row locking between connections is what is tested: PostgreSQL only")
    who = make_aidant(fixed_clock.now())
    start = fixed_clock.now()

    def check(round_: int, barrier: threading.Barrier) -> bool:
        now = start + dt.timedelta(seconds=30 * round_)
        device = db.session().get(TotpDevice, who.device.id)
        assert device is not None
        code = who.code(now)
        devices.seed_of(device)  # decrypt before the barrier, so both threads reach the UPDATE together
        barrier.wait()
        accepted = devices.check_code(device, code, now)
        db.commit()
        return accepted

    rounds = 40
    outcomes = _in_threads(app, check, rounds)
    assert [sorted(pair) for pair in outcomes] == [[False, True]] * rounds
    db.session().expire_all()
    assert db.session().get(TotpDevice, who.device.id).last_step == totp.step_at(start, 30) + rounds - 1


def test_two_aidants_activating_the_same_card_at_once_only_one_gets_it(app, database_url, fixed_clock):
    if not database_url.startswith("postgresql"):
        pytest.skip("row locking between connections is what is tested: PostgreSQL only")
    now = fixed_clock.now()
    rounds = 10
    stock = [Card(f"COURSE-{n}", now) for n in range(rounds)]
    rivals = [make_aidant(now).aidant.id, make_aidant(now).aidant.id]
    turn = iter(range(2 * rounds))
    lock = threading.Lock()

    def activate_card(round_: int, barrier: threading.Barrier) -> bool:
        with lock:
            aidant = db.session().get(Aidant, rivals[next(turn) % 2])
        assert aidant is not None
        card = stock[round_]
        barrier.wait()
        error = devices.activate_card(aidant, card.serial, card.shows(now, -1), card.shows(now), now)
        if error is None:
            db.commit()
        return error is None

    outcomes = _in_threads(app, activate_card, rounds)
    assert [sorted(pair) for pair in outcomes] == [[False, True]] * rounds
    owners = db.session().scalars(sa.select(TotpDevice.aidant_id).where(TotpDevice.kind == "card")).all()
    assert len(owners) == rounds and set(owners) <= set(rivals)
    assert journal_actions().count("card_activation") == rounds


# --- key rotation --------------------------------------------------------------------------------


def ring(*kids: str) -> str:
    known = {"t1": TEST_SECRETS["SEED_ENCRYPTION_KEYS"].partition(":")[2],
             "t2": base64.urlsafe_b64encode(b"2" * 32).decode(),
             "t3": base64.urlsafe_b64encode(b"3" * 32).decode()}
    return ",".join(f"{kid}:{known[kid]}" for kid in kids)


def other_app(database_url: str, tmp_path: Path, fixed_clock: clock.FixedClock, keys: str) -> Flask:
    application = build_app(database_url, tmp_path, WTF_CSRF_ENABLED=False, SEED_ENCRYPTION_KEYS=keys)
    clock.set_clock(application, fixed_clock)
    return application


def stored_kids() -> list[str]:
    with db.engine().connect() as connection:
        tokens = connection.scalars(sa.select(TotpDevice.seed_encrypted).order_by(TotpDevice.id)).all()
    return [token.partition(":")[0] for token in tokens]


def test_rotate_seeds_re_encrypts_under_the_new_first_key(app, database_url, tmp_path, fixed_clock, caplog):
    who = make_aidant(fixed_clock.now())
    card = Card("ROT-1", fixed_clock.now())
    assert stored_kids() == ["t1", "t1"]
    jose.sign_jwt({"probe": 1}, "ES256")  # the service's first signing key, encrypted under t1 too
    db.commit()

    rotating = other_app(database_url, tmp_path, fixed_clock, ring("t2", "t1"))
    with rotating.app_context():
        result = rotating.test_cli_runner().invoke(main, ["rotate-seeds"])
        assert result.exit_code == 0, result.output
        assert "2 graine(s) et 1 clé(s) de signature rechiffrée(s) avec la clé t2" in result.stdout
        assert stored_kids() == ["t2", "t2"]
        again = rotating.test_cli_runner().invoke(main, ["rotate-seeds"])
        assert "0 graine(s) et 0 clé(s) de signature rechiffrée(s)" in again.stdout
    rotating.extensions["db_engine"].dispose()

    rotated = other_app(database_url, tmp_path, fixed_clock, ring("t2"))
    with rotated.app_context():
        device = db.session().get(TotpDevice, who.device.id)
        assert devices.check_code(device, who.code(fixed_clock.now()), fixed_clock.now())
        now = fixed_clock.now()
        aidant = db.session().get(Aidant, who.aidant.id)
        assert devices.activate_card(aidant, "ROT-1", card.shows(now, -1), card.shows(now), now) is None
        db.commit()
        assert jose.verify_jwt(jose.sign_jwt({"probe": 2}, "ES256"))["probe"] == 2  # the signing key opens too
    rotated.extensions["db_engine"].dispose()

    # A ring that lost the key the seeds are under: the rotation stops, names the key, changes nothing;
    # sign-in refuses the code (logged for the operator) instead of failing with a 500.
    wrong = other_app(database_url, tmp_path, fixed_clock, ring("t3"))
    with wrong.app_context():
        result = wrong.test_cli_runner().invoke(main, ["rotate-seeds"])
        assert result.exit_code == 1
        assert "chiffrée avec la clé « t2 »" in result.stderr and "aucune graine n'a été rechiffrée" in result.stderr
        assert "Traceback" not in result.output
        assert stored_kids() == ["t2", "t2"]
        fixed_clock.advance(seconds=60)
        with caplog.at_level(logging.ERROR, logger="aidants.accounts.devices"):
            response = wrong.test_client().post("/connexion", data={"email": who.aidant.email,
                                                                   "code": who.code(fixed_clock.now())})
        assert response.status_code == 200
        assert "Adresse e-mail ou code incorrect" in response.get_data(as_text=True)
        assert "key 't2'" in caplog.text and "rotate-seeds" in caplog.text
        assert who.seed.hex() not in caplog.text
    wrong.extensions["db_engine"].dispose()
