"""French typography in one place: dates and times, elision, ordinals, agreement; registered once as Jinja filters.

Every date a person reads is written one way: « 1er décembre 2026 » and « 1er décembre 2026 à 14 h 05 »,
in Europe/Paris time. Templates never format a date themselves (tests/test_typography.py greps them).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from zoneinfo import ZoneInfo

from flask import Flask

PARIS = ZoneInfo("Europe/Paris")
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")
_VOWELS = frozenset("aeiouyœæ")
_PARTIAL_BIRTHDATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def _as_datetime(value: dt.datetime | dt.date | str) -> dt.datetime | dt.date:
    """Accept what templates hold: datetimes (naive ones are UTC), dates, ISO strings (public JSON)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value or " " in value else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(PARIS)
    return value


def ordinal_day(day: int) -> str:
    """« 1er » for the first of the month, the plain number otherwise."""
    return "1er" if day == 1 else str(day)


def date_fr(value: dt.datetime | dt.date | str | None, empty: str = "—") -> str:
    """« 1er décembre 2026 » (the date in Paris for a datetime)."""
    if value is None or value == "":
        return empty
    moment = _as_datetime(value)
    return f"{ordinal_day(moment.day)} {MONTHS[moment.month - 1]} {moment.year}"


def time_fr(value: dt.datetime | str) -> str:
    """« 14 h 05 », « 9 h » on the hour, in Paris."""
    moment = _as_datetime(value)
    if not isinstance(moment, dt.datetime):
        raise TypeError("time_fr needs a datetime")
    return f"{moment.hour} h" if moment.minute == 0 else f"{moment.hour} h {moment.minute:02d}"


def datetime_fr(value: dt.datetime | str | None, empty: str = "—") -> str:
    """« 1er décembre 2026 à 14 h 05 », in Paris."""
    if value is None or value == "":
        return empty
    return f"{date_fr(value)} à {time_fr(value)}"


def datetime_seconds_fr(value: dt.datetime | str | None, empty: str = "—") -> str:
    """« 1er décembre 2026 à 14 h 05 min 09 s »: for journals, where the order within a minute matters."""
    if value is None or value == "":
        return empty
    moment = _as_datetime(value)
    assert isinstance(moment, dt.datetime)
    return f"{date_fr(moment)} à {moment.hour} h {moment.minute:02d} min {moment.second:02d} s"


def starts_with_vowel_sound(word: str) -> bool:
    """Whether a name elides the *de* before it: a vowel, a mute h (« d'Hélène »), a y before a consonant
    (« d'Yves », but « de Yasmine »)."""
    bare = unicodedata.normalize("NFKD", word.strip())
    letters = [c.lower() for c in bare if not unicodedata.combining(c)]
    if not letters or not letters[0].isalpha():
        return False
    first, second = letters[0], letters[1] if len(letters) > 1 else ""
    if first == "y":
        return bool(second) and second.isalpha() and second not in _VOWELS
    return first in _VOWELS or first == "h"


def de(name: str) -> str:
    """« d'Angela », « de Louis »: the preposition *de* before a name, elided before a vowel."""
    name = name.strip()
    return f"d'{name}" if starts_with_vowel_sound(name) else f"de {name}"


def ne(gender: str | None) -> str:
    """« né » or « née » from FranceConnect's gender (male / female), « né(e) » when it is unknown."""
    return {"male": "né", "female": "née"}.get((gender or "").lower(), "né(e)")


def accord(gender: str | None) -> str:
    """The feminine ending from FranceConnect's gender: soussigné, soussignée, or soussigné(e) when unknown."""
    return {"male": "", "female": "e"}.get((gender or "").lower(), "(e)")


def birthdate(value: str | None) -> str:
    """A FranceConnect birthdate (possibly partial, ``YYYY-MM-00``) as 12/05/1980, 05/1980 or 1980."""
    found = _PARTIAL_BIRTHDATE.match(value or "")
    if not found:
        return value or "—"
    year, month, day = found.groups()
    if month == "00":
        return year
    if day == "00":
        return f"{month}/{year}"
    return f"{day}/{month}/{year}"


def plural(count: int, singular: str, several: str | None = None) -> str:
    """« 1 mandat », « 2 mandats », « 0 mandat » (French: zero takes the singular)."""
    return f"{count} {singular if abs(count) < 2 else (several or singular + 's')}"


FILTERS = {
    "date_fr": date_fr, "datetime_fr": datetime_fr, "datetime_seconds_fr": datetime_seconds_fr, "time_fr": time_fr,
    "de": de, "ne": ne, "accord": accord, "birthdate": birthdate, "plural": plural, "ordinal_day": ordinal_day,
}


def init_app(app: Flask) -> None:
    """Register every typography filter, once, for every template."""
    app.jinja_env.filters.update(FILTERS)
