"""Log lines an operator can trust: one event per line, whatever the values say.

Values from outside (FranceConnect's ``error``, a CSP report body, a path) may hold newlines or
terminal escapes; a plain line escapes them, a JSON line (production default) encodes them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

#: C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: Attributes of every LogRecord: what is left are the ``extra`` fields of the call.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def escape(text: str) -> str:
    """Make a value safe for one line: controls become visible escapes (``\\n``, ``\\x1b``)."""
    return _CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), text)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in _STANDARD and not key.startswith("_")}


class PlainFormatter(logging.Formatter):
    """``time LEVEL logger: message`` on one line; a traceback follows on lines marked ``  | ``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        return "\n".join("  | " + escape(line) for line in super().formatException(ei).splitlines())

    def formatStack(self, stack_info: str) -> str:
        return "\n".join("  | " + escape(line) for line in stack_info.splitlines())


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the call's extra fields, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        event.update(_extras(record))
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            event["stack"] = self.formatStack(record.stack_info)
        return json.dumps(event, ensure_ascii=True, default=str)


def formatter(kind: str) -> logging.Formatter:
    """The formatter LOG_FORMAT names: ``json`` or ``plain``."""
    return JsonFormatter() if kind == "json" else PlainFormatter()


def configure(kind: str, level: str) -> None:
    """Install one stderr handler with the chosen format (unless someone, e.g. pytest, already has)."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(kind))
    root.addHandler(handler)
    root.setLevel(level)
