"""Statistics: the figures from aggregate SQL (service and per structure), the public page and its CSV,
the référent's page scoped to their structures."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidants import db
from aidants.accounts.models import Aidant
from aidants.clock import FixedClock
from aidants.mandats.models import Autorisation
from aidants.organisations.models import Organisation
from aidants.stats import queries
from aidants.stats import services as stats
from tests.factories import AidantWithDevice, make_aidant, make_organisation, sign_in
from tests.mandats.helpers import make_usager
from tests.staff.helpers import make_mandat, text

START = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


@dataclass
class World:
    a: Organisation
    b: Organisation
    aidant_a: AidantWithDevice
    aidant_b: AidantWithDevice
    referent_a: AidantWithDevice


@pytest.fixture
def world(app: Flask, fixed_clock: FixedClock) -> World:
    """Structure A: one mandate 14 months ago, one expired in September, one active from November with two
    démarches, one revoked in October. Structure B: one active mandate from this month. A third structure
    is deactivated and holds nothing."""
    now = fixed_clock.now()
    a, b = make_organisation(now, "Mairie A"), make_organisation(now, "Association B")
    closed = make_organisation(now, "Structure fermée")
    closed.is_active = False
    db.commit()
    aidant_a, aidant_b = make_aidant(now, a), make_aidant(now, b)
    referent_a = make_aidant(now, a, is_referent=True)
    u1, u2, u3, u4 = (make_usager(now, f"Usager{i}", f"Nom{i}") for i in range(4))
    make_mandat(aidant_a, u1, ["papiers"], dt.datetime(2025, 9, 15, 12, tzinfo=dt.UTC))  # outside the 12 months
    make_mandat(aidant_a, u2, ["famille"], dt.datetime(2026, 9, 1, 0, 30, tzinfo=dt.UTC))  # expired since
    make_mandat(aidant_a, u3, ["papiers", "social"], dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC))
    revoked = make_mandat(aidant_a, u4, ["logement"], dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.UTC))
    db.session().execute(sa.update(Autorisation).where(Autorisation.mandat_id == revoked.id)
                         .values(revoked_at=now - dt.timedelta(days=1), revoked_reason="revocation"))
    make_mandat(aidant_b, u1, ["papiers"], dt.datetime(2026, 11, 1, 0, 0, tzinfo=dt.UTC), duration="long")
    # Who signed in lately: aidant A yesterday, B two months ago (the référent never did).
    db.session().execute(sa.update(Aidant).where(Aidant.id == aidant_a.aidant.id)
                         .values(last_login_at=now - dt.timedelta(days=1)))
    db.session().execute(sa.update(Aidant).where(Aidant.id == aidant_b.aidant.id)
                         .values(last_login_at=now - dt.timedelta(days=60)))
    db.commit()
    return World(a, b, aidant_a, aidant_b, referent_a)


def test_month_starts_cross_the_year() -> None:
    starts = queries.month_starts(dt.datetime(2026, 2, 10, tzinfo=dt.UTC), 4)
    assert [s.strftime("%Y-%m") for s in starts] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert starts[0].tzinfo is dt.UTC and starts[0].day == 1


def test_figures_of_the_whole_service(world: World, fixed_clock: FixedClock) -> None:
    figures = stats.compute(fixed_clock.now(), None)
    months = dict(figures.per_month)
    assert list(months) == [f"2025-{m:02d}" for m in (12,)] + [f"2026-{m:02d}" for m in range(1, 12)]
    assert months["2026-09"] == 1 and months["2026-10"] == 1 and months["2026-11"] == 2
    assert figures.created_in_period == 4 and figures.created_total == 5
    assert (figures.active_mandats, figures.active_usagers, figures.structures_with_mandats) == (2, 2, 2)
    assert dict(figures.per_demarche) == {"papiers": 2, "famille": 0, "social": 1, "travail": 0, "logement": 0,
                                          "transports": 0, "argent": 0, "justice": 0, "etranger": 0, "loisirs": 0}
    assert (figures.structures_active, figures.structures_total) == (2, 3)
    assert (figures.aidants_active, figures.aidants_recent) == (3, 1)


def test_figures_of_one_structure(world: World, fixed_clock: FixedClock) -> None:
    figures = stats.compute(fixed_clock.now(), [world.a.id])
    assert dict(figures.per_month)["2026-11"] == 1 and figures.created_total == 4
    assert (figures.active_mandats, figures.active_usagers, figures.structures_with_mandats) == (1, 1, 1)
    assert dict(figures.per_demarche)["papiers"] == 1 and dict(figures.per_demarche)["social"] == 1
    assert (figures.structures_active, figures.structures_total) == (1, 1)
    assert (figures.aidants_active, figures.aidants_recent) == (2, 1)


def test_an_expired_month_counts_by_creation_but_not_as_active(world: World, fixed_clock: FixedClock) -> None:
    fixed_clock.advance(days=365)  # every mandate but the one-year one has ended; B's ends right now
    figures = stats.compute(fixed_clock.now(), None)
    assert figures.active_mandats == 0 and figures.autorisations_active == 0
    assert figures.created_total == 5 and figures.created_in_period == 0


def test_bars_scale_to_the_highest_value() -> None:
    bars = stats.month_bars([("2026-01", 0), ("2026-02", 5), ("2026-03", 10)])
    assert bars[2].height == pytest.approx(stats.MONTH_CHART["height"] - stats.MONTH_CHART["top"]
                                           - stats.MONTH_CHART["bottom"])
    assert bars[1].height == pytest.approx(bars[2].height / 2, abs=0.01)
    assert bars[0].height == 1.0 and bars[0].label == "janvier 2026" and bars[0].short_label == "janv. 26"
    assert [b.share for b in bars] == [0.0, 33.3, 66.7]
    empty = stats.demarche_bars([("papiers", 0), ("famille", 0)])
    assert [b.width for b in empty] == [1.0, 1.0] and [b.share for b in empty] == [0.0, 0.0]


# --- the public page --------------------------------------------------------------------------------------------


def rows_of(table_id: str, page: str) -> dict[str, str]:
    table = re.search(rf'<table tabindex="0" id="{table_id}">(.*?)</table>', page, re.S)
    assert table, table_id
    return dict(re.findall(r'<th scope="row">([^<]+)</th><td>(\d+)</td>', table.group(1)))


def test_the_public_page_needs_no_sign_in_and_shows_charts_with_tables(world: World, client: FlaskClient) -> None:
    response = client.get("/stats")
    page = text(response)
    assert response.status_code == 200
    assert rows_of("service-table-mois", page)["novembre 2026"] == "2"
    assert rows_of("service-table-mois", page)["octobre 2026"] == "1"
    assert rows_of("service-table-demarches", page)["Papiers - Citoyenneté - Élections"] == "2"
    assert page.count('role="img"') == 2 and page.count("<desc id=") == 2
    assert "novembre 2026 : 2" in page  # the charts' text alternatives
    assert "Social - Santé : 1 (33,3 %)" in page
    assert "style=" not in page and not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert 'href="/static/stats.css"' in page and 'href="/stats.csv"' in page


def test_the_public_csv(world: World, client: FlaskClient) -> None:
    response = client.get("/stats.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["indicateur", "detail", "valeur"]
    values = {(r[0], r[1]): r[2] for r in rows[1:]}
    assert values[("mandats_crees_par_mois", "2026-11")] == "2"
    assert values[("mandats_actifs", "")] == "2"
    assert values[("autorisations_actives_par_demarche", "papiers")] == "2"
    assert values[("part_des_autorisations_actives_pourcent", "social")] == "33.3"
    assert values[("structures_actives", "")] == "2"
    assert values[("aidants_actifs", "")] == "3"
    assert len([r for r in rows if r[0] == "mandats_crees_par_mois"]) == 12


def test_public_figures_are_kept_ten_minutes(world: World, client: FlaskClient, fixed_clock: FixedClock) -> None:
    assert rows_of("service-table-mois", text(client.get("/stats")))["novembre 2026"] == "2"
    make_mandat(world.aidant_b, make_usager(fixed_clock.now()), ["justice"], fixed_clock.now())
    fixed_clock.advance(minutes=9)
    assert rows_of("service-table-mois", text(client.get("/stats")))["novembre 2026"] == "2"
    fixed_clock.advance(minutes=1)
    assert rows_of("service-table-mois", text(client.get("/stats")))["novembre 2026"] == "3"


def test_an_empty_service_shows_zeros(client: FlaskClient) -> None:
    page = text(client.get("/stats"))
    assert set(rows_of("service-table-mois", page).values()) == {"0"}
    assert set(rows_of("service-table-demarches", page).values()) == {"0"}
    rows = list(csv.reader(io.StringIO(client.get("/stats.csv").get_data(as_text=True))))
    assert {r[2] for r in rows[1:] if r[0] != "date_du_calcul"} <= {"0", "0.0"}


# --- the référent's page -----------------------------------------------------------------------------------------


def signed_in(app: Flask, who: AidantWithDevice, now: dt.datetime) -> FlaskClient:
    client = app.test_client()
    sign_in(client, who, now)
    return client


@pytest.mark.parametrize("path", ["/statistiques/structure", "/statistiques/structure.csv"])
def test_structure_statistics_access(world: World, app: Flask, fixed_clock: FixedClock, path: str) -> None:
    now = fixed_clock.now()
    anonymous = app.test_client().get(path)
    assert anonymous.status_code == 302 and "/connexion" in anonymous.location
    assert signed_in(app, world.aidant_a, now).get(path).status_code == 403
    staff = make_aidant(now, world.b, is_staff=True)
    assert signed_in(app, staff, now).get(path).status_code == 403
    referent = signed_in(app, world.referent_a, now)
    assert referent.get(path).status_code == 200
    assert referent.get(f"{path}?structure={world.b.id}").status_code == 404
    assert referent.get(f"{path}?structure=nimporte").status_code == 404


def test_a_referent_sees_their_structure_only(world: World, app: Flask, fixed_clock: FixedClock) -> None:
    client = signed_in(app, world.referent_a, fixed_clock.now())
    page = text(client.get("/statistiques/structure"))
    assert "Mairie A" in page and "Association B" not in page
    assert rows_of("structure-table-mois", page)["novembre 2026"] == "1"
    assert rows_of("structure-table-demarches", page)["Social - Santé"] == "1"
    rows = list(csv.reader(io.StringIO(client.get("/statistiques/structure.csv").get_data(as_text=True))))
    values = {(r[0], r[1]): r[2] for r in rows[1:]}
    assert values[("mandats_actifs", "")] == "1" and values[("mandats_crees_total", "")] == "4"


def test_a_referent_of_two_structures_chooses(world: World, app: Flask, fixed_clock: FixedClock) -> None:
    referent = db.session().merge(world.referent_a.aidant)
    referent.referent_of.append(db.session().merge(world.b))
    db.commit()
    client = signed_in(app, world.referent_a, fixed_clock.now())
    both = text(client.get("/statistiques/structure"))
    assert rows_of("structure-table-mois", both)["novembre 2026"] == "2"
    assert '<select class="fr-select" id="structure" name="structure">' in both
    only_b = text(client.get(f"/statistiques/structure?structure={world.b.id}"))
    assert rows_of("structure-table-mois", only_b)["novembre 2026"] == "1"
    assert "Statistiques d'Association B" in only_b.replace("&#39;", "'")
    response = client.get(f"/statistiques/structure.csv?structure={world.b.id}")
    assert world.b.siret in response.headers["Content-Disposition"]
