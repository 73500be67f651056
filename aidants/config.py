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

from aidants.jobs.settings import jobs_config
from aidants.security import crypto

ENVIRONMENTS = ("development", "test", "production", "training")

#: Variables without which production refuses to start.
REQUIRED_IN_PRODUCTION = (
    "SECRET_KEY", "SEED_ENCRYPTION_KEYS", "DATABASE_URL", "JOURNAL_SIGNING_KEY", "USAGER_SUB_KEY", "PUBLIC_URL",
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


def _check_keys(found: Secrets) -> None:
    """A malformed key stops the start with one line naming the variable (never its value)."""
    try:
        crypto.KeyRing.parse(found.seed_keys)
    except ValueError as exc:
        raise ConfigError(f"SEED_ENCRYPTION_KEYS is not usable: {exc}") from None
    try:
        crypto.signing_key(found.journal_signing_key)
    except ValueError:
        raise ConfigError("JOURNAL_SIGNING_KEY is not usable: expected 32 bytes in base64") from None


#: Values that stand in for a secret in examples and templates: never a production secret.
PLACEHOLDERS = ("changeme", "change-me", "change_me", "secret", "password", "motdepasse", "example", "exemple",
                "placeholder", "insecure", "notforproduction", "not-for-production", "replaceme", "remplacer")
#: A secret must carry at least this much randomness (32 random bytes).
MIN_SECRET_BITS = 256
HEX = frozenset("0123456789abcdefABCDEF")
BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=")


def _estimated_bits(value: str) -> float:
    """Randomness a string can hold at most, judged by its alphabet (hex: 4 bits a character, base64: 6)."""
    if len(set(value)) < 12:  # a random string of this length uses many more distinct characters
        return 0.0
    alphabet = set(value)
    per_character = 4.0 if alphabet <= HEX else 6.0 if alphabet <= BASE64 else 6.5
    return len(value) * per_character


def _weak_secret(value: str) -> bool:
    """A placeholder, or fewer than 32 random bytes' worth of characters."""
    folded = value.lower()
    if any(word in folded for word in PLACEHOLDERS):
        return True
    return _estimated_bits(value) < MIN_SECRET_BITS


def _weak_key(key: bytes) -> bool:
    """A 32-byte key made of a few repeated bytes (b"k" * 32…) is not random."""
    return len(set(key)) < 16


def _check_production_secrets(found: Secrets) -> None:
    """Production refuses weak or well-known secrets: one line naming the variable, never its value."""
    advice = "use at least 32 random bytes, e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
    for name, value in (("SECRET_KEY", found.secret_key), ("USAGER_SUB_KEY", found.usager_sub_key)):
        if _weak_secret(value):
            raise ConfigError(f"refusing to start in production: {name} is weak or a placeholder ({advice})")
    weak_seed = any(_weak_key(key) for _kid, key in crypto.KeyRing.parse(found.seed_keys).keys)
    if weak_seed or _weak_key(crypto.b64decode(found.journal_signing_key)):
        name = "SEED_ENCRYPTION_KEYS" if weak_seed else "JOURNAL_SIGNING_KEY"
        raise ConfigError(f"refusing to start in production: {name} is not a random key "
                          "(32 random bytes in base64, e.g. python3 -c 'import base64, os; "
                          "print(base64.urlsafe_b64encode(os.urandom(32)).decode())')")


def default_public_url(env: str, environ: Mapping[str, str]) -> str:
    """Outside production, without PUBLIC_URL: the address the service listens on, never a request's Host."""
    if env == "test":
        return "http://localhost"  # what Flask's test client asks for
    return f"http://127.0.0.1:{environ.get('PORT') or '5000'}"


def load_config(environ: Mapping[str, str], instance_path: Path) -> dict[str, Any]:
    """Build the Flask configuration from an environment mapping."""
    env = environ.get("AIDANTS_ENV", "development")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"AIDANTS_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    production = env == "production"
    training = env == "training" or environ.get("TRAINING_MODE", "").lower() == "true"
    if training and production:
        raise ConfigError("TRAINING_MODE is for a training site: it cannot run with AIDANTS_ENV=production")
    if env == "training":
        # A hosted training site: real secrets, and real email (no development outbox shows the links).
        missing = [name for name in (*REQUIRED_IN_PRODUCTION, "SMTP_HOST") if not environ.get(name)]
        if missing:
            raise ConfigError("refusing to start the training site: missing environment variable(s) "
                              + ", ".join(missing))
    if production:
        missing = [name for name in (*REQUIRED_IN_PRODUCTION, *FC_REQUIRED_IN_PRODUCTION) if not environ.get(name)]
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
    _check_keys(found)
    if production:
        _check_production_secrets(found)
    if production and not environ["PUBLIC_URL"].startswith("https://"):
        raise ConfigError("refusing to start in production: PUBLIC_URL must be an https:// URL")
    default_db = f"sqlite:///{instance_path / 'aidants.sqlite3'}"
    session_hours = int(environ.get("SESSION_MAX_HOURS", "24"))
    return {
        "AIDANTS_ENV": env,
        "ENV_IS_PRODUCTION": production,
        # A training site: fictitious people (the sandboxes), a banner on every page, no /dev/outbox.
        "TRAINING_MODE": training,
        "SECRET_KEY": found.secret_key,
        "SEED_ENCRYPTION_KEYS": found.seed_keys,
        "JOURNAL_SIGNING_KEY": found.journal_signing_key,
        "USAGER_SUB_KEY": found.usager_sub_key,
        "DATABASE_URL": environ.get("DATABASE_URL", default_db),
        "PUBLIC_URL": (environ.get("PUBLIC_URL") or default_public_url(env, environ)).rstrip("/"),
        "SMTP_HOST": environ.get("SMTP_HOST", ""),
        "SMTP_PORT": int(environ.get("SMTP_PORT", "587")),
        "SMTP_USER": environ.get("SMTP_USER", ""),
        "SMTP_PASSWORD": environ.get("SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": environ.get("SMTP_STARTTLS", "true").lower() == "true",
        "MAIL_FROM": environ.get("MAIL_FROM", "Aidants Connect <ne-pas-repondre@aidants.localhost>"),
        "DEV_OUTBOX": not production and not training,
        "SESSION_MAX_AGE": timedelta(hours=session_hours),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=session_hours),
        # The cookie is signed and sent again only when its content changes, not on every answer: the
        # server-side session ends at a fixed time (its ``expires_at``, SESSION_MAX_AGE after sign-in), so
        # sliding the cookie's own expiry bought nothing, and re-signing it cost every signed-in request.
        "SESSION_REFRESH_EACH_REQUEST": False,
        "REAUTH_AFTER": timedelta(minutes=int(environ.get("REAUTH_AFTER_MINUTES", "15"))),
        "LOGIN_LINK_TTL": timedelta(minutes=5),
        "SESSION_COOKIE_NAME": "aidants_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production or environ.get("PUBLIC_URL", "").startswith("https://"),
        "MAX_CONTENT_LENGTH": int(environ.get("MAX_CONTENT_LENGTH", str(2 * 1024 * 1024))),
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_I18N_ENABLED": False,  # French messages from a catalogue read once (aidants._french_form_messages)
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Paris",
        "TRUST_PROXY_HOPS": int(environ.get("TRUST_PROXY_HOPS", "0")),
        "INSEE_API_KEY": environ.get("INSEE_API_KEY", ""),  # optional: SIRET lookup in habilitation requests
        "INSEE_API_URL": environ.get("INSEE_API_URL", ""),
        # optional: the staff's shared mailbox, told of each submitted habilitation request
        "STAFF_EMAIL": environ.get("STAFF_EMAIL", ""),
        # Bounds on every wait (branch hard-b): structured logs, database timeouts, the 503's Retry-After.
        "LOG_FORMAT": environ.get("LOG_FORMAT", "json" if production else "plain"),
        "DB_STATEMENT_TIMEOUT_MS": int(environ.get("DB_STATEMENT_TIMEOUT_MS", "15000")),
        "DB_LOCK_TIMEOUT_MS": int(environ.get("DB_LOCK_TIMEOUT_MS", "5000")),
        "HTTP_CONNECT_TIMEOUT": float(environ.get("HTTP_CONNECT_TIMEOUT", "3")),
        "SANDBOX_PROVIDER_URL": environ.get("SANDBOX_PROVIDER_URL", "").rstrip("/"),  # make run: the service
        **franceconnect_config(environ, production, found.secret_key, training),
        **jobs_config(environ, instance_path, env),  # broker and outbox delivery (aidants/jobs/settings.py)
    }


#: FranceConnect's scopes for the pivot identity and the email (see reference/franceconnect.md).
FC_DEFAULT_SCOPES = "openid given_name family_name birthdate gender birthplace birthcountry email preferred_username"
FC_REQUIRED_IN_PRODUCTION = ("FC_ISSUER", "FC_CLIENT_ID", "FC_CLIENT_SECRET")


def franceconnect_config(environ: Mapping[str, str], production: bool, secret_key: str,
                         training: bool = False) -> dict[str, Any]:
    """FranceConnect client settings; outside production an empty FC_ISSUER means the app's own sandbox.

    A training site always serves the sandboxes: its people are fictitious.
    """
    sandbox = training or environ.get("FC_SANDBOX", "false" if production else "true").lower() == "true"
    if production:
        if sandbox:
            raise ConfigError("refusing to start in production: FC_SANDBOX must not be enabled")
        missing = [name for name in FC_REQUIRED_IN_PRODUCTION if not environ.get(name)]
        if missing:
            raise ConfigError(
                "refusing to start in production: missing environment variable(s) " + ", ".join(missing)
            )
        if not environ["FC_ISSUER"].startswith("https://"):
            raise ConfigError("refusing to start in production: FC_ISSUER must be an https:// URL")
    algorithms = [a.strip() for a in environ.get("FC_ID_TOKEN_ALGS", "ES256,RS256").split(",") if a.strip()]
    if not algorithms or any(a.lower() == "none" for a in algorithms):
        raise ConfigError("FC_ID_TOKEN_ALGS must list signature algorithms, and never 'none'")
    return {
        "FC_SANDBOX": sandbox,
        "FC_ISSUER": "" if training else environ.get("FC_ISSUER", "").rstrip("/"),
        "FC_CLIENT_ID": environ.get("FC_CLIENT_ID", "aidants-connect-bac-a-sable"),
        # Outside production the sandbox and the client share this throw-away secret.
        "FC_CLIENT_SECRET": environ.get("FC_CLIENT_SECRET")
        or crypto.keyed_hash(secret_key.encode(), "franceconnect-sandbox-client-secret"),
        "FC_REDIRECT_URI": environ.get("FC_REDIRECT_URI", ""),
        "FC_POST_LOGOUT_REDIRECT_URI": environ.get("FC_POST_LOGOUT_REDIRECT_URI", ""),
        "FC_SCOPES": environ.get("FC_SCOPES", FC_DEFAULT_SCOPES),
        "FC_ACR_VALUES": environ.get("FC_ACR_VALUES", "eidas1"),
        "FC_ID_TOKEN_ALGS": algorithms,
        "FC_HTTP_TIMEOUT": float(environ.get("FC_HTTP_TIMEOUT", "5")),  # read timeout; connect: HTTP_CONNECT_TIMEOUT
    }
