"""Building test data through the real services, and reading codes the way a device would."""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidants import db
from aidants.accounts import cards, devices
from aidants.accounts import services as accounts
from aidants.accounts.models import Aidant, TotpDevice
from aidants.legal.cgu import CURRENT_CGU_VERSION
from aidants.organisations import services as organisations
from aidants.organisations.models import Organisation
from aidants.outbox import services as outbox
from aidants.outbox.models import OutboxMessage
from aidants.security import totp

_numbers = count(1)


def luhn_siret(prefix: str) -> str:
    """A 14-digit SIRET with a valid check digit, from a 13-digit prefix."""
    for last in "0123456789":
        candidate = prefix + last
        if organisations.siret_is_valid(candidate):
            return candidate
    raise AssertionError("unreachable")


def make_organisation(now: dt.datetime, name: str = "Mairie de Test") -> Organisation:
    siret = luhn_siret(f"{next(_numbers):013d}")
    return organisations.create_organisation(name=name, siret=siret, now=now)


@dataclass
class AidantWithDevice:
    aidant: Aidant
    device: TotpDevice
    seed: bytes

    def code(self, now: dt.datetime, offset: int = 0) -> str:
        step = totp.step_at(now, self.device.period) + self.device.drift + offset
        return totp.code_for_step(self.seed, step, self.device.digits)


def make_aidant(now: dt.datetime, organisation: Organisation | None = None, email: str | None = None,
                **kwargs: object) -> AidantWithDevice:
    organisation = organisation or make_organisation(now)
    n = next(_numbers)
    aidant = accounts.create_aidant(email=email or f"aidant{n}@exemple.fr", first_name="Camille",
                                    last_name=f"Test{n}", organisation=organisation, now=now, **kwargs)
    aidant.cgu_version = CURRENT_CGU_VERSION  # accepted already; tests/legal covers the first sign-in
    seed = totp.new_seed()
    device = TotpDevice(kind="app", aidant_id=aidant.id, status="active", period=30, digits=6,
                        seed_encrypted=devices.encrypt_seed("app", seed), created_at=now, activated_at=now)
    db.session().add(device)
    db.session().flush()
    db.commit()
    return AidantWithDevice(aidant, device, seed)


LINK = re.compile(r"http://localhost(/connexion/lien/[\w-]+)")


def emails(limit: int = 200) -> list[OutboxMessage]:
    """The messages queued in the outbox (sent or not), newest first: what tests read emails from."""
    return outbox.latest(limit)


def last_login_path(email: str) -> str:
    """The path of the last login link emailed to someone (from the outbox)."""
    for message in emails():
        if message.recipient == email:
            found = LINK.search(message.body)
            assert found, message.body
            return found.group(1)
    raise AssertionError(f"no email to {email}")


def sign_in(client: FlaskClient, who: AidantWithDevice, now: dt.datetime) -> None:
    """Email + code, then the emailed link: a signed-in test client."""
    response = client.post("/connexion", data={"email": who.aidant.email, "code": who.code(now)})
    assert "Consultez votre messagerie" in response.get_data(as_text=True)
    response = client.post(last_login_path(who.aidant.email))
    assert response.status_code == 302, response.get_data(as_text=True)


def accept_cgu(client: FlaskClient) -> None:
    """A newcomer's first page after sign-in: the current CGU, accepted (tests/legal tests the page itself)."""
    response = client.post("/cgu/acceptation", data={"version": CURRENT_CGU_VERSION, "accept": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)


class Card:
    """A physical card put in stock, whose clock runs ``ahead`` steps in front of the server's."""

    def __init__(self, serial: str, now: dt.datetime, ahead: int = 0) -> None:
        self.serial, self.seed, self.ahead = serial, os.urandom(20), ahead
        cards.store_cards([cards.CardRow(1, serial, self.seed, 60, 6)], now)
        db.commit()

    def shows(self, now: dt.datetime, offset: int = 0) -> str:
        """The code on the card's screen at ``now`` (``offset`` steps later)."""
        return totp.code_for_step(self.seed, totp.step_at(now, 60) + self.ahead + offset)

    def row(self) -> TotpDevice:
        db.session().expire_all()
        found = devices.find_card(self.serial)
        assert found is not None
        return found


def run_together(app: Flask, jobs: list[Callable[[], object]]) -> list[object]:
    """Each job in its own thread and app context (own session, own connection), all released at once;
    its result, or the exception it raised."""
    start = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def runner(index: int) -> None:
        with app.app_context():
            start.wait()
            try:
                results[index] = jobs[index]()
                db.commit()
            except Exception as exc:  # reported to the main thread
                db.session().rollback()
                results[index] = exc

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def queued_to(recipient: str) -> list[OutboxMessage]:
    """The messages written to the outbox for someone, oldest first (what workers will deliver)."""
    statement = sa.select(OutboxMessage).where(OutboxMessage.recipient == recipient).order_by(OutboxMessage.id)
    return list(db.session().scalars(statement))


ACTIVATION_LINK = re.compile(r"https?://[^/\s]+(/activation/[\w-]{43})")


def activation_path(recipient: str) -> str:
    """The path of the last activation link queued for someone."""
    for message in reversed(queued_to(recipient)):
        found = ACTIVATION_LINK.search(message.body)
        if found:
            return found.group(1)
    raise AssertionError(f"no activation link queued for {recipient}")
