"""Each scheduled job's effect, with the clock moved; each run keyed by its period."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidants import db
from aidants.accounts.models import Aidant, AidantSession, LoginLink
from aidants.habilitation.models import DRAFT, SUBMITTED, HabilitationRequest, Issuer
from aidants.jobs import runs, snapshots
from aidants.jobs.models import DONE, FAILED, JobRun, StatsSnapshot
from aidants.jobs.retention import RETENTION
from aidants.journal import checkpoint
from aidants.journal import queries as journal_queries
from aidants.journal.models import JournalEntry
from aidants.usagers.models import Usager
from tests.factories import emails, make_aidant, make_organisation, run_together, sign_in
from tests.mandats.helpers import create_mandat, make_usager


def _run(name: str, now: dt.datetime) -> JobRun | None:
    found = runs.run(name, now)
    db.commit()
    db.session().expire_all()
    return found


def _count(model: type) -> int:
    return int(db.session().scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def _journal(action: str) -> list[JournalEntry]:
    return list(db.session().scalars(sa.select(JournalEntry).where(JournalEntry.action == action)))


def test_retention_purges_what_has_expired_and_keeps_the_rest(client: FlaskClient, fixed_clock) -> None:
    now = fixed_clock.now()
    who = make_aidant(now)
    sign_in(client, who, now)  # a login link (used) and a session
    make_usager(now)  # identified through FranceConnect, no mandate followed
    issuer = Issuer(email="demandeur@exemple.fr", created_at=now)
    db.session().add(issuer)
    db.session().flush()
    db.session().add(HabilitationRequest(uuid="d-1", issuer_id=issuer.id, status=DRAFT, created_at=now,
                                         updated_at=now))
    db.commit()
    assert _run("retention", now + dt.timedelta(minutes=30)).outcome == "rien à faire"  # type: ignore[union-attr]
    assert _count(LoginLink) == 1 and _count(Usager) == 1
    later = now + RETENTION["login_link"] + dt.timedelta(hours=2)
    run = _run("retention", later)
    assert run is not None and run.status == DONE
    assert _count(LoginLink) == 0 and _count(Usager) == 0
    assert _count(AidantSession) == 1  # a session lives 24 h, then is kept as long as the page states
    assert _count(HabilitationRequest) == 1
    far = now + RETENTION["habilitation_draft"] + dt.timedelta(days=1)
    _run("retention", far)
    assert _count(AidantSession) == 0 and _count(HabilitationRequest) == 0
    [first, second] = _journal("run_job")
    assert first.extra is not None and first.extra["login_link"] == 1 and first.extra["unused_identity"] == 1
    assert second.extra is not None and second.extra["session"] == 1 and second.extra["habilitation_draft"] == 1


def test_mandats_ending_sends_one_digest_per_structure_to_each_aidant_who_creates_mandats(
        client: FlaskClient, fixed_clock) -> None:
    now = fixed_clock.now()
    organisation = make_organisation(now, name="France Services de Vic")
    creator = make_aidant(now, organisation)
    colleague = make_aidant(now, organisation)
    make_aidant(now, organisation, can_create_mandats=False)
    sign_in(client, creator, now)
    semester = create_mandat(client, creator, make_usager(now, "Jeanne", "Martin"), ["argent"], fixed_clock,
                             duration="semester")
    create_mandat(client, creator, make_usager(now, "Paul", "Durand"), ["papiers"], fixed_clock, duration="month")
    before = len(emails())
    early = _run("mandats_ending", semester.expires_at - dt.timedelta(days=40))
    assert early is not None and early.outcome == "rien à faire"
    assert len(emails()) == before
    day = semester.expires_at - dt.timedelta(days=29, hours=12)
    _run("mandats_ending", day)
    digests = [m for m in emails() if m.kind == "mandats_ending"]
    assert sorted(m.recipient for m in digests) == sorted([creator.aidant.email, colleague.aidant.email])
    to_colleague = next(m for m in digests if m.recipient == colleague.aidant.email)
    assert "même si vous n'avez pas créé ces mandats" in to_colleague.body
    assert "Jeanne Martin" in to_colleague.body and f"par {creator.aidant.full_name}" in to_colleague.body
    assert "Paul Durand" not in to_colleague.body  # a one-month mandate is not announced
    assert "France Services de Vic" in to_colleague.subject
    assert _run("mandats_ending", day + dt.timedelta(hours=1)) is None  # the day's work is done
    _run("mandats_ending", day + dt.timedelta(days=1))  # the next day: that mandate was announced already
    assert len([m for m in emails() if m.kind == "mandats_ending"]) == 2


def test_inactivity_warns_at_five_months_then_deactivates_a_month_later(client: FlaskClient, fixed_clock) -> None:
    now = fixed_clock.now()
    organisation = make_organisation(now)
    sleeper = make_aidant(now, organisation)
    active = make_aidant(now, organisation)
    referent = make_aidant(now, organisation)
    referent.aidant.referent_of.append(organisation)
    db.commit()
    sign_in(client, sleeper, now)
    five_months = dt.datetime(2027, 4, 28, 9, tzinfo=dt.UTC)
    for who in (active, referent):
        db.session().get(Aidant, who.aidant.id).last_login_at = five_months - dt.timedelta(days=3)  # type: ignore
    db.commit()
    _run("inactivity", five_months)
    warnings = [m for m in emails() if m.kind == "inactivity_warning"]
    assert [m.recipient for m in warnings] == [sleeper.aidant.email]
    assert "sera désactivé dans un mois" in warnings[0].subject
    _run("inactivity", five_months + dt.timedelta(days=20))
    assert db.session().get(Aidant, sleeper.aidant.id).is_active  # type: ignore[union-attr]
    _run("inactivity", five_months + dt.timedelta(days=32))
    assert not db.session().get(Aidant, sleeper.aidant.id).is_active  # type: ignore[union-attr]
    assert [m.recipient for m in emails() if m.kind == "inactivity_deactivated"] == [sleeper.aidant.email]
    to_referent = [m for m in emails() if m.kind == "inactivity_referent"]
    assert [m.recipient for m in to_referent] == [referent.aidant.email]
    assert sleeper.aidant.full_name in to_referent[0].body
    [entry] = _journal("deactivate_aidant")
    assert entry.actor_kind == "system" and entry.aidant_id == sleeper.aidant.id
    assert db.session().get(Aidant, active.aidant.id).is_active  # type: ignore[union-attr]


def test_a_sign_in_after_the_warning_cancels_the_deactivation(client: FlaskClient, fixed_clock) -> None:
    now = fixed_clock.now()
    who = make_aidant(now)
    warned_at = now + dt.timedelta(days=160)
    _run("inactivity", warned_at)
    assert [m.kind for m in emails()] == ["inactivity_warning"]
    db.session().get(Aidant, who.aidant.id).last_login_at = warned_at + dt.timedelta(days=5)  # type: ignore
    db.commit()
    _run("inactivity", warned_at + dt.timedelta(days=40))
    assert db.session().get(Aidant, who.aidant.id).is_active  # type: ignore[union-attr]


def test_referents_are_reminded_monthly_of_aidants_without_a_working_device(app: Flask, fixed_clock) -> None:
    now = fixed_clock.now()
    organisation = make_organisation(now)
    referent = make_aidant(now, organisation)
    referent.aidant.referent_of.append(organisation)
    equipped = make_aidant(now, organisation)
    bare = make_aidant(now, organisation)
    bare.device.status = "retired"
    db.commit()
    _run("referent_reminder", now)
    [reminder] = [m for m in emails() if m.kind == "referent_reminder"]
    assert reminder.recipient == referent.aidant.email
    assert bare.aidant.email in reminder.body and equipped.aidant.email not in reminder.body
    _run("referent_reminder", now + dt.timedelta(days=2))  # same month: nothing more
    _run("referent_reminder", now + dt.timedelta(days=10))  # December: again
    assert len([m for m in emails() if m.kind == "referent_reminder"]) == 2


def test_staff_get_a_weekly_digest_of_new_habilitation_requests(app: Flask, fixed_clock) -> None:
    now = fixed_clock.now()
    app.config["STAFF_EMAIL"] = "equipe@exemple.fr"
    issuer = Issuer(email="demandeur@exemple.fr", created_at=now)
    db.session().add(issuer)
    db.session().flush()
    db.session().add(HabilitationRequest(uuid="s-1", issuer_id=issuer.id, status=SUBMITTED, name="Mairie de Vic",
                                         created_at=now, updated_at=now, submitted_at=now - dt.timedelta(days=2)))
    db.commit()
    _run("staff_digest", now)
    [digest] = [m for m in emails() if m.kind == "staff_digest"]
    assert digest.recipient == "equipe@exemple.fr" and "Mairie de Vic" in digest.body
    assert "/staff/habilitations/s-1" in digest.body
    _run("staff_digest", now + dt.timedelta(days=8))  # the next week: nothing new
    assert len([m for m in emails() if m.kind == "staff_digest"]) == 1


def test_daily_statistics_snapshots_make_a_monthly_history(app: Flask, fixed_clock) -> None:
    now = fixed_clock.now()
    make_aidant(now)
    for days in (0, 1, 5, 40):
        _run("stats_snapshot", now + dt.timedelta(days=days))
    _run("stats_snapshot", now + dt.timedelta(days=40, hours=3))
    assert _count(StatsSnapshot) == 4
    history = snapshots.monthly_history()
    assert [(h.month, h.day.day) for h in history] == [("2027-01", 6), ("2026-12", 2), ("2026-11", 28)]
    assert history[0].aidants_active == 1


def test_the_hourly_checkpoint_is_signed_and_verifies(app: Flask, fixed_clock) -> None:
    now = fixed_clock.now()
    make_aidant(now)
    assert _run("journal_checkpoint", now) is not None
    assert _run("journal_checkpoint", now + dt.timedelta(minutes=20)) is None  # the same hour: done already
    assert _run("journal_checkpoint", now + dt.timedelta(hours=1)) is not None
    db.commit()
    latest = journal_queries.latest_checkpoint()
    assert latest is not None and latest.tree_size == _count(JournalEntry) - 1  # all but the last run's entry
    opened = checkpoint.open_note(latest.note, checkpoint.service_verifier_key())
    assert opened.tree_size == latest.tree_size


def test_two_schedulers_do_a_periods_work_once(app: Flask, fixed_clock) -> None:
    now = fixed_clock.now()
    results = run_together(app, [lambda: runs.run("journal_checkpoint", now) for _ in range(2)])
    done = [r for r in results if isinstance(r, JobRun)]
    assert len(done) == 1 and results.count(None) == 1, results
    assert _count(JobRun) == 1


def test_a_failed_run_is_recorded_and_done_again_at_the_next_tick(app: Flask, fixed_clock, monkeypatch) -> None:
    now = fixed_clock.now()

    def broken(_now: dt.datetime) -> None:
        raise RuntimeError("base indisponible")

    original = runs.schedule.JOBS["stats_snapshot"]
    monkeypatch.setitem(runs.schedule.JOBS, "stats_snapshot", runs.schedule.Job(
        original.name, original.title, original.period, original.tick, broken))  # type: ignore[arg-type]
    failed = _run("stats_snapshot", now)
    assert failed is not None and failed.status == FAILED and "base indisponible" in failed.outcome
    assert _count(StatsSnapshot) == 0
    monkeypatch.setitem(runs.schedule.JOBS, "stats_snapshot", original)
    again = _run("stats_snapshot", now + dt.timedelta(minutes=15))
    assert again is not None and again.status == DONE and again.id == failed.id
    assert _count(StatsSnapshot) == 1 and _count(JobRun) == 1


def test_the_public_statistics_show_the_monthly_history_from_the_snapshots(client: FlaskClient, fixed_clock) -> None:
    now = fixed_clock.now()
    assert "L'historique commence" in client.get("/stats").get_data(as_text=True)
    make_aidant(now)
    _run("stats_snapshot", now)
    _run("stats_snapshot", now + dt.timedelta(days=10))
    page = client.get("/stats").get_data(as_text=True)
    assert "novembre 2026" in page and "décembre 2026" in page and "7 décembre 2026" in page
