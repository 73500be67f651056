"""Background work: outbox delivery and the scheduled jobs, run by Celery workers."""
