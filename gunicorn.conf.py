"""gunicorn reads this file from the working directory: refuse to start before opening the port.

Without it a missing production secret would be found by each worker as it loads the app;
here the master checks the configuration once and stops with one line.
"""

import os
import sys
from pathlib import Path

# Chosen by measurement (bench.provider, README "Measurements"): a request spends about half its time
# waiting for PostgreSQL, so each of the two workers (one per core) serves four requests at once on
# threads; under load this doubled flows/s and halved p99 against two sync workers. The app keeps no
# per-request state outside the request context; each thread checks out its own connection (pool of 5).
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))


def on_starting(server: object) -> None:
    from aidants.config import ConfigError, load_config

    instance = Path(os.environ.get("AIDANTS_INSTANCE", Path(__file__).resolve().parent / "instance"))
    try:
        load_config(os.environ, instance)
    except ConfigError as error:
        print(f"aidants: {error}", file=sys.stderr)
        sys.exit(1)


# Access log without bearer tokens (login and habilitation links, query strings): see aidants/access_log.py.
logger_class = "aidants.access_log.TokenFreeLogger"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s'
