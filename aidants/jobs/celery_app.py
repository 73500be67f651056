"""The Celery application itself; importing this module imports Celery (about 70 ms and a few MB).

A web process needs Celery only to wake a worker after a commit that queued mail and for the health
check's broker probe, so ``aidants.jobs.engine`` imports this module at that first use, not at boot; a
worker process imports it through ``aidants.jobs.tasks``. Every task runs inside the Flask app's context.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask

from aidants.jobs import engine, schedule


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


# The app built before this first import (create_app records it): Celery follows it from the start.
if engine.latest_flask_app is not None:
    configure(engine.latest_flask_app)
