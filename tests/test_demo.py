"""The demo dataset of `make run`: idempotent, and its aidants can really sign in."""

from __future__ import annotations

import sqlalchemy as sa

from aidants import db, demo
from aidants.accounts import devices
from aidants.accounts import services as accounts
from aidants.accounts.models import Aidant
from aidants.security import totp
from tests.factories import accept_cgu, last_login_path


def test_demo_loads_once_and_its_aidants_sign_in(client, fixed_clock):
    assert demo.load(fixed_clock.now()) is True
    db.commit()
    assert demo.load(fixed_clock.now()) is False
    assert db.session().scalar(sa.select(sa.func.count()).select_from(Aidant)) == 3
    email = demo.DEMO_AIDANTS[1][0]
    device = devices.usable_devices(accounts.find_aidant(email))[0]
    code = totp.code_for_step(devices.seed_of(device), totp.step_at(fixed_clock.now(), device.period))
    page = client.post("/connexion", data={"email": email, "code": code}).get_data(as_text=True)
    assert "Consultez votre messagerie" in page
    assert client.post(last_login_path(email)).status_code == 302
    assert client.get("/espace-aidant").location.startswith("/cgu/acceptation")  # first sign-in: the CGU
    accept_cgu(client)
    assert "Camille" in client.get("/espace-aidant").get_data(as_text=True)
