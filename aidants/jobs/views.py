"""The staff's jobs page: each scheduled job (last run, outcome, next run), the outbox, retry and run now."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from aidants import clock
from aidants.jobs import queries, runs, schedule
from aidants.jobs.models import DONE
from aidants.journal import queries as journal_queries
from aidants.outbox import services as outbox
from aidants.outbox.models import STATUS_LABELS
from aidants.web import staff_required

bp = Blueprint("jobs", __name__, url_prefix="/staff/travaux")
Page = str | Response | tuple[str, int]


class ButtonForm(FlaskForm):
    """A button only: the CSRF token proves the click came from our page."""


@bp.get("")
@staff_required
def index() -> str:
    status = request.args.get("statut", "")
    status = status if status in STATUS_LABELS else ""
    page = request.args.get("page", 1, type=int) or 1
    return render_template("jobs/index.html", jobs=runs.states(clock.now()), labels=schedule.PERIOD_LABELS,
                           every=schedule.DELIVERY_EVERY, counts=queries.outbox_counts(),
                           page=queries.outbox_page(status, page), status=status, status_labels=STATUS_LABELS,
                           form=ButtonForm())


@bp.get("/point-de-controle")
@staff_required
def latest_checkpoint() -> Response:
    """The latest signed checkpoint of the journal (a C2SP signed note), to keep outside the database."""
    found = journal_queries.latest_checkpoint()
    if found is None:
        abort(404)
    return redirect(url_for("journal.checkpoint_note", checkpoint_id=found.id))


@bp.route("/<job>/lancer", methods=["GET", "POST"])
@staff_required
def run_now(job: str) -> Page:
    """Confirm, then do the job's work now (a period of its own; journaled)."""
    try:
        found = runs.get(job)
    except runs.UnknownJob:
        abort(404)
    form = ButtonForm()
    if request.method == "GET" or not form.validate_on_submit():
        return render_template("jobs/run_confirm.html", job=found, form=form)
    run = runs.run(found.name, clock.now(), staff_id=g.aidant.id)
    if run is not None and run.status == DONE:
        flash(f"« {found.title} » : fait ({run.outcome}).", "success")
    else:
        flash(f"« {found.title} » a échoué : {run.outcome if run else 'déjà en cours'}.", "error")
    return redirect(url_for("jobs.index"))


@bp.post("/messages/<int:message_id>/relancer")
@staff_required
def retry(message_id: int) -> Response:
    """Put a failed message back in the queue (journaled)."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        outbox.retry(message_id, staff_id=g.aidant.id, now=clock.now())
    except outbox.OutboxError as error:
        flash(str(error), "error")
        return redirect(url_for("jobs.index", statut="failed"))
    flash("Le message est remis dans la file : il partira au prochain passage du worker.", "success")
    return redirect(url_for("jobs.index", statut="failed"))
