"""Configuration: production refuses to start without its secrets; development makes its own, once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from aidants.config import REQUIRED_IN_PRODUCTION, ConfigError, load_config
from tests.conftest import PRODUCTION_SECRETS, TEST_SECRETS

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
#: Everything production needs besides the secrets and the database (FranceConnect client settings).
PRODUCTION_SETTINGS = {
    "AIDANTS_ENV": "production",
    "FC_ISSUER": "https://franceconnect.exemple.gouv.fr/api/v2",
    "FC_CLIENT_ID": "aidants-connect",
    "FC_CLIENT_SECRET": "test-franceconnect-client-secret",
    "PUBLIC_URL": "https://aidants.exemple.gouv.fr",
}
SETTINGS = {"DATABASE_URL", "PUBLIC_URL", "FC_SANDBOX", *PRODUCTION_SETTINGS, *REQUIRED_IN_PRODUCTION}
TIMEOUT = 120  # seconds; only a bound so that a start that loops fails instead of hanging the suite


def production_environ(database_url: str, tmp_path: Path, **changes: str | None) -> dict[str, str]:
    """The process environment of a production start: ours, minus any setting, plus the given ones."""
    environ = {key: value for key, value in os.environ.items() if key not in SETTINGS and not key.startswith("FC_")}
    environ.update({**PRODUCTION_SETTINGS, "DATABASE_URL": database_url, **PRODUCTION_SECRETS,
                    "AIDANTS_INSTANCE": str(tmp_path / "instance")})
    for key, value in changes.items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    return environ


def run(command: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=environ, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT,
                          check=False)


def our_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("aidants:")]


# --- load_config ------------------------------------------------------------------------------------------------


def test_production_names_every_missing_variable_and_ignores_development_secrets(tmp_path):
    instance = tmp_path / "instance"
    load_config({"AIDANTS_ENV": "development"}, instance)  # leaves throw-away secrets under instance/
    assert (instance / "dev-secrets.json").exists()
    with pytest.raises(ConfigError) as refused:
        load_config({**PRODUCTION_SETTINGS, "SECRET_KEY": "x"}, instance)
    message = str(refused.value)
    assert "\n" not in message
    for name in REQUIRED_IN_PRODUCTION:
        assert (name in message) == (name != "SECRET_KEY" and name not in PRODUCTION_SETTINGS), name


@pytest.mark.parametrize("missing", REQUIRED_IN_PRODUCTION)
def test_production_refuses_an_empty_or_absent_variable(tmp_path, missing):
    environ = {**PRODUCTION_SETTINGS, "DATABASE_URL": "sqlite:///x", **PRODUCTION_SECRETS}
    for value in ("", None):
        given = {k: v for k, v in {**environ, missing: value}.items() if v is not None}
        with pytest.raises(ConfigError, match=missing):
            load_config(given, tmp_path)
    assert not (tmp_path / "dev-secrets.json").exists()


def test_production_takes_its_secrets_from_the_environment_only(tmp_path):
    environ = {**PRODUCTION_SETTINGS, "DATABASE_URL": "postgresql+psycopg://db/aidants", **PRODUCTION_SECRETS}
    config = load_config(environ, tmp_path)
    for name in REQUIRED_IN_PRODUCTION:
        assert config[name] == environ[name], name
    assert config["DEV_OUTBOX"] is False and config["SESSION_COOKIE_SECURE"] is True
    assert not (tmp_path / "dev-secrets.json").exists()


def test_a_malformed_key_is_refused_without_showing_it(tmp_path):
    environ = {**PRODUCTION_SETTINGS, "DATABASE_URL": "sqlite:///x", **PRODUCTION_SECRETS}
    for name, value in (("SEED_ENCRYPTION_KEYS", "k1:c2hvcnQ"), ("SEED_ENCRYPTION_KEYS", "sans-identifiant"),
                        ("JOURNAL_SIGNING_KEY", "c2hvcnQ")):
        with pytest.raises(ConfigError, match=name) as refused:
            load_config({**environ, name: value}, tmp_path)
        assert value not in str(refused.value)


WEAK = [
    ("SECRET_KEY", "changeme"),
    ("SECRET_KEY", "x"),
    ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),  # 16 bytes in hex
    ("SECRET_KEY", "a-long-secret-but-a-placeholder-of-forty-three-chars"),
    ("SECRET_KEY", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    ("USAGER_SUB_KEY", "k"),
    ("USAGER_SUB_KEY", "ChangeMe-ChangeMe-ChangeMe-ChangeMe-ChangeMe"),
    ("SEED_ENCRYPTION_KEYS", TEST_SECRETS["SEED_ENCRYPTION_KEYS"]),  # 32 times the same byte
    ("JOURNAL_SIGNING_KEY", TEST_SECRETS["JOURNAL_SIGNING_KEY"]),
]


@pytest.mark.parametrize(("name", "value"), WEAK)
def test_production_refuses_weak_or_placeholder_secrets_naming_the_variable(tmp_path, name, value):
    environ = {**PRODUCTION_SETTINGS, "DATABASE_URL": "sqlite:///x", **PRODUCTION_SECRETS, name: value}
    with pytest.raises(ConfigError) as refused:
        load_config(environ, tmp_path)
    message = str(refused.value)
    assert name in message and "\n" not in message and (len(value) < 4 or value not in message)
    assert [other for other in PRODUCTION_SECRETS if other != name and other in message] == []


def test_random_secrets_of_32_bytes_are_accepted_in_hex_and_base64(tmp_path):
    import secrets

    for _ in range(20):
        environ = {**PRODUCTION_SETTINGS, "DATABASE_URL": "sqlite:///x", **PRODUCTION_SECRETS,
                   "SECRET_KEY": secrets.token_hex(32), "USAGER_SUB_KEY": secrets.token_urlsafe(32)}
        assert load_config(environ, tmp_path)["SECRET_KEY"] == environ["SECRET_KEY"]


def test_development_accepts_weak_secrets_it_is_given(tmp_path):
    assert load_config({"SECRET_KEY": "x"}, tmp_path)["SECRET_KEY"] == "x"


def test_unknown_environment_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="AIDANTS_ENV"):
        load_config({"AIDANTS_ENV": "prod"}, tmp_path)


def test_development_secrets_are_made_once_then_kept_private(tmp_path):
    first = load_config({}, tmp_path)
    second = load_config({}, tmp_path)
    assert first["AIDANTS_ENV"] == "development"
    secret_names = set(REQUIRED_IN_PRODUCTION) - {"DATABASE_URL", "PUBLIC_URL"}
    for name in secret_names:
        assert first[name] and first[name] == second[name], name
        assert first[name] not in TEST_SECRETS.values()
    assert first["PUBLIC_URL"] == "http://127.0.0.1:5000"  # never the request's Host (tests/test_web.py)
    assert load_config({"PORT": "8123"}, tmp_path)["PUBLIC_URL"] == "http://127.0.0.1:8123"
    path = tmp_path / "dev-secrets.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert set(json.loads(path.read_text())) == secret_names
    assert load_config({"SECRET_KEY": "given"}, tmp_path)["SECRET_KEY"] == "given"


# --- real starts ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["SECRET_KEY", "SEED_ENCRYPTION_KEYS", "DATABASE_URL"])
def test_wsgi_import_refuses_with_one_clear_line(database_url, tmp_path, missing):
    result = run([sys.executable, "-c", "import wsgi"], production_environ(database_url, tmp_path, **{missing: None}))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = our_lines(result.stderr)
    assert len(lines) == 1 and result.stderr.strip() == lines[0], result.stderr
    assert missing in lines[0] and "production" in lines[0]


def test_gunicorn_refuses_to_start_and_stops_instead_of_retrying(database_url, tmp_path):
    environ = production_environ(database_url, tmp_path, SECRET_KEY=None, SEED_ENCRYPTION_KEYS=None)
    checked = run([str(BIN / "gunicorn"), "--check-config", "wsgi:app"], environ)
    assert checked.returncode != 0
    assert our_lines(checked.stderr) == [
        "aidants: refusing to start in production: missing environment variable(s) SECRET_KEY, SEED_ENCRYPTION_KEYS"
    ]
    # A real start: gunicorn.conf.py's on_starting hook refuses in the master, before any worker or port.
    started = run([str(BIN / "gunicorn"), "--bind", "127.0.0.1:0", "--workers", "2", "--no-control-socket",
                   "wsgi:app"], environ)
    assert started.returncode == 1
    assert our_lines(started.stderr) == [
        "aidants: refusing to start in production: missing environment variable(s) SECRET_KEY, SEED_ENCRYPTION_KEYS"
    ]
    assert "Booting worker" not in started.stderr and "Traceback" not in started.stderr


def test_production_with_every_secret_serves_requests_under_gunicorn(database_url, tmp_path):
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--bind", "127.0.0.1:0", "--workers", "1", "--no-control-socket", "wsgi:app"],
        env=production_environ(database_url, tmp_path), cwd=ROOT, stderr=subprocess.PIPE, text=True,
    )
    watchdog = threading.Timer(TIMEOUT, process.kill)
    watchdog.start()
    try:
        assert process.stderr is not None
        address = None
        for line in process.stderr:
            found = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", line)
            if found:
                address = found.group(1)
                break
        assert address, "gunicorn did not start listening"
        # The connection waits in the listen queue until the worker has loaded the app: no sleeping needed.
        with urllib.request.urlopen(f"{address}/healthz", timeout=TIMEOUT) as response:  # noqa: S310 (local URL)
            assert response.status == 200
            assert json.load(response) == {"status": "ok", "database": "ok", "broker": "ok"}
            assert "max-age" in response.headers["Strict-Transport-Security"]
    finally:
        watchdog.cancel()
        process.terminate()
        process.communicate(timeout=TIMEOUT)


def test_development_commands_are_refused_in_production(database_url, tmp_path):
    environ = production_environ(database_url, tmp_path)
    for command in (["totp-code", "camille@demo.example.org"], ["demo"]):
        result = run([str(BIN / "aidants"), *command], environ)
        assert result.returncode != 0, command
        assert "Commande refusée en production." in result.stderr, command
