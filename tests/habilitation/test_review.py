"""The staff's review: list and filter, answer with a message (the issuer is emailed), accept, note trainings."""

from __future__ import annotations

import sqlalchemy as sa

from aidants import db
from aidants.accounts.models import Aidant, TotpDevice
from aidants.accounts.services import find_aidant
from aidants.journal import services as journal
from aidants.journal.services import PERSONAL_KEYS
from aidants.organisations.models import Organisation
from tests.factories import make_aidant, make_organisation, queued_to, sign_in
from tests.habilitation.helpers import (
    REFERENT,
    aidant_data,
    emails_to,
    fill_request,
    journal_entries,
    start_issuer,
    submit,
    submitted_request,
    text,
)

EMAIL = "demandeur@mairie.example.org"


def staff_client(app, now):
    """A second browser, signed in as a member of the staff."""
    client = app.test_client()
    staff = make_aidant(now, is_staff=True)
    sign_in(client, staff, now)
    return client, staff


def answer(client, issuer, action, body=""):
    """A staff answer, confirmed (refusing and closing first show a confirmation page)."""
    return client.post(f"/staff/habilitations/{issuer.uuid}/reponse",
                       data={"action": action, "body": body, "confirmed": "yes"})


def test_refusing_or_closing_asks_for_a_confirmation_that_says_the_consequence(app, client, fixed_clock):
    issuer = submitted_request(client, EMAIL)
    staff, _ = staff_client(app, fixed_clock.now())
    path = f"/staff/habilitations/{issuer.uuid}/reponse"
    for action, consequence in (("refused", "définitivement refusée"), ("closed", "close sans décision")):
        response = staff.post(path, data={"action": action, "body": "Hors du champ."})
        assert response.status_code == 200 and consequence in text(response), action
        db.session().expire_all()
        assert issuer.request.status == "submitted"
    response = staff.post(path, data={"action": "refused", "body": "Hors du champ.", "confirmed": "yes"})
    assert response.status_code == 302
    db.session().expire_all()
    assert issuer.request.status == "refused"


def test_the_staff_list_filters_by_status_and_search(app, client, fixed_clock):
    sent = submitted_request(client, EMAIL)
    other = app.test_client()
    draft = start_issuer(other, "brouillon@asso.example.org")
    fill_request(draft, aidants=1)
    staff, _ = staff_client(app, fixed_clock.now())
    page = text(staff.get("/staff/habilitations"))
    assert sent.uuid in page and draft.uuid not in page  # drafts only when asked
    assert draft.uuid in text(staff.get("/staff/habilitations?status=draft"))
    assert sent.uuid not in text(staff.get("/staff/habilitations?status=accepted"))
    assert sent.uuid in text(staff.get("/staff/habilitations?q=demandeur@mairie"))
    assert sent.uuid in text(staff.get(f"/staff/habilitations?q={sent.request.siret}"))
    assert sent.uuid not in text(staff.get("/staff/habilitations?q=introuvable%25_"))
    assert staff.get("/staff/habilitations?status=inconnu&page=abc").status_code == 200


def test_require_changes_then_resubmission_then_acceptance(app, client, fixed_clock):
    issuer = submitted_request(client, EMAIL)
    staff, member = staff_client(app, fixed_clock.now())
    detail = text(staff.get(f"/staff/habilitations/{issuer.uuid}"))
    assert "Demander des modifications" in detail and "Dominique Martin" in detail

    missing = answer(staff, issuer, "changes_required")
    assert missing.status_code == 400 and "Écrivez un message au demandeur" in text(missing)
    assert issuer.request.status == "submitted"

    response = answer(staff, issuer, "changes_required", "Merci d'ajouter le référent de l'annexe.")
    assert response.status_code == 302
    assert issuer.request.status == "changes_required"
    [mail] = [m for m in emails_to(EMAIL) if "modifications" in m.subject]
    assert "Merci d'ajouter le référent de l'annexe." in mail.body
    assert f"/habilitation/demandes/{issuer.uuid}" in mail.body
    page = text(client.get(issuer.path()))
    assert "Modifications demandées" in page and "Merci d'ajouter le référent de l'annexe." in page

    assert client.post(issuer.path("aidants"), data=aidant_data(5)).status_code == 302  # editable again
    assert answer(staff, issuer, "accepted").status_code == 400  # not while the issuer edits
    assert submit(issuer).status_code == 302
    assert [e.extra["resubmission"] for e in journal_entries("submit")] == [False, True]

    response = answer(staff, issuer, "accepted", "Bienvenue !")
    assert response.status_code == 302
    accepted = issuer.request
    assert accepted.status == "accepted" and accepted.decided_by_id == member.aidant.id
    organisation = db.session().get(Organisation, accepted.organisation_id)
    assert organisation.siret == accepted.siret and organisation.name == accepted.name
    referent = find_aidant(REFERENT["email"])
    assert referent.is_active and organisation in referent.referent_of and organisation in referent.organisations
    assert referent.can_create_mandats is False  # not an aidant until trained
    pending = [find_aidant(row.email) for row in accepted.aidants]
    assert len(pending) == 3
    for aidant in pending:
        assert not aidant.is_active and aidant.current_organisation_id == organisation.id
        assert db.session().scalars(sa.select(TotpDevice).where(TotpDevice.aidant_id == aidant.id)).all() == []
    assert any("est acceptée" in m.subject for m in emails_to(EMAIL))
    [activation] = queued_to(REFERENT["email"])  # no card to wait for: an activation link
    assert "Activez" in activation.subject and "/activation/" in activation.body and "référent" in activation.body
    assert all(emails_to(aidant.email) == [] for aidant in pending)  # they are emailed once trained
    assert "Formation effectuée" in text(staff.get(f"/staff/habilitations/{issuer.uuid}"))


def test_training_done_activates_the_account_and_emails_the_aidant(app, client, fixed_clock):
    issuer = submitted_request(client, EMAIL, aidants=2)
    staff, member = staff_client(app, fixed_clock.now())
    path = f"/staff/habilitations/{issuer.uuid}/aidants"
    first = issuer.request.aidants[0]
    early = staff.post(f"{path}/{first.id}/formation", follow_redirects=True)
    assert "une fois la demande acceptée" in text(early)
    assert answer(staff, issuer, "accepted").status_code == 302
    row_id, email = first.id, first.email
    response = staff.post(f"{path}/{row_id}/formation")
    assert response.status_code == 302
    db.session().expire_all()
    aidant = find_aidant(email)
    assert aidant.is_active and aidant.can_create_mandats
    [mail] = queued_to(email)
    assert "Activez" in mail.subject and "/activation/" in mail.body and "formation est notée" in mail.body
    assert not find_aidant(issuer.request.aidants[1].email).is_active
    again = staff.post(f"{path}/{row_id}/formation", follow_redirects=True)
    assert "déjà notée" in text(again)
    assert len(queued_to(email)) == 1
    [entry] = journal_entries("habilitation_aidant_trained")
    assert entry.aidant_id == member.aidant.id and entry.extra["trained_aidant_id"] == aidant.id
    other = submitted_request(app.test_client(), "autre@asso.example.org")
    answer(staff, other, "accepted")
    foreign = staff.post(f"/staff/habilitations/{other.uuid}/aidants/{row_id}/formation", follow_redirects=True)
    assert "ne figure pas dans la demande" in text(foreign)


def test_a_referent_listed_among_the_aidants_gets_one_account(app, client, fixed_clock):
    issuer = start_issuer(client, EMAIL)
    fill_request(issuer, aidants=1)
    client.post(issuer.path("aidants"), data={**aidant_data(9), "email": REFERENT["email"].upper()})
    assert submit(issuer).status_code == 302
    staff, _ = staff_client(app, fixed_clock.now())
    assert answer(staff, issuer, "accepted").status_code == 302
    referent = find_aidant(REFERENT["email"])
    rows = issuer.request.aidants
    assert rows[1].aidant_id == referent.id and referent.is_active and not referent.can_create_mandats
    staff.post(f"/staff/habilitations/{issuer.uuid}/aidants/{rows[1].id}/formation")
    db.session().expire_all()
    assert find_aidant(REFERENT["email"]).can_create_mandats


def test_known_siret_and_known_emails_join_instead_of_duplicating(app, client, fixed_clock):
    now = fixed_clock.now()
    organisation = make_organisation(now, name="Mairie existante")
    known = make_aidant(now, email=aidant_data(0)["email"])
    issuer = submitted_request(client, EMAIL, siret=organisation.siret, aidants=1)
    staff, _ = staff_client(app, now)
    assert "Une structure porte déjà ce SIRET" in text(staff.get(f"/staff/habilitations/{issuer.uuid}"))
    assert answer(staff, issuer, "accepted").status_code == 302
    assert len(db.session().scalars(sa.select(Organisation).where(Organisation.siret == organisation.siret)).all()) == 1
    db.session().expire_all()
    joined = db.session().get(Aidant, known.aidant.id)
    assert organisation in joined.organisations and joined.is_active
    assert len(db.session().scalars(sa.select(Aidant).where(Aidant.email == known.aidant.email)).all()) == 1
    assert [e.extra["member_aidant_id"] for e in journal_entries("join_organisation")] == [joined.id]


def test_refuse_and_close_need_the_right_status(app, client, fixed_clock):
    issuer = submitted_request(client, EMAIL)
    staff, _ = staff_client(app, fixed_clock.now())
    assert answer(staff, issuer, "refused").status_code == 400  # a message is required
    assert answer(staff, issuer, "refused", "Structure hors du champ.").status_code == 302
    assert issuer.request.status == "refused"
    for action in ("accepted", "changes_required", "closed", "refused", "n'importe quoi"):
        response = answer(staff, issuer, action, "Encore")
        assert response.status_code == 400, action
        assert "Erreur du service" not in text(response)
    assert issuer.request.status == "refused"
    assert issuer.request.organisation_id is None
    assert db.session().scalars(sa.select(Organisation).where(Organisation.siret == issuer.request.siret)).all() == []
    # A message alone is still possible, and the issuer may answer.
    assert answer(staff, issuer, "message", "Vous pouvez refaire une demande.").status_code == 302
    assert client.post(issuer.path("messages"), data={"body": "Merci."}).status_code == 302
    assert [m.author_kind for m in issuer.request.messages] == ["staff", "staff", "issuer"]


def test_every_state_change_is_journaled_with_identifiers_only(app, client, fixed_clock):
    issuer = submitted_request(client, EMAIL)
    staff, _ = staff_client(app, fixed_clock.now())
    answer(staff, issuer, "changes_required", "Précisez l'adresse.")
    submit(issuer)
    answer(staff, issuer, "accepted")
    actions = [entry.action for entry in journal_entries()]
    for expected in ("confirm_habilitation_issuer", "create_habilitation_request", "submit_habilitation_request",
                     "require_habilitation_changes", "accept_habilitation_request", "create_organisation",
                     "create_aidant"):
        assert expected in actions, expected
    [accepted] = journal_entries("accept_habilitation")
    referent = find_aidant(REFERENT["email"])
    assert accepted.extra["referent_id"] == referent.id and accepted.organisation_id == issuer.request.organisation_id
    assert sorted(accepted.extra["pending_aidant_ids"]) == sorted(row.aidant_id for row in issuer.request.aidants)
    personal = {issuer.email, REFERENT["email"], "Dominique", "Martin", "Sacha", "Bernard", "Mairie de Test"}
    for entry in journal_entries():
        blob = repr((entry.extra, entry.client_id, entry.demarches))
        assert not any(value in blob for value in personal), (entry.action, blob)
        assert not set(entry.extra or {}) & PERSONAL_KEYS
    assert journal.verify_chain().ok
