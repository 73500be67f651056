"""Jobs that write to people: mandates ending, inactivity, référents' reminder, staff digest.

Each message's outbox key names its period and recipient, so a job run again in the same period
(or by a staff member's run now) queues nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from flask import current_app, render_template, url_for
from sqlalchemy.orm import selectinload

from aidants import db
from aidants.accounts.models import Aidant, AidantSession, TotpDevice, aidant_organisation, referent_organisation
from aidants.espace_usager import notices as usager_notices
from aidants.habilitation.models import HabilitationRequest
from aidants.jobs.models import DONE, InactivityNotice, JobRun
from aidants.jobs.outcome import Outcome
from aidants.journal import services as journal
from aidants.mandats.models import Autorisation, Mandat
from aidants.organisations.models import Organisation
from aidants.outbox.services import enqueue_once
from aidants.staff.services import months_before

#: Mandates of these durations (6 and 12 months) are announced this long before their end.
ENDING_DURATIONS = ("semester", "long")
ENDING_NOTICE = dt.timedelta(days=30)
#: The longest stretch a late run of ``mandats_ending`` catches up on.
ENDING_CATCH_UP = dt.timedelta(days=7)
#: Inactivity: warned after WARN_MONTHS without sign-in, deactivated DEACTIVATE_AFTER later.
WARN_MONTHS = 5
DEACTIVATE_AFTER_MONTHS = 1


def link(endpoint: str, **values: Any) -> str:
    """An absolute link for an email written outside any request (PUBLIC_URL, or the local server)."""
    base = current_app.config.get("PUBLIC_URL") or "http://localhost:5000"
    with current_app.test_request_context(base_url=base):
        return url_for(endpoint, _external=True, **values)


def _mail(recipient: str, subject: str, template: str, *, now: dt.datetime, kind: str, key: str,
          **context: Any) -> bool:
    return enqueue_once(recipient, subject, render_template(template, **context), now=now, kind=kind, key=key)


# --- mandates ending -------------------------------------------------------------------------------------------


def _ending_window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Mandates ending in (lo, hi]: from where the last run stopped (at most a week back) to now + 30 days."""
    last = db.session().scalar(sa.select(sa.func.max(JobRun.started_at)).where(
        JobRun.job == "mandats_ending", JobRun.status == DONE, JobRun.started_at < now))
    since = last if last is not None and last > now - ENDING_CATCH_UP else now - dt.timedelta(days=1)
    return since + ENDING_NOTICE, now + ENDING_NOTICE


def mandats_ending(now: dt.datetime) -> Outcome:
    """One digest per structure, to each of its active aidants who create mandates."""
    lo, hi = _ending_window(now)
    open_autorisation = sa.select(Autorisation.id).where(
        Autorisation.mandat_id == Mandat.id, Autorisation.revoked_at.is_(None)).exists()
    statement = (
        sa.select(Mandat).join(Organisation, Organisation.id == Mandat.organisation_id)
        .where(Mandat.duration.in_(ENDING_DURATIONS), Mandat.expires_at > lo, Mandat.expires_at <= hi,
               Organisation.is_active.is_(True), open_autorisation)
        .options(selectinload(Mandat.usager), selectinload(Mandat.aidant), selectinload(Mandat.autorisations),
                 selectinload(Mandat.organisation))
        .order_by(Mandat.expires_at)
    )
    by_structure: dict[int, list[Mandat]] = defaultdict(list)
    for mandat in db.session().scalars(statement):
        by_structure[mandat.organisation_id].append(mandat)
    sent = 0
    for organisation_id, mandats in by_structure.items():
        organisation = mandats[0].organisation
        recipients = db.session().scalars(
            sa.select(Aidant).join(aidant_organisation, aidant_organisation.c.aidant_id == Aidant.id)
            .where(aidant_organisation.c.organisation_id == organisation_id, Aidant.is_active.is_(True),
                   Aidant.can_create_mandats.is_(True)).order_by(Aidant.id))
        for aidant in recipients:
            sent += _mail(aidant.email, f"{len(mandats)} mandat(s) de {organisation.name} arrivent à échéance",
                          "jobs/emails/mandats_ending.txt", now=now, kind="mandats_ending",
                          key=f"mandats_ending:{now:%Y-%m-%d}:{organisation_id}:{aidant.id}",
                          aidant=aidant, organisation=organisation, mandats=mandats,
                          mandats_page=link("mandats.usagers"),
                          links={m.uuid: link("mandats.detail", uuid=m.uuid) for m in mandats})
    return Outcome({"structures": len(by_structure), "emails": sent})


# --- inactivity ------------------------------------------------------------------------------------------------


def _last_seen(aidant: Aidant) -> dt.datetime:
    return aidant.last_login_at or aidant.created_at


def inactivity(now: dt.datetime) -> Outcome:
    """Warn at 5 months without sign-in; deactivate one month after the warning, telling them and their référents."""
    warn_before = months_before(now, WARN_MONTHS)
    deactivate_before = months_before(now, DEACTIVATE_AFTER_MONTHS)
    session = db.session()
    inactive = session.scalars(
        sa.select(Aidant).where(Aidant.is_active.is_(True), Aidant.is_staff.is_(False),
                                sa.func.coalesce(Aidant.last_login_at, Aidant.created_at) < warn_before)
        .order_by(Aidant.id))
    warned = deactivated = 0
    for aidant in inactive:
        notice = session.get(InactivityNotice, aidant.id)
        if notice is not None and notice.last_login_at != aidant.last_login_at:
            session.delete(notice)  # signed in since that warning: a new stretch of inactivity
            session.flush()
            notice = None
        if notice is None:
            session.add(InactivityNotice(aidant_id=aidant.id, warned_at=now, last_login_at=aidant.last_login_at))
            _mail(aidant.email, "Votre compte Aidants Connect sera désactivé dans un mois",
                  "jobs/emails/inactivity_warning.txt", now=now, kind="inactivity_warning",
                  key=f"inactivity_warning:{aidant.id}:{now:%Y-%m-%d}", aidant=aidant, last_seen=_last_seen(aidant),
                  login=link("accounts.login"))
            journal.append("warn_inactive_aidant", now=now, actor_kind="system", aidant_id=aidant.id,
                           organisation_id=aidant.current_organisation_id)
            warned += 1
        elif notice.warned_at <= deactivate_before:
            _deactivate(aidant, now)
            deactivated += 1
    session.flush()
    return Outcome({"warned": warned, "deactivated": deactivated})


def _deactivate(aidant: Aidant, now: dt.datetime) -> None:
    session = db.session()
    aidant.is_active = False
    session.execute(sa.update(AidantSession).where(AidantSession.aidant_id == aidant.id,
                                                   AidantSession.revoked_at.is_(None))
                    .values(revoked_at=now).execution_options(synchronize_session=False))
    journal.append("deactivate_aidant", now=now, actor_kind="system", aidant_id=aidant.id,
                   organisation_id=aidant.current_organisation_id, extra={"reason": "inactivity"})
    day = f"{now:%Y-%m-%d}"
    _mail(aidant.email, "Votre compte Aidants Connect est désactivé", "jobs/emails/inactivity_deactivated.txt",
          now=now, kind="inactivity_deactivated", key=f"inactivity_deactivated:{aidant.id}:{day}", aidant=aidant,
          last_seen=_last_seen(aidant))
    structure_ids = [o.id for o in aidant.organisations]
    referents: list[Aidant] = list(session.scalars(
        sa.select(Aidant).join(referent_organisation, referent_organisation.c.aidant_id == Aidant.id)
        .where(referent_organisation.c.organisation_id.in_(structure_ids), Aidant.is_active.is_(True),
               Aidant.id != aidant.id).distinct().order_by(Aidant.id))) if structure_ids else []
    for referent in referents:
        _mail(referent.email, f"{aidant.full_name} : compte désactivé pour inactivité",
              "jobs/emails/inactivity_referent.txt", now=now, kind="inactivity_referent",
              key=f"inactivity_referent:{aidant.id}:{referent.id}:{day}", aidant=aidant, referent=referent,
              last_seen=_last_seen(aidant), referent_page=link("referents.index"))


# --- référents and staff ---------------------------------------------------------------------------------------


def referent_reminder(now: dt.datetime) -> Outcome:
    """Each référent is told which active aidants of their structures have no working card or app."""
    session = db.session()
    working = sa.select(TotpDevice.id).where(TotpDevice.aidant_id == Aidant.id, TotpDevice.status == "active").exists()
    pairs = session.execute(
        sa.select(referent_organisation.c.aidant_id, Aidant)
        .join(aidant_organisation, aidant_organisation.c.organisation_id == referent_organisation.c.organisation_id)
        .join(Aidant, Aidant.id == aidant_organisation.c.aidant_id)
        .where(Aidant.is_active.is_(True), ~working).order_by(Aidant.last_name, Aidant.first_name))
    without: dict[int, dict[int, Aidant]] = defaultdict(dict)
    for referent_id, aidant in pairs:
        without[referent_id][aidant.id] = aidant
    sent = 0
    for referent_id, aidants in without.items():
        referent = session.get(Aidant, referent_id)
        if referent is None or not referent.is_active:
            continue
        sent += _mail(referent.email, "Des aidants de votre structure n'ont pas de carte ni d'application",
                      "jobs/emails/referent_reminder.txt", now=now, kind="referent_reminder",
                      key=f"referent_reminder:{now:%Y-%m}:{referent_id}", referent=referent,
                      aidants=list(aidants.values()), referent_page=link("referents.index"))
    return Outcome({"emails": sent})


def staff_digest(now: dt.datetime) -> Outcome:
    """The habilitation requests submitted in the last seven days, to STAFF_EMAIL."""
    mailbox = current_app.config.get("STAFF_EMAIL") or ""
    since = now - dt.timedelta(days=7)
    found = list(db.session().scalars(
        sa.select(HabilitationRequest).where(HabilitationRequest.submitted_at >= since,
                                             HabilitationRequest.submitted_at < now)
        .order_by(HabilitationRequest.submitted_at)))
    if not mailbox or not found:
        return Outcome({"emails": 0}, "aucune nouvelle demande" if mailbox else "STAFF_EMAIL n'est pas configuré")
    year, week, _ = now.isocalendar()
    sent = _mail(mailbox, f"{len(found)} nouvelle(s) demande(s) d'habilitation cette semaine",
                 "jobs/emails/staff_digest.txt", now=now, kind="staff_digest", key=f"staff_digest:{year}-W{week:02d}",
                 requests=found, links={r.uuid: link("staff_habilitation.detail", uuid=r.uuid) for r in found},
                 index=link("staff_habilitation.index"))
    return Outcome({"emails": int(sent), "requests": len(found)})


def usager_ending(now: dt.datetime) -> Outcome:
    """The usagers' own notices: their mandate ends in 30 days, or in 7 (once per mandate and kind)."""
    return Outcome({"notices": usager_notices.send_ending_notices(now)})


def usager_uses(now: dt.datetime) -> Outcome:
    """The usagers' daily digest of the uses made in their name the day before."""
    return Outcome({"digests": usager_notices.send_use_digests(now)})
