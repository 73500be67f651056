"""Helpers for the FranceConnect client tests: an aidant at a desk, and a browser that walks FranceConnect."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
import sqlalchemy as sa
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from aidants import clock, db
from aidants.journal.models import JournalEntry
from aidants.usagers.models import Usager
from tests.factories import AidantWithDevice, emails, make_aidant, sign_in

RECAP_PATH = "/mandats/recapitulatif"
DRAFT = {"demarches": ["argent", "logement"], "duration": "short", "organisation_id": 0}


def ensure_recap_route(app: Flask) -> None:
    """Until the mandates blueprint exists, a stand-in for ``mandats.recap`` at the agreed path (tests only)."""
    if "mandats.recap" in app.view_functions:
        return
    stand_in = Blueprint("mandats", __name__)
    stand_in.add_url_rule(RECAP_PATH, "recap", lambda: "récapitulatif")
    app.register_blueprint(stand_in)


@dataclass
class Desk:
    """An aidant signed in on a browser (the Flask test client), preparing a mandate."""

    app: Flask
    client: FlaskClient
    clock: clock.FixedClock
    who: AidantWithDevice

    def draft(self, **changes: Any) -> None:
        """Put a mandate draft in the session, as the mandates views do."""
        organisation_id = self.who.aidant.current_organisation_id
        with self.client.session_transaction() as session:
            session["mandat_draft"] = {**DRAFT, "organisation_id": organisation_id, **changes}

    def session_value(self, key: str) -> Any:
        with self.client.session_transaction() as session:
            return session.get(key)

    def start(self) -> str:
        """Press "S'identifier avec FranceConnect": the URL of FranceConnect's authorize endpoint."""
        response = self.client.get("/franceconnect/identification")
        assert response.status_code == 302, response.get_data(as_text=True)
        return response.headers["Location"]


def new_desk(app: Flask, fixed: clock.FixedClock, **aidant: Any) -> Desk:
    client = app.test_client()
    who = make_aidant(fixed.now(), **aidant)
    sign_in(client, who, fixed.now())
    return Desk(app, client, fixed, who)


def counts() -> tuple[int, int]:
    """Rows of usagers and journal entries, read afresh (the views use their own sessions)."""
    with db.engine().connect() as connection:
        usagers = connection.execute(sa.select(sa.func.count()).select_from(Usager)).scalar_one()
        entries = connection.execute(sa.select(sa.func.count()).select_from(JournalEntry)).scalar_one()
    return usagers, entries


def usagers() -> list[Usager]:
    db.session().rollback()
    return list(db.session().scalars(sa.select(Usager).order_by(Usager.id)))


def journal_actions() -> list[str]:
    db.session().rollback()
    return list(db.session().scalars(sa.select(JournalEntry.action).order_by(JournalEntry.seq)))


def query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def walk(url: str, browser: requests.Session, back_to: str = "http://localhost/") -> str:
    """Follow a provider's redirects (authorize → interaction → resume…) until it sends the browser back to us."""
    for _ in range(10):
        if url.startswith(back_to):
            return url
        response = browser.get(url, allow_redirects=False, timeout=10)
        assert response.status_code in (302, 303), f"{response.status_code} at {url}: {response.text[:500]}"
        url = urljoin(url, response.headers["Location"])
    raise AssertionError(f"too many redirects, last {url}")


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form" and not self.action:
            self.action = found.get("action") or ""
        if tag == "input" and found.get("name"):
            self.fields[str(found["name"])] = found.get("value") or ""


def confirm_logout(url: str, browser: requests.Session) -> str:
    """Open FranceConnect's logout URL, confirm, and return where it sends the browser back."""
    page = browser.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text[:500]
    form = _FormParser()
    form.feed(page.text)
    assert form.action, page.text[:500]
    response = browser.post(urljoin(url, form.action), data={**form.fields, "logout": "yes"},
                            allow_redirects=False, timeout=10)
    assert response.status_code in (302, 303), response.text[:500]
    return urljoin(url, response.headers["Location"])


def callback(desk: Desk, url: str, before: Callable[[], None] | None = None) -> TestResponse:
    """The browser comes back to our callback (``before`` runs first: move the clock, …)."""
    if before is not None:
        before()
    return desk.client.get(url)


def advance(desk: Desk, seconds: float) -> Callable[[], None]:
    return lambda: desk.clock.advance(seconds=seconds)


def real_now() -> dt.datetime:
    """The peer signs with the machine's time; the app's fixed clock starts there."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


ANY_LINK = re.compile(r"https?://[^/\s]+(/connexion/lien/[\w-]+)")


def sign_in_on(client: FlaskClient, who: AidantWithDevice, now: dt.datetime) -> None:
    """Like tests.factories.sign_in, for an app whose links carry another host than localhost."""
    response = client.post("/connexion", data={"email": who.aidant.email, "code": who.code(now)})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = next(m.body for m in emails() if m.recipient == who.aidant.email)
    found = ANY_LINK.search(body)
    assert found, body
    assert client.post(found.group(1)).status_code == 302
