"""Statistics: the public page (no sign-in) and a référent's page for their structures, each with a CSV."""

from __future__ import annotations

from flask import Blueprint, abort, g, render_template, request
from werkzeug.wrappers import Response

from aidants import clock
from aidants.jobs import snapshots
from aidants.stats import csv_export
from aidants.stats import services as stats
from aidants.web import referent_required

bp = Blueprint("stats", __name__)


def _render(template: str, figures: stats.Stats, **context: object) -> str:
    return render_template(
        template, stats=figures, month_bars=stats.month_bars(figures.per_month),
        demarche_bars=stats.demarche_bars(figures.per_demarche), month_chart=stats.MONTH_CHART,
        demarche_chart=stats.DEMARCHE_CHART, month_label=stats.month_label, **context,
    )


@bp.route("/stats")
def public() -> str:
    """The service's figures, for anyone."""
    return _render("stats/public.html", stats.public(clock.now()), history=snapshots.monthly_history())


@bp.route("/stats.csv")
def public_csv() -> Response:
    """The same figures as a CSV file."""
    figures = stats.public(clock.now())
    return csv_export.download("statistiques-aidants-connect.csv", stats.CSV_HEADER, stats.csv_rows(figures))


def _scope() -> stats.ReferentScope:
    try:
        return stats.referent_scope(g.aidant, request.args.get("structure", "").strip())
    except stats.NotYourStructure:
        abort(404)


@bp.route("/statistiques/structure")
@referent_required
def structure() -> str:
    """The same figures for the référent's structures (one, or all of them)."""
    scope = _scope()
    return _render("stats/structure.html", stats.compute(clock.now(), scope.ids), scope=scope)


@bp.route("/statistiques/structure.csv")
@referent_required
def structure_csv() -> Response:
    """The référent's figures as a CSV file."""
    scope = _scope()
    figures = stats.compute(clock.now(), scope.ids)
    name = f"statistiques-structure-{scope.chosen.siret}.csv" if scope.chosen else "statistiques-mes-structures.csv"
    return csv_export.download(name, stats.CSV_HEADER, stats.csv_rows(figures))
