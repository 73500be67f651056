"""Configuration, read from the environment once at start-up.

Production refuses to start when a secret is missing: no insecure default may
ever reach it. Development and tests get throw-away secrets kept under
``instance/`` so that ``make run`` works on a fresh machine with no set-up.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("development", "test", "production")

#: Variables without which production refuses to start.
REQUIRED_IN_PRODUCTION = (
    "SECRET_KEY", "SEED_ENCRYPTION_KEYS", "DATABASE_URL", "JOURNAL_SIGNING_KEY", "USAGER_SUB_KEY",
)


class ConfigError(RuntimeError):
    """The environment does not allow the service to start safely."""


@dataclass(frozen=True)
class Secrets:
    """The service's secrets, each from the environment in production."""

    secret_key: str
    seed_keys: str
    journal_signing_key: str
    usager_sub_key: str


def _random_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


_DEV_GENERATORS = {
    "SECRET_KEY": lambda: secrets.token_urlsafe(32),
    "SEED_ENCRYPTION_KEYS": lambda: "dev1:" + _random_key(),
    "JOURNAL_SIGNING_KEY": _random_key,
    "USAGER_SUB_KEY": lambda: secrets.token_urlsafe(32),
}


def _dev_secrets(instance_path: Path) -> Secrets:
    """Return throw-away secrets for development, created once under instance/ and then kept."""
    path = instance_path / "dev-secrets.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    missing = {name: make() for name, make in _DEV_GENERATORS.items() if name not in data}
    if missing:
        data.update(missing)
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2))
        path.chmod(0o600)
    return Secrets(data["SECRET_KEY"], data["SEED_ENCRYPTION_KEYS"], data["JOURNAL_SIGNING_KEY"],
                   data["USAGER_SUB_KEY"])


def load_config(environ: Mapping[str, str], instance_path: Path) -> dict[str, Any]:
    """Build the Flask configuration from an environment mapping."""
    env = environ.get("AIDANTS_ENV", "development")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"AIDANTS_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    production = env == "production"
    if production:
        missing = [name for name in REQUIRED_IN_PRODUCTION if not environ.get(name)]
        if missing:
            raise ConfigError(
                "refusing to start in production: missing environment variable(s) " + ", ".join(missing)
            )
        found = Secrets(environ["SECRET_KEY"], environ["SEED_ENCRYPTION_KEYS"], environ["JOURNAL_SIGNING_KEY"],
                        environ["USAGER_SUB_KEY"])
    else:
        dev = _dev_secrets(instance_path)
        found = Secrets(
            environ.get("SECRET_KEY", dev.secret_key),
            environ.get("SEED_ENCRYPTION_KEYS", dev.seed_keys),
            environ.get("JOURNAL_SIGNING_KEY", dev.journal_signing_key),
            environ.get("USAGER_SUB_KEY", dev.usager_sub_key),
        )
    default_db = f"sqlite:///{instance_path / 'aidants.sqlite3'}"
    session_hours = int(environ.get("SESSION_MAX_HOURS", "24"))
    return {
        "AIDANTS_ENV": env,
        "ENV_IS_PRODUCTION": production,
        "SECRET_KEY": found.secret_key,
        "SEED_ENCRYPTION_KEYS": found.seed_keys,
        "JOURNAL_SIGNING_KEY": found.journal_signing_key,
        "USAGER_SUB_KEY": found.usager_sub_key,
        "DATABASE_URL": environ.get("DATABASE_URL", default_db),
        "SERVER_NAME_FOR_LINKS": environ.get("PUBLIC_URL", ""),
        "SMTP_HOST": environ.get("SMTP_HOST", ""),
        "SMTP_PORT": int(environ.get("SMTP_PORT", "587")),
        "SMTP_USER": environ.get("SMTP_USER", ""),
        "SMTP_PASSWORD": environ.get("SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": environ.get("SMTP_STARTTLS", "true").lower() == "true",
        "MAIL_FROM": environ.get("MAIL_FROM", "Aidants Connect <ne-pas-repondre@aidants.localhost>"),
        "DEV_OUTBOX": not production,
        "SESSION_MAX_AGE": timedelta(hours=session_hours),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=session_hours),
        "REAUTH_AFTER": timedelta(minutes=int(environ.get("REAUTH_AFTER_MINUTES", "15"))),
        "LOGIN_LINK_TTL": timedelta(minutes=5),
        "SESSION_COOKIE_NAME": "aidants_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "MAX_CONTENT_LENGTH": int(environ.get("MAX_CONTENT_LENGTH", str(2 * 1024 * 1024))),
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Paris",
        "TRUST_PROXY_HOPS": int(environ.get("TRUST_PROXY_HOPS", "0")),
    }
