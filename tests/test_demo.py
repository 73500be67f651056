"""The demo dataset of `make run`: idempotent, and its people (app, card, staff) can really sign in."""

from __future__ import annotations

import sqlalchemy as sa

from aidants import db, demo
from aidants.accounts import devices
from aidants.accounts import services as accounts
from aidants.accounts.models import Aidant
from aidants.cli import main
from tests.factories import last_login_path


def cli_code(app, email: str) -> str:  # type: ignore[no-untyped-def]
    """The current code as `aidants totp-code` prints it (what the README tells people to run)."""
    result = app.test_cli_runner().invoke(main, ["totp-code", email])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_demo_loads_once_and_its_people_sign_in(app, client, fixed_clock):
    assert demo.load(fixed_clock.now()) is True
    db.commit()
    assert demo.load(fixed_clock.now()) is False
    assert db.session().scalar(sa.select(sa.func.count()).select_from(Aidant)) == 4
    staff = accounts.find_aidant("equipe@demo.example.org")
    assert staff.is_staff and staff.organisations == [] and staff.current_organisation is None
    louis = accounts.find_aidant("louis@demo.example.org")
    [card] = devices.usable_devices(louis)
    assert card.kind == "card" and card.serial_number == "DEMO0001" and card.period == 60
    for email, name in (("camille@demo.example.org", "Camille"), ("louis@demo.example.org", "Louis")):
        browser = app.test_client()
        page = browser.post("/connexion", data={"email": email, "code": cli_code(app, email)}).get_data(as_text=True)
        assert "Consultez votre messagerie" in page, email
        assert browser.post(last_login_path(email)).status_code == 302
        assert name in browser.get("/espace-aidant").get_data(as_text=True)


def test_the_demo_command_says_who_is_who(app):
    result = app.test_cli_runner().invoke(main, ["demo"])
    assert result.exit_code == 0
    for expected in ("referente@demo.example.org", "louis@demo.example.org", "carte n° DEMO-0001",
                     "equipe@demo.example.org", "hors de toute structure", "aidants totp-code"):
        assert expected in result.output, expected
