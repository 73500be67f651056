"""The authorization code flow with FranceConnect: the request, the callback, the logout.

What passes from the request to the callback (state, nonce, issuer, aidant, time)
is a ``Pending`` kept in the aidant's signed session cookie: it works across
workers, and is popped by the callback, so a callback is accepted once, in the
browser that started it, for the aidant who started it.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from aidants.security import crypto
from oidc.client import discovery
from oidc.client.settings import Settings
from oidc.client.tokens import TokenError, Verifier

if TYPE_CHECKING:
    # Imported where used: ``requests`` and authlib's requests client cost about 0.1 s at each worker's
    # start, and only the few requests that talk to FranceConnect need them.
    from authlib.integrations.requests_client import OAuth2Session

log = logging.getLogger(__name__)

#: How long the usager may take at FranceConnect before the callback is refused.
PENDING_TTL = dt.timedelta(minutes=20)
#: FranceConnect asks for a nonce of at least 22 characters; ours carry 256 bits.
NONCE_BYTES = 32


class FranceConnectError(Exception):
    """An identification that must be refused; ``reason`` is for logs, ``kind`` picks the French page."""

    def __init__(self, kind: str, reason: str | None = None, status: int = 400) -> None:
        super().__init__(reason or kind)
        self.kind, self.reason, self.status = kind, reason or kind, status


@dataclass(frozen=True)
class Pending:
    """An identification started in this browser and not yet returned."""

    state: str
    nonce: str
    issuer: str
    aidant_id: int
    started_at: float
    #: "mandat": an aidant identifies a usager at the desk; "usager": a usager signs in to their space.
    purpose: str = "mandat"

    def as_session(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_session(cls, data: Any) -> Pending | None:
        """The pending identification kept in the session, or None when there is none (or it is garbled)."""
        if not isinstance(data, dict):
            return None
        try:
            return cls(state=str(data["state"]), nonce=str(data["nonce"]), issuer=str(data["issuer"]),
                       aidant_id=int(data["aidant_id"]), started_at=float(data["started_at"]),
                       purpose=str(data.get("purpose", "mandat")))
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Identity:
    """What FranceConnect told us: the userinfo claims, and the ID token for the logout."""

    claims: dict[str, Any]
    id_token: str
    acr: str


def _metadata(settings: Settings) -> dict[str, Any]:
    try:
        return discovery.metadata(settings)
    except discovery.Unreachable as exc:
        raise FranceConnectError("unreachable", f"discovery:{exc.reason}", 503) from exc


def begin(settings: Settings, aidant_id: int, now: dt.datetime, purpose: str = "mandat") -> tuple[str, Pending]:
    """The URL of FranceConnect's authorization endpoint, and what to keep until the callback."""
    from authlib.integrations.requests_client import OAuth2Session

    endpoint = _metadata(settings)["authorization_endpoint"]
    pending = Pending(state=crypto.new_token(), nonce=secrets.token_urlsafe(NONCE_BYTES), issuer=settings.issuer,
                      aidant_id=aidant_id, started_at=now.timestamp(), purpose=purpose)
    with OAuth2Session(settings.client_id, redirect_uri=settings.redirect_uri, scope=settings.scopes) as client:
        url, _ = client.create_authorization_url(endpoint, state=pending.state, nonce=pending.nonce,
                                                 acr_values=settings.acr_values, prompt="login")
    return url, pending


def check_callback(settings: Settings, pending: Pending | None, args: Mapping[str, str], aidant_id: int,
                   now: dt.datetime) -> str:
    """Check that this callback answers the request this browser made; return the code."""
    if pending is None:
        raise FranceConnectError("no_pending")
    if pending.purpose == "mandat" and pending.aidant_id != aidant_id:
        raise FranceConnectError("other_aidant")
    if not crypto.equal(args.get("state", ""), pending.state):
        raise FranceConnectError("state")
    if pending.issuer != settings.issuer:
        raise FranceConnectError("state", "issuer_changed")
    started = dt.datetime.fromtimestamp(pending.started_at, dt.UTC)
    if not started - dt.timedelta(minutes=1) <= now <= started + PENDING_TTL:
        raise FranceConnectError("too_late")
    if "iss" in args and args["iss"] != settings.issuer:
        raise FranceConnectError("invalid", "authorization_response_iss")
    error = args.get("error")
    if error:
        raise FranceConnectError("access_denied" if error == "access_denied" else "provider_error",
                                 f"provider_error:{error[:50]}")
    code = args.get("code", "")
    if not code or len(code) > 2048:
        raise FranceConnectError("invalid", "missing_code")
    return code


def complete(settings: Settings, pending: Pending | None, args: Mapping[str, str], aidant_id: int,
             now: dt.datetime) -> Identity:
    """Turn a callback into a verified identity: code → tokens → ID token → signed userinfo."""
    import requests
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.requests_client import OAuth2Session

    code = check_callback(settings, pending, args, aidant_id, now)
    assert pending is not None
    meta = _metadata(settings)
    verifier = Verifier(issuer=settings.issuer, client_id=settings.client_id,
                        client_secret=settings.client_secret, algorithms=settings.algorithms,
                        jwks=lambda refresh: _jwks(settings, refresh))
    with OAuth2Session(settings.client_id, settings.client_secret,
                       token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method's name)
                       redirect_uri=settings.redirect_uri, leeway=5, default_timeout=settings.timeout) as client:
        try:
            token = client.fetch_token(meta["token_endpoint"], grant_type="authorization_code", code=code,
                                       allow_redirects=False)
        except OAuthError as exc:
            raise FranceConnectError("invalid", f"token_endpoint:{exc.error}") from exc
        except (requests.RequestException, ValueError) as exc:
            raise FranceConnectError("unreachable", "token_endpoint_unreachable", 503) from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str) or str(token.get("token_type", "")).lower() != "bearer":
            raise FranceConnectError("invalid", "token_response_incomplete")
        try:
            id_claims = verifier.id_token(id_token, nonce=pending.nonce, now=now, acr_values=settings.acr_values)
            signed_userinfo = _userinfo(client, meta["userinfo_endpoint"])
            claims = verifier.userinfo(signed_userinfo, sub=id_claims["sub"])
        except TokenError as exc:
            kind = {"id_token_expired": "expired", "id_token_acr": "acr"}.get(exc.reason, "invalid")
            raise FranceConnectError(kind, exc.reason) from exc
    return Identity(claims=claims, id_token=id_token, acr=id_claims["acr"])


def _jwks(settings: Settings, refresh: bool) -> Mapping[str, Any]:
    try:
        return discovery.jwks(settings, refresh)
    except discovery.Unreachable as exc:
        raise FranceConnectError("unreachable", f"jwks:{exc.reason}", 503) from exc


def _userinfo(client: OAuth2Session, endpoint: str) -> str:
    """FranceConnect v2's userinfo answer: a signed JWT (an unsigned JSON answer is refused)."""
    import requests
    from authlib.integrations.base_client import OAuthError

    try:
        response = client.get(endpoint, allow_redirects=False, headers={"Accept": "application/jwt"})
    except (requests.RequestException, OAuthError) as exc:
        raise FranceConnectError("unreachable", "userinfo_unreachable", 503) from exc
    if response.status_code != 200:
        raise FranceConnectError("invalid", f"userinfo_status_{response.status_code}")
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != "application/jwt" or len(response.content) > discovery.MAX_BODY:
        raise FranceConnectError("invalid", "userinfo_not_signed")
    return response.text.strip()


def end_session_url(settings: Settings, id_token: str, state: str) -> str | None:
    """Where to send the browser to log the usager out of FranceConnect (None when it has no logout)."""
    endpoint = _metadata(settings).get("end_session_endpoint")
    if not isinstance(endpoint, str) or urlsplit(endpoint).scheme not in ("http", "https"):
        return None
    query = urlencode({"id_token_hint": id_token, "state": state,
                       "post_logout_redirect_uri": settings.post_logout_redirect_uri})
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
