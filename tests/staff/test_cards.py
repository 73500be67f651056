"""Card import from the back-office: the CLI's checks, all or nothing, or the valid rows when asked for."""

from __future__ import annotations

import io

import sqlalchemy as sa

from aidants import db
from aidants.accounts import cards
from aidants.accounts.models import TotpDevice
from tests.staff.conftest import Team
from tests.staff.helpers import journal_actions, text

SEED_HEX = "3132333435363738393031323334353637383930"  # 160 bits
SEED_B32 = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def upload(team: Team, content: bytes | str, skip_invalid: bool = False, name: str = "cartes.csv"):  # type: ignore[no-untyped-def]
    data: dict[str, object] = {"file": (io.BytesIO(content.encode() if isinstance(content, str) else content), name)}
    if skip_invalid:
        data["skip_invalid"] = "y"
    return team.staff_client.post("/staff/cartes", data=data, content_type="multipart/form-data")


def stock() -> list[str]:
    db.session().expire_all()
    statement = sa.select(TotpDevice.serial_number).where(TotpDevice.kind == "card").order_by(TotpDevice.serial_number)
    return [s for s in db.session().scalars(statement) if s]


def test_the_page_states_the_format_and_the_size_limit(team: Team) -> None:
    page = text(team.staff_client.get("/staff/cartes"))
    assert "serial_number,seed" in page and "Taille maximale du fichier : 2 Mio" in page
    assert 'enctype="multipart/form-data"' in page and 'name="csrf_token"' in page


def test_a_valid_file_is_imported_and_journaled(team: Team) -> None:
    response = upload(team, f"serial_number,seed,step,digits\nSN-1,{SEED_HEX},60,6\nSN-2,{SEED_B32},30,8\n")
    assert response.status_code == 200
    assert "2 cartes importées" in text(response)
    assert stock() == ["SN1", "SN2"]  # stored without dashes
    entry = journal_actions("import_totp_cards")[-1]
    assert entry.actor_kind == "staff" and entry.aidant_id == team.staff.aidant.id and entry.extra == {"count": 2}


def test_bad_lines_are_listed_with_their_numbers_and_nothing_is_imported(team: Team) -> None:
    upload(team, f"serial_number,seed\nKNOWN,{SEED_HEX}\n")
    content = (f"serial_number,seed,step\nOK-1,{SEED_HEX},60\n,{SEED_HEX},60\nBAD-SEED,zz!,60\n"
               f"OK-2,{SEED_HEX},45\nKNOWN,{SEED_HEX},60\nTWICE,{SEED_HEX},60\nTWICE,{SEED_B32},60\n")
    before = len(journal_actions("import_totp_cards"))
    response = upload(team, content)
    page = text(response)
    assert response.status_code == 400
    assert "Aucune carte importée" in page
    table = page[page.index('<table tabindex="0" id="bad-lines">'):page.index("</table>")]
    for line in (3, 4, 5, 6, 7, 8):
        assert f"<tr><td>{line}</td>" in table, line
    assert "<tr><td>2</td>" not in table
    assert "déjà connu" in table and "plusieurs fois" in table and "step doit valoir" in table
    assert stock() == ["KNOWN"]
    assert len(journal_actions("import_totp_cards")) == before


def test_the_valid_rows_only_when_asked_for(team: Team) -> None:
    content = f"serial_number,seed\nOK-1,{SEED_HEX}\nBAD,abc\nOK-2,{SEED_B32}\n"
    response = upload(team, content, skip_invalid=True)
    page = text(response)
    assert response.status_code == 200
    assert "2 cartes importées" in page and "1 ligne ignorée" in page and "<tr><td>3</td>" in page
    assert stock() == ["OK1", "OK2"]


def test_unreadable_files_are_refused_with_a_reason(team: Team) -> None:
    cases = [
        (b"serial_number,seed\nSN,\xff\xfe\n", "UTF-8"),
        ("numero,graine\nSN,abc\n", "il manque : serial_number, seed"),
        ("serial_number,seed\n", "aucune carte"),
        ("serial_number,seed,colour\nSN,abc,red\n", "colonne(s) inconnue(s) : colour"),
    ]
    for content, reason in cases:
        response = upload(team, content)
        assert response.status_code == 400, reason
        assert reason in text(response), reason
    assert stock() == []


def test_a_missing_file_is_asked_for(team: Team) -> None:
    response = team.staff_client.post("/staff/cartes", data={}, content_type="multipart/form-data")
    assert response.status_code == 400 and "Choisissez le fichier à importer." in text(response)


def test_a_file_above_the_limit_gets_a_clear_413(team: Team, app) -> None:  # type: ignore[no-untyped-def]
    big = "serial_number,seed\n" + "".join(f"S{n},{SEED_HEX}\n" for n in range(2 * 1024 * 1024 // 40))
    assert len(big) > app.config["MAX_CONTENT_LENGTH"]
    response = upload(team, big)
    assert response.status_code == 413 and "trop volumineux" in text(response)
    assert stock() == []


def test_a_concurrent_import_of_the_same_cards_leaves_nothing(team: Team, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Another import stored SN-2 between the check and the insert: the database refuses, nothing is kept."""
    upload(team, f"serial_number,seed\nSN-2,{SEED_HEX}\n")
    monkeypatch.setattr(cards, "_already_known", lambda found: iter(()))  # the check saw no SN-2 yet
    response = upload(team, f"serial_number,seed\nSN-1,{SEED_HEX}\nSN-2,{SEED_B32}\n")
    assert response.status_code == 409 and "Une autre importation" in text(response)
    assert stock() == ["SN2"]
    assert len(journal_actions("import_totp_cards")) == 1
