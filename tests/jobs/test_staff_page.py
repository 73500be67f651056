"""The staff jobs page: jobs with their last run and next run, the outbox, retry a failed message, run a job now."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidants import clock, db
from aidants.jobs import delivery
from aidants.jobs.models import JobRun
from aidants.journal import checkpoint
from aidants.journal.models import JournalEntry
from aidants.outbox.models import PENDING, OutboxMessage
from aidants.outbox.services import enqueue_mail
from tests.access.world import open_session
from tests.conftest import build_app
from tests.factories import make_aidant, sign_in
from tests.habilitation.helpers import text


def _staff(client: FlaskClient, fixed_clock) -> int:
    who = make_aidant(fixed_clock.now(), is_staff=True)
    sign_in(client, who, fixed_clock.now())
    return who.aidant.id


def test_staff_see_jobs_and_failed_messages_and_retry_them(client: FlaskClient, app: Flask, fixed_clock) -> None:
    staff_id = _staff(client, fixed_clock)
    app.config["OUTBOX_MAX_ATTEMPTS"] = 1
    app.config["SMTP_HOST"], app.config["SMTP_PORT"] = "127.0.0.1", 9  # nothing listens there
    failed_id = enqueue_mail("perdu@exemple.fr", "Un avis", "Corps", now=clock.now(), kind="notice").id
    db.commit()
    delivery.deliver_due()
    page = text(client.get("/staff/travaux"))
    assert "Point de contrôle signé du journal" in page and "jamais" in page
    assert "perdu@exemple.fr" in page and "Connection" in page and "Relancer" in page
    failed_only = text(client.get("/staff/travaux?statut=failed"))
    assert "perdu@exemple.fr" in failed_only
    assert "perdu@exemple.fr" not in text(client.get("/staff/travaux?statut=sent"))
    response = client.post(f"/staff/travaux/messages/{failed_id}/relancer")
    assert response.status_code == 302
    db.session().expire_all()
    message = db.session().get(OutboxMessage, failed_id)
    assert message is not None and message.status == PENDING and message.attempts == 0
    [entry] = db.session().scalars(sa.select(JournalEntry).where(JournalEntry.action == "retry_outbox_message"))
    assert entry.aidant_id == staff_id
    again = client.post(f"/staff/travaux/messages/{failed_id}/relancer", follow_redirects=True)
    assert "n'est pas en échec" in text(again)


def test_staff_run_a_job_now_after_a_confirmation(client: FlaskClient, fixed_clock) -> None:
    staff_id = _staff(client, fixed_clock)
    confirm = client.get("/staff/travaux/stats_snapshot/lancer")
    assert confirm.status_code == 200 and "Lancer maintenant" in text(confirm)
    done = client.post("/staff/travaux/stats_snapshot/lancer", follow_redirects=True)
    assert "fait (snapshots : 1)" in text(done)
    db.session().expire_all()
    [run] = db.session().scalars(sa.select(JobRun))
    assert run.triggered_by == staff_id and run.period.startswith("manuel")
    actions = list(db.session().scalars(sa.select(JournalEntry.action)))
    assert "run_job_manually" in actions
    page = text(client.get("/staff/travaux"))
    assert "lancé à la main" in page and "réussi" in page
    assert client.get("/staff/travaux/inconnu/lancer").status_code == 404


def test_the_forms_need_their_csrf_token(database_url: str, tmp_path, fixed_clock) -> None:
    application = build_app(database_url, tmp_path)
    clock.set_clock(application, fixed_clock)
    with application.app_context():
        client = application.test_client()
        staff = make_aidant(fixed_clock.now(), is_staff=True)
        open_session(client, staff, fixed_clock.now())
        assert client.post("/staff/travaux/stats_snapshot/lancer").status_code == 400  # refused, nothing run
        assert db.session().scalar(sa.select(sa.func.count()).select_from(JobRun)) == 0
        assert client.post("/staff/travaux/messages/1/relancer").status_code == 400
    application.extensions["db_engine"].dispose()


def test_staff_download_the_latest_journal_checkpoint(client: FlaskClient, app: Flask, fixed_clock) -> None:
    _staff(client, fixed_clock)
    assert client.get("/staff/travaux/point-de-controle").status_code == 404  # none signed yet
    client.post("/staff/travaux/journal_checkpoint/lancer")
    response = client.get("/staff/travaux/point-de-controle")
    assert response.status_code == 302
    note = client.get(response.location)
    assert note.status_code == 200
    opened = checkpoint.open_note(note.get_data(as_text=True), checkpoint.service_verifier_key())
    assert opened.tree_size >= 1
