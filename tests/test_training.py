"""Training mode: the sandboxes, a banner on every page, real email, no /dev/outbox; the outbox is loopback-only."""

from __future__ import annotations

import os

import pytest

from aidants import create_app
from aidants.config import ConfigError, load_config
from tests.conftest import TEST_SECRETS, build_app

HOSTED = {**TEST_SECRETS, "PUBLIC_URL": "https://formation.aidants.example.org", "SMTP_HOST": "smtp.example.org"}


def training_app(database_url, tmp_path, **environ):  # type: ignore[no-untyped-def]
    os.environ["AIDANTS_INSTANCE"] = str(tmp_path / "instance")
    return create_app({"TESTING": True}, environ={"DATABASE_URL": database_url, **environ})


def test_a_training_site_needs_real_secrets_and_smtp(tmp_path):
    with pytest.raises(ConfigError, match=r"training site: missing .*SMTP_HOST"):
        load_config({"AIDANTS_ENV": "training", **TEST_SECRETS, "DATABASE_URL": "sqlite://",
                     "PUBLIC_URL": "https://f.example.org"}, tmp_path)
    with pytest.raises(ConfigError, match=r"cannot run with AIDANTS_ENV=production"):
        load_config({"AIDANTS_ENV": "production", "TRAINING_MODE": "true"}, tmp_path)


@pytest.mark.parametrize("environ", [{"AIDANTS_ENV": "training", **HOSTED},
                                     {"AIDANTS_ENV": "development", "TRAINING_MODE": "true", **TEST_SECRETS}])
def test_training_mode_serves_the_sandboxes_with_a_banner_and_no_outbox(database_url, tmp_path, environ):
    app = training_app(database_url, tmp_path, **environ)
    try:
        assert app.config["TRAINING_MODE"] and app.config["FC_SANDBOX"] and not app.config["DEV_OUTBOX"]
        assert app.config["FC_ISSUER"] == ""  # the built-in FranceConnect stand-in
        client = app.test_client()
        assert client.get("/dev/outbox").status_code == 404
        for path in ("/connexion", "/habilitation", "/sandbox/service/"):
            response = client.get(path)
            assert response.status_code == 200, path
            if "html" in response.content_type:
                assert "Site de formation : aucune donnée réelle" in response.get_data(as_text=True), path
    finally:
        app.extensions["db_engine"].dispose()


def test_no_banner_outside_training(client):
    assert "Site de formation" not in client.get("/connexion").get_data(as_text=True)


def test_the_development_outbox_answers_only_loopback_clients(database_url, tmp_path):
    app = build_app(database_url, tmp_path)
    try:
        client = app.test_client()
        for address, status in (("127.0.0.1", 200), ("::1", 200), ("10.0.0.5", 403), ("192.168.1.20", 403)):
            response = client.get("/dev/outbox", environ_base={"REMOTE_ADDR": address})
            assert response.status_code == status, address
    finally:
        app.extensions["db_engine"].dispose()
