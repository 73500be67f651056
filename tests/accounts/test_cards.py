"""Importing TOTP cards from the maker's CSV through the real ``aidants import-cards`` command."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask

from aidants import db
from aidants.accounts import devices
from aidants.accounts.models import TotpDevice
from aidants.cli import main
from aidants.journal.models import JournalEntry
from aidants.security import totp
from tests.factories import make_aidant


def run(app: Flask, *args: str) -> Result:
    """Run the ``aidants`` command group against the test app (its database, its clock)."""
    result = app.test_cli_runner().invoke(main, list(args))
    db.session().rollback()  # a failed command leaves its transaction to the process exit; a test lives on
    return result


def write(tmp_path: Path, text: str, name: str = "cartes.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def committed_cards() -> int:
    """Cards visible to another connection: what the command really committed."""
    with db.engine().connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(TotpDevice).where(TotpDevice.kind == "card"))


def card(serial: str) -> TotpDevice:
    found = devices.find_card(serial)
    assert found is not None, serial
    return found


def seeds(count: int) -> list[bytes]:
    return [os.urandom(20) for _ in range(count)]


def test_hex_and_base32_seeds_with_default_step_and_digits(app, tmp_path):
    hex_seed, b32_seed = seeds(2)
    path = write(tmp_path, "serial_number,seed\n"
                           f"SN-0001,{hex_seed.hex()}\n"
                           f"SN-0002,{base64.b32encode(b32_seed).decode().lower()}\n")
    result = run(app, "import-cards", path)
    assert result.exit_code == 0, result.output
    assert "2 carte(s) importée(s)" in result.stdout
    assert committed_cards() == 2
    for serial, seed in (("SN-0001", hex_seed), ("SN-0002", b32_seed)):
        found = card(serial)
        assert (found.status, found.period, found.digits, found.aidant_id) == ("stock", 60, 6, None)
        assert devices.seed_of(found) == seed


def test_optional_step_and_digits_columns_in_any_order(app, tmp_path):
    first, second, third = seeds(3)
    path = write(tmp_path, "Digits, seed ,serial_number,step\n"
                           f"8,{first.hex()},A1,30\n"
                           f",{second.hex()},A2,\n"
                           f"6,{third.hex()},A3,60\n")
    result = run(app, "import-cards", path)
    assert result.exit_code == 0, result.output
    assert (card("A1").period, card("A1").digits) == (30, 8)
    assert (card("A2").period, card("A2").digits) == (60, 6)
    assert (card("A3").period, card("A3").digits) == (60, 6)


def test_bad_rows_are_listed_with_line_numbers_and_nothing_is_imported(app, tmp_path):
    good = seeds(1)[0].hex()
    path = write(tmp_path, "\n".join([
        "serial_number,seed,step,digits",
        f"OK-1,{good},60,6",                  # 2
        f",{good},60,6",                      # 3
        "OK-2,not a seed!,60,6",              # 4
        f"OK-3,{'00' * 10},60,6",             # 5
        f"OK-4,{good},45,6",                  # 6
        f"OK-5,{good},60,7",                  # 7
        f"OK-6,{good},60,6,extra",            # 8
        "",                                   # 9 (blank lines are skipped)
        f"OK-7,{good},²,6",                   # 10
        f"OK-8,{good}",                       # 11: optional columns may be left out
    ]) + "\n")
    result = run(app, "import-cards", path)
    assert result.exit_code == 1
    errors = result.stderr
    for expected in ("ligne 3 : numéro de série vide",
                     "ligne 4 : graine ni hexadécimale ni base32",
                     "ligne 5 : graine trop courte (80 bits, 128 au moins)",
                     "ligne 6 : step doit valoir 30 ou 60",
                     "ligne 7 : digits doit valoir 6 ou 8",
                     "ligne 8 : trop de colonnes",
                     "ligne 10 : step doit valoir 30 ou 60"):
        assert expected in errors, errors
    assert "ligne 2 " not in errors and "ligne 11 " not in errors
    assert "7 ligne(s) invalide(s) : aucune carte importée" in errors
    assert "Traceback" not in result.output
    assert committed_cards() == 0
    assert db.session().scalar(sa.select(sa.func.count()).select_from(JournalEntry)
                               .where(JournalEntry.action == "import_totp_cards")) == 0


def test_duplicates_in_the_file_are_bad_rows_each_time(app, tmp_path):
    one, two, three = seeds(3)
    path = write(tmp_path, f"serial_number,seed\nD-1,{one.hex()}\nD-2,{two.hex()}\nD-1,{three.hex()}\n")
    result = run(app, "import-cards", path)
    assert result.exit_code == 1
    assert "ligne 2 : numéro de série D1 présent plusieurs fois dans le fichier (lignes 2, 4)" in result.stderr
    assert "ligne 4 : numéro de série D1 présent plusieurs fois" in result.stderr
    assert "ligne 3" not in result.stderr
    assert committed_cards() == 0


def test_cards_already_known_are_bad_rows(app, tmp_path):
    one, two = seeds(2)
    assert run(app, "import-cards", write(tmp_path, f"serial_number,seed\nK-1,{one.hex()}\n")).exit_code == 0
    result = run(app, "import-cards", write(tmp_path, f"serial_number,seed\nK-2,{two.hex()}\nK-1,{two.hex()}\n",
                                            name="again.csv"))
    assert result.exit_code == 1
    assert "ligne 3 : numéro de série K1 déjà connu" in result.stderr
    assert committed_cards() == 1
    assert devices.seed_of(card("K-1")) == one  # the known card is untouched


def test_skip_invalid_imports_the_good_rows_only(app, tmp_path):
    one, two, three = seeds(3)
    run(app, "import-cards", write(tmp_path, f"serial_number,seed\nS-0,{one.hex()}\n", name="first.csv"))
    path = write(tmp_path, "serial_number,seed\n"
                           f"S-1,{one.hex()}\n"
                           "S-2,zzz\n"
                           f"S-0,{two.hex()}\n"
                           f"S-3,{three.hex()}\n")
    result = run(app, "import-cards", "--skip-invalid", path)
    assert result.exit_code == 0, result.output
    assert "ligne 3 :" in result.stderr and "ligne 4 :" in result.stderr
    assert "2 carte(s) importée(s), 2 ligne(s) ignorée(s)." in result.stdout
    assert committed_cards() == 3
    assert devices.find_card("S-2") is None
    assert devices.seed_of(card("S-3")) == three


@pytest.mark.parametrize(("header", "message"), [
    ("serial,seed", "il manque : serial_number"),
    ("serial_number", "il manque : seed"),
    ("", "il manque : serial_number, seed"),
    ("serial_number,seed,colour", "colonne(s) inconnue(s) : colour"),
    ("serial_number,seed,seed", "une colonne figure deux fois"),
])
def test_header_missing_or_unknown_column(app, tmp_path, header, message):
    result = run(app, "import-cards", write(tmp_path, f"{header}\nX-1,{seeds(1)[0].hex()}\n" if header else ""))
    assert result.exit_code == 1
    assert "fichier illisible" in result.stderr and message in result.stderr, result.stderr
    assert "Aucune carte importée" in result.stderr
    assert committed_cards() == 0


def test_non_utf8_file_is_refused_clearly(app, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"serial_number,seed\nCarte-n°1,{seeds(1)[0].hex()}\n".encode("latin-1"))
    result = run(app, "import-cards", str(path))
    assert result.exit_code == 1
    assert "n'est pas encodé en UTF-8" in result.stderr and "Traceback" not in result.output
    assert committed_cards() == 0


def test_unclosed_quote_is_refused_clearly(app, tmp_path):
    body = "serial_number,seed\n" + f'"Q-1,{seeds(1)[0].hex()}\n' + ("x" * 140_000) + "\n"
    result = run(app, "import-cards", write(tmp_path, body))
    assert result.exit_code == 1
    assert "CSV mal formé" in result.stderr and "Traceback" not in result.output
    assert committed_cards() == 0


def test_utf8_bom_and_crlf_are_accepted(app, tmp_path):
    path = tmp_path / "excel.csv"
    seed = seeds(1)[0]
    path.write_bytes(f"\ufeffserial_number,seed\r\nB-1,{seed.hex()}\r\n".encode())
    result = run(app, "import-cards", str(path))
    assert result.exit_code == 0, result.output
    assert devices.seed_of(card("B-1")) == seed


def test_seeds_are_stored_encrypted(app, tmp_path):
    seed = seeds(1)[0]
    b32 = base64.b32encode(seed).decode()
    run(app, "import-cards", write(tmp_path, f"serial_number,seed\nE-1,{b32}\n"))
    with db.engine().connect() as connection:
        row = connection.execute(sa.text("SELECT * FROM totp_device WHERE serial_number = 'E1'")).mappings().one()
    stored = " ".join(str(value) for value in row.values())
    for form in (seed.hex(), seed.hex().upper(), b32, b32.rstrip("="), base64.b64encode(seed).decode().rstrip("="),
                 base64.urlsafe_b64encode(seed).decode().rstrip("="), seed.decode("latin-1")):
        assert form not in stored
    assert row["seed_encrypted"].startswith(devices.keyring().current_kid + ":")
    assert devices.seed_of(card("E-1")) == seed


def test_a_stored_card_holds_its_normal_serial_stock_status_step_and_import_time(app, tmp_path, fixed_clock):
    """Whichever path stores the rows (COPY on PostgreSQL, INSERT elsewhere), the same values land."""
    one, two = seeds(2)
    text = f"serial_number,seed,step,digits\nst-1,{one.hex()},30,8\nBACK\\SLASH,{two.hex()},,\n"
    assert run(app, "import-cards", write(tmp_path, text)).exit_code == 0
    stored = {device.serial_number: device for device in db.session().scalars(sa.select(TotpDevice))}
    assert set(stored) == {"ST1", "BACK\\SLASH"}
    first, second = stored["ST1"], stored["BACK\\SLASH"]
    assert (first.kind, first.status, first.period, first.digits, first.drift) == ("card", "stock", 30, 8, 0)
    assert (second.period, second.digits) == (60, 6)
    assert first.created_at == second.created_at == fixed_clock.now()
    assert first.aidant_id is None and first.last_step is None
    assert devices.seed_of(first) == one and devices.seed_of(second) == two
    assert first.seed_encrypted.partition(":")[2] != second.seed_encrypted.partition(":")[2]


def test_import_is_journaled(app, tmp_path):
    path = write(tmp_path, "serial_number,seed\n" + "".join(f"J-{n},{s.hex()}\n" for n, s in enumerate(seeds(3))))
    assert run(app, "import-cards", path).exit_code == 0
    entry = db.session().scalars(sa.select(JournalEntry).where(JournalEntry.action == "import_totp_cards")).one()
    assert entry.extra == {"count": 3}
    assert entry.actor_kind == "system"


def test_an_imported_card_signs_in_once_activated(app, client, tmp_path, fixed_clock):
    """End to end: file → stock → activation → the card's codes are accepted."""
    seed = seeds(1)[0]
    run(app, "import-cards", write(tmp_path, f"serial_number,seed\nE2E-1,{seed.hex()}\n"))
    who = make_aidant(fixed_clock.now())
    now = fixed_clock.now()
    step = totp.step_at(now, 60)
    error = devices.activate_card(who.aidant, "E2E-1", totp.code_for_step(seed, step - 1),
                                  totp.code_for_step(seed, step), now)
    assert error is None
    fixed_clock.advance(minutes=1)
    assert devices.check_aidant_code(who.aidant, totp.code_for_step(seed, step + 1), fixed_clock.now())


def test_a_hundred_thousand_cards(app, tmp_path):
    count = 100_000
    rows = "".join(f"HT{n:07d},{os.urandom(20).hex()}\n" for n in range(count))
    result = run(app, "import-cards", write(tmp_path, "serial_number,seed\n" + rows))
    assert result.exit_code == 0, result.output
    assert f"{count} carte(s) importée(s)" in result.stdout
    assert committed_cards() == count
    last = card(f"HT{count - 1:07d}")
    assert len(devices.seed_of(last)) == 20


def test_serials_match_whatever_their_case_spaces_or_dashes(app, tmp_path):
    one, two = seeds(2)
    assert run(app, "import-cards", write(tmp_path, f"serial_number,seed\nab-12 34,{one.hex()}\n")).exit_code == 0
    for typed in ("AB-12 34", "ab1234", " Ab 12-34 ", "AB–1234"):
        assert devices.seed_of(card(typed)) == one, typed
    assert devices.find_card("AB-12-35") is None
    # The same card written another way is a duplicate, in the file and against the stock.
    result = run(app, "import-cards", write(tmp_path, f"serial_number,seed\nAB 1234,{two.hex()}\n", name="b.csv"))
    assert result.exit_code == 1 and "numéro de série AB1234 déjà connu" in result.stderr
    result = run(app, "import-cards", write(tmp_path, f"serial_number,seed\nx-1,{one.hex()}\nX1,{two.hex()}\n",
                                            name="c.csv"))
    assert result.exit_code == 1 and "X1 présent plusieurs fois" in result.stderr


def test_the_migration_normalises_existing_serials(tmp_path):
    """Rows written before the normal form are rewritten by revision 0011; a clash keeps its spelling."""
    from aidants import migrate

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    migrate.upgrade(engine, "0010")
    with engine.begin() as connection:
        for serial in ("sn-01", "SN 02", "SN02"):
            connection.execute(sa.text(
                "INSERT INTO totp_device (kind, serial_number, status, period, digits, seed_encrypted, drift, "
                "created_at) VALUES ('card', :s, 'stock', 60, 6, 'x', 0, '2026-01-01 00:00:00')"), {"s": serial})
    migrate.upgrade(engine, "0011")
    with engine.connect() as connection:
        found = sorted(connection.scalars(sa.text("SELECT serial_number FROM totp_device")))
    engine.dispose()
    assert found == ["SN 02", "SN01", "SN02"]
