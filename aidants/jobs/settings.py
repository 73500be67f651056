"""The job engine's settings, read from the environment with the rest of the configuration."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def jobs_config(environ: Mapping[str, str], instance_path: Path, env: str) -> dict[str, Any]:
    """Broker (Redis when configured, else an embedded SQLite broker) and outbox delivery settings."""
    embedded = f"sqla+sqlite:///{instance_path / 'broker.sqlite3'}"
    broker = environ.get("CELERY_BROKER_URL") or environ.get("REDIS_URL") or embedded
    return {
        "CELERY_BROKER_URL": broker,
        "CELERY_QUEUE": environ.get("CELERY_QUEUE", "aidants"),
        # Wake a worker after a commit that queued mail (the periodic sweep alone guarantees delivery).
        "JOBS_NUDGE": environ.get("JOBS_NUDGE", "false" if env == "test" else "true").lower() == "true",
        "OUTBOX_MAX_ATTEMPTS": int(environ.get("OUTBOX_MAX_ATTEMPTS", "8")),
        "OUTBOX_BACKOFF_SECONDS": int(environ.get("OUTBOX_BACKOFF_SECONDS", "60")),
        "OUTBOX_LEASE_SECONDS": int(environ.get("OUTBOX_LEASE_SECONDS", "120")),
        "SMTP_TIMEOUT": float(environ.get("SMTP_TIMEOUT", "10")),
    }
