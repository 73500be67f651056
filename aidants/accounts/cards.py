"""Importing physical TOTP cards from the maker's CSV file: all rows checked first, then all or nothing.

File format: a header with ``serial_number,seed`` and optionally ``step,digits``
(defaults 60 and 6); the seed in hexadecimal or base32. Duplicates, inside the
file or with cards already known, are bad rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from aidants import db
from aidants.accounts import devices
from aidants.accounts.models import TotpDevice
from aidants.journal import services as journal
from aidants.security import totp

REQUIRED_COLUMNS = ("serial_number", "seed")
OPTIONAL_COLUMNS = ("step", "digits")
ALLOWED_STEPS = (30, 60)
ALLOWED_DIGITS = (6, 8)
BATCH = 5000
#: Spaces and dashes (of every kind) that people and makers put inside serial numbers.
_SERIAL_NOISE = re.compile(r"[\s\-‐‑‒–—]")


def normalise_serial(serial: str) -> str:
    """A serial number as stored and looked up: without spaces or dashes, upper-cased."""
    return _SERIAL_NOISE.sub("", serial).upper()


@dataclass(frozen=True)
class CardRow:
    """A valid card, ready to store."""

    line: int
    serial_number: str
    seed: bytes
    period: int
    digits: int


@dataclass
class CardFile:
    """The outcome of reading a file: the valid cards and the bad lines with reasons."""

    cards: list[CardRow] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


class CardFileError(ValueError):
    """A file that cannot be read at all (no header, wrong columns, not text)."""


def read_card_file(text: str) -> CardFile:
    """Check every row of a card file; nothing is written here."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        return _read_rows(reader)
    except csv.Error as exc:  # e.g. a quote never closed swallows the rest of the file
        raise CardFileError(f"CSV mal formé vers la ligne {reader.line_num} (guillemet non refermé ?)") from exc


def _read_rows(reader: csv.DictReader[str]) -> CardFile:
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise CardFileError(f"en-tête attendu « serial_number,seed[,step,digits] » ; il manque : {', '.join(missing)}")
    unknown = [name for name in header if name not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise CardFileError(f"colonne(s) inconnue(s) : {', '.join(unknown)} (attendues : serial_number, seed, "
                            "step, digits)")
    if len(set(header)) != len(header):
        raise CardFileError("une colonne figure deux fois dans l'en-tête")
    reader.fieldnames = header
    result, lines_of = CardFile(), defaultdict[str, list[int]](list)
    for row in reader:
        line = reader.line_num
        lines_of[normalise_serial(row.get("serial_number") or "")].append(line)
        try:
            result.cards.append(_read_row(row, line))
        except ValueError as exc:
            result.errors.append((line, str(exc)))
    # A serial number written twice is ambiguous (which seed is right?): every one of its rows is bad.
    repeated = {serial: lines for serial, lines in lines_of.items() if serial and len(lines) > 1}
    for serial, lines in repeated.items():
        where = ", ".join(map(str, lines))
        result.errors.extend((line, f"numéro de série {serial} présent plusieurs fois dans le fichier "
                                    f"(lignes {where})") for line in lines)
    result.cards = [card for card in result.cards if card.serial_number not in repeated]
    known = dict(_already_known(result.cards))
    result.errors.extend((line, f"numéro de série {serial} déjà connu (carte déjà importée)")
                         for line, serial in known.items())
    known_serials = set(known.values())
    result.cards = [card for card in result.cards if card.serial_number not in known_serials]
    result.errors.sort()
    return result


def _read_row(row: dict[str, str | None], line: int) -> CardRow:
    if None in row:
        raise ValueError("trop de colonnes sur cette ligne")
    serial = normalise_serial(row.get("serial_number") or "")
    if not serial:
        raise ValueError("numéro de série vide")
    if len(serial) > 64 or not serial.isprintable():
        raise ValueError("numéro de série illisible ou trop long (64 caractères au plus)")
    try:
        seed = totp.parse_seed(row.get("seed") or "")
    except totp.SeedError as exc:
        raise ValueError(str(exc)) from exc
    period = _int(row.get("step"), 60, ALLOWED_STEPS, "step")
    digits = _int(row.get("digits"), 6, ALLOWED_DIGITS, "digits")
    return CardRow(line, serial, seed, period, digits)


def _int(value: str | None, default: int, allowed: tuple[int, ...], name: str) -> int:
    text = (value or "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or int(text) not in allowed:
        raise ValueError(f"{name} doit valoir {' ou '.join(map(str, allowed))} (lu : « {text[:20]} »)")
    return int(text)


def _already_known(cards: list[CardRow]) -> Iterable[tuple[int, str]]:
    by_serial = {card.serial_number: card.line for card in cards}
    serials = list(by_serial)
    if db.is_postgresql():  # one array parameter: no statement with thousands of placeholders to build
        wanted = sa.bindparam("serials", serials, type_=postgresql.ARRAY(sa.String))
        statement = sa.select(TotpDevice.serial_number).where(TotpDevice.serial_number == sa.any_(wanted))
        chunks = [statement]
    else:
        chunks = [sa.select(TotpDevice.serial_number).where(TotpDevice.serial_number.in_(serials[start:start + BATCH]))
                  for start in range(0, len(serials), BATCH)]
    for statement in chunks:
        for serial in db.session().scalars(statement):
            if serial is not None:
                yield by_serial[serial], serial


_COPY_COLUMNS = ("kind", "serial_number", "status", "period", "digits", "drift", "seed_encrypted", "created_at")


def _copy_cards(cards: list[CardRow], now: dt.datetime, progress: Callable[[int], None] | None) -> None:
    """PostgreSQL: the rows through COPY, in the session's transaction (one stream instead of batches of
    INSERT statements); the unique serial number is still enforced by the table."""
    import psycopg  # PostgreSQL only

    raw = db.session().connection().connection.driver_connection
    assert raw is not None
    columns = ", ".join(_COPY_COLUMNS)
    statement = f"COPY totp_device ({columns}) FROM STDIN"  # our own column names only
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for start in range(0, len(cards), BATCH):
                for card in cards[start : start + BATCH]:
                    copy.write_row(("card", normalise_serial(card.serial_number), "stock", card.period, card.digits, 0,
                                    devices.encrypt_seed("card", card.seed), now))
                if progress:
                    progress(len(cards[start : start + BATCH]))
    except psycopg.errors.IntegrityError as exc:  # a serial number imported meanwhile: as an INSERT would say
        raise sa.exc.IntegrityError(statement, None, exc) from exc


def _insert_cards(cards: list[CardRow], now: dt.datetime, progress: Callable[[int], None] | None) -> None:
    """Other databases: multi-row INSERT statements, BATCH rows each."""
    for start in range(0, len(cards), BATCH):
        chunk = cards[start : start + BATCH]
        db.session().execute(sa.insert(TotpDevice), [
            {
                "kind": "card", "serial_number": normalise_serial(card.serial_number), "status": "stock",
                "period": card.period, "digits": card.digits, "drift": 0,
                "seed_encrypted": devices.encrypt_seed("card", card.seed), "created_at": now,
            }
            for card in chunk
        ])
        if progress:
            progress(len(chunk))


def store_cards(cards: list[CardRow], now: dt.datetime, aidant_id: int | None = None,
                progress: Callable[[int], None] | None = None) -> int:
    """Insert valid cards in stock (seeds encrypted), with one journal entry for the batch."""
    if not cards:
        return 0
    if db.is_postgresql():
        _copy_cards(cards, now, progress)
    else:
        _insert_cards(cards, now, progress)
    db.session().flush()
    journal.append("import_totp_cards", now=now, actor_kind="staff" if aidant_id else "system",
                   aidant_id=aidant_id, extra={"count": len(cards)})
    return len(cards)
