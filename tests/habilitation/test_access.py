"""The issuer's access: an email, a link valid 3 days (stored hashed), the cookie set from it, its expiry."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from aidants import db
from aidants.habilitation.models import HabilitationRequest, Issuer, IssuerLink
from aidants.habilitation.services import LINKS_PER_HOUR
from aidants.security import crypto
from tests.habilitation.helpers import (
    ACCESS_LINK,
    emails_to,
    issuer_row,
    journal_entries,
    last_access_path,
    open_access,
    start_issuer,
    text,
)

EMAIL = "demandeur@mairie.example.org"


def test_the_first_email_sends_a_link_that_confirms_the_address_and_opens_a_draft(client, fixed_clock):
    response = client.post("/habilitation", data={"email": "  Demandeur@Mairie.Example.org "})
    assert response.status_code == 200
    assert "Consultez votre messagerie" in text(response)
    [message] = emails_to(EMAIL)
    assert "valable 3 jours" in message.body
    issuer = issuer_row(EMAIL)
    assert issuer.email_confirmed_at is None
    # Only the SHA-256 of the 256-bit token is kept.
    token = ACCESS_LINK.search(message.body).group(1).rsplit("/", 1)[1]
    assert len(token) == 43  # 32 random bytes, URL-safe base64
    [link] = db.session().scalars(sa.select(IssuerLink)).all()
    assert link.token_hash == crypto.hash_token(token) and token not in link.token_hash
    assert link.expires_at - link.created_at == dt.timedelta(days=3)

    page = client.get(last_access_path(EMAIL))  # a mail scanner's GET changes nothing
    assert page.status_code == 302 and page.location == "/habilitation/acces"  # the token leaves the URL
    page = client.get(page.location)
    assert page.status_code == 200 and "Confirmer et continuer" in text(page)
    assert issuer_row(EMAIL).email_confirmed_at is None
    response = client.post("/habilitation/acces")
    assert response.status_code == 302
    assert "/demandeur" in response.headers["Location"]
    db.session().expire_all()
    assert issuer_row(EMAIL).email_confirmed_at == fixed_clock.now()
    [draft] = db.session().scalars(sa.select(HabilitationRequest)).all()
    assert draft.status == "draft"
    actions = [entry.action for entry in journal_entries()]
    assert actions == ["confirm_habilitation_issuer", "create_habilitation_request"]
    space = client.get("/habilitation/mes-demandes")
    assert space.status_code == 200 and space.headers["Cache-Control"] == "no-store"


def test_the_link_is_the_way_back_for_3_days_then_a_new_one_is_asked(client, fixed_clock):
    issuer = start_issuer(client, EMAIL)
    other_browser = client.application.test_client()
    fixed_clock.advance(days=2, hours=23)
    response = other_browser.post(last_access_path(EMAIL))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/habilitation/mes-demandes")  # the draft exists already
    assert issuer.uuid in text(other_browser.get("/habilitation/mes-demandes"))

    fixed_clock.advance(hours=1, seconds=1)
    for browser in (client, other_browser):  # the cookies stop working with the link
        response = browser.get(issuer.path())
        assert response.status_code == 302 and response.headers["Location"].endswith("/habilitation")
        assert "Votre lien d'accès a expiré" in text(browser.get("/habilitation"))
    expired = client.get(last_access_path(EMAIL))
    assert expired.status_code == 400
    assert "Ce lien n'est plus valable" in text(expired) and "Votre demande est conservée" in text(expired)
    confirmations = len(journal_entries("confirm"))
    assert client.post(last_access_path(EMAIL)).status_code == 400
    assert len(journal_entries("confirm")) == confirmations  # nothing changed

    client.post("/habilitation", data={"email": EMAIL})  # re-sent: a new link opens the same request
    assert client.post(last_access_path(EMAIL)).status_code == 302
    assert client.get(issuer.path()).status_code == 200
    assert len(db.session().scalars(sa.select(HabilitationRequest)).all()) == 1


def test_an_unknown_or_forged_token_is_refused_without_error(client):
    for token in ("x", "A" * 43, "../../etc"):
        response = client.get(f"/habilitation/acces/{token}")
        assert response.status_code in (400, 404)
        assert "Erreur du service" not in text(response)
    assert db.session().scalars(sa.select(Issuer)).all() == []


def test_links_sent_to_one_address_are_limited_and_the_answer_does_not_tell(client, fixed_clock):
    for _ in range(LINKS_PER_HOUR + 2):
        response = client.post("/habilitation", data={"email": EMAIL}, environ_base={"REMOTE_ADDR": "10.0.0.1"})
        assert "Consultez votre messagerie" in text(response)
        fixed_clock.advance(minutes=1)
    assert len(emails_to(EMAIL)) == LINKS_PER_HOUR
    fixed_clock.advance(hours=1)
    client.post("/habilitation", data={"email": EMAIL}, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert len(emails_to(EMAIL)) == LINKS_PER_HOUR + 1


def test_one_address_asking_for_many_links_is_slowed_down(client):
    answers = [client.post("/habilitation", data={"email": f"p{n}@exemple.fr"},
                           environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code for n in range(12)]
    assert answers[:10] == [200] * 10
    assert 429 in answers
    assert "Trop de demandes de lien" in text(client.post("/habilitation", data={"email": "z@exemple.fr"},
                                                          environ_base={"REMOTE_ADDR": "10.0.0.9"}))


def test_an_invalid_email_gets_a_french_message_and_creates_nothing(client):
    response = client.post("/habilitation", data={"email": "pas-une-adresse"})
    assert response.status_code == 200
    assert "Saisissez une adresse e-mail valide" in text(response)
    assert db.session().scalars(sa.select(Issuer)).all() == []


def test_leaving_forgets_the_link_on_this_browser(client):
    issuer = start_issuer(client, EMAIL)
    assert client.post("/habilitation/quitter").status_code == 302
    response = client.get(issuer.path())
    assert response.status_code == 302 and response.headers["Location"].endswith("/habilitation")


def test_the_first_visit_opens_a_draft_once(client):
    open_access(client, EMAIL)
    open_access(client, EMAIL)
    assert len(db.session().scalars(sa.select(HabilitationRequest)).all()) == 1
