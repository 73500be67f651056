"""FranceConnect's metadata (discovery) and keys (JWKS), fetched over HTTP and kept a while per process.

Keys are never hard-coded: the JWKS comes from the ``jwks_uri`` of the discovery
document, and is fetched again when a token names a ``kid`` we do not know.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from aidants import clock
from oidc.client.settings import Settings

#: How long metadata and keys are trusted before being fetched again.
CACHE_TTL = dt.timedelta(hours=1)
#: Larger answers are refused (a JWKS or a discovery document is a few kilobytes).
MAX_BODY = 256 * 1024
REQUIRED_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")


class Unreachable(RuntimeError):
    """FranceConnect did not answer, or answered something unusable; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Cache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    entries: dict[str, tuple[dt.datetime, dict[str, Any]]] = field(default_factory=dict)

    def get(self, url: str, now: dt.datetime) -> dict[str, Any] | None:
        with self.lock:
            found = self.entries.get(url)
        if found is None or now - found[0] > CACHE_TTL or found[0] > now:
            return None
        return found[1]

    def put(self, url: str, now: dt.datetime, value: dict[str, Any]) -> None:
        with self.lock:
            self.entries[url] = (now, value)


def _cache() -> _Cache:
    cache: _Cache | None = current_app.extensions.get("franceconnect_cache")
    if cache is None:
        cache = current_app.extensions.setdefault("franceconnect_cache", _Cache())
    return cache


def get_json(url: str, timeout: float | tuple[float, float]) -> dict[str, Any]:
    """GET a JSON object; redirects are not followed."""
    import requests  # here, not at boot: slow to import, and only FranceConnect's metadata and keys need it

    try:
        response = requests.get(url, timeout=timeout, allow_redirects=False,
                                headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise Unreachable("http_error") from exc
    if response.status_code != 200 or len(response.content) > MAX_BODY:
        raise Unreachable(f"http_status_{response.status_code}")
    try:
        data = response.json()
    except ValueError as exc:
        raise Unreachable("not_json") from exc
    if not isinstance(data, dict):
        raise Unreachable("not_json_object")
    return data


def metadata(settings: Settings) -> dict[str, Any]:
    """The provider's discovery document, checked to be this issuer's."""
    cache, now = _cache(), clock.now()
    found = cache.get(settings.discovery_url, now)
    if found is not None:
        return found
    data = get_json(settings.discovery_url, settings.timeout)
    if data.get("issuer") != settings.issuer:
        raise Unreachable("discovery_issuer_mismatch")
    if any(not isinstance(data.get(name), str) for name in REQUIRED_ENDPOINTS):
        raise Unreachable("discovery_incomplete")
    cache.put(settings.discovery_url, now, data)
    return data


def jwks(settings: Settings, refresh: bool = False) -> dict[str, Any]:
    """The provider's public keys; ``refresh`` fetches them again (a kid we do not know)."""
    url = metadata(settings)["jwks_uri"]
    cache, now = _cache(), clock.now()
    found = None if refresh else cache.get(url, now)
    if found is not None:
        return found
    data = get_json(url, settings.timeout)
    if not isinstance(data.get("keys"), list):
        raise Unreachable("jwks_malformed")
    cache.put(url, now, data)
    return data
