"""The outbox row lives and dies with the transaction that wrote it, and the request boundary decides."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from aidants import clock, db
from aidants.outbox.models import PENDING, OutboxMessage
from aidants.outbox.services import enqueue_mail


def _count(app: Flask) -> int:
    with app.extensions["db_engine"].connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(OutboxMessage)).scalar_one()


def test_enqueued_mail_is_pending_and_due(app: Flask) -> None:
    message = enqueue_mail("a@example.org", "Objet", "Corps", now=clock.now(), key="k:1")
    assert message.status == PENDING
    assert message.is_due(clock.now())
    db.session().rollback()
    assert _count(app) == 0


def test_request_boundary_commits_below_400_and_rolls_back_otherwise(app: Flask) -> None:
    def write(status: int) -> tuple[str, int]:
        enqueue_mail("a@example.org", f"statut {status}", "Corps", now=clock.now())
        return "", status

    app.add_url_rule("/_t/ok", "t_ok", lambda: write(200))
    app.add_url_rule("/_t/refused", "t_refused", lambda: write(422))
    client = app.test_client()
    assert client.get("/_t/refused").status_code == 422
    assert _count(app) == 0
    assert client.get("/_t/ok").status_code == 200
    assert _count(app) == 1
