"""The outbox row lives and dies with the transaction that wrote it, and the request boundary decides."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask

from aidants import clock, db
from aidants.outbox.models import PENDING, OutboxMessage
from aidants.outbox.services import NUDGE, enqueue_mail, queue_mail


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

    _assert_commits_only_below_400(app, write, "t")


def _assert_commits_only_below_400(app: Flask, write: Callable[[int], tuple[str, int]], name: str) -> None:
    """A request that writes a message and answers 422 leaves no row; one that answers 200 leaves one."""
    app.add_url_rule(f"/_{name}/ok", f"{name}_ok", lambda: write(200))
    app.add_url_rule(f"/_{name}/refused", f"{name}_refused", lambda: write(422))
    client = app.test_client()
    assert client.get(f"/_{name}/refused").status_code == 422
    assert _count(app) == 0
    assert client.get(f"/_{name}/ok").status_code == 200
    assert _count(app) == 1


def test_queued_mail_lives_and_dies_with_the_request(app: Flask) -> None:
    """``queue_mail`` (the sign-in's Core INSERT) writes what ``enqueue_mail`` writes, in the same transaction."""
    def write(status: int) -> tuple[str, int]:
        queue_mail("a@example.org", f"statut {status}", "Corps", now=clock.now(), kind="login_link")
        assert db.session().info[NUDGE] is True  # its commit may wake a worker
        return "", status

    _assert_commits_only_below_400(app, write, "tq")
    with app.app_context():
        message = db.session().scalars(sa.select(OutboxMessage)).one()
        assert (message.kind, message.recipient, message.subject, message.body) == (
            "login_link", "a@example.org", "statut 200", "Corps")
        assert message.key.startswith("login_link:") and len(message.key) == len("login_link:") + 32
        assert message.status == PENDING and message.attempts == 0
        assert message.is_due(clock.now())
