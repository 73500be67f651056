"""Statistics of the service (or of some structures): figures, chart geometry, CSV rows.

The public figures are computed at most once per ``CACHE_FOR`` per app: the page is open to
anyone, and each computation scans the active autorisations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from flask import current_app

from aidants.accounts import aidant_types
from aidants.accounts.models import Aidant
from aidants.mandats.models import DEMARCHE_LABELS
from aidants.organisations.models import Organisation
from aidants.stats import queries

MONTHS = 12
RECENT_LOGIN = dt.timedelta(days=30)
CACHE_FOR = dt.timedelta(minutes=10)
MONTH_NAMES = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
               "novembre", "décembre")
MONTH_ABBREVIATIONS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
                       "déc.")


def month_label(key: str, short: bool = False) -> str:
    """``2026-03`` → « mars 2026 » (« mars 26 » when short)."""
    year, month = key.split("-")
    if short:
        return f"{MONTH_ABBREVIATIONS[int(month) - 1]} {year[2:]}"
    return f"{MONTH_NAMES[int(month) - 1]} {year}"


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: its label, value, and geometry in the SVG's user units."""

    key: str
    label: str
    short_label: str
    value: int
    share: float  # percent of the total, for the tables
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Stats:
    """What the statistics pages show."""

    computed_at: dt.datetime
    per_month: list[tuple[str, int]]
    created_total: int
    active_mandats: int
    active_usagers: int
    structures_with_mandats: int
    per_demarche: list[tuple[str, int]]
    structures_active: int
    structures_total: int
    aidants_active: int
    aidants_recent: int
    aidants_per_type: list[tuple[str, int]] = field(default_factory=list)

    @property
    def aidant_types(self) -> list[tuple[str, int]]:
        """Active aidants per type, with the types' French labels."""
        return [(aidant_types.label(kind), count) for kind, count in self.aidants_per_type]

    @property
    def created_in_period(self) -> int:
        return sum(count for _, count in self.per_month)

    @property
    def autorisations_active(self) -> int:
        return sum(count for _, count in self.per_demarche)


def compute(now: dt.datetime, scope: Sequence[int] | None) -> Stats:
    """Every figure, for the whole service (``scope`` None) or for the given structures."""
    scope = list(scope) if scope is not None else None
    active_mandats, active_usagers, structures_with = queries.active_totals(now, scope)
    structures_active, structures_total = queries.structures(scope)
    aidants_active, aidants_recent = queries.aidants(now, RECENT_LOGIN, scope)
    return Stats(
        computed_at=now,
        per_month=queries.mandats_per_month(now, MONTHS, scope),
        created_total=queries.mandats_created(scope),
        active_mandats=active_mandats,
        active_usagers=active_usagers,
        structures_with_mandats=structures_with,
        per_demarche=queries.active_per_demarche(now, scope),
        structures_active=structures_active,
        structures_total=structures_total,
        aidants_active=aidants_active,
        aidants_recent=aidants_recent,
        aidants_per_type=queries.aidants_per_type(scope),
    )


def public(now: dt.datetime) -> Stats:
    """The service-wide figures, computed again when older than ``CACHE_FOR`` (or from another time line)."""
    cached: Stats | None = current_app.extensions.get("public_stats")
    if cached is None or not (cached.computed_at <= now < cached.computed_at + CACHE_FOR):
        cached = compute(now, None)
        current_app.extensions["public_stats"] = cached
    return cached


# --- charts ----------------------------------------------------------------------------------------------------

#: The month chart's drawing box (SVG user units): bars stand on the base line, labels below.
MONTH_CHART = {"width": 720, "height": 260, "top": 24, "bottom": 40, "left": 8, "right": 8}
#: The démarche chart: one horizontal bar per line, the label on its left, the value on its right.
DEMARCHE_CHART = {"width": 760, "labels": 290, "bars": 400, "row": 30, "bar": 20}


def _share(value: int, total: int) -> float:
    return round(100 * value / total, 1) if total else 0.0


def month_bars(per_month: list[tuple[str, int]]) -> list[Bar]:
    """Vertical bars, the tallest filling the box; an empty month still shows a hairline."""
    box = MONTH_CHART
    plot_height = box["height"] - box["top"] - box["bottom"]
    slot = (box["width"] - box["left"] - box["right"]) / max(1, len(per_month))
    highest = max((count for _, count in per_month), default=0)
    total = sum(count for _, count in per_month)
    bars = []
    for index, (key, count) in enumerate(per_month):
        height = plot_height * count / highest if highest else 0.0
        height = max(height, 1.0)
        bars.append(Bar(key=key, label=month_label(key), short_label=month_label(key, short=True), value=count,
                        share=_share(count, total), x=round(box["left"] + index * slot + slot * 0.15, 2),
                        y=round(box["top"] + plot_height - height, 2), width=round(slot * 0.7, 2),
                        height=round(height, 2)))
    return bars


def demarche_bars(per_demarche: list[tuple[str, int]]) -> list[Bar]:
    """Horizontal bars, the longest filling the width."""
    box = DEMARCHE_CHART
    highest = max((count for _, count in per_demarche), default=0)
    total = sum(count for _, count in per_demarche)
    bars = []
    for index, (demarche, count) in enumerate(per_demarche):
        width = max(box["bars"] * count / highest if highest else 0.0, 1.0)
        bars.append(Bar(key=demarche, label=DEMARCHE_LABELS[demarche], short_label=demarche, value=count,
                        share=_share(count, total), x=box["labels"],
                        y=index * box["row"] + (box["row"] - box["bar"]) / 2,
                        width=round(width, 2), height=box["bar"]))
    return bars


# --- CSV -------------------------------------------------------------------------------------------------------

CSV_HEADER = ("indicateur", "detail", "valeur")


def csv_rows(stats: Stats) -> Iterator[tuple[str, str, str]]:
    """The figures as (indicator, detail, value) rows: one file, easy to filter in a spreadsheet."""
    yield ("date_du_calcul", "UTC", stats.computed_at.astimezone(dt.UTC).isoformat(timespec="seconds"))
    for month, count in stats.per_month:
        yield ("mandats_crees_par_mois", month, str(count))
    yield ("mandats_crees_total", "", str(stats.created_total))
    yield ("mandats_actifs", "", str(stats.active_mandats))
    yield ("usagers_avec_mandat_actif", "", str(stats.active_usagers))
    for demarche, count in stats.per_demarche:
        yield ("autorisations_actives_par_demarche", demarche, str(count))
    for demarche, count in stats.per_demarche:
        yield ("part_des_autorisations_actives_pourcent", demarche,
               f"{_share(count, stats.autorisations_active):.1f}")
    yield ("structures_actives", "", str(stats.structures_active))
    yield ("structures_avec_mandat_actif", "", str(stats.structures_with_mandats))
    yield ("aidants_actifs", "", str(stats.aidants_active))
    yield ("aidants_connectes_30_jours", "", str(stats.aidants_recent))
    for kind, count in stats.aidants_per_type:
        yield ("aidants_actifs_par_type", kind or "non_renseigne", str(count))


# --- a référent's structures -----------------------------------------------------------------------------------


class NotYourStructure(LookupError):
    """A structure the référent does not manage (answered as if it did not exist)."""


@dataclass(frozen=True)
class ReferentScope:
    """The structures a référent's statistics cover, and which one was chosen (None: all of them)."""

    organisations: list[Organisation]
    chosen: Organisation | None

    @property
    def ids(self) -> list[int]:
        return [self.chosen.id] if self.chosen else [o.id for o in self.organisations]


def referent_scope(aidant: Aidant, structure: str) -> ReferentScope:
    """The référent's structures (all, or the one asked for among them; their only one); another is refused."""
    mine = sorted(aidant.referent_of, key=lambda o: (o.name, o.id))
    if len(mine) == 1 and structure in ("", str(mine[0].id)):
        return ReferentScope(mine, mine[0])
    if structure in ("", "toutes"):
        return ReferentScope(mine, None)
    chosen = next((o for o in mine if str(o.id) == structure), None)
    if chosen is None:
        raise NotYourStructure(structure)
    return ReferentScope(mine, chosen)
