"""The staff back-office: its home, card import, transfer of mandates, inactive aidants, the journal.

Every route is for the national staff only (``staff_required``: signed in, code checked within the
last 15 minutes, staff role; 403 for anyone else). Actions go through a confirmation page first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from aidants import clock, db
from aidants.journal import services as journal
from aidants.mandats import queries as mandat_queries
from aidants.staff import queries
from aidants.staff import services as staff
from aidants.staff.forms import (
    ButtonForm,
    CardImportForm,
    DeactivateForm,
    InactiveFilterForm,
    JournalFilterForm,
    TransferChooseForm,
    TransferForm,
)
from aidants.stats import csv_export
from aidants.web import staff_required

bp = Blueprint("staff", __name__, url_prefix="/staff")
Page = str | Response | tuple[str, int]


@bp.route("")
@staff_required
def home() -> str:
    """Links to the staff's tools."""
    return render_template("staff/home.html")


# --- cards -----------------------------------------------------------------------------------------------------


@bp.route("/cartes", methods=["GET", "POST"])
@staff_required
def cards() -> Page:
    """Import the maker's card file: every line checked, all or nothing unless the valid lines are asked for."""
    form = CardImportForm()
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.method == "GET":
        return render_template("staff/cards.html", form=form, limit=limit)
    if not form.validate_on_submit():
        return render_template("staff/cards.html", form=form, limit=limit), 400
    try:
        result = staff.import_cards(form.file.data.read(), skip_invalid=bool(form.skip_invalid.data),
                                    staff=g.aidant, now=clock.now())
    except staff.StaffError as error:
        db.refuse()
        form.form_errors.append(str(error))
        return render_template("staff/cards.html", form=form, limit=limit), 400
    except IntegrityError:
        db.refuse()
        form.form_errors.append("Une autre importation a enregistré certaines de ces cartes entre-temps : aucune "
                                "carte importée. Envoyez le fichier de nouveau.")
        return render_template("staff/cards.html", form=form, limit=limit), 409
    if result.refused:
        return render_template("staff/cards.html", form=form, limit=limit, result=result), 400
    return render_template("staff/cards.html", form=CardImportForm(formdata=None), limit=limit, result=result)


# --- transfer of mandates --------------------------------------------------------------------------------------


@bp.route("/mandats/transfert")
@staff_required
def transfer() -> Page:
    """Choose both structures, then all mandates or some usagers of the origin."""
    choose = TransferChooseForm(request.args)
    if not request.args:
        return render_template("staff/transfer.html", choose=choose)
    if not choose.validate():
        return render_template("staff/transfer.html", choose=choose), 400
    try:
        source = staff.organisation_by_siret(choose.source.data or "")
        target = staff.organisation_by_siret(choose.cible.data or "")
        staff.check_organisations(source.id, target.id)
    except staff.StaffError as error:
        choose.form_errors.append(str(error))
        return render_template("staff/transfer.html", choose=choose), 400
    form = TransferForm(formdata=None, source_id=source.id, target_id=target.id)
    usagers = mandat_queries.usager_page(source.id, clock.now(), choose.q.data or "", choose.page.data or 1, 50)
    return render_template("staff/transfer.html", choose=choose, form=form, source=source, target=target,
                           usagers=usagers, total=queries.count_mandats(source.id, None))


def _transfer_back(form: TransferForm) -> Response:
    source, target = queries.organisation(form.source_id.data or 0), queries.organisation(form.target_id.data or 0)
    if source is None or target is None:
        return redirect(url_for("staff.transfer"))
    return redirect(url_for("staff.transfer", source=source.siret, cible=target.siret))


@bp.route("/mandats/transfert/confirmation", methods=["POST"])
@staff_required
def transfer_confirm() -> Page:
    """What the transfer would do; confirmed by a second button (or blocked by conflicts)."""
    form = TransferForm()
    if not form.validate_on_submit():
        return render_template("staff/transfer_confirm.html", form=form, error="Le formulaire est incomplet : "
                               "recommencez le transfert depuis le début."), 400
    try:
        plan = staff.plan_transfer(form.source_id.data or 0, form.target_id.data or 0, form.usager_ids(),
                                   clock.now())
    except staff.StaffError as error:
        return render_template("staff/transfer_confirm.html", form=form, error=str(error)), 400
    return render_template("staff/transfer_confirm.html", form=form, plan=plan)


@bp.route("/mandats/transfert/confirmer", methods=["POST"])
@staff_required
def transfer_do() -> Response:
    """Move the mandates, in one transaction; one journal entry per mandate."""
    form = TransferForm()
    if not form.validate_on_submit():
        flash("Le formulaire est incomplet : aucun mandat n'a été transféré.", "error")
        return redirect(url_for("staff.transfer"))
    try:
        plan = staff.transfer_mandats(form.source_id.data or 0, form.target_id.data or 0, form.usager_ids(),
                                      staff=g.aidant, now=clock.now())
    except staff.StaffError as error:
        db.refuse()
        flash(str(error), "error")
        return _transfer_back(form)
    except IntegrityError:
        db.refuse()
        flash("Un mandat vient d'être créé au même moment pour l'un de ces usagers dans la structure d'arrivée : "
              "aucun mandat n'a été transféré. Recommencez le transfert.", "error")
        return _transfer_back(form)
    message = (f"{len(plan.mandats)} mandat(s) de {plan.usagers} usager(s) transféré(s) de « {plan.source.name} » "
               f"vers « {plan.target.name} ».")
    if plan.remaining:
        message += f" Il en reste {plan.remaining} : confirmez un nouveau transfert pour les déplacer."
    flash(message, "success")
    return redirect(url_for("staff.transfer", source=plan.source.siret, cible=plan.target.siret))


# --- inactive aidants ------------------------------------------------------------------------------------------


@bp.route("/aidants/inactifs")
@staff_required
def inactive() -> Page:
    """Active aidants who have not signed in for N months."""
    choose = InactiveFilterForm(request.args)
    status = 200
    if not choose.validate():
        choose.mois.data, choose.page.data, status = "6", 1, 400
    months = int(choose.mois.data or 6)
    cutoff = staff.inactive_cutoff(months, clock.now())
    page = queries.inactive_aidants(cutoff, g.aidant.id, choose.page.data or 1)
    form = DeactivateForm(formdata=None, mois=str(months))
    return render_template("staff/inactive.html", choose=choose, form=form, page=page, months=months,
                           cutoff=cutoff), status


@bp.route("/aidants/inactifs/confirmation", methods=["POST"])
@staff_required
def inactive_confirm() -> Page:
    """The aidants about to be deactivated, for a last look."""
    form = DeactivateForm()
    if not form.validate_on_submit():
        flash("Le formulaire est incomplet : aucun aidant n'a été désactivé.", "error")
        return redirect(url_for("staff.inactive"))
    months = int(form.mois.data or 6)
    try:
        found = staff.aidants_to_deactivate(form.aidants.data, months, staff=g.aidant, now=clock.now())
    except staff.StaffError as error:
        flash(str(error), "error")
        return redirect(url_for("staff.inactive", mois=months))
    return render_template("staff/inactive_confirm.html", form=form, aidants=found, months=months)


@bp.route("/aidants/inactifs/desactiver", methods=["POST"])
@staff_required
def inactive_do() -> Response:
    """Deactivate them; journaled, their sessions end at once."""
    form = DeactivateForm()
    if not form.validate_on_submit():
        flash("Le formulaire est incomplet : aucun aidant n'a été désactivé.", "error")
        return redirect(url_for("staff.inactive"))
    months = int(form.mois.data or 6)
    try:
        done = staff.deactivate_inactive(form.aidants.data, months, staff=g.aidant, now=clock.now())
    except staff.StaffError as error:
        db.refuse()
        flash(str(error), "error")
        return redirect(url_for("staff.inactive", mois=months))
    skipped = len(set(form.aidants.data)) - len(done)
    message = f"{len(done)} aidant(s) désactivé(s)."
    if skipped:
        message += f" {skipped} autre(s) laissé(s) actif(s) : connecté(s) entre-temps ou déjà désactivé(s)."
    flash(message, "success")
    return redirect(url_for("staff.inactive", mois=months))


# --- the journal -----------------------------------------------------------------------------------------------


@bp.route("/journal")
@staff_required
def journal_list() -> Page:
    """The journal, newest first, filtered; pages by sequence number."""
    form = JournalFilterForm(request.args)
    actions = queries.known_actions()
    if not form.validate():
        return render_template("staff/journal.html", form=form, actions=actions, page=None), 400
    page = queries.journal_page(form.filters(), before=form.cursor("avant"), after=form.cursor("apres"))
    return render_template("staff/journal.html", form=form, actions=actions, page=page, args=form.query_args())


def _csv_rows(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[Any]]:
    for row in rows:
        values = list(row)
        values[1] = values[1].isoformat()
        values[11] = json.dumps(values[11], ensure_ascii=False, sort_keys=True) if values[11] is not None else ""
        values[13] = bytes(values[13]).hex() if values[13] is not None else ""  # pending: no leaf yet
        yield values


@bp.route("/journal.csv")
@staff_required
def journal_csv() -> Page:
    """The filtered journal as a CSV file, streamed (the export itself is journaled first)."""
    form = JournalFilterForm(request.args)
    if not form.validate():
        return render_template("staff/journal.html", form=form, actions=queries.known_actions(), page=None), 400
    filters = form.filters()
    staff.log_journal_export(filters, staff=g.aidant, now=clock.now())
    stamp = clock.now().strftime("%Y%m%d-%H%M%S")
    return csv_export.download(f"journal-{stamp}.csv", queries.JOURNAL_COLUMNS,
                               _csv_rows(queries.journal_stream(filters)))


@bp.route("/journal/verification", methods=["GET", "POST"])
@staff_required
def journal_verify() -> Page:
    """Recompute the chain on request and show the outcome."""
    form = ButtonForm()
    head_seq, head_hash = journal.head()
    if request.method == "GET":
        return render_template("staff/verify.html", form=form, head_seq=head_seq, head_hash=head_hash)
    if not form.validate_on_submit():
        return render_template("staff/verify.html", form=form, head_seq=head_seq, head_hash=head_hash), 400
    result = staff.verify_journal(staff=g.aidant, now=clock.now())
    return render_template("staff/verify.html", form=form, result=result, head_seq=head_seq, head_hash=head_hash)
