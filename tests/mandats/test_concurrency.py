"""Two creations at the same moment: a double submission makes one mandate; two aidants never leave two
open autorisations for the same usager, structure and démarche. Real threads, real database."""

from __future__ import annotations

import sqlalchemy as sa

from aidants import db
from aidants.accounts.models import Aidant
from aidants.mandats import services
from aidants.mandats.models import Autorisation, Mandat
from tests.factories import make_aidant, make_organisation, run_together
from tests.mandats.helpers import make_usager


def open_autorisations(usager_id: int) -> list[tuple[str, int]]:
    statement = sa.select(Autorisation.demarche, Autorisation.mandat_id).where(
        Autorisation.usager_id == usager_id, Autorisation.revoked_at.is_(None), Autorisation.replaced_at.is_(None))
    return [(row[0], row[1]) for row in db.session().execute(statement)]


def test_a_double_submission_racing_itself_creates_one_mandate(app, fixed_clock):
    now = fixed_clock.now()
    who = make_aidant(now)
    usager = make_usager(now)
    token, code = services.new_form_token(), who.code(now)

    def submit() -> str:
        aidant = db.session().get(Aidant, who.aidant.id)
        assert aidant is not None
        return services.create_mandat(
            aidant=aidant, usager_id=usager.id, organisation_id=aidant.current_organisation_id or 0,
            demarches=["papiers"], duration="month", code=code, consent=True, form_token=token,
            issuer="http://localhost", now=now).uuid

    results = run_together(app, [submit, submit])
    created = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, services.MandatError)]
    assert len(created) == 1 and len(refused) == 1, results
    assert db.session().scalar(sa.select(sa.func.count()).select_from(Mandat)) == 1
    if isinstance(refused[0], services.AlreadyCreated):
        assert refused[0].uuid == created[0]
    assert open_autorisations(usager.id) == [("papiers", db.session().scalars(sa.select(Mandat.id)).one())]


def test_two_aidants_creating_for_the_same_usager_leave_one_open_autorisation_per_demarche(app, fixed_clock):
    now = fixed_clock.now()
    organisation = make_organisation(now)
    first, second = make_aidant(now, organisation), make_aidant(now, organisation)
    usager = make_usager(now)

    def create(who) -> str:  # type: ignore[no-untyped-def]
        def job() -> str:
            aidant = db.session().get(Aidant, who.aidant.id)
            assert aidant is not None
            return services.create_mandat(
                aidant=aidant, usager_id=usager.id, organisation_id=organisation.id,
                demarches=["papiers", "social"], duration="month", code=who.code(now), consent=True,
                form_token=services.new_form_token(), issuer="http://localhost", now=now).uuid
        return job

    results = run_together(app, [create(first), create(second)])
    assert all(isinstance(r, str | services.MandatError) for r in results), results
    assert any(isinstance(r, str) for r in results)
    db.session().expire_all()
    found = open_autorisations(usager.id)
    assert sorted(d for d, _ in found) == ["papiers", "social"]  # exactly one open per démarche
    assert len({mandat_id for _, mandat_id in found}) == 1
