"""gunicorn's access log without bearer tokens: no query strings, no referrers, token-like path parts masked.

Login links and habilitation access links carry their token in the path; the query string may carry
codes and states. gunicorn.conf.py names this logger and a format made of the masked atoms only.
"""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

#: Path parts that look like our tokens (32 random bytes in base64url: 43 characters); UUIDs stay.
TOKEN_PART = re.compile(r"(?<=/)[A-Za-z0-9_-]{40,}")
#: Method, path without query string, status, size, duration: nothing that carries a secret.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s'


def mask_path(path: str) -> str:
    """The path with token-like parts replaced."""
    return TOKEN_PART.sub("[jeton]", path)


class TokenFreeLogger(Logger):
    """gunicorn's logger, whose request atoms never hold a query string, a referrer or a path token."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        path = mask_path(str(atoms.get("U") or ""))
        atoms.update({"U": path, "q": "", "f": "-", "r": f"{atoms.get('m')} {path} {atoms.get('H')}"})
        return {key: value for key, value in atoms.items() if not key.endswith(("}i", "}e"))}
