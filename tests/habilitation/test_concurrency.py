"""Two changes of the same request at the same moment (double click, two staff members): one wins, the
other gets a French message and changes nothing. Real threads, each with its own session and connection."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from aidants import db
from aidants.accounts.models import Aidant
from aidants.habilitation import queries, review, services
from aidants.organisations.models import Organisation
from tests.factories import make_aidant, run_together
from tests.habilitation.helpers import fill_request, journal_entries, start_issuer, submitted_request


def test_a_submission_racing_itself_is_sent_once(app, client, fixed_clock):
    issuer = start_issuer(client, "demandeur@mairie.example.org")
    fill_request(issuer)
    uuid, issuer_id, now = issuer.uuid, issuer.request.issuer_id, fixed_clock.now()

    def send() -> str:
        found = queries.issuer_request(uuid, issuer_id, for_update=True)
        assert found is not None
        services.submit(found, terms_accepted=True, now=now)
        return "sent"

    results = run_together(app, [send, send])
    assert results.count("sent") == 1, results
    [refused] = [r for r in results if r != "sent"]
    assert isinstance(refused, services.HabilitationError), refused
    assert len(journal_entries("submit")) == 1
    assert issuer.request.status == "submitted"


def test_two_staff_answering_at_once_leave_one_decision(app, client, fixed_clock):
    issuer = submitted_request(client)
    now = fixed_clock.now()
    staff_ids = [make_aidant(now, is_staff=True).aidant.id for _ in range(2)]
    uuid = issuer.uuid

    def decide(staff_id: int, status: str, message: str) -> Callable[[], str]:
        def job() -> str:
            found = queries.request_by_uuid(uuid, for_update=True)
            staff = db.session().get(Aidant, staff_id)
            assert found is not None and staff is not None
            review.decide(found, staff, status, message, now)
            return status
        return job

    results = run_together(app, [decide(staff_ids[0], "accepted", ""),
                                 decide(staff_ids[1], "refused", "Hors du champ.")])
    winners = [r for r in results if isinstance(r, str)]
    assert len(winners) == 1, results
    assert all(isinstance(r, services.HabilitationError) for r in results if not isinstance(r, str)), results
    final = issuer.request
    assert final.status == winners[0]
    created = db.session().scalars(sa.select(Organisation).where(Organisation.siret == final.siret)).all()
    assert len(created) == (1 if winners[0] == "accepted" else 0)
    assert len(journal_entries("accept_habilitation") + journal_entries("refuse_habilitation")) == 1
