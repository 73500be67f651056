"""Cross-cutting web behaviour: security headers, health check, French error pages, CSRF, DSFR assets."""

from __future__ import annotations

import html
import io
import itertools
import json
import re
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from aidants import create_app, web
from aidants.jobs import delivery
from tests.conftest import PRODUCTION_SECRETS, build_app, require
from tests.factories import last_login_path, make_aidant, sign_in
from tests.test_config import PRODUCTION_SETTINGS

ROOT = Path(__file__).resolve().parent.parent

EXPECTED_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "report-uri": ["/csp-report"],
}

#: POST endpoints that take no CSRF token, each with the reason. A new exemption must be added here, on purpose.
CSRF_EXEMPT = {
    "csp_report": "browsers post CSP reports on their own, without any token",
    "fc_sandbox.token": "OAuth back channel: the relying party authenticates with its client secret, no cookie",
    "fc_sandbox.userinfo": "OAuth back channel: a bearer access token, no cookie",
    "oidc_provider.token": "OAuth back channel: the client authenticates with its secret or PKCE, no cookie",
    "oidc_provider.userinfo": "OAuth back channel: a bearer access token, no cookie",
}


def text(response: TestResponse) -> str:
    """The page as a reader sees it (entities such as &#39; decoded)."""
    return html.unescape(response.get_data(as_text=True))


def parse_csp(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            assert words[0] not in directives, f"directive {words[0]} given twice"
            directives[words[0]] = words[1:]
    return directives


def production_app(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The app as production builds it: every secret given, nothing generated."""
    monkeypatch.setenv("AIDANTS_INSTANCE", str(tmp_path / "instance-prod"))
    environ = {**PRODUCTION_SETTINGS, "DATABASE_URL": database_url, **PRODUCTION_SECRETS}
    return create_app({"TESTING": True}, environ=environ)


# --- security headers -------------------------------------------------------------------------------------------


def test_pages_carry_a_strict_csp_and_the_security_headers(client):
    response = client.get("/connexion")
    assert response.status_code == 200
    csp = parse_csp(response.headers["Content-Security-Policy"])
    assert csp == EXPECTED_CSP
    assert not any("unsafe" in source for sources in csp.values() for source in sources)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] in ("same-origin", "strict-origin-when-cross-origin", "no-referrer")
    assert "Strict-Transport-Security" not in response.headers  # development and tests run on plain HTTP


def test_error_pages_and_assets_carry_the_headers_too(client):
    for path in ("/nulle-part", "/healthz"):
        response = client.get(path)
        assert parse_csp(response.headers["Content-Security-Policy"]) == EXPECTED_CSP, path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path


def test_signed_in_pages_are_not_cached(client, fixed_clock):
    who = make_aidant(fixed_clock.now())
    sign_in(client, who, fixed_clock.now())
    assert client.get("/espace-aidant").headers["Cache-Control"] == "no-store"


def test_production_adds_hsts_and_secure_cookies(database_url, tmp_path, monkeypatch):
    app = production_app(database_url, tmp_path, monkeypatch)
    try:
        response = app.test_client().get("/connexion", base_url="https://aidants.example")
        assert response.status_code == 200
        hsts = response.headers["Strict-Transport-Security"]
        assert re.fullmatch(r"max-age=(\d+); includeSubDomains", hsts)
        assert int(hsts.split("=")[1].split(";")[0]) >= 31536000  # at least a year
        assert parse_csp(response.headers["Content-Security-Policy"]) == EXPECTED_CSP
        assert app.config["SESSION_COOKIE_SECURE"] is True
    finally:
        app.extensions["db_engine"].dispose()


# --- health check -----------------------------------------------------------------------------------------------


def test_healthz_answers_200_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_reports_a_broker_that_does_not_answer(database_url, tmp_path):
    app = build_app(database_url, tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    try:
        response = app.test_client().get("/healthz")
        assert response.status_code == 200  # the web still works: mail waits in the outbox
        assert response.get_json() == {"status": "degraded", "database": "ok", "broker": "unreachable"}
    finally:
        app.extensions["db_engine"].dispose()


def unreachable_database_urls(database_url: str, tmp_path: Path) -> list[str]:
    urls = [f"sqlite:///{tmp_path / 'no-such-directory' / 'db.sqlite3'}"]
    if database_url.startswith("postgresql"):
        missing = f"aidants_absent_{uuid.uuid4().hex[:8]}"
        urls.append(sa.make_url(database_url).set(database=missing).render_as_string(hide_password=False))
    return urls


def test_healthz_answers_503_when_the_database_is_down(database_url, tmp_path):
    for url in unreachable_database_urls(database_url, tmp_path):
        app = build_app(url, tmp_path)
        try:
            response = app.test_client().get("/healthz")
            assert response.status_code == 503, url
            assert response.get_json() == {"status": "error", "database": "unreachable"}
        finally:
            app.extensions["db_engine"].dispose()


# --- error pages in French --------------------------------------------------------------------------------------


def test_unknown_page_gives_a_french_404(client):
    response = client.get("/cette-page-n-existe-pas")
    page = text(response)
    assert response.status_code == 404
    assert '<html lang="fr"' in page
    assert "Page introuvable" in page and "La page demandée n'existe pas" in page


def test_wrong_method_gives_a_french_405_that_names_the_allowed_methods(client):
    response = client.get("/deconnexion")
    page = text(response)
    assert response.status_code == 405
    assert "Méthode non autorisée" in page
    assert "POST" in response.headers["Allow"]


def test_oversized_request_gives_a_french_413_not_a_500(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == 2 * 1024 * 1024
    response = client.post("/connexion", data={"email": "a" * (limit + 1), "code": "123456"})
    page = text(response)
    assert response.status_code == 413
    assert "Envoi trop volumineux" in page and "trop volumineux" in page
    upload = client.post("/connexion", data={"fichier": (io.BytesIO(b"x" * (limit + 1)), "f.csv")},
                         content_type="multipart/form-data")
    assert upload.status_code == 413


def test_unexpected_error_gives_a_french_500_without_details(app, client):
    def broken() -> str:
        raise RuntimeError("secret internal detail")

    app.add_url_rule("/_test/casse", "test_broken", broken)
    response = client.get("/_test/casse")
    page = text(response)
    assert response.status_code == 500
    assert "Une erreur inattendue s'est produite" in page
    assert "secret internal detail" not in page and "Traceback" not in page


# --- CSRF on every form -----------------------------------------------------------------------------------------


def post_path(app: Flask, rule: Rule) -> str:
    """A concrete path that this POST rule matches (placeholders filled with values their converters accept)."""
    adapter = app.url_map.bind("localhost")
    names = sorted(rule.arguments)
    for combination in itertools.product(["1", str(uuid.UUID(int=1)), "x"], repeat=len(names)):
        path = adapter.build(rule.endpoint, dict(zip(names, combination, strict=True)), method="POST")
        try:
            if adapter.match(path, method="POST")[0] == rule.endpoint:
                return path
        except HTTPException:
            continue
    raise AssertionError(f"cannot build a path for {rule.rule}: teach post_path() its converter")


def post_rules(app: Flask) -> list[Rule]:
    return [rule for rule in app.url_map.iter_rules() if "POST" in (rule.methods or set())]


def test_every_post_route_refuses_a_request_without_csrf_token(database_url, tmp_path, fixed_clock):
    app = build_app(database_url, tmp_path, WTF_CSRF_ENABLED=True)
    try:
        rules = post_rules(app)
        endpoints = {rule.endpoint for rule in rules}
        assert {"accounts.login", "accounts.logout"} <= endpoints  # the enumeration sees the app's forms
        assert set(CSRF_EXEMPT) <= endpoints, "a CSRF exemption names a route that no longer exists"
        client = app.test_client()
        unprotected = []
        for rule in rules:
            if rule.endpoint in CSRF_EXEMPT:
                continue
            path = post_path(app, rule)
            response = client.post(path, data={"email": "a@exemple.fr", "code": "123456"})
            if response.status_code != 400 or "Le formulaire a expiré" not in text(response):
                unprotected.append(f"POST {path} ({rule.endpoint}) answered {response.status_code}")
        assert unprotected == [], ("accepted without a CSRF token (protect them, or list them in CSRF_EXEMPT "
                                   "with the reason):\n" + "\n".join(unprotected))
    finally:
        app.extensions["db_engine"].dispose()


def test_csrf_token_from_the_form_is_accepted(database_url, tmp_path):
    app = build_app(database_url, tmp_path, WTF_CSRF_ENABLED=True)
    try:
        client = app.test_client()
        page = client.get("/connexion").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token, page
        response = client.post("/connexion", data={"csrf_token": token.group(1), "email": "x@exemple.fr",
                                                   "code": "123456"})
        assert response.status_code == 200
        assert "Adresse e-mail ou code incorrect" in text(response)
    finally:
        app.extensions["db_engine"].dispose()


def test_csp_reports_are_accepted_without_token(database_url, tmp_path, caplog):
    app = build_app(database_url, tmp_path, WTF_CSRF_ENABLED=True)
    try:
        report = {"csp-report": {"violated-directive": "script-src", "blocked-uri": "inline"}}
        response = app.test_client().post("/csp-report", data=json.dumps(report),
                                          content_type="application/csp-report")
        assert response.status_code == 204
        assert any("CSP violation reported" in record.getMessage() for record in caplog.records)
    finally:
        app.extensions["db_engine"].dispose()


# --- development-only pages, French UI, DSFR ---------------------------------------------------------------------


def test_dev_outbox_exists_in_development_only(client, database_url, tmp_path, monkeypatch):
    assert client.get("/dev/outbox").status_code == 200
    app = production_app(database_url, tmp_path, monkeypatch)
    try:
        assert app.config["DEV_OUTBOX"] is False
        assert not any(rule.rule.startswith("/dev") for rule in app.url_map.iter_rules())
        response = app.test_client().get("/dev/outbox")
        assert response.status_code == 404
        assert "Page introuvable" in text(response)
    finally:
        app.extensions["db_engine"].dispose()


def test_dates_are_shown_in_french(client, fixed_clock):
    who = make_aidant(fixed_clock.now())  # its device is activated at START, 27 November 2026
    sign_in(client, who, fixed_clock.now())
    page = client.get("/espace-aidant").get_data(as_text=True)
    assert "27 novembre 2026" in page


def dsfr_pin() -> str:
    return json.loads((ROOT / "package.json").read_text())["dependencies"]["@gouvfr/dsfr"]


def test_dsfr_is_pinned_and_served(client):
    pin = dsfr_pin()
    assert re.fullmatch(r"\d+\.\d+\.\d+", pin), f"@gouvfr/dsfr must be pinned to an exact version, not {pin}"
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@gouvfr/dsfr"]["version"] == pin
    require(web.DSFR_DIST.is_dir(), "the DSFR is not installed: run `npm ci --ignore-scripts` (make install)")
    installed = json.loads((web.DSFR_DIST.parent / "package.json").read_text())["version"]
    assert installed == pin, f"node_modules holds DSFR {installed}, package.json pins {pin}: run npm ci"
    css = client.get("/static/dsfr/dsfr.min.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert f"DSFR v{pin}" in css.get_data(as_text=True)[:500]
    assert client.get("/static/dsfr/../../package.json").status_code == 404  # no escape from the dist folder


def test_every_asset_a_page_links_is_served(client):
    require(web.DSFR_DIST.is_dir(), "the DSFR is not installed: run `npm ci --ignore-scripts` (make install)")
    page = client.get("/connexion").get_data(as_text=True)
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert any(a.endswith("dsfr.min.css") for a in assets) and any(a.endswith(".js") for a in assets)
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        expected = {"css": ["text/css"], "js": ["text/javascript", "application/javascript"],
                    "svg": ["image/svg+xml"]}[asset.rsplit(".", 1)[1]]
        assert response.mimetype in expected, asset
        response.close()


INLINE_CODE = re.compile(
    r"""\sstyle\s*=|<style[\s>]|<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|javascript:""", re.IGNORECASE
)


def test_no_template_holds_inline_script_or_style():
    """The CSP would refuse them in the browser; this finds them in every template, visited by a test or not."""
    found = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        for number, line in enumerate(template.read_text(encoding="utf-8").splitlines(), 1):
            if INLINE_CODE.search(line):
                found.append(f"{template.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == [], "inline script or style (move it to static/):\n" + "\n".join(found)


def test_development_emails_go_to_the_console_and_the_outbox(client, fixed_clock, capsys):
    who = make_aidant(fixed_clock.now())
    client.post("/connexion", data={"email": who.aidant.email, "code": who.code(fixed_clock.now())})
    assert "email to" not in capsys.readouterr().out  # the request only queues it
    assert delivery.deliver_due().sent == 1  # what the worker's sweep does
    printed = capsys.readouterr().out
    link = re.search(r"http://localhost/connexion/lien/[\w-]+", printed)
    assert link and f"email to {who.aidant.email}" in printed
    outbox = text(client.get("/dev/outbox"))
    assert link.group(0) in outbox and who.aidant.email in outbox


def test_a_signed_in_page_that_changes_nothing_does_not_send_the_cookie_again(client, fixed_clock):
    who = make_aidant(fixed_clock.now())
    client.post("/connexion", data={"email": who.aidant.email, "code": who.code(fixed_clock.now())})
    signed_in = client.post(last_login_path(who.aidant.email))
    assert "aidants_session=" in signed_in.headers["Set-Cookie"]  # sign-in sets it, with its expiry
    client.get("/mentions-legales")  # the first page may keep the CSRF secret in the session: a change
    page = client.get("/mentions-legales")
    assert page.status_code == 200 and "Set-Cookie" not in page.headers
    assert client.get("/espace-aidant").status_code == 200  # and the cookie still signs the aidant in


def test_the_session_cookie_is_checked_with_the_current_secret_key(client, fixed_clock):
    who = make_aidant(fixed_clock.now())
    sign_in(client, who, fixed_clock.now())
    assert client.get("/espace-aidant").status_code == 200
    previous = client.application.secret_key
    client.application.secret_key = "another-secret-key-for-this-test"
    try:
        assert client.get("/espace-aidant").status_code == 302  # signed by the old key: not a session
        client.application.config["SECRET_KEY_FALLBACKS"] = [previous]
        assert client.get("/espace-aidant").status_code == 200  # the old key accepted as a fallback
    finally:
        client.application.secret_key = previous
        client.application.config["SECRET_KEY_FALLBACKS"] = []
