"""The FranceConnect client's settings, from the app's configuration (FC_* variables).

Outside production an empty ``FC_ISSUER`` means the sandbox served by this very app:
its issuer is then this app's own URL, as the current request sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for

#: The sandbox's discovery endpoint (oidc.sandbox.franceconnect); named, not imported.
SANDBOX_DISCOVERY = "fc_sandbox.discovery"
WELL_KNOWN = "/.well-known/openid-configuration"


class NotConfigured(RuntimeError):
    """No FranceConnect to talk to (no FC_ISSUER and no sandbox)."""


@dataclass(frozen=True)
class Settings:
    """Everything the client needs to talk to one FranceConnect."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    post_logout_redirect_uri: str
    scopes: str
    acr_values: str
    algorithms: tuple[str, ...]
    timeout: tuple[float, float]

    @property
    def discovery_url(self) -> str:
        return self.issuer + WELL_KNOWN


def current() -> Settings:
    """The settings for the current request."""
    config = current_app.config
    issuer = config["FC_ISSUER"]
    if not issuer:
        if not config["FC_SANDBOX"]:
            raise NotConfigured("FC_ISSUER is empty and the sandbox is disabled")
        issuer = url_for(SANDBOX_DISCOVERY, _external=True).removesuffix(WELL_KNOWN)
    return Settings(
        issuer=issuer,
        client_id=config["FC_CLIENT_ID"],
        client_secret=config["FC_CLIENT_SECRET"],
        redirect_uri=config["FC_REDIRECT_URI"] or url_for("franceconnect.callback", _external=True),
        post_logout_redirect_uri=(config["FC_POST_LOGOUT_REDIRECT_URI"]
                                  or url_for("franceconnect.logged_out", _external=True)),
        scopes=config["FC_SCOPES"],
        acr_values=config["FC_ACR_VALUES"],
        algorithms=tuple(config["FC_ID_TOKEN_ALGS"]),
        # (connect, read): a silent FranceConnect holds a request thread for seconds, never more.
        timeout=(config.get("HTTP_CONNECT_TIMEOUT", 3.0), config["FC_HTTP_TIMEOUT"]),
    )
