"""Driving a habilitation request through the real pages, as an issuer and as the staff."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from itertools import count

import sqlalchemy as sa
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from aidants import db, mail
from aidants.habilitation.models import HabilitationRequest, Issuer
from aidants.journal.models import JournalEntry
from tests.factories import luhn_siret

ACCESS_LINK = re.compile(r"http://localhost(/habilitation/acces/[\w-]+)")
REQUEST_PATH = re.compile(r"/habilitation/demandes/([0-9a-f-]{36})/")
_numbers = count(500)


def text(response: TestResponse) -> str:
    """The page as a reader sees it (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def new_siret() -> str:
    return luhn_siret(f"{next(_numbers):013d}")


def last_access_path(email: str) -> str:
    """The path of the last access link emailed to an issuer (from the development outbox)."""
    for message in mail.outbox():
        if message.recipient == email and "/habilitation/acces/" in message.body:
            found = ACCESS_LINK.search(message.body)
            assert found, message.body
            return found.group(1)
    raise AssertionError(f"no access link emailed to {email}")


def emails_to(recipient: str) -> list[mail.OutboxMessage]:
    return [message for message in mail.outbox(200) if message.recipient == recipient]


@dataclass
class IssuerSession:
    """A browser (test client) of an issuer who opened their emailed link, and their first request."""

    client: FlaskClient
    email: str
    uuid: str

    def path(self, step: str = "") -> str:
        return f"/habilitation/demandes/{self.uuid}" + (f"/{step}" if step else "")

    @property
    def request(self) -> HabilitationRequest:
        db.session().expire_all()
        found = db.session().scalars(sa.select(HabilitationRequest).where(HabilitationRequest.uuid == self.uuid)).one()
        return found


def open_access(client: FlaskClient, email: str) -> TestResponse:
    """Ask for a link and open it (button included); the response of the confirmation."""
    response = client.post("/habilitation", data={"email": email})
    assert response.status_code == 200, text(response)
    assert "Consultez votre messagerie" in text(response)
    path = last_access_path(email)
    assert client.get(path).status_code == 200
    return client.post(path)


def start_issuer(client: FlaskClient, email: str) -> IssuerSession:
    """An issuer whose email is confirmed, with the draft the first visit creates."""
    response = open_access(client, email)
    assert response.status_code == 302, text(response)
    found = REQUEST_PATH.search(response.headers["Location"])
    assert found, response.headers["Location"]
    return IssuerSession(client, email, found.group(1))


ISSUER = {"first_name": "Dominique", "last_name": "Martin", "profession": "Secrétaire générale", "phone": ""}
REFERENT = {"first_name": "Sacha", "last_name": "Bernard", "email": "sacha.bernard@mairie.example.org",
            "profession": "Responsable du CCAS", "phone": "01 23 45 67 89"}


def organisation_data(siret: str | None = None, **changes: str) -> dict[str, str]:
    return {"siret": new_siret() if siret is None else siret, "name": "Mairie de Test-sur-Loire", "kind": "commune",
            "address": "1 place de la Mairie", "zipcode": "45000", "city": "Test-sur-Loire", **changes}


def aidant_data(n: int) -> dict[str, str]:
    return {"first_name": "Alex", "last_name": f"Aidant{n}", "email": f"alex.aidant{n}@mairie.example.org",
            "profession": "Conseiller numérique", "aidant_type": "conseiller_numerique"}


def fill_request(issuer: IssuerSession, siret: str | None = None, aidants: int = 2,
                 referent: dict[str, str] | None = None) -> None:
    """Every draft step filled through the pages (not yet submitted)."""
    client = issuer.client
    assert client.post(issuer.path("demandeur"), data=ISSUER).status_code == 302
    response = client.post(issuer.path("structure"), data=organisation_data(siret))
    assert response.status_code == 302, text(response)
    response = client.post(issuer.path("referent"), data=referent or REFERENT)
    assert response.status_code == 302, text(response)
    for n in range(aidants):
        response = client.post(issuer.path("aidants"), data=aidant_data(n))
        assert response.status_code == 302, text(response)


def submit(issuer: IssuerSession) -> TestResponse:
    return issuer.client.post(issuer.path("envoi"), data={"terms": "y"})


def submitted_request(client: FlaskClient, email: str = "demandeur@mairie.example.org", **kwargs: object
                      ) -> IssuerSession:
    """An issuer whose complete request is sent to the staff."""
    issuer = start_issuer(client, email)
    fill_request(issuer, **kwargs)  # type: ignore[arg-type]
    response = submit(issuer)
    assert response.status_code == 302, text(response)
    assert issuer.request.status == "submitted"
    return issuer


def issuer_row(email: str) -> Issuer:
    return db.session().scalars(sa.select(Issuer).where(Issuer.email == email)).one()


def journal_actions() -> list[str]:
    return list(db.session().scalars(sa.select(JournalEntry.action).order_by(JournalEntry.seq)))


def journal_entries(prefix: str = "") -> list[JournalEntry]:
    statement = sa.select(JournalEntry).order_by(JournalEntry.seq)
    return [entry for entry in db.session().scalars(statement) if entry.action.startswith(prefix)]
