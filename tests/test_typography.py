"""French typography: the filters, exhaustively over a year of dates, and a grep that no template formats a date."""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path

import pytest

from aidants import typography

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def test_dates_read_the_french_way_with_1er_and_paris_time():
    assert typography.date_fr(dt.datetime(2026, 12, 1, 13, 5, tzinfo=dt.UTC)) == "1er décembre 2026"
    assert typography.datetime_fr(dt.datetime(2026, 12, 1, 13, 5, tzinfo=dt.UTC)) == "1er décembre 2026 à 14 h 05"
    assert typography.datetime_fr(dt.datetime(2026, 7, 14, 7, 0, tzinfo=dt.UTC)) == "14 juillet 2026 à 9 h"  # CEST
    # 23:30 UTC on 31 December is already the new year in Paris
    assert typography.date_fr(dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)) == "1er janvier 2027"
    assert typography.date_fr(dt.datetime(2026, 3, 2, 10, 0)) == "2 mars 2026"  # naive = UTC (SQLite)
    assert typography.date_fr(dt.date(2026, 8, 1)) == "1er août 2026"
    assert typography.date_fr("2026-11-27T09:00:00+00:00") == "27 novembre 2026"  # the public JSON's strings
    assert typography.date_fr(None) == "—" and typography.datetime_fr(None, "jamais") == "jamais"
    assert typography.datetime_seconds_fr(dt.datetime(2026, 12, 1, 13, 5, 9, tzinfo=dt.UTC)) == \
        "1er décembre 2026 à 14 h 05 min 09 s"


@pytest.mark.parametrize("year", [2026, 2028])  # a plain year and a leap year, every minute of which days
def test_every_day_and_hour_of_a_year_is_written_one_way(year):
    shape = re.compile(r"^(1er|[1-9]|[12]\d|3[01]) (janvier|février|mars|avril|mai|juin|juillet|août|septembre|"
                       r"octobre|novembre|décembre) \d{4} à ([01]?\d|2[0-3]) h( [0-5]\d)?$")
    moment = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    while moment.year == year:
        text = typography.datetime_fr(moment)
        assert shape.match(text), text
        paris = moment.astimezone(typography.PARIS)
        assert text.startswith(("1er " if paris.day == 1 else f"{paris.day} ") + typography.MONTHS[paris.month - 1])
        assert not re.search(r"\d{4}-\d{2}-\d{2}", text)
        moment += dt.timedelta(hours=7, minutes=13)


def test_elision_before_vowels_and_mute_h_not_before_consonants():
    assert typography.de("Angela Claire Louise DUBOIS") == "d'Angela Claire Louise DUBOIS"
    assert typography.de("Louis Martin") == "de Louis Martin"
    assert typography.de("Éloïse") == "d'Éloïse" and typography.de("Hélène") == "d'Hélène"
    assert typography.de("Yves") == "d'Yves" and typography.de("Yasmine") == "de Yasmine"
    assert typography.de("Œdipe") == "d'Œdipe" and typography.de("  Ugo ") == "d'Ugo"
    assert typography.de("") == "de " and typography.de("123") == "de 123"
    for vowel in "aeiouAEIOUàâéèêëîïôùûÀÉÈÎÔ":
        assert typography.de(vowel + "nna") == f"d'{vowel}nna"
    for consonant in "bcdfgjklmnpqrstvwxzBCDFGJKLMNPQRSTVWXZç":
        assert typography.de(consonant + "ara") == f"de {consonant}ara"


def test_agreement_from_the_gender_franceconnect_gives_and_plurals():
    assert typography.ne("male") == "né" and typography.ne("female") == "née" and typography.ne(None) == "né(e)"
    assert typography.accord("male") == "" and typography.accord("female") == "e" and typography.accord("") == "(e)"
    assert typography.birthdate("1962-08-24") == "24/08/1962"
    assert typography.birthdate("1962-08-00") == "08/1962" and typography.birthdate("1962-00-00") == "1962"
    assert typography.plural(0, "usager") == "0 usager" and typography.plural(1, "usager") == "1 usager"
    assert typography.plural(2, "usager") == "2 usagers" and typography.plural(3, "an") == "3 ans"


def test_the_filters_are_registered_once_for_every_template(app):
    for name in ("date_fr", "datetime_fr", "de", "ne", "birthdate", "plural"):
        assert app.jinja_env.filters[name] is typography.FILTERS[name]
    rendered = app.jinja_env.from_string("{{ when | datetime_fr }} — Mandat {{ name | de }}, {{ g | ne }}").render(
        when=dt.datetime(2026, 12, 1, 13, 5, tzinfo=dt.UTC), name="Angela", g="female")
    assert html.unescape(rendered) == "1er décembre 2026 à 14 h 05 — Mandat d'Angela, née"


def test_no_template_formats_a_date_itself_or_prints_an_iso_date():
    """Every date goes through the typography filters: no babel pattern, no isoformat, no strftime, no raw
    ``…_at`` or birthdate printed as it is stored, and no "Back-office"."""
    found = []
    raw_date = re.compile(r"\{\{[^}|]*(_at|birthdate|\.date)\s*\}\}")
    for path in sorted(TEMPLATES.rglob("*.html")) + sorted(TEMPLATES.rglob("*.txt")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"datetimeformat|dateformat|isoformat|strftime|Back-office", line) or raw_date.search(line):
                found.append(f"{path.relative_to(TEMPLATES)}:{number}: {line.strip()}")
    assert found == [], "format dates with the typography filters:\n" + "\n".join(found)
