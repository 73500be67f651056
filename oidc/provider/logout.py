"""RP-initiated logout's rules: which client asks, where to return, whether the hint names this session."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import quote

from werkzeug.datastructures import MultiDict

from aidants.accounts.models import AidantSession
from aidants.security import jose
from oidc.provider import authorize, tokens
from oidc.provider.server import query_client
from oidc.provider.store import ClientRecord


class LogoutError(Exception):
    """A logout request that cannot be followed (message in French for our page)."""


@dataclass(frozen=True)
class Ending:
    """A checked logout request: the client, the registered return URI and whether to end at once."""

    client: ClientRecord | None
    target: str
    state: str
    confirmed: bool  # the hint is fresh, ours, and names this browser's session

    def redirect_url(self) -> str:
        if not self.state:
            return self.target
        separator = "&" if "?" in self.target else "?"
        return f"{self.target}{separator}state={quote(self.state, safe='')}"


def read(args: MultiDict[str, str], current: AidantSession | None, now: dt.datetime) -> Ending:
    """Check a logout request (query or confirmation form)."""
    hint = args.get("id_token_hint", "")
    payload: dict[str, object] = {}
    expired = False
    if hint:
        try:
            payload = jose.verify_jwt(hint, accept_expired=True, now=now)
        except jose.InvalidJWT:
            raise LogoutError("La demande de déconnexion n'est pas valable (jeton invalide).") from None
        if payload.get("iss") != tokens.issuer():
            raise LogoutError("La demande de déconnexion ne vient pas d'un service reconnu.")
        expires = payload.get("exp")
        expired = not isinstance(expires, int | float) or expires <= now.timestamp()
    client_id = str(payload.get("aud") or args.get("client_id", ""))
    client = query_client(client_id) if client_id else None
    if client_id and client is None:
        raise LogoutError("La demande de déconnexion ne vient pas d'un service reconnu.")
    target = args.get("post_logout_redirect_uri", "")
    if target and (client is None or not client.check_post_logout_redirect_uri(target)):
        raise LogoutError("L'adresse de retour après déconnexion n'est pas enregistrée pour ce service.")
    confirmed = (bool(hint) and not expired and current is not None
                 and payload.get("sid") == authorize.session_sid(current))
    return Ending(client, target, args.get("state", ""), confirmed)
