"""The Celery application: configured from the Flask config; every task runs inside an app context.

The web app calls ``init_app`` (so that a commit can wake a worker through the broker); a worker
process imports ``aidants.jobs.worker``, which builds the Flask app once for the process.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from aidants.jobs import schedule

log = logging.getLogger(__name__)


class AppTask(Task):
    """A task run inside the Flask app's context; it commits when it returns, rolls back when it raises."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from aidants import db

        flask_app: Flask = self.app.conf["flask_app"]
        with flask_app.app_context():
            try:
                result = self.run(*args, **kwargs)
                db.commit()
            except BaseException:
                db.session().rollback()
                raise
            return result


celery = Celery("aidants", task_cls=AppTask)


def configure(flask_app: Flask) -> Celery:
    """Point Celery at the app's broker, with the schedule and at-least-once settings."""
    config = flask_app.config
    broker = config["CELERY_BROKER_URL"]
    celery.conf.update(
        broker_url=broker,
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,  # a task whose worker dies is delivered again
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=config["CELERY_QUEUE"],
        beat_schedule=schedule.beat_schedule(),
        timezone="UTC",
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        broker_transport_options={"visibility_timeout": 900} if broker.startswith("redis") else {},
        worker_hijack_root_logger=False,
        flask_app=flask_app,
    )
    return celery


def broker_status() -> str:
    """"ok" when the broker accepts a connection within a second or two, "unreachable" otherwise."""
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:  # any transport's failure means the same to the health check
        log.warning("health check: broker unreachable (%s)", type(error).__name__)
        return "unreachable"
    return "ok"


def init_app(flask_app: Flask) -> None:
    """Configure Celery for this app; after a commit that queued mail, wake a worker (best effort)."""
    configure(flask_app)
    if flask_app.config["JOBS_NUDGE"]:
        event.listen(flask_app.extensions["db_sessionmaker"], "after_commit", _nudge)


def _nudge(session: Session) -> None:
    from aidants.outbox.services import NUDGE

    if not session.info.pop(NUDGE, False):
        return
    try:
        celery.send_task("aidants.deliver_outbox", retry=False)
    except Exception as error:  # the periodic sweep delivers it anyway
        log.warning("could not wake a worker (%s): the next sweep will deliver", type(error).__name__)
