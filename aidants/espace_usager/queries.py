"""Named reads for the espace usager: always scoped by the signed-in usager's id."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from aidants import db
from aidants.accounts.models import Aidant
from aidants.journal.models import JournalEntry
from aidants.mandats.models import DEMARCHE_LABELS, Autorisation, Mandat
from aidants.organisations.models import Organisation

PAGE_SIZE = 20
#: The registered services (a table of the identity provider), read by name only: ``aidants`` does not
#: import ``oidc``.
_clients = sa.table("oidc_client", sa.column("client_id", sa.String), sa.column("name", sa.String))
ENDPOINT_LABELS = {"token": "Connexion au service", "userinfo": "Identité transmise au service"}


def mandats_of(usager_id: int) -> list[Mandat]:
    """Every mandate the usager gave, in every structure, newest first."""
    statement = (
        sa.select(Mandat).where(Mandat.usager_id == usager_id)
        .options(selectinload(Mandat.autorisations).joinedload(Autorisation.revoked_by),
                 joinedload(Mandat.organisation), joinedload(Mandat.aidant))
        .order_by(Mandat.created_at.desc(), Mandat.id.desc())
    )
    return list(db.session().scalars(statement).unique())


def mandat_of(usager_id: int, uuid: str) -> Mandat | None:
    """One of the usager's mandates (None for anyone else's: the caller answers 404)."""
    found = [m for m in mandats_of(usager_id) if m.uuid == uuid.lower()]
    return found[0] if found else None


def replaced_by(mandats: Iterable[Mandat]) -> dict[int, Mandat]:
    """For each mandate, the later one that replaced it (renewal, or a new mandate for the same démarches)."""
    ordered = sorted(mandats, key=lambda m: (m.created_at, m.id))
    found: dict[int, Mandat] = {}
    for index, old in enumerate(ordered):
        replaced = {a.demarche for a in old.autorisations if a.revoked_reason == "replaced" or a.replaced_at}
        for new in ordered[index + 1:]:
            if new.renewed_from_id == old.id or (
                    new.organisation_id == old.organisation_id and replaced & set(new.demarches)):
                found[old.id] = new
                break
    return found


@dataclass(frozen=True)
class Use:
    """One use of an autorisation in the usager's name, as the usager reads it."""

    seq: int
    when: dt.datetime
    what: str
    service: str
    demarche: str
    demarche_label: str
    structure: str
    aidant: str


def describe_uses(entries: list[JournalEntry]) -> list[Use]:
    """Journal entries in the usager's words: service name, structure, aidant's first name and initial."""
    session = db.session()
    client_ids = {e.client_id for e in entries if e.client_id}
    names: dict[str, str] = {}
    if client_ids:
        rows = session.execute(sa.select(_clients.c.client_id, _clients.c.name)
                               .where(_clients.c.client_id.in_(client_ids)))
        names = {str(row[0]): str(row[1]) for row in rows}
    aidant_ids = {e.aidant_id for e in entries if e.aidant_id}
    aidants = {a.id: a for a in session.scalars(sa.select(Aidant).where(Aidant.id.in_(aidant_ids)))} \
        if aidant_ids else {}
    organisation_ids = {e.organisation_id for e in entries if e.organisation_id}
    structures = {o.id: o.name for o in session.scalars(
        sa.select(Organisation).where(Organisation.id.in_(organisation_ids)))} if organisation_ids else {}
    uses = []
    for entry in entries:
        aidant = aidants.get(entry.aidant_id or 0)
        demarche = (entry.demarches or "").split(",")[0]
        uses.append(Use(
            seq=entry.seq, when=entry.created_at,
            what=ENDPOINT_LABELS.get(str((entry.extra or {}).get("endpoint")), "Utilisation"),
            service=names.get(entry.client_id or "", entry.client_id or "—"), demarche=demarche,
            demarche_label=DEMARCHE_LABELS.get(demarche, demarche),
            structure=structures.get(entry.organisation_id or 0, "—"),
            aidant=f"{aidant.first_name} {aidant.last_name[:1]}." if aidant else "—",
        ))
    return uses


@dataclass(frozen=True)
class UsePage:
    """A page of uses, newest first; ``next_before`` is the keyset cursor of the next page."""

    uses: list[Use]
    next_before: int | None


def uses_of(usager_id: int, before: int | None = None, limit: int = PAGE_SIZE) -> UsePage:
    """The uses of the usager's autorisations, newest first, ``limit`` at a time (keyset on ``seq``)."""
    statement = sa.select(JournalEntry).where(JournalEntry.usager_id == usager_id,
                                              JournalEntry.action == "use_autorisation")
    if before is not None:
        statement = statement.where(JournalEntry.seq < before)
    entries = list(db.session().scalars(statement.order_by(JournalEntry.seq.desc()).limit(limit + 1)))
    more = len(entries) > limit
    entries = entries[:limit]
    return UsePage(describe_uses(entries), entries[-1].seq if more and entries else None)


def all_uses_of(usager_id: int) -> list[Use]:
    """Every use, newest first (CSV and export)."""
    statement = sa.select(JournalEntry).where(JournalEntry.usager_id == usager_id,
                                              JournalEntry.action == "use_autorisation") \
        .order_by(JournalEntry.seq.desc())
    return describe_uses(list(db.session().scalars(statement)))
