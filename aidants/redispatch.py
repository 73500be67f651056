"""Run a request once more when PostgreSQL chose its transaction as a deadlock (or serialization) victim.

Why here, around the whole WSGI call: PostgreSQL aborts the victim's *entire* transaction, so only
re-running the whole request is correct (a retry around one service call would keep the locks taken
before it, and could not catch a failing commit). It is safe because Flask commits in the request's
boundary before the response is handed to the server: when the victim is known, nothing has been
sent yet, and the second run starts from the same bytes, the same cookies and a fresh session.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

#: Set in the WSGI environ by the error page of a deadlock victim (``aidants.web.unexpected_error``).
RETRYABLE_KEY = "aidants.retryable"
#: Set on the re-run, so a second victim answers its 503 instead of looping.
RETRY_KEY = "aidants.retried"

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class RetryOnConflict:
    """WSGI middleware: one transparent re-run of a request whose transaction was a deadlock victim."""

    def __init__(self, app: WSGIApp, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > self.max_body:
            return self.app(environ, start_response)  # not buffered, so not replayable; Flask answers 413
        body = environ["wsgi.input"].read(length) if length else b""
        first = self._run(environ, body, retried=False)
        if first[0] is not None:
            log.warning("deadlock victim on %s %s: running the request once more",
                        environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            close = getattr(first[2], "close", None)
            if close is not None:
                close()
            first = self._run(environ, body, retried=True)
        _flag, (status, headers, exc_info), result = first
        start_response(status, headers, exc_info)
        return result

    def _run(self, environ: dict[str, Any], body: bytes, *, retried: bool) -> tuple[Any, Any, Iterable[bytes]]:
        attempt = dict(environ)
        attempt["wsgi.input"] = io.BytesIO(body)
        attempt["CONTENT_LENGTH"] = str(len(body)) if body or environ.get("CONTENT_LENGTH") else ""
        if retried:
            attempt[RETRY_KEY] = True
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured[:] = [status, headers, exc_info]
            return _no_write

        result = self.app(attempt, capture)
        retry = True if attempt.get(RETRYABLE_KEY) and not retried else None
        return retry, tuple(captured), result


def _no_write(_data: bytes) -> None:
    raise RuntimeError("the write() callable is not supported behind RetryOnConflict")
