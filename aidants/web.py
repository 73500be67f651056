"""Cross-cutting web concerns: the signed-in aidant, access decorators, security headers, errors, health."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Flask,
    Response,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError
from itsdangerous import URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from aidants import clock, csrf, db, errors, input_guard
from aidants.accounts import services as accounts
from aidants.redispatch import RETRYABLE_KEY

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

DSFR_DIST = Path(__file__).resolve().parent.parent / "node_modules" / "@gouvfr" / "dsfr" / "dist"

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "report-uri /csp-report",
])


def init_app(app: Flask) -> None:
    """Install the hooks, error pages and the few routes that belong to no area."""
    build_external_urls_from_public_url(app)
    app.session_interface = SessionCookies()
    input_guard.init_app(app)
    app.before_request(load_current_aidant)
    app.after_request(security_headers)
    app.after_request(end_unit_of_work)  # registered last, so it runs first: its error page gets the headers
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(CSRFError, csrf_error)
    app.register_error_handler(errors.DomainError, domain_error)
    app.register_error_handler(Exception, unexpected_error)
    app.add_url_rule("/healthz", "healthz", healthz)
    app.add_url_rule("/csp-report", "csp_report", csp_report, methods=["POST"])
    app.add_url_rule("/static/dsfr/<path:filename>", "dsfr", dsfr_asset)
    csrf.exempt("aidants.web.csp_report")
    app.context_processor(lambda: {"current_aidant": g.get("aidant")})


def load_current_aidant() -> None:
    """Resolve the session cookie into ``g.aidant`` and ``g.aidant_session``."""
    g.aidant, g.aidant_session = None, None
    token = session.get("sid")
    if not token or request.endpoint in ("static", "dsfr", "healthz"):
        return
    current = accounts.authenticate(token, clock.now())
    if current is None:
        session.pop("sid", None)
        return
    # Activity bookkeeping in its own short transaction: kept whatever the view answers.
    db.save_independently(current)
    g.aidant, g.aidant_session = current.aidant, current


def end_unit_of_work(response: Response) -> Response:
    """The request's one transaction boundary (``db.end_unit_of_work``); a failing commit becomes its page."""
    try:
        db.end_unit_of_work(response.status_code)
    except Exception as exc:  # the commit (or an after-commit step) failed: nothing was sent yet
        db.discard()
        return make_response(unexpected_error(exc))
    return response


def login_required(view: F) -> F:
    """Send anonymous visitors to the sign-in page, then back here."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("aidant") is None:
            return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def sensitive(view: F) -> F:
    """Signed in, and the TOTP code asked again after 15 minutes without activity."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("aidant") is None:
            return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
        if accounts.needs_reauth(g.aidant_session, clock.now()):
            return redirect(url_for("accounts.reverify", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def staff_required(view: F) -> F:
    """Signed in, recently verified, and a member of the national staff (403 otherwise)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("aidant") is not None and not g.aidant.is_staff:
            abort(403)
        return sensitive(view)(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def referent_required(view: F) -> F:
    """Signed in, recently verified, and référent of at least one structure (403 otherwise).

    Which structure a référent may act on is checked by the services, for each object.
    """

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("aidant") is not None and not g.aidant.referent_of:
            abort(403)
        return sensitive(view)(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def safe_next(target: str | None, default: str) -> str:
    """A same-site path to go back to; anything else (other hosts, schemes) becomes ``default``."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target


def public_url() -> str:
    """The service's public base URL: PUBLIC_URL, or its development default (aidants.config), never Host.

    Links in emails, the OIDC issuer and attestation QR codes use it, so that a forged Host
    header cannot put another site's address in them.
    """
    return str(current_app.config["PUBLIC_URL"]).rstrip("/")


def build_external_urls_from_public_url(app: Flask) -> None:
    """Make every ``url_for(..., _external=True)`` (and redirects) name PUBLIC_URL's host, not the request's."""
    make_adapter = app.create_url_adapter

    def create_url_adapter(request: Any) -> Any:
        adapter = make_adapter(request)
        if adapter is not None and request is not None:
            parts = urlsplit(str(app.config["PUBLIC_URL"]))
            if parts.scheme and parts.netloc:
                adapter.server_name, adapter.url_scheme = parts.netloc, parts.scheme
        return adapter

    app.create_url_adapter = create_url_adapter  # type: ignore[method-assign]


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute URL under ``public_url()``."""
    return public_url() + url_for(endpoint, **values)


def client_ip() -> str:
    """The client address (behind TRUST_PROXY_HOPS proxies, as ProxyFix resolved it)."""
    return request.remote_addr or "unknown"


def security_headers(response: Response) -> Response:
    """Strict CSP without 'unsafe-inline', no framing, no sniffing, a discreet referrer."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if g.get("aidant") is not None:
        response.headers["Cache-Control"] = "no-store"
    if current_app.config["ENV_IS_PRODUCTION"]:
        response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return response


ERROR_TITLES = {
    400: "Requête invalide",
    403: "Accès refusé",
    404: "Page introuvable",
    405: "Méthode non autorisée",
    413: "Envoi trop volumineux",
    429: "Trop de tentatives",
    500: "Erreur du service",
    503: "Service indisponible",
}


def render_error(status: int, message: str) -> tuple[str, int]:
    """An error page in French, with the status code."""
    title = ERROR_TITLES.get(status, "Erreur")
    return render_template("errors/error.html", status=status, title=title, message=message), status


def http_error(error: HTTPException) -> Any:
    if error.code is None or error.code < 400:
        return error
    messages = {
        404: "La page demandée n'existe pas ou a été déplacée.",
        403: "Vous n'avez pas accès à cette page.",
        405: "Cette adresse ne s'utilise pas ainsi.",
        413: "Le fichier ou le formulaire envoyé est trop volumineux.",
    }
    message = messages.get(error.code, "La requête n'a pas pu être traitée.")
    if isinstance(error, input_guard.MalformedInput):
        message = str(error.description)
    body, status = render_error(error.code, message)
    response = make_response(body, status)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)  # required on a 405 (RFC 9110)
    return response


def csrf_error(_error: CSRFError) -> Any:
    return render_error(400, "Le formulaire a expiré ou n'a pas été envoyé depuis ce site. "
                             "Rechargez la page et réessayez.")


def domain_error(error: errors.DomainError) -> Any:
    """Every refusal of the rules, rendered here: its French message and its status (so nothing is kept)."""
    if error.status >= 500:
        g.aidant = None  # the page must not need the database that just failed
    response = make_response(render_error(error.status, error.message))
    if error.retry_after:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def unexpected_error(error: Exception) -> Any:
    """Database faults become 503 with Retry-After (a deadlock first asks for one re-run); the rest is a bug."""
    db.discard()
    if errors.is_retryable_chain(error):
        request.environ[RETRYABLE_KEY] = True
    mapped = errors.as_domain_error(error)
    if mapped is not None:
        log.warning("%s %s answered %s: %s", request.method, request.path, mapped.status,
                    type(getattr(error, "orig", None) or error).__name__)
        return domain_error(mapped)
    log.exception("unexpected error on %s %s", request.method, request.path, exc_info=error)
    g.aidant = None
    return render_error(500, "Une erreur inattendue s'est produite. Rien n'a été enregistré ; "
                             "réessayez dans un instant.")


def healthz() -> tuple[dict[str, str], int, dict[str, str]]:
    """200 when the database answers within a second (``degraded`` without a broker: mail waits in the
    outbox), 503 otherwise; never waits for a writer (no lock taken)."""
    from aidants.jobs.engine import broker_status

    try:
        with db.engine().connect() as connection, connection.begin():  # SET LOCAL ends with this transaction
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SET LOCAL statement_timeout = 1000"))
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        log.warning("health check: database unreachable")
        return {"status": "error", "database": "unreachable"}, 503, {"Retry-After": "10"}
    broker = broker_status()
    return ({"status": "ok" if broker == "ok" else "degraded", "database": "ok", "broker": broker}, 200,
            {"Cache-Control": "no-store"})


def csp_report() -> tuple[str, int]:
    """Log CSP violations reported by browsers, for the operator."""
    body = request.get_data(as_text=True)[:2000]
    log.warning("CSP violation reported: %s", body, extra={"csp_report": body})
    return "", 204


def dsfr_asset(filename: str) -> Response:
    """The DSFR assets installed by ``npm ci`` (the version pinned in package.json)."""
    if not DSFR_DIST.is_dir():
        abort(404)
    response = send_from_directory(DSFR_DIST, filename, max_age=86400)
    return response


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed cookie session, with its serializer built once per key instead of twice per request.

    Flask builds a new ``URLSafeTimedSerializer`` to open the session and another to save it, in every
    request, cookie or not; building one serializes a probe value and derives nothing useful twice. The
    serializer holds no per-request state, so one per (secret key, fallback keys) serves every thread; a
    changed key (tests, rotation with fallbacks) gets its own.
    """

    def __init__(self) -> None:
        self._serializers: dict[tuple[Any, ...], URLSafeTimedSerializer | None] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        key = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if key not in self._serializers:  # two threads at once build two equal serializers: harmless
            self._serializers[key] = super().get_signing_serializer(app)
        return self._serializers[key]
