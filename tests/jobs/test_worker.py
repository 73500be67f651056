"""A real Celery worker (a subprocess) on the embedded broker and on Redis: killed mid-send, nothing is lost
and nothing is sent twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from celery import Celery
from flask import Flask

from aidants import clock, db
from aidants.outbox.models import SENDING, SENT, OutboxMessage
from aidants.outbox.services import enqueue_mail
from tests.conftest import TEST_SECRETS, require
from tests.jobs.sink import SmtpSink

ROOT = Path(__file__).resolve().parents[2]


def redis_url() -> str:
    return os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or ""


@pytest.fixture(params=["embedded", "redis"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "redis":
        url = redis_url()
        require(url.startswith("redis"), "no Redis for the job engine: set REDIS_URL=redis://127.0.0.1:6379/5")
        return url
    return f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"


class Workers:
    """Starts real worker processes on one broker and one queue, and sends them tasks."""

    def __init__(self, broker: str, database_url: str, tmp_path: Path, smtp_port: int) -> None:
        self.queue = f"test-{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ, **TEST_SECRETS, "AIDANTS_ENV": "test", "DATABASE_URL": database_url,
            "AIDANTS_INSTANCE": str(tmp_path / "worker-instance"), "CELERY_BROKER_URL": broker,
            "CELERY_QUEUE": self.queue, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port),
            "SMTP_STARTTLS": "false", "OUTBOX_LEASE_SECONDS": "1", "SMTP_TIMEOUT": "30",
        }
        self.client = Celery("test-client", broker=broker)
        self.client.conf.broker_connection_timeout = 5
        self.processes: list[subprocess.Popen[bytes]] = []
        self.log = tmp_path / "worker.log"

    def start(self) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "celery", "-A", "aidants.jobs.worker", "worker", "--pool", "solo",
                   "-Q", self.queue, "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"]
        with self.log.open("ab") as log:
            process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.processes.append(process)
        return process

    def deliver(self) -> None:
        self.client.send_task("aidants.deliver_outbox", queue=self.queue)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        self.client.close()


@pytest.fixture
def workers(broker: str, database_url: str, tmp_path: Path, sink: SmtpSink) -> Iterator[Workers]:
    found = Workers(broker, database_url, tmp_path, sink.port)
    yield found
    found.stop()


def _row(message_id: int) -> OutboxMessage:
    db.session().expire_all()
    row = db.session().get(OutboxMessage, message_id)
    assert row is not None
    return row


def test_a_worker_killed_while_sending_leaves_the_message_to_be_sent_once(
        smtp_app: Flask, sink: SmtpSink, workers: Workers) -> None:
    sink.start()
    sink.hang.set()  # the server takes the message and never answers: the worker is mid-send
    message_id = enqueue_mail("a@exemple.fr", "Votre lien", "Corps", now=clock.now(), key="k:killed").id
    db.commit()
    first = workers.start()
    workers.deliver()
    assert sink.in_data.wait(90), workers.log.read_text()
    os.killpg(first.pid, signal.SIGKILL)  # killed in the middle of the job
    first.wait(timeout=30)
    assert _row(message_id).status == SENDING and sink.messages == []
    sink.hang.clear()
    sink.release.set()
    workers.start()
    for _ in range(30):  # the sweep asks again, as the scheduler would, until the lease is over
        workers.deliver()
        if sink.wait_for(1, timeout=3):
            break
    assert len(sink.to("a@exemple.fr")) == 1, workers.log.read_text()
    workers.deliver()
    workers.deliver()
    assert not sink.wait_for(2, timeout=4)  # nothing is sent twice
    row = _row(message_id)
    assert row.status == SENT and row.attempts == 2
    count = db.session().scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
    assert count == 1
