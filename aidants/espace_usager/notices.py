"""Notices to the usager (and to the structure when the usager revokes), written as outbox rows.

Created and revoked notices are queued in the transaction of the change; the periodic ones
(``send_ending_notices``, ``send_use_digests``) are called by the job scheduler and are idempotent
per period through their outbox key (``usager-ending-30:<mandat>``, ``usager-digest:<usager>:<day>``).
Mails say who acted and how to stop it, and never carry anything that acts on a mandate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from flask import current_app, has_request_context, request

from aidants import db
from aidants.accounts.models import Aidant, aidant_organisation, referent_organisation
from aidants.espace_usager.models import UsagerNotice, UsagerPreference
from aidants.journal.models import JournalEntry
from aidants.mandats.models import DEMARCHE_LABELS, Autorisation, Mandat
from aidants.organisations.models import Organisation
from aidants.outbox.models import OutboxMessage
from aidants.outbox.services import enqueue_mail
from aidants.usagers.models import Usager

SIGNATURE = ("\n\nPour voir vos mandats, les utilisations faites en votre nom, révoquer un mandat ou ne plus "
             "recevoir ces messages, connectez-vous avec FranceConnect à votre espace usager :\n{url}\n\n"
             "Ce message ne permet aucune action sur vos mandats ; n'y répondez pas.\n— Aidants Connect")


def _space_url() -> str:
    base = str(current_app.config.get("PUBLIC_URL") or (request.url_root if has_request_context() else ""))
    return base.rstrip("/") + "/usager/"


def _date(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%d/%m/%Y")


def short_name(aidant: Aidant | None) -> str:
    """What the usager learns of an aidant: first name and initial."""
    if aidant is None:
        return "un aidant"
    return f"{aidant.first_name} {aidant.last_name[:1]}."


def preferences(usager_id: int) -> UsagerPreference | None:
    """The usager's choices (None: every notice is on)."""
    return db.session().get(UsagerPreference, usager_id)


def wants(usager: Usager, kind: str) -> bool:
    """Whether this usager has an address and has not turned this kind of notice off."""
    if not usager.email or usager.erased_at is not None:
        return False
    found = preferences(usager.id)
    return found is None or found.wants(kind)


def _already(key: str) -> bool:
    return db.session().scalar(sa.select(OutboxMessage.id).where(OutboxMessage.key == key)) is not None


def _queue(usager: Usager, kind: str, mandat_id: int | None, key: str, subject: str, body: str,
           now: dt.datetime) -> bool:
    """Queue one notice to the usager unless its key was already used; record it for the export."""
    if _already(key):
        return False
    enqueue_mail(usager.email, subject, body + SIGNATURE.format(url=_space_url()), now=now, kind="usager-notice",
                 key=key)
    db.session().add(UsagerNotice(usager_id=usager.id, kind=kind, mandat_id=mandat_id, outbox_key=key,
                                  created_at=now))
    db.session().flush()
    return True


def created(mandat: Mandat, usager: Usager, now: dt.datetime) -> None:
    """Tell the usager a mandate was created in their name (same transaction as the creation)."""
    if not wants(usager, "created"):
        return
    organisation = db.session().get(Organisation, mandat.organisation_id)
    aidant = db.session().get(Aidant, mandat.aidant_id) if mandat.aidant_id else None
    labels = "\n".join(f"- {DEMARCHE_LABELS[a.demarche]}" for a in mandat.autorisations)
    body = (f"Bonjour,\n\nLe {_date(now)}, {short_name(aidant)}, de la structure "
            f"{organisation.name if organisation else ''}, a créé un mandat en votre nom, valable jusqu'au "
            f"{_date(mandat.expires_at)}, pour les démarches suivantes :\n{labels}\n\n"
            "Si vous n'avez pas donné votre accord, révoquez-le depuis votre espace usager.")
    _queue(usager, "created", mandat.id, f"usager-created:{mandat.uuid}", "Un mandat a été créé en votre nom",
           body, now)


def revoked(mandat: Mandat, targets: Sequence[Autorisation], now: dt.datetime, *, by_usager: bool) -> None:
    """Tell the usager (and, when the usager acted, the structure) of a revocation, in its transaction."""
    session = db.session()
    usager = session.get(Usager, mandat.usager_id)
    organisation = session.get(Organisation, mandat.organisation_id)
    if usager is None or organisation is None or not targets:
        return
    labels = "\n".join(f"- {DEMARCHE_LABELS[a.demarche]}" for a in targets)
    first = targets[0].id
    if by_usager:
        who = "vous-même, depuis votre espace usager"
    else:
        who = f"{short_name(session.get(Aidant, targets[0].revoked_by_id) if targets[0].revoked_by_id else None)}, " \
              f"de la structure {organisation.name}"
    if wants(usager, "revoked"):
        body = (f"Bonjour,\n\nLe {_date(now)}, {who} a révoqué votre mandat donné à {organisation.name} pour les "
                f"démarches suivantes :\n{labels}\n\nPlus aucun aidant ne peut les utiliser en votre nom.")
        _queue(usager, "revoked", mandat.id, f"usager-revoked:{mandat.uuid}:{first}",
               "Un mandat donné en votre nom a été révoqué", body, now)
    if by_usager:
        _tell_structure(mandat, organisation, labels, first, now)


def structure_recipients(organisation_id: int) -> list[Aidant]:
    """Who hears of a structure's mandates: its référents and its active aidants who create mandates."""
    referents = sa.select(referent_organisation.c.aidant_id).where(
        referent_organisation.c.organisation_id == organisation_id)
    creators = sa.select(aidant_organisation.c.aidant_id).join(Aidant, Aidant.id == aidant_organisation.c.aidant_id) \
        .where(aidant_organisation.c.organisation_id == organisation_id, Aidant.can_create_mandats.is_(True))
    statement = sa.select(Aidant).where(Aidant.is_active.is_(True),
                                        sa.or_(Aidant.id.in_(referents), Aidant.id.in_(creators))).order_by(Aidant.id)
    return list(db.session().scalars(statement))


def _tell_structure(mandat: Mandat, organisation: Organisation, labels: str, first: int, now: dt.datetime) -> None:
    body = (f"Bonjour,\n\nLe {_date(now)}, l'usager a révoqué lui-même, depuis son espace usager, le mandat "
            f"n° {mandat.uuid} donné à {organisation.name}, pour les démarches suivantes :\n{labels}\n\n"
            "Ces autorisations ne sont plus utilisables. Le détail est dans votre espace aidant, à la fiche du "
            "mandat.\n— Aidants Connect")
    for aidant in structure_recipients(organisation.id):
        key = f"structure-revoked:{mandat.uuid}:{first}:{aidant.id}"
        if not _already(key):
            enqueue_mail(aidant.email, "Un usager a révoqué un mandat", body, now=now, kind="structure-notice",
                         key=key)


# --- periodic notices (called by the scheduler) ----------------------------------------------------


def send_ending_notices(now: dt.datetime) -> int:
    """Queue the "ends in 30 days" and "ends in 7 days" notices due now; once per mandate and kind."""
    unrevoked = sa.select(Autorisation.id).where(Autorisation.mandat_id == Mandat.id,
                                                 Autorisation.revoked_at.is_(None)).exists()
    statement = (
        sa.select(Mandat).where(Mandat.expires_at > now, Mandat.expires_at <= now + dt.timedelta(days=30),
                                Mandat.duration != "short", unrevoked)
        .order_by(Mandat.id)
    )
    queued = 0
    for mandat in db.session().scalars(statement):
        usager = db.session().get(Usager, mandat.usager_id)
        if usager is None or not wants(usager, "ending"):
            continue
        days = 7 if mandat.expires_at <= now + dt.timedelta(days=7) else 30
        organisation = db.session().get(Organisation, mandat.organisation_id)
        body = (f"Bonjour,\n\nVotre mandat donné à {organisation.name if organisation else ''} prendra fin le "
                f"{_date(mandat.expires_at)}, dans {days} jours au plus. Après cette date, aucun aidant ne pourra "
                "plus l'utiliser. Pour le prolonger, adressez-vous à la structure ; pour l'arrêter plus tôt, "
                "révoquez-le depuis votre espace usager.")
        queued += _queue(usager, f"ending-{days}", mandat.id, f"usager-ending-{days}:{mandat.uuid}",
                         f"Votre mandat prend fin dans {days} jours", body, now)
    return queued


def send_use_digests(now: dt.datetime) -> int:
    """Queue one digest per usager of the uses made in their name the previous day (UTC); once per day."""
    day_end = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day_start = day_end - dt.timedelta(days=1)
    statement = (
        sa.select(JournalEntry).where(JournalEntry.action == "use_autorisation",
                                      JournalEntry.created_at >= day_start, JournalEntry.created_at < day_end,
                                      JournalEntry.usager_id.is_not(None))
        .order_by(JournalEntry.usager_id, JournalEntry.seq)
    )
    by_usager: dict[int, list[JournalEntry]] = {}
    for entry in db.session().scalars(statement):
        by_usager.setdefault(int(entry.usager_id or 0), []).append(entry)
    queued = 0
    for usager_id, entries in by_usager.items():
        usager = db.session().get(Usager, usager_id)
        if usager is None or not wants(usager, "digest"):
            continue
        from aidants.espace_usager import queries  # queries describe uses; imported here to keep this light

        lines = "\n".join(f"- {use.when.strftime('%H:%M')} UTC : {use.service}, {use.demarche_label}, "
                          f"par {use.aidant} ({use.structure})" for use in queries.describe_uses(entries))
        body = (f"Bonjour,\n\nLe {_date(day_start)}, vos mandats ont servi {len(entries)} fois :\n{lines}\n\n"
                "Si l'une de ces utilisations vous surprend, révoquez le mandat depuis votre espace usager et "
                "prévenez la structure.")
        queued += _queue(usager, "digest", None, f"usager-digest:{usager_id}:{day_start.date().isoformat()}",
                         "Les utilisations de vos mandats hier", body, now)
    return queued
