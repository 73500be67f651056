"""The issuer's side of a habilitation request: access by emailed link, the draft steps, submission, messages.

Each function checks, changes, journals and flushes; the request commits once. The journal
holds identifiers only (the issuer's and the request's ids), never an email or a name.
Status changes are conditional UPDATEs (``status IN (…)``), so a second submission, or a
submission racing a decision, changes nothing and gets a French message instead.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuid_lib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from aidants import db
from aidants.accounts import throttle
from aidants.accounts.services import normalise_email
from aidants.habilitation import insee, queries
from aidants.habilitation.models import (
    AUTHOR_ISSUER,
    CHANGES_REQUIRED,
    CLOSED,
    EDITABLE,
    KINDS,
    OPEN,
    SUBMITTED,
    TERMS_VERSION,
    HabilitationAidant,
    HabilitationMessage,
    HabilitationRequest,
    Issuer,
    IssuerLink,
)
from aidants.journal import services as journal
from aidants.organisations.models import siret_is_valid
from aidants.security import crypto

#: How long an access link (and the cookie set from it) opens the issuer's requests.
LINK_TTL = dt.timedelta(days=3)
#: Links emailed to one address per hour, at most (the form answers the same either way).
LINKS_PER_HOUR = 5
#: Requests an issuer may have open (draft, submitted, changes required) at once.
MAX_OPEN_REQUESTS = 5
#: Aidants to train listed in one request, at most.
MAX_AIDANTS = 50
MAX_MESSAGE = 5000


class HabilitationError(ValueError):
    """A change the rules refuse; the message (French) is for the person who asked."""


def journal_request(action: str, now: dt.datetime, request: HabilitationRequest | None = None,
                    issuer: Issuer | None = None, actor_kind: str = "issuer", **extra: Any) -> None:
    """A journal entry about a request or an issuer: their ids only."""
    fields: dict[str, Any] = {}
    if request is not None:
        fields["habilitation_request_id"] = request.id
        fields["issuer_id"] = request.issuer_id
    elif issuer is not None:
        fields["issuer_id"] = issuer.id
    aidant_id = extra.pop("aidant_id", None)
    organisation_id = extra.pop("organisation_id", None)
    journal.append(action, now=now, actor_kind=actor_kind, aidant_id=aidant_id, organisation_id=organisation_id,
                   extra={**fields, **extra})


# --- access by emailed link ----------------------------------------------------------------------


@dataclass(frozen=True)
class AccessLink:
    """What the start form leads to: a token to email, or nothing to send (the page says the same)."""

    email: str
    token: str | None = None
    retry_after: int = 0


def request_access(email: str, client_ip: str, now: dt.datetime) -> AccessLink:
    """Create (or find) the issuer of this email and a new access link, within the sending limits."""
    email = normalise_email(email)
    ip_key = f"habilitation:{client_ip}"
    wait = throttle.retry_after(ip_key, now)
    if wait:
        return AccessLink(email, retry_after=wait)
    throttle.record_failure(ip_key, now)  # every link sent counts: the backoff bounds emails sent from one address
    issuer = queries.issuer_by_email(email)
    if issuer is None:
        issuer = Issuer(email=email, created_at=now)
        db.session().add(issuer)
        db.session().flush()
    elif queries.links_sent_since(issuer.id, now - dt.timedelta(hours=1)) >= LINKS_PER_HOUR:
        return AccessLink(email)
    token = crypto.new_token()
    db.session().add(IssuerLink(token_hash=crypto.hash_token(token), issuer_id=issuer.id, created_at=now,
                                expires_at=now + LINK_TTL))
    db.session().flush()
    return AccessLink(email, token=token)


def issuer_for_token(token: str | None, now: dt.datetime) -> Issuer | None:
    """The issuer an access token opens, while it is valid."""
    if not token:
        return None
    link = queries.link_by_hash(crypto.hash_token(token))
    if link is None or not link.is_valid(now):
        return None
    return link.issuer


def confirm_access(token: str, now: dt.datetime) -> Issuer | None:
    """Open the issuer's space with a link; the first use proves the email (journaled)."""
    issuer = issuer_for_token(token, now)
    if issuer is None:
        return None
    if issuer.email_confirmed_at is None:
        issuer.email_confirmed_at = now
        journal_request("confirm_habilitation_issuer", now, issuer=issuer)
        db.session().flush()
    return issuer


def update_issuer(issuer: Issuer, *, first_name: str, last_name: str, profession: str, phone: str) -> None:
    """Who the issuer is (asked once, shown to the staff)."""
    issuer.first_name, issuer.last_name = first_name.strip(), last_name.strip()
    issuer.profession, issuer.phone = profession.strip(), phone.strip()
    db.session().flush()


# --- the draft -----------------------------------------------------------------------------------


def start_request(issuer: Issuer, now: dt.datetime) -> HabilitationRequest:
    """A new draft for this issuer (a few open ones at most)."""
    if queries.open_request_count(issuer.id) >= MAX_OPEN_REQUESTS:
        raise HabilitationError(f"Vous avez déjà {MAX_OPEN_REQUESTS} demandes en cours : terminez-en ou "
                                "abandonnez-en une avant d'en commencer une autre.")
    request = HabilitationRequest(uuid=str(uuid_lib.uuid4()), issuer_id=issuer.id, created_at=now, updated_at=now)
    db.session().add(request)
    db.session().flush()
    journal_request("create_habilitation_request", now, request)
    return request


def _check_editable(request: HabilitationRequest) -> None:
    if not request.is_editable:
        raise HabilitationError(f"Cette demande ne peut plus être modifiée : elle est « {request.status_label} ».")


def clean_siret(siret: str) -> str:
    """A SIRET as typed (spaces, dots allowed) → 14 digits, or a French error."""
    digits = "".join(c for c in siret if c not in " .\u00a0")
    if not siret_is_valid(digits):
        raise HabilitationError("Ce numéro SIRET n'est pas valide : il compte 14 chiffres et sa clé de contrôle "
                                "ne correspond pas. Vérifiez-le sur l'avis de situation Sirene de la structure.")
    return digits


def save_organisation(request: HabilitationRequest, *, siret: str, name: str, kind: str, address: str,
                      zipcode: str, city: str, now: dt.datetime) -> None:
    """The structure's details (draft step)."""
    _check_editable(request)
    siret = clean_siret(siret)
    if kind not in KINDS:
        raise HabilitationError("Choisissez le type de structure dans la liste.")
    request.siret, request.name, request.kind = siret, name.strip(), kind
    request.address, request.zipcode, request.city = address.strip(), zipcode.strip(), city.strip()
    request.updated_at = now
    db.session().flush()


def save_referent(request: HabilitationRequest, *, first_name: str, last_name: str, email: str, phone: str,
                  profession: str, now: dt.datetime) -> None:
    """The référent: the person who will manage the structure's aidants and cards (draft step)."""
    _check_editable(request)
    request.referent_first_name, request.referent_last_name = first_name.strip(), last_name.strip()
    request.referent_email, request.referent_phone = normalise_email(email), phone.strip()
    request.referent_profession, request.updated_at = profession.strip(), now
    db.session().flush()


def add_aidant(request: HabilitationRequest, *, first_name: str, last_name: str, email: str, profession: str,
               now: dt.datetime, aidant_type: str = "") -> HabilitationAidant:
    """Add a person to train (each email once per request)."""
    _check_editable(request)
    email = normalise_email(email)
    if any(row.email == email for row in request.aidants):
        raise HabilitationError("Cette adresse e-mail figure déjà dans la liste des aidants à former.")
    if len(request.aidants) >= MAX_AIDANTS:
        raise HabilitationError(f"Une demande compte au plus {MAX_AIDANTS} aidants à former.")
    row = HabilitationAidant(first_name=first_name.strip(), last_name=last_name.strip(), email=email,
                             profession=profession.strip(), aidant_type=aidant_type, created_at=now)
    request.aidants.append(row)
    request.updated_at = now
    db.session().flush()
    return row


def remove_aidant(request: HabilitationRequest, row_id: int, now: dt.datetime) -> None:
    """Remove a person from the list (only one of this request's)."""
    _check_editable(request)
    row = next((row for row in request.aidants if row.id == row_id), None)
    if row is None:
        raise HabilitationError("Cet aidant ne figure pas dans la demande.")
    request.aidants.remove(row)
    request.updated_at = now
    db.session().flush()


def missing_steps(request: HabilitationRequest) -> list[str]:
    """What is still to fill in before the request can be sent (French, in the order of the steps)."""
    missing = []
    if not request.issuer.has_details:
        missing.append("vos coordonnées (demandeur)")
    if not request.has_organisation:
        missing.append("les informations sur la structure")
    if not request.has_referent:
        missing.append("le référent")
    if not request.aidants:
        missing.append("au moins un aidant à former")
    return missing


def change_status(request: HabilitationRequest, allowed: tuple[str, ...], status: str, now: dt.datetime,
                  **values: Any) -> bool:
    """Move the request to ``status`` only if it is in one of ``allowed`` now, in the database (atomic)."""
    changed = db.session().execute(
        sa.update(HabilitationRequest)
        .where(HabilitationRequest.id == request.id, HabilitationRequest.status.in_(allowed))
        .values(status=status, updated_at=now, **values)
        .returning(HabilitationRequest.id)
        .execution_options(synchronize_session=False)
    ).first()
    db.session().refresh(request)
    return changed is not None


def submit(request: HabilitationRequest, *, terms_accepted: bool, now: dt.datetime) -> None:
    """Send the request to the staff: complete, terms accepted, and not sent already."""
    if request.status == SUBMITTED:
        raise HabilitationError("Cette demande a déjà été envoyée : l'équipe Aidants Connect l'examine. "
                                "Vous serez prévenu par e-mail de sa décision.")
    _check_editable(request)
    missing = missing_steps(request)
    if missing:
        raise HabilitationError("Avant d'envoyer la demande, complétez : " + ", ".join(missing) + ".")
    if not terms_accepted:
        raise HabilitationError("Pour envoyer la demande, acceptez les conditions générales d'utilisation.")
    again = request.status == CHANGES_REQUIRED
    if not change_status(request, EDITABLE, SUBMITTED, now, submitted_at=now, terms_version=TERMS_VERSION,
                         terms_accepted_at=now):
        raise HabilitationError("Cette demande a déjà été envoyée ou n'est plus modifiable.")
    journal_request("submit_habilitation_request", now, request, resubmission=again)


def close_by_issuer(request: HabilitationRequest, now: dt.datetime) -> None:
    """The issuer withdraws a request that is not decided yet."""
    if not change_status(request, OPEN, CLOSED, now):
        raise HabilitationError(f"Cette demande ne peut plus être abandonnée : elle est « {request.status_label} ».")
    journal_request("close_habilitation_request", now, request)


def add_message(request: HabilitationRequest, body: str, now: dt.datetime, *, author_kind: str = AUTHOR_ISSUER,
                author_id: int | None = None, status: str | None = None) -> HabilitationMessage:
    """A message in the request's thread (the staff's decisions carry one too)."""
    body = body.strip()
    if not body:
        raise HabilitationError("Le message est vide.")
    if len(body) > MAX_MESSAGE:
        raise HabilitationError(f"Le message est trop long ({MAX_MESSAGE} caractères au plus).")
    if request.status == CLOSED and status is None:
        raise HabilitationError("Cette demande est close : elle ne reçoit plus de messages.")
    message = HabilitationMessage(author_kind=author_kind, author_id=author_id, body=body, status=status,
                                  created_at=now)
    request.messages.append(message)
    db.session().flush()
    journal_request("habilitation_message", now, request, actor_kind=author_kind, aidant_id=author_id,
                    message_id=message.id)
    return message


# --- SIRET lookup --------------------------------------------------------------------------------


def lookup_available() -> bool:
    """Whether the SIRET can be looked up (an INSEE API key is configured)."""
    return bool(current_app.config.get("INSEE_API_KEY"))


def lookup_siret(siret: str) -> insee.Establishment:
    """The structure registered under a SIRET at INSEE (French errors: unknown, closed, unreachable)."""
    siret = clean_siret(siret)
    config = current_app.config
    try:
        found = insee.lookup(siret, api_key=config["INSEE_API_KEY"],
                             base_url=config.get("INSEE_API_URL") or insee.DEFAULT_URL,
                             timeout=float(config.get("INSEE_HTTP_TIMEOUT", 5)))
    except insee.InseeUnavailable:
        raise HabilitationError("Le répertoire Sirene ne répond pas pour le moment : saisissez les informations "
                                "de la structure vous-même.") from None
    if found is None:
        raise HabilitationError("Aucun établissement n'est inscrit au répertoire Sirene sous ce SIRET.")
    if not found.active:
        raise HabilitationError("Cet établissement est fermé selon le répertoire Sirene : vérifiez le SIRET.")
    return found
