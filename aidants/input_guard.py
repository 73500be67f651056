"""Malformed input answers 400 with a French message, for every route at once (not route by route).

Three nets: NUL and other control characters or undecodable bytes in the path, the query string or a
form refused before any view runs; ``<int:…>`` path parts bounded to the database's integer range (a
larger one matches no route: 404); and, last, any statement about to send the database a string with a
NUL or an integer beyond 64 bits is refused (SQLite and PostgreSQL would fail with a 500).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

#: The largest id the database holds (PostgreSQL ``integer``); larger path ids match no route.
MAX_ID = 2**31 - 1
#: The largest integer either database accepts as a parameter (64 bits).
MAX_BIND = 2**63 - 1
#: Control characters other than tab and line breaks (form text may hold those), and the replacement
#: character werkzeug puts where bytes were not UTF-8.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_FORBIDDEN_IN_PATH = re.compile("[\x00-\x1f\x7f\ufffd]")


class MalformedInput(BadRequest):
    """A request whose values cannot be meaningful; its description is shown to the person."""

    description = ("La requête contient des caractères ou des valeurs invalides (caractère nul, octets non "
                   "UTF-8 ou nombre trop grand). Vérifiez l'adresse ou le formulaire et réessayez.")


class BoundedInteger(IntegerConverter):
    """``<int:…>`` within the database's range: a larger number is no id of ours."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=MAX_ID if max is None else max,
                         signed=signed)


def init_app(app: Flask) -> None:
    """Install the three nets (call before the blueprints register their routes)."""
    app.url_map.converters["int"] = BoundedInteger
    app.before_request(reject_malformed_request)
    engine: Engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", _refuse_unstorable_parameters)


def reject_malformed_request() -> None:
    """Refuse NUL, control characters and undecodable bytes anywhere a view could read them."""
    if _FORBIDDEN_IN_PATH.search(request.path):
        raise MalformedInput()
    for values in (request.args, request.form):
        for key, value in values.items(multi=True):
            if _FORBIDDEN.search(key) or _FORBIDDEN.search(value):
                raise MalformedInput()
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and _FORBIDDEN_IN_PATH.search(value):
            raise MalformedInput()


def _unstorable(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not -MAX_BIND - 1 <= value <= MAX_BIND
    if isinstance(value, str):
        return "\x00" in value
    return False


def _refuse_unstorable_parameters(_conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any,
                                  executemany: bool) -> None:
    rows = parameters if executemany else [parameters]
    for row in rows or ():
        # A batch of "insertmanyvalues" (several ORM rows in one INSERT) arrives as one flat tuple of values.
        values = row.values() if isinstance(row, dict) else row if isinstance(row, list | tuple) else [row]
        if any(_unstorable(value) for value in values or ()):
            raise MalformedInput()
