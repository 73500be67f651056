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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from aidants import db
from aidants.accounts import devices
from aidants.accounts.models import TotpDevice
from aidants.journal import services as journal
from aidants.security import totp

if TYPE_CHECKING:
    import _csv

REQUIRED_COLUMNS = ("serial_number", "seed")
OPTIONAL_COLUMNS = ("step", "digits")
ALLOWED_STEPS = (30, 60)
ALLOWED_DIGITS = (6, 8)
BATCH = 5000
#: Spaces and dashes (of every kind) that people and makers put inside serial numbers.
_SERIAL_NOISE = re.compile(r"[\s\-‐‑‒–—]")


def normalise_serial(serial: str) -> str:
    """A serial number as stored and looked up: without spaces or dashes, upper-cased."""
    if serial.isascii() and serial.isalnum():  # the makers' usual form: nothing to strip (no regex)
        return serial.upper()
    return _SERIAL_NOISE.sub("", serial).upper()


class CardRow(NamedTuple):
    """A valid card, ready to store (a named tuple: 100,000 of them are built per file, cheaply)."""

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


@dataclass(frozen=True)
class _Columns:
    """Where each column of the header is, and how many there are (a longer row has too many)."""

    serial: int
    seed: int
    step: int | None
    digits: int | None
    width: int


def read_card_file(text: str) -> CardFile:
    """Check every row of a card file; nothing is written here."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        return _read_rows(reader)
    except csv.Error as exc:  # e.g. a quote never closed swallows the rest of the file
        raise CardFileError(f"CSV mal formé vers la ligne {reader.line_num} (guillemet non refermé ?)") from exc


def _read_header(names: list[str]) -> _Columns:
    """The header's columns, or CardFileError saying what is wrong with it."""
    header = [name.strip().lower() for name in names]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise CardFileError(f"en-tête attendu « serial_number,seed[,step,digits] » ; il manque : {', '.join(missing)}")
    unknown = [name for name in header if name not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise CardFileError(f"colonne(s) inconnue(s) : {', '.join(unknown)} (attendues : serial_number, seed, "
                            "step, digits)")
    if len(set(header)) != len(header):
        raise CardFileError("une colonne figure deux fois dans l'en-tête")
    at = {name: index for index, name in enumerate(header)}
    return _Columns(at["serial_number"], at["seed"], at.get("step"), at.get("digits"), len(header))


def _read_rows(reader: _csv.Reader) -> CardFile:
    """Every row checked with the plain CSV reader (a dict per row costs more than the checks themselves)."""
    columns = _read_header(next(reader, []))
    result = CardFile()
    first_line: dict[str, int] = {}
    repeated: dict[str, list[int]] = {}
    for row in reader:
        if not row:  # a blank line, skipped as the CSV dict reader did
            continue
        line = reader.line_num
        serial = normalise_serial(row[columns.serial]) if len(row) > columns.serial else ""
        if serial in first_line:
            repeated.setdefault(serial, [first_line[serial]]).append(line)
        elif serial:
            first_line[serial] = line
        try:
            result.cards.append(_read_row(row, columns, serial, line))
        except ValueError as exc:
            result.errors.append((line, str(exc)))
    # A serial number written twice is ambiguous (which seed is right?): every one of its rows is bad.
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


def _cell(row: list[str], index: int | None) -> str:
    """A row's value in a column ("" for a missing column or a short row)."""
    return row[index] if index is not None and index < len(row) else ""


def _read_row(row: list[str], columns: _Columns, serial: str, line: int) -> CardRow:
    """One row checked; ``serial`` is its serial number already normalised."""
    if len(row) > columns.width:
        raise ValueError("trop de colonnes sur cette ligne")
    if not serial:
        raise ValueError("numéro de série vide")
    if len(serial) > 64 or not serial.isprintable():
        raise ValueError("numéro de série illisible ou trop long (64 caractères au plus)")
    seed = _seed(_cell(row, columns.seed))
    period = _int(_cell(row, columns.step), 60, ALLOWED_STEPS, "step")
    digits = _int(_cell(row, columns.digits), 6, ALLOWED_DIGITS, "digits")
    return CardRow(line, serial, seed, period, digits)


def _seed(text: str) -> bytes:
    """The seed of a row: the makers' plain hexadecimal read directly, anything else by ``totp.parse_seed``
    (which gives the reason a seed is refused)."""
    if text.isascii() and text.isalnum():
        try:
            seed = bytes.fromhex(text)  # letters and digits only: succeeds exactly when parse_seed reads hex
        except ValueError:
            seed = b""
        if totp.MIN_SEED_BYTES <= len(seed) <= totp.MAX_SEED_BYTES:
            return seed
    try:
        return totp.parse_seed(text)
    except totp.SeedError as exc:
        raise ValueError(str(exc)) from exc


def _int(value: str, default: int, allowed: tuple[int, ...], name: str) -> int:
    text = value.strip() if value else ""
    if not text:
        return default
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or int(text) not in allowed:
        raise ValueError(f"{name} doit valoir {' ou '.join(map(str, allowed))} (lu : « {text[:20]} »)")
    return int(text)


def _already_known(cards: list[CardRow]) -> Iterable[tuple[int, str]]:
    by_serial = {card.serial_number: card.line for card in cards}
    serials = list(by_serial)
    if db.is_postgresql():
        # One text parameter split by the server: neither thousands of placeholders nor an array of 100,000
        # strings to adapt one by one. A normalised serial number holds no whitespace, so no newline.
        wanted = sa.func.string_to_array(sa.bindparam("serials", "\n".join(serials), type_=sa.Text),
                                         sa.literal("\n"), type_=postgresql.ARRAY(sa.Text))
        chunks = [sa.select(TotpDevice.serial_number).where(TotpDevice.serial_number == sa.any_(wanted))]
    else:
        chunks = [sa.select(TotpDevice.serial_number).where(TotpDevice.serial_number.in_(serials[start:start + BATCH]))
                  for start in range(0, len(serials), BATCH)]
    for statement in chunks:
        for serial in db.session().scalars(statement):
            if serial is not None:
                yield by_serial[serial], serial


_COPY_COLUMNS = ("kind", "serial_number", "status", "period", "digits", "drift", "seed_encrypted", "created_at")
#: COPY's text format: a backslash, tab, newline or carriage return inside a value is written escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_lines(cards: list[CardRow], now: dt.datetime) -> str:
    """Cards as lines of COPY's text format, seeds encrypted (the same values as the INSERT path's)."""
    sealed = devices.encrypt_seeds("card", [card.seed for card in cards])
    if sealed and _copy_text(sealed[0]) != sealed[0]:  # a key id to escape (the rest of each is base64)
        sealed = [_copy_text(seed) for seed in sealed]
    created = _copy_text(now.isoformat())
    return "".join(
        f"card\t{_copy_text(normalise_serial(card.serial_number))}\tstock\t{card.period:d}\t"
        f"{card.digits:d}\t0\t{seed}\t{created}\n"
        for card, seed in zip(cards, sealed, strict=True)
    )


def _copy_text(value: str) -> str:
    """A value escaped for COPY's text format (the check first: translating every value costs a second)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


def _copy_cards(cards: list[CardRow], now: dt.datetime, progress: Callable[[int], None] | None) -> None:
    """PostgreSQL: the rows through COPY, in the session's transaction (one stream instead of batches of
    INSERT statements), written as text lines here (per-row adaptation by the driver cost more than the
    encryption); the unique serial number is still enforced by the table."""
    import psycopg  # PostgreSQL only

    raw = db.session().connection().connection.driver_connection
    assert raw is not None
    columns = ", ".join(_COPY_COLUMNS)
    statement = f"COPY totp_device ({columns}) FROM STDIN"  # our own column names only
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for start in range(0, len(cards), BATCH):
                chunk = cards[start : start + BATCH]
                copy.write(_copy_lines(chunk, now))
                if progress:
                    progress(len(chunk))
    except psycopg.errors.IntegrityError as exc:  # a serial number imported meanwhile: as an INSERT would say
        raise sa.exc.IntegrityError(statement, None, exc) from exc


def _insert_cards(cards: list[CardRow], now: dt.datetime, progress: Callable[[int], None] | None) -> None:
    """Other databases: multi-row INSERT statements, BATCH rows each."""
    for start in range(0, len(cards), BATCH):
        chunk = cards[start : start + BATCH]
        sealed = devices.encrypt_seeds("card", [card.seed for card in chunk])
        db.session().execute(sa.insert(TotpDevice), [
            {
                "kind": "card", "serial_number": normalise_serial(card.serial_number), "status": "stock",
                "period": card.period, "digits": card.digits, "drift": 0, "seed_encrypted": seed,
                "created_at": now,
            }
            for card, seed in zip(chunk, sealed, strict=True)
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
