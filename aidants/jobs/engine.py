"""The job engine as the web app sees it: Celery configured from the Flask config, imported on first use.

Celery (``aidants.jobs.celery_app``) is not imported when the app starts: a web process needs it only to
wake a worker after a commit that queued mail (``_nudge``) and for the health check's broker probe. Each
``create_app`` records its app here; the Celery application, whenever it is first imported, and again
at every later ``create_app``, is configured for the last app built (as when it was built eagerly). A
worker process imports ``aidants.jobs.worker``, which builds the Flask app once for the process.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

#: The Flask app Celery follows: the last one ``init_app`` saw (one per process, but tests build many).
latest_flask_app: Flask | None = None
_CELERY_MODULE = "aidants.jobs.celery_app"


def celery_app() -> Celery:
    """The process's Celery application, configured for the latest app (Celery is imported at the first call)."""
    from aidants.jobs.celery_app import celery

    return celery


def broker_status() -> str:
    """"ok" when the broker accepts a connection within a second or two, "unreachable" otherwise."""
    try:
        with celery_app().connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:  # any transport's failure means the same to the health check
        log.warning("health check: broker unreachable (%s)", type(error).__name__)
        return "unreachable"
    return "ok"


def init_app(flask_app: Flask) -> None:
    """Make Celery follow this app; after a commit that queued mail, wake a worker (best effort)."""
    global latest_flask_app
    latest_flask_app = flask_app
    module = sys.modules.get(_CELERY_MODULE)
    if module is not None:  # already imported in this process: configure it now, as it would be at import
        module.configure(flask_app)
    if flask_app.config["JOBS_NUDGE"]:
        event.listen(flask_app.extensions["db_sessionmaker"], "after_commit", _nudge)


def _nudge(session: Session) -> None:
    from aidants.outbox.services import NUDGE

    if not session.info.pop(NUDGE, False):
        return
    try:
        celery_app().send_task("aidants.deliver_outbox", retry=False)
    except Exception as error:  # the periodic sweep delivers it anyway
        log.warning("could not wake a worker (%s): the next sweep will deliver", type(error).__name__)
