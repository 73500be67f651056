"""CSV downloads: RFC 4180 text in UTF-8 (with a BOM, so spreadsheets read the accents), streamed line by line.

A cell that a spreadsheet would take for a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return
first) is prefixed with an apostrophe: exported data never runs as a formula on a staff member's machine.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Response, stream_with_context

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def safe_cell(value: Any) -> str:
    """A cell as text, defused when it could be read as a formula (numbers stay numbers)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The CSV text, one encoded line at a time, the header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(list(header))
    yield BOM + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([safe_cell(cell) for cell in row])
        yield buffer.getvalue()


def download(filename: str, header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Response:
    """A streamed CSV attachment (the rows are read while the response is sent)."""
    response = Response(stream_with_context(lines(header, rows)), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
