"""The journal's public verifier key, and the signed checkpoints for the staff (list, note, export)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from werkzeug.wrappers import Response

from aidants import clock
from aidants.journal import checkpoint as notes
from aidants.journal import queries, services
from aidants.stats import csv_export
from aidants.web import staff_required

bp = Blueprint("journal", __name__)
_MAX_ID = 2**63 - 1


@bp.get("/journal/checkpoint-key")
def checkpoint_key() -> Response:
    """The verifier key of the checkpoints (C2SP signed note), for anyone to check them."""
    response = Response(notes.service_verifier_key() + "\n", mimetype="text/plain")
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _before() -> int | None:
    raw = request.args.get("avant", "")
    if not raw:
        return None
    if not raw.isdigit() or int(raw) > _MAX_ID:
        abort(400)
    return int(raw)


@bp.get("/staff/journal/points-de-controle")
@staff_required
def checkpoints() -> str:
    """The signed checkpoints, newest first."""
    found, older = queries.checkpoints_page(_before())
    return render_template("journal/checkpoints.html", checkpoints=found, older=older,
                           verifier_key=notes.service_verifier_key(), pending=services.pending_count())


@bp.get("/staff/journal/points-de-controle/<int:checkpoint_id>.txt")
@staff_required
def checkpoint_note(checkpoint_id: int) -> Response:
    """One checkpoint's signed note, as a file to keep outside the service."""
    found = queries.checkpoint(checkpoint_id) if checkpoint_id <= _MAX_ID else None
    if found is None:
        abort(404)
    response = Response(found.note, mimetype="text/plain")
    response.headers["Content-Disposition"] = f'attachment; filename="journal-checkpoint-{found.id}.txt"'
    return response


@bp.get("/staff/journal/points-de-controle.csv")
@staff_required
def checkpoints_csv() -> Response:
    """Every checkpoint as a CSV file, streamed."""
    stamp = clock.now().strftime("%Y%m%d-%H%M%S")
    return csv_export.download(f"journal-checkpoints-{stamp}.csv", queries.CHECKPOINT_COLUMNS,
                               queries.checkpoint_stream())
