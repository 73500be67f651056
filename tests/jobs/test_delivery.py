"""Outbox delivery to a real SMTP server: survives it being down, sends once, backs off, fails visibly."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from aidants import clock, db
from aidants.jobs import delivery
from aidants.outbox import services as outbox
from aidants.outbox.models import FAILED, PENDING, SENDING, SENT, OutboxMessage
from tests.factories import make_aidant, run_together
from tests.jobs.sink import SmtpSink


def _row(message_id: int) -> OutboxMessage:
    db.session().expire_all()
    found = db.session().get(OutboxMessage, message_id)
    assert found is not None
    return found


def _only_message() -> OutboxMessage:
    db.session().expire_all()
    return db.session().scalars(sa.select(OutboxMessage)).one()


def test_a_login_link_requested_while_smtp_is_down_arrives_once_it_is_back(smtp_app: Flask, sink: SmtpSink,
                                                                          fixed_clock) -> None:
    who = make_aidant(fixed_clock.now())
    client = smtp_app.test_client()
    page = client.post("/connexion", data={"email": who.aidant.email, "code": who.code(fixed_clock.now())})
    assert page.status_code == 200 and "en route" in page.get_data(as_text=True)  # no 500, the link is queued
    assert delivery.deliver_due() == delivery.Sweep(retried=1)  # nothing listens on the port
    message = _only_message()
    assert message.status == PENDING and message.attempts == 1 and message.last_error
    assert message.next_attempt_at == fixed_clock.now() + delivery.backoff(1, 60)
    sink.start()
    assert delivery.deliver_due() == delivery.Sweep()  # not due yet: the backoff holds
    fixed_clock.advance(seconds=61)
    assert delivery.deliver_due() == delivery.Sweep(sent=1)
    [received] = sink.to(who.aidant.email)
    assert "/connexion/lien/" in received.get_payload()
    assert received["Message-ID"]
    fixed_clock.advance(hours=1)
    assert delivery.deliver_due() == delivery.Sweep()  # a sent message is never sent again
    assert len(sink.messages) == 1
    assert _only_message().status == SENT and _only_message().sent_at is not None


def test_a_rolled_back_transaction_sends_nothing(smtp_app: Flask, sink: SmtpSink) -> None:
    sink.start()
    outbox.enqueue_mail("a@exemple.fr", "Objet", "Corps", now=clock.now(), key="k:rolled-back")
    db.session().rollback()
    client = smtp_app.test_client()
    # A refused sign-in (unknown aidant, wrong code) writes no link and so no mail.
    client.post("/connexion", data={"email": "personne@exemple.fr", "code": "123456"})
    assert delivery.deliver_due() == delivery.Sweep()
    assert sink.messages == []
    assert db.session().scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_backoff_doubles_then_the_message_fails_visibly_and_staff_can_retry(smtp_app: Flask, sink: SmtpSink,
                                                                            fixed_clock) -> None:
    smtp_app.config["OUTBOX_MAX_ATTEMPTS"] = 3
    message_id = outbox.enqueue_mail("a@exemple.fr", "Objet", "Corps", now=clock.now()).id
    db.commit()
    waits = []
    for _ in range(3):
        before = fixed_clock.now()
        delivery.deliver_due()
        row = _row(message_id)
        waits.append(row.next_attempt_at - before)
        fixed_clock.current = row.next_attempt_at
    assert [w.total_seconds() for w in waits] == [60, 120, 240]
    row = _row(message_id)
    assert row.status == FAILED and row.attempts == 3 and "Connection" in (row.last_error or "")
    fixed_clock.advance(days=1)
    assert delivery.deliver_due() == delivery.Sweep()  # failed rows wait for a person
    staff = make_aidant(fixed_clock.now(), is_staff=True)
    outbox.retry(message_id, staff_id=staff.aidant.id, now=fixed_clock.now())
    db.commit()
    sink.start()
    assert delivery.deliver_due() == delivery.Sweep(sent=1)
    assert len(sink.messages) == 1 and _row(message_id).status == SENT


def test_two_workers_never_claim_the_same_message(smtp_app: Flask) -> None:
    for n in range(30):
        outbox.enqueue_mail(f"a{n}@exemple.fr", "Objet", "Corps", now=clock.now())
    db.commit()
    now = clock.now()
    first, second = run_together(smtp_app, [lambda: delivery.claim(now, 30), lambda: delivery.claim(now, 30)])
    assert isinstance(first, list) and isinstance(second, list)
    assert not set(first) & set(second)
    assert len(first) + len(second) == 30


def test_a_claim_whose_worker_died_is_taken_again_after_its_lease(smtp_app: Flask, sink: SmtpSink,
                                                                  fixed_clock) -> None:
    sink.start()
    message_id = outbox.enqueue_mail("a@exemple.fr", "Objet", "Corps", now=clock.now()).id
    db.commit()
    assert delivery.claim(fixed_clock.now()) == [message_id]  # ... and the worker dies here
    assert _row(message_id).status == SENDING
    assert delivery.deliver_due() == delivery.Sweep()  # its lease still runs
    fixed_clock.advance(seconds=smtp_app.config["OUTBOX_LEASE_SECONDS"] + 1)
    assert delivery.deliver_due() == delivery.Sweep(sent=1)
    assert len(sink.messages) == 1 and _row(message_id).attempts == 2
