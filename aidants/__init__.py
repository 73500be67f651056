"""Aidants Connect-like mandate service: the application factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from flask_babel import Babel
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from aidants import clock, db, logs, typography
from aidants.config import load_config
from aidants.redispatch import RetryOnConflict
from aidants.routing import LazyBuilderRule, fixed_link
from aidants.security.crypto import KeyRing

ROOT = Path(__file__).resolve().parent.parent
csrf = CSRFProtect()
babel = Babel()


def create_app(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> Flask:
    """Build the app: config → extensions → database → blueprints (the CLI is aidants.cli)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=os.environ.get("AIDANTS_INSTANCE", str(ROOT / "instance")),
    )
    app.url_rule_class = LazyBuilderRule  # URL builders compiled on first use, not at boot (aidants.routing)
    app.add_template_global(fixed_link)  # the layout's links, built once per worker (aidants.routing)
    app.config.update(load_config(environ if environ is not None else os.environ, Path(app.instance_path)))
    app.config.update(overrides or {})
    _configure_logging(app)
    app.extensions["seed_keyring"] = KeyRing.parse(app.config["SEED_ENCRYPTION_KEYS"])
    app.extensions.setdefault("clock", clock.SystemClock())
    if app.config["TRUST_PROXY_HOPS"]:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=app.config["TRUST_PROXY_HOPS"], x_proto=app.config["TRUST_PROXY_HOPS"]
        )
    app.wsgi_app = RetryOnConflict(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])  # type: ignore[method-assign]
    csrf.init_app(app)
    _french_form_messages()
    babel.init_app(app)
    typography.init_app(app)
    db.init_app(app)
    from aidants.jobs import engine as jobs_engine

    jobs_engine.init_app(app)
    _register_blueprints(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from aidants import web
    from aidants.accounts.views import bp as accounts_bp

    web.init_app(app)
    app.register_blueprint(accounts_bp)
    from aidants.accounts.activation_views import bp as activation_bp

    app.register_blueprint(activation_bp)
    from aidants.mandats.views import bp as mandats_bp
    from aidants.signing.views import bp as keys_bp

    app.register_blueprint(mandats_bp)
    app.register_blueprint(keys_bp)
    from aidants.staff.views import bp as staff_bp
    from aidants.stats.views import bp as stats_bp

    app.register_blueprint(staff_bp)
    from aidants.journal.views import bp as journal_bp

    app.register_blueprint(journal_bp)
    from aidants.staff.people_views import bp as staff_people_bp

    app.register_blueprint(staff_people_bp)
    app.register_blueprint(stats_bp)
    from aidants.jobs.views import bp as jobs_bp

    app.register_blueprint(jobs_bp)
    from aidants.habilitation.staff_views import bp as staff_habilitation_bp
    from aidants.habilitation.views import bp as habilitation_bp

    app.register_blueprint(habilitation_bp)
    app.register_blueprint(staff_habilitation_bp)
    from aidants.referents.views import bp as referents_bp

    app.register_blueprint(referents_bp)
    from aidants.legal.views import bp as legal_bp

    app.register_blueprint(legal_bp)
    from aidants.espace_usager.public_views import bp as credentials_bp
    from aidants.espace_usager.views import bp as usager_bp

    app.register_blueprint(usager_bp)
    app.register_blueprint(credentials_bp)
    from oidc.client.views import bp as franceconnect_bp

    app.register_blueprint(franceconnect_bp)
    from oidc.provider import server as oidc_server
    from oidc.provider.views import bp as provider_bp

    oidc_server.init_app(app)
    app.register_blueprint(provider_bp)
    if app.config["FC_SANDBOX"] and not app.config["ENV_IS_PRODUCTION"]:
        from oidc.sandbox.franceconnect import bp as fc_sandbox_bp

        app.register_blueprint(fc_sandbox_bp)
        from oidc.sandbox.service import bp as sandbox_service_bp

        app.register_blueprint(sandbox_service_bp)
    if app.config["DEV_OUTBOX"]:
        from aidants.dev_views import bp as dev_bp

        app.register_blueprint(dev_bp)


def _french_form_messages() -> None:
    """WTForms' own messages in French, from a catalogue read once per process.

    Flask-WTF's translations (``WTF_I18N_ENABLED``, off in aidants.config) read and parse the catalogue
    again in every request that builds a form (about 1.5 ms); it never changes while the process runs,
    and the interface is in French only. WTForms caches it per locale when a form's Meta names one.
    """
    FlaskForm.Meta.locales = ("fr_FR", "fr")


def _configure_logging(app: Flask) -> None:
    """One event per line on stderr (JSON in production, plain in development), values escaped; never secrets."""
    logs.configure(app.config.get("LOG_FORMAT", "plain"), os.environ.get("LOG_LEVEL", "INFO"))
