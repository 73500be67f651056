"""Transfer of mandates between structures: a confirmation first, one transaction, one journal entry per mandate;
conflicts refused with nothing changed."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask

from aidants import db
from aidants.clock import FixedClock
from aidants.journal.models import JournalEntry
from aidants.mandats.models import Autorisation, Mandat, MandatUsager
from aidants.organisations.models import Organisation
from aidants.staff import services as staff
from aidants.usagers.models import Usager
from tests.factories import AidantWithDevice, make_aidant, make_organisation, sign_in
from tests.mandats.helpers import make_usager
from tests.staff.conftest import Team
from tests.staff.helpers import journal_actions, make_mandat, text


@dataclass
class Desks:
    aidant_a: AidantWithDevice
    aidant_b: AidantWithDevice
    usagers: list[Usager]
    mandats: dict[str, int]


@pytest.fixture
def desks(team: Team, fixed_clock: FixedClock) -> Desks:
    """A: u1 (papiers + social, active), u2 (famille, active), u3 (logement, expired). B: u3 (logement, active)."""
    now = fixed_clock.now()
    aidant_a, aidant_b = make_aidant(now, team.a), make_aidant(now, team.b)
    u1, u2 = make_usager(now, "Alice", "Martin"), make_usager(now, "Bruno", "Petit")
    u3 = make_usager(now, "Chloé", "Roux")
    ids = {
        "u1": make_mandat(aidant_a, u1, ["papiers", "social"], now - dt.timedelta(days=3)).id,
        "u2": make_mandat(aidant_a, u2, ["famille"], now - dt.timedelta(days=2)).id,
        "u3": make_mandat(aidant_a, u3, ["logement"], now - dt.timedelta(days=40)).id,
        "b_u3": make_mandat(aidant_b, u3, ["logement"], now - dt.timedelta(days=1)).id,
    }
    return Desks(aidant_a, aidant_b, [u1, u2, u3], ids)


def organisation_of(mandat_id: int) -> int:
    db.session().expire_all()
    mandat = db.session().get(Mandat, mandat_id)
    assert mandat is not None
    assert {a.organisation_id for a in mandat.autorisations} == {mandat.organisation_id}
    return mandat.organisation_id


def indexed(organisation: Organisation) -> set[int]:
    statement = sa.select(MandatUsager.usager_id).where(MandatUsager.organisation_id == organisation.id)
    return set(db.session().scalars(statement))


def snapshot() -> tuple[list[tuple[int, int]], list[tuple[int, int, object]], int, list[tuple[int, int]]]:
    """Everything a refused transfer must leave as it was."""
    db.session().expire_all()
    session = db.session()
    return (
        list(session.execute(sa.select(Mandat.id, Mandat.organisation_id).order_by(Mandat.id))),
        list(session.execute(sa.select(Autorisation.id, Autorisation.organisation_id, Autorisation.replaced_at)
                             .order_by(Autorisation.id))),
        session.scalar(sa.select(sa.func.count()).select_from(JournalEntry)) or 0,
        list(session.execute(sa.select(MandatUsager.organisation_id, MandatUsager.usager_id)
                             .order_by(MandatUsager.organisation_id, MandatUsager.usager_id))),
    )


def confirm(team: Team, data: dict[str, object]):  # type: ignore[no-untyped-def]
    return team.staff_client.post("/staff/mandats/transfert/confirmation", data=data)


def test_the_whole_structure_moves_after_a_confirmation(team: Team, desks: Desks, app: Flask,
                                                        fixed_clock: FixedClock) -> None:
    choose = text(team.staff_client.get(f"/staff/mandats/transfert?source={team.a.siret}&cible={team.b.siret}"))
    assert "Martin Alice" in choose and "Roux Chloé" in choose and "3 mandats dans la structure d'origine" in choose
    data = {"source_id": team.a.id, "target_id": team.b.id, "scope": "tous"}
    page = text(confirm(team, data))
    assert "3 mandats (2 actifs) de 3 usagers vont passer de <strong>Mairie A</strong>" in page
    assert "1 autorisation expirée" in page and "Confirmer le transfert</button>" in page
    assert all(organisation_of(m) == team.a.id for k, m in desks.mandats.items() if not k.startswith("b_"))

    response = team.staff_client.post("/staff/mandats/transfert/confirmer", data=data)
    assert response.status_code == 302
    assert "3 mandat(s) de 3 usager(s) transféré(s)" in text(team.staff_client.get(response.location))
    assert {organisation_of(m) for m in desks.mandats.values()} == {team.b.id}
    expired = db.session().scalars(sa.select(Autorisation).where(Autorisation.mandat_id == desks.mandats["u3"])).one()
    assert expired.replaced_at is not None  # B's own active autorisation for u3 stays the open one
    assert indexed(team.a) == set() and indexed(team.b) == {u.id for u in desks.usagers}
    entries = journal_actions("transfer_mandat")
    assert sorted(e.mandat_id for e in entries) == sorted(m for k, m in desks.mandats.items() if k != "b_u3")
    assert {(e.actor_kind, e.aidant_id, e.organisation_id) for e in entries} == {
        ("staff", team.staff.aidant.id, team.b.id)}
    assert all(e.extra == {"from_organisation": team.a.id, "to_organisation": team.b.id} for e in entries)
    # B's aidants now find these usagers; A's no longer do.
    client_b, client_a = app.test_client(), app.test_client()
    sign_in(client_b, desks.aidant_b, fixed_clock.now())
    sign_in(client_a, desks.aidant_a, fixed_clock.now())
    assert "Martin" in text(client_b.get("/espace-aidant/usagers"))
    assert "Martin" not in text(client_a.get("/espace-aidant/usagers"))


def test_only_the_chosen_usagers_move(team: Team, desks: Desks) -> None:
    u1 = desks.usagers[0]
    data = {"source_id": team.a.id, "target_id": team.b.id, "scope": "choisis", "usagers": [u1.id]}
    page = text(confirm(team, data))
    assert "1 mandat (1 actif) de 1 usager va passer" in page
    assert re.search(rf'name="usagers" value="{u1.id}"', page)
    assert team.staff_client.post("/staff/mandats/transfert/confirmer", data=data).status_code == 302
    assert organisation_of(desks.mandats["u1"]) == team.b.id
    assert organisation_of(desks.mandats["u2"]) == team.a.id
    assert indexed(team.a) == {desks.usagers[1].id, desks.usagers[2].id}
    assert u1.id in indexed(team.b)


def test_two_active_autorisations_for_the_same_demarche_block_the_transfer(team: Team, desks: Desks,
                                                                             fixed_clock: FixedClock) -> None:
    make_mandat(desks.aidant_b, desks.usagers[0], ["papiers"], fixed_clock.now())
    before = snapshot()
    data = {"source_id": team.a.id, "target_id": team.b.id, "scope": "tous"}
    page = text(confirm(team, data))
    assert "Transfert impossible en l'état" in page and "Confirmer le transfert</button>" not in page
    assert f"<tr><td>{desks.usagers[0].id}</td><td>Papiers - Citoyenneté - Élections</td></tr>" in page
    response = team.staff_client.post("/staff/mandats/transfert/confirmer", data=data)
    assert response.status_code == 302 and team.a.siret in response.location
    assert "Aucun mandat n'a été transféré" in text(team.staff_client.get(response.location))
    assert snapshot() == before


def test_an_expired_autorisation_of_the_target_is_closed_for_an_active_one(team: Team, desks: Desks,
                                                                            fixed_clock: FixedClock) -> None:
    old = make_mandat(desks.aidant_b, desks.usagers[1], ["famille"], fixed_clock.now() - dt.timedelta(days=60))
    moved = staff.transfer_mandats(team.a.id, team.b.id, [desks.usagers[1].id], staff=team.staff.aidant,
                                   now=fixed_clock.now())
    db.commit()
    assert [m for m, _ in moved.mandats] == [desks.mandats["u2"]]
    db.session().expire_all()
    closed = db.session().scalars(sa.select(Autorisation).where(Autorisation.mandat_id == old.id)).one()
    assert closed.replaced_at == fixed_clock.now()
    active = db.session().scalars(sa.select(Autorisation).where(Autorisation.mandat_id == desks.mandats["u2"])).one()
    assert active.replaced_at is None and active.organisation_id == team.b.id


@pytest.mark.parametrize("case", ["same", "inactive", "unknown", "empty", "none_chosen"])
def test_refusals_change_nothing(team: Team, desks: Desks, fixed_clock: FixedClock, case: str) -> None:
    now = fixed_clock.now()
    source, target, usagers = team.a.id, team.b.id, None
    if case == "same":
        target, message = team.a.id, "la même"
    elif case == "inactive":
        closed = make_organisation(now, "Fermée")
        closed.is_active = False
        db.commit()
        target, message = closed.id, "désactivée"
    elif case == "unknown":
        target, message = 999_999, "introuvable"
    elif case == "empty":
        source, message = make_organisation(now, "Vide").id, "aucun mandat à transférer"
        db.commit()
    else:
        usagers, message = [], "Cochez au moins un usager"
    before = snapshot()
    data: dict[str, object] = {"source_id": source, "target_id": target,
                               "scope": "tous" if usagers is None else "choisis"}
    response = confirm(team, data)
    assert response.status_code == 400 and message in text(response)
    response = team.staff_client.post("/staff/mandats/transfert/confirmer", data=data)
    assert response.status_code == 302
    assert message in text(team.staff_client.get(response.location))
    assert snapshot() == before


def test_the_choice_page_explains_bad_sirets(team: Team) -> None:
    response = team.staff_client.get("/staff/mandats/transfert?source=123&cible=" + team.b.siret)
    assert response.status_code == 400 and "Un SIRET compte 14 chiffres." in text(response)
    unknown = "".join(reversed(team.b.siret))
    response = team.staff_client.get(f"/staff/mandats/transfert?source={unknown}&cible={team.b.siret}")
    assert response.status_code == 400 and f"Aucune structure ne porte le SIRET {unknown}" in text(response)


def test_a_warning_when_the_target_is_not_habilitated_for_a_demarche(team: Team, desks: Desks) -> None:
    target = db.session().merge(team.b)
    target.allowed_demarches = "papiers,logement"
    db.commit()
    page = text(confirm(team, {"source_id": team.a.id, "target_id": team.b.id, "scope": "tous"}))
    assert "n'est pas habilitée pour ces démarches" in page
    assert "Famille - Scolarité" in page and "Social - Santé" in page


def test_a_large_structure_moves_in_several_confirmations(team: Team, desks: Desks,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staff, "MAX_TRANSFER", 2)
    data = {"source_id": team.a.id, "target_id": team.b.id, "scope": "tous"}
    assert "il en restera 1" in text(confirm(team, data))
    response = team.staff_client.post("/staff/mandats/transfert/confirmer", data=data)
    assert "Il en reste 1" in text(team.staff_client.get(response.location))
    assert organisation_of(desks.mandats["u1"]) == team.b.id and organisation_of(desks.mandats["u3"]) == team.a.id
    assert indexed(team.a) == {desks.usagers[2].id}
    team.staff_client.post("/staff/mandats/transfert/confirmer", data=data)
    assert organisation_of(desks.mandats["u3"]) == team.b.id and indexed(team.a) == set()
    assert len(journal_actions("transfer_mandat")) == 3

