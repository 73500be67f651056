"""What ``celery -A aidants.jobs.worker worker`` (and ``beat``) load: the Flask app, once per process."""

from __future__ import annotations

from celery.signals import worker_process_init

from aidants import create_app
from aidants.jobs import tasks  # noqa: F401  (registers the tasks)
from aidants.jobs.celery_app import celery

flask_app = create_app()


@worker_process_init.connect
def _fresh_connections(**_kwargs: object) -> None:
    """A forked pool process must not share the parent's database connections."""
    flask_app.extensions["db_engine"].dispose(close=False)


__all__ = ["celery", "flask_app"]
