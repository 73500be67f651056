"""Activation links: single use, hashed, 7 days; the guided path (app or card, CGU) ends signed in."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from aidants import db
from aidants.accounts import activation, cgu
from aidants.accounts.activation_models import ActivationLink
from aidants.accounts.models import Aidant, AidantSession
from aidants.journal.models import JournalEntry
from aidants.security import crypto, totp
from tests.factories import Card, activation_path, make_aidant, make_organisation, queued_to


def new_person(now: dt.datetime, **kwargs: object) -> Aidant:
    from aidants.accounts import services as accounts

    organisation = make_organisation(now, "Mairie de Activation")
    aidant = accounts.create_aidant(email="nouvelle@mairie.example.org", first_name="Nora", last_name="Neuve",
                                    organisation=organisation, now=now, **kwargs)
    db.commit()
    return aidant


def send(aidant: Aidant, now: dt.datetime) -> ActivationLink:
    link = activation.send_link(aidant, now, lambda token: f"http://localhost/activation/{token}")
    db.commit()
    return link


def actions() -> list[str]:
    return list(db.session().scalars(sa.select(JournalEntry.action).order_by(JournalEntry.seq)))


def signed_in_as(client, aidant: Aidant) -> bool:  # type: ignore[no-untyped-def]
    response = client.get("/espace-aidant")
    return response.status_code == 200 and aidant.first_name in response.get_data(as_text=True)


def test_the_link_is_hashed_queued_once_and_valid_seven_days(app, fixed_clock):
    now = fixed_clock.now()
    aidant = new_person(now)
    link = send(aidant, now)
    [mail] = queued_to(aidant.email)
    path = activation_path(aidant.email)
    token = path.rsplit("/", 1)[1]
    assert link.token_hash == crypto.hash_token(token) and token not in link.token_hash
    assert link.expires_at == now + dt.timedelta(days=7)
    assert mail.key == f"activation:{link.id}" and mail.subject == activation.SUBJECT
    assert "send_activation_link" in actions()


def test_app_path_then_cgu_lands_signed_in_and_the_token_leaves_the_url(app, client, fixed_clock):
    now = fixed_clock.now()
    aidant = new_person(now, is_referent=True, can_create_mandats=False)
    send(aidant, now)
    path = activation_path(aidant.email)
    assert client.get(path).status_code == 200  # a button only: a mail scanner spends nothing
    response = client.post(path)
    assert response.status_code == 302 and response.location == "/activation"
    assert "Choisir mon moyen de connexion" in client.get("/activation").get_data(as_text=True)
    page = client.get("/activation/application").get_data(as_text=True)
    secret = page.split('id="totp-secret">')[1].split("<")[0]
    seed = totp.parse_seed(secret)
    wrong = client.post("/activation/application", data={"code": "000000"})
    assert wrong.status_code == 422
    code = totp.code_for_step(seed, totp.step_at(now, 30))
    assert client.post("/activation/application", data={"code": code}).location == "/activation/conditions"
    refused = client.post("/activation/conditions", data={})
    assert refused.status_code == 422 and "Cochez la case" in refused.get_data(as_text=True)
    done = client.post("/activation/conditions", data={"cgu": "accept"})
    assert done.status_code == 302 and done.location == "/referent"  # a référent who creates no mandate
    db.session().expire_all()
    assert aidant.cgu_version == cgu.CURRENT_CGU_VERSION and aidant.last_login_at == now
    assert signed_in_as(client, aidant)
    link = db.session().scalars(sa.select(ActivationLink)).one()
    assert link.opened_at == now and link.completed_at == now and link.failures == 1  # the wrong code counted
    found = actions()
    for action in ("open_activation_link", "enrol_app", "accept_cgu", "complete_activation", "connect_aidant"):
        assert action in found, action
    # Single use: the emailed link cannot start again, and the path is over.
    assert client.get(path).status_code == 410
    assert app.test_client().post(path).status_code == 410
    assert client.get("/activation").status_code == 410


def test_card_received_by_post_activates_whatever_the_serial_spelling(app, client, fixed_clock):
    now = fixed_clock.now()
    card = Card("CA-0042", now, ahead=2)
    aidant = new_person(now)
    send(aidant, now)
    client.post(activation_path(aidant.email))
    bad = client.post("/activation/carte", data={"serial_number": "ca 0042", "first_code": "111111",
                                                 "second_code": "222222"})
    assert bad.status_code == 422 and "ne correspondent pas" in bad.get_data(as_text=True)
    response = client.post("/activation/carte", data={
        "serial_number": "ca 0042", "first_code": card.shows(now), "second_code": card.shows(now, 1)})
    assert response.location == "/activation/conditions"
    assert client.post("/activation/conditions", data={"cgu": "accept"}).location == "/espace-aidant"
    row = card.row()
    assert row.status == "active" and row.aidant_id == aidant.id


def test_someone_with_a_device_proves_it_with_a_code(app, client, fixed_clock):
    now = fixed_clock.now()
    who = make_aidant(now)
    send(who.aidant, now)
    client.post(activation_path(who.aidant.email))
    assert "Confirmer mon moyen de connexion" in client.get("/activation").get_data(as_text=True)
    assert client.get("/activation/conditions").location == "/activation"  # no skipping the device step
    assert client.post("/activation/code", data={"code": who.code(now, 5)}).status_code == 422
    assert client.post("/activation/code", data={"code": who.code(now)}).location == "/activation/conditions"
    assert client.post("/activation/conditions", data={"cgu": "accept"}).status_code == 302
    assert signed_in_as(client, who.aidant)


def test_expired_revoked_and_exhausted_links_say_what_to_do(app, client, fixed_clock):
    now = fixed_clock.now()
    aidant = new_person(now)
    send(aidant, now)
    first = activation_path(aidant.email)
    send(aidant, now)  # sent again: the first one no longer opens
    second = activation_path(aidant.email)
    assert first != second
    page = client.get(first)
    assert page.status_code == 410 and "Demandez-en un nouveau" in page.get_data(as_text=True)
    fixed_clock.advance(days=7, seconds=1)
    assert client.post(second).status_code == 410
    fixed_clock.advance(days=-7, seconds=-1)
    client.post(second)
    for _ in range(10):
        assert client.post("/activation/code", data={"code": "123456"}).status_code in (410, 422)
    assert client.get("/activation").status_code == 410  # ten wrong codes closed the path
    fixed_clock.advance(hours=2)
    assert client.get("/activation/application").status_code == 410
    assert db.session().scalar(sa.select(sa.func.count()).select_from(AidantSession)) == 0


def test_an_inactive_account_gets_no_link(app, fixed_clock):
    now = fixed_clock.now()
    aidant = new_person(now)
    aidant.is_active = False
    try:
        activation.send_link(aidant, now, str)
    except activation.ActivationError as exc:
        assert "pas actif" in str(exc)
    else:
        raise AssertionError("an inactive account was sent a link")
