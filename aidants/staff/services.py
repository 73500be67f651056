"""The staff's tools: card import, transfer of mandates, deactivation of inactive aidants, journal export and
verification. Each function checks, changes, journals and flushes; the request commits once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from aidants import db, errors
from aidants.accounts import cards
from aidants.accounts.models import Aidant, AidantSession
from aidants.journal import services as journal
from aidants.mandats.models import Autorisation, Mandat, MandatUsager
from aidants.organisations.models import Organisation
from aidants.staff import queries


class StaffError(errors.DomainError):
    """A request the rules refuse; the message (French) is for the staff member. Nothing was changed."""


# --- card import -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardImport:
    """The outcome of an import: the bad lines, and how many cards were stored (0 when refused)."""

    errors: list[tuple[int, str]]
    imported: int
    valid: int

    @property
    def refused(self) -> bool:
        return bool(self.errors) and self.imported == 0


def import_cards(content: bytes, *, skip_invalid: bool, staff: Aidant, now: dt.datetime) -> CardImport:
    """The CLI's import: every row checked first; all or nothing, unless ``skip_invalid`` asks for the valid rows.

    Raises StaffError when the file cannot be read at all. A concurrent import of the same serial
    numbers surfaces as an IntegrityError from the database: the caller rolls back.
    """
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StaffError(f"Le fichier n'est pas encodé en UTF-8 (octet invalide à la position {exc.start}). "
                         "Enregistrez-le en UTF-8 et envoyez-le de nouveau : aucune carte importée.") from exc
    try:
        parsed = cards.read_card_file(text)
    except cards.CardFileError as exc:
        raise StaffError(f"Fichier illisible : {exc}. Aucune carte importée.") from exc
    if parsed.errors and not skip_invalid:
        return CardImport(parsed.errors, 0, len(parsed.cards))
    if not parsed.cards:
        if not parsed.errors:
            raise StaffError("Le fichier ne contient aucune carte (seulement l'en-tête ?). Aucune carte importée.")
        return CardImport(parsed.errors, 0, 0)
    with db.session().begin_nested():  # a concurrent import's IntegrityError leaves the session usable
        count = cards.store_cards(parsed.cards, now, aidant_id=staff.id)
    return CardImport(parsed.errors, count, len(parsed.cards))


# --- transfer of mandates --------------------------------------------------------------------------------------

#: Mandates moved by one confirmation (each gets its journal entry, about a millisecond apiece);
#: a larger structure is moved in several confirmations, each complete in itself.
MAX_TRANSFER = 5000


@dataclass
class TransferPlan:
    """What a transfer would do, for the confirmation page; ``conflicts`` block it."""

    source: Organisation
    target: Organisation
    usager_ids: list[int] | None  # None: every usager of the source
    mandats: list[tuple[int, int]] = field(default_factory=list)  # (mandat id, usager id), at most MAX_TRANSFER
    total: int = 0  # mandates matching, even beyond MAX_TRANSFER
    active_mandats: int = 0
    conflicts: list[tuple[int, str]] = field(default_factory=list)  # (usager id, démarche) active on both sides
    not_allowed: list[str] = field(default_factory=list)  # active démarches the target is not habilitated for
    replaced: list[Autorisation] = field(default_factory=list)  # expired, closed so the moved ones fit

    @property
    def usagers(self) -> int:
        return len({usager for _, usager in self.mandats})

    @property
    def remaining(self) -> int:
        return self.total - len(self.mandats)


def organisation_by_siret(siret: str) -> Organisation:
    """A structure by SIRET, or a clear refusal."""
    found = queries.organisation_by_siret("".join(siret.split()))
    if found is None:
        raise StaffError(f"Aucune structure ne porte le SIRET {siret.strip()}.")
    return found


def check_organisations(source_id: int, target_id: int) -> tuple[Organisation, Organisation]:
    """Both structures of a transfer, once checked (two different ones, the target active)."""
    source, target = queries.organisation(source_id), queries.organisation(target_id)
    if source is None or target is None:
        raise StaffError("Structure introuvable : recommencez le transfert depuis le début.")
    if source.id == target.id:
        raise StaffError("La structure d'origine et celle d'arrivée sont la même : choisissez-en deux différentes.")
    if not target.is_active:
        raise StaffError(f"La structure d'arrivée « {target.name} » est désactivée : elle ne peut pas recevoir "
                         "de mandats.")
    return source, target


def plan_transfer(source_id: int, target_id: int, usager_ids: Sequence[int] | None, now: dt.datetime,
                  lock: bool = False) -> TransferPlan:
    """Check a transfer and tell what it would do; changes nothing."""
    source, target = check_organisations(source_id, target_id)
    chosen = sorted(set(usager_ids)) if usager_ids is not None else None
    if chosen is not None and not chosen:
        raise StaffError("Cochez au moins un usager, ou choisissez de transférer tous les mandats.")
    plan = TransferPlan(source, target, chosen)
    plan.mandats = queries.mandats_to_move(source.id, chosen, MAX_TRANSFER)
    if not plan.mandats:
        raise StaffError(f"« {source.name} » n'a aucun mandat à transférer"
                         f"{' pour ces usagers' if chosen is not None else ''}.")
    plan.total = queries.count_mandats(source.id, chosen)
    moving = queries.open_autorisations_of_mandats([m for m, _ in plan.mandats], lock=lock)
    there = {(a.usager_id, a.demarche): a for a in queries.open_autorisations_of_usagers(
        target.id, sorted({a.usager_id for a in moving}), lock=lock)}
    plan.active_mandats = len({a.mandat_id for a in moving if a.is_active(now)})
    plan.not_allowed = sorted({a.demarche for a in moving if a.is_active(now)} - set(target.demarches))
    for autorisation in moving:
        other = there.get((autorisation.usager_id, autorisation.demarche))
        if other is None:
            continue
        if autorisation.is_active(now) and other.is_active(now):
            plan.conflicts.append((autorisation.usager_id, autorisation.demarche))
        else:  # at most one of them is usable: close the expired one (the moved one when both are)
            plan.replaced.append(other if autorisation.is_active(now) else autorisation)
    plan.conflicts.sort()
    return plan


def transfer_mandats(source_id: int, target_id: int, usager_ids: Sequence[int] | None, *, staff: Aidant,
                     now: dt.datetime) -> TransferPlan:
    """Move the mandates (their autorisations and the usagers' index rows) to the target, in this transaction;
    one ``transfer_mandat`` journal entry per mandate. Refused, with nothing changed, on any conflict."""
    plan = plan_transfer(source_id, target_id, usager_ids, now, lock=True)
    if plan.conflicts:
        raise StaffError(_conflict_message(plan))
    with db.session().begin_nested():  # a refusal half-way (or a lost race) leaves nothing, and the session usable
        return _transfer(plan, staff, now)


def _transfer(plan: TransferPlan, staff: Aidant, now: dt.datetime) -> TransferPlan:
    session = db.session()
    for autorisation in plan.replaced:
        autorisation.replaced_at = now
    session.flush()  # closed first, so the moved ones fit the one-open-autorisation index
    mandat_ids = [m for m, _ in plan.mandats]
    for chunk in queries.chunks(mandat_ids):
        moved = session.execute(
            sa.update(Mandat).where(Mandat.id.in_(chunk), Mandat.organisation_id == plan.source.id)
            .values(organisation_id=plan.target.id).execution_options(synchronize_session=False))
        if moved.rowcount != len(chunk):  # type: ignore[attr-defined]
            raise StaffError("Certains de ces mandats viennent d'être modifiés par ailleurs : aucun mandat n'a été "
                             "transféré. Recommencez le transfert.")
        session.execute(sa.update(Autorisation).where(Autorisation.mandat_id.in_(chunk))
                        .values(organisation_id=plan.target.id).execution_options(synchronize_session=False))
    _move_usager_index(plan, now)
    for mandat_id, usager_id in plan.mandats:
        journal.append("transfer_mandat", now=now, actor_kind="staff", aidant_id=staff.id,
                       organisation_id=plan.target.id, usager_id=usager_id, mandat_id=mandat_id,
                       extra={"from_organisation": plan.source.id, "to_organisation": plan.target.id})
    session.expire_all()  # bulk updates: objects read before must be read again
    return plan


def _conflict_message(plan: TransferPlan) -> str:
    shown = ", ".join(f"usager n° {usager} ({demarche})" for usager, demarche in plan.conflicts[:10])
    more = f" et {len(plan.conflicts) - 10} autre(s)" if len(plan.conflicts) > 10 else ""
    return (f"Transfert impossible : « {plan.target.name} » a déjà une autorisation active pour la même démarche "
            f"et le même usager : {shown}{more}. Excluez ces usagers du transfert, ou faites révoquer l'une des "
            "deux autorisations. Aucun mandat n'a été transféré.")


def _move_usager_index(plan: TransferPlan, now: dt.datetime) -> None:
    """The usagers appear in the target's list; they leave the source's once it holds no mandate of theirs."""
    session = db.session()
    usager_ids = sorted({u for _, u in plan.mandats})
    known = {row.usager_id for row in queries.usager_index_rows(plan.target.id, usager_ids)}
    for row in queries.usager_index_rows(plan.source.id, usager_ids):
        if row.usager_id not in known:
            session.add(MandatUsager(organisation_id=plan.target.id, usager_id=row.usager_id,
                                     name_key=row.name_key, since=row.since))
    session.flush()
    staying = queries.usagers_still_with_mandats(plan.source.id, usager_ids)
    leaving = [u for u in usager_ids if u not in staying]
    for chunk in queries.chunks(leaving):
        session.execute(sa.delete(MandatUsager).where(MandatUsager.organisation_id == plan.source.id,
                                                      MandatUsager.usager_id.in_(chunk))
                        .execution_options(synchronize_session=False))


# --- inactive aidants ------------------------------------------------------------------------------------------

INACTIVITY_MONTHS = (3, 6, 9, 12, 18, 24)


def months_before(now: dt.datetime, months: int) -> dt.datetime:
    """The same day ``months`` calendar months earlier (the month's last day when it is shorter)."""
    year, month = divmod(now.year * 12 + now.month - 1 - months, 12)
    month += 1
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    last_day = (following - dt.timedelta(days=1)).day
    return now.replace(year=year, month=month, day=min(now.day, last_day))


def inactive_cutoff(months: int, now: dt.datetime) -> dt.datetime:
    if months not in INACTIVITY_MONTHS:
        raise StaffError("Durée d'inactivité inconnue : choisissez 3, 6, 9, 12, 18 ou 24 mois.")
    return months_before(now, months)


def aidants_to_deactivate(ids: Sequence[int], months: int, *, staff: Aidant, now: dt.datetime) -> list[Aidant]:
    """Those of ``ids`` who may be deactivated now: still active, still inactive, not the staff member."""
    if not ids:
        raise StaffError("Cochez au moins un aidant à désactiver.")
    found = queries.inactive_among(ids, inactive_cutoff(months, now), staff.id)
    if not found:
        raise StaffError("Aucun des aidants choisis n'est encore inactif depuis cette durée : rien n'a été fait.")
    return found


def deactivate_inactive(ids: Sequence[int], months: int, *, staff: Aidant, now: dt.datetime) -> list[Aidant]:
    """Deactivate the chosen inactive aidants (their sessions end at once); one journal entry each.

    An aidant who signed in since the list was shown is left alone."""
    found = aidants_to_deactivate(ids, months, staff=staff, now=now)
    session = db.session()
    for aidant in found:
        aidant.is_active = False
        journal.append("deactivate_aidant", now=now, actor_kind="staff", aidant_id=aidant.id,
                       organisation_id=aidant.current_organisation_id,
                       extra={"by_staff": staff.id, "reason": "inactivity", "months": months})
    for chunk in queries.chunks([a.id for a in found]):
        session.execute(sa.update(AidantSession)
                        .where(AidantSession.aidant_id.in_(chunk), AidantSession.revoked_at.is_(None))
                        .values(revoked_at=now).execution_options(synchronize_session=False))
    session.flush()
    return found


# --- the journal -----------------------------------------------------------------------------------------------


def log_journal_export(filters: queries.JournalFilters, *, staff: Aidant, now: dt.datetime) -> None:
    """Who exported which part of the journal, written before the file is sent."""
    journal.append("export_journal", now=now, actor_kind="staff", aidant_id=staff.id, extra=filters.as_extra())


def verify_journal(*, staff: Aidant, now: dt.datetime) -> journal.Verification:
    """Recompute every leaf and the tree (it reads every entry: seconds for a million); journal the outcome."""
    result = journal.verify_chain()
    journal.append("verify_journal", now=now, actor_kind="staff", aidant_id=staff.id,
                   extra={"ok": result.ok, "checked": result.checked, "first_bad_seq": result.first_bad_seq,
                          "first_bad_leaf": result.first_bad_leaf, "tree_size": result.tree_size,
                          "pending": result.pending})
    return result
