"""How long each kind of transient data is kept, and the daily purge that applies it.

``RETENTION`` is the one place the durations are written; the README and the personal-data page
quote them. Each duration runs from the moment the data stopped being useful (expiry, revocation,
sending, last change), except ``unused_identity`` (from its creation).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from aidants import db
from aidants.accounts.models import AidantSession, LoginLink, Throttle
from aidants.habilitation.models import (
    DRAFT,
    HabilitationAidant,
    HabilitationMessage,
    HabilitationRequest,
    IssuerLink,
)
from aidants.jobs.models import JobRun
from aidants.jobs.outcome import Outcome
from aidants.mandats.models import Mandat
from aidants.outbox.models import SENT, OutboxMessage
from aidants.retention_periods import RETENTION_PERIODS
from aidants.usagers.models import Usager
from oidc.provider.models import OidcAuthorization, OidcToken

RETENTION: dict[str, dt.timedelta] = {
    # The durations the « Données personnelles » page states (aidants.retention_periods), where it names them.
    "login_link": dt.timedelta(days=RETENTION_PERIODS["session"]["days"]),  # after its expiry
    "habilitation_link": dt.timedelta(days=1),  # after its expiry (an access link lives 3 days)
    "session": dt.timedelta(days=RETENTION_PERIODS["session"]["days"]),  # after its expiry or its end
    "authorization_code": dt.timedelta(days=1),  # after its expiry (a code lives 30 seconds)
    "access_token": dt.timedelta(days=1),  # after its expiry (a token lives 60 seconds)
    "throttle": dt.timedelta(days=1),  # after its counting window began, once no block is in force
    "outbox_sent": dt.timedelta(days=RETENTION_PERIODS["outbox"]["days"]),  # after the email was sent
    "unused_identity": dt.timedelta(hours=1),  # a FranceConnect identity not followed by a mandate
    "habilitation_draft": dt.timedelta(days=180),  # a draft request not changed for six months
    "job_run": dt.timedelta(days=400),  # the record of a job's run
}

#: The same durations in words, for the pages that quote them.
RETENTION_LABELS: dict[str, str] = {
    "login_link": f"liens de connexion : {RETENTION_PERIODS['session']['days']} jours après leur expiration",
    "habilitation_link": "liens d'accès aux demandes d'habilitation : 1 jour après leur expiration",
    "session": f"sessions : {RETENTION_PERIODS['session']['days']} jours après leur fin",
    "authorization_code": "codes d'autorisation OpenID Connect : 1 jour après leur expiration",
    "access_token": "jetons d'accès OpenID Connect : 1 jour après leur expiration",
    "throttle": "compteurs d'essais de connexion : 1 jour",
    "outbox_sent": f"e-mails envoyés : {RETENTION_PERIODS['outbox']['days']} jours après leur envoi",
    "unused_identity": "identités FranceConnect non suivies d'un mandat : 1 heure",
    "habilitation_draft": "brouillons de demande d'habilitation : 6 mois sans modification",
    "job_run": "historique des travaux planifiés : 400 jours",
}


def _delete(statement: sa.Delete) -> int:
    result = db.session().execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def purge(now: dt.datetime) -> Outcome:
    """Delete every row past its retention (one count per kind; the run is journaled with them)."""
    def before(key: str) -> dt.datetime:
        return now - RETENTION[key]

    counts = {
        "login_link": _delete(sa.delete(LoginLink).where(LoginLink.expires_at < before("login_link"))),
        "habilitation_link": _delete(sa.delete(IssuerLink).where(IssuerLink.expires_at < before("habilitation_link"))),
        "session": _delete(sa.delete(AidantSession).where(sa.or_(
            AidantSession.expires_at < before("session"), AidantSession.revoked_at < before("session")))),
        "throttle": _delete(sa.delete(Throttle).where(
            Throttle.window_start < before("throttle"),
            sa.or_(Throttle.blocked_until.is_(None), Throttle.blocked_until < now))),
        "access_token": _delete(sa.delete(OidcToken).where(OidcToken.expires_at < before("access_token"))),
    }
    has_token = sa.select(OidcToken.id).where(OidcToken.authorization_id == OidcAuthorization.id).exists()
    counts["authorization_code"] = _delete(sa.delete(OidcAuthorization).where(
        OidcAuthorization.expires_at < before("authorization_code"), ~has_token))
    counts["outbox_sent"] = _delete(sa.delete(OutboxMessage).where(
        OutboxMessage.status == SENT, OutboxMessage.sent_at < before("outbox_sent")))
    counts["unused_identity"] = _purge_unused_identities(before("unused_identity"))
    counts["habilitation_draft"] = _purge_drafts(before("habilitation_draft"))
    counts["job_run"] = _delete(sa.delete(JobRun).where(JobRun.started_at < before("job_run")))
    return Outcome(counts)


def _purge_unused_identities(cutoff: dt.datetime) -> int:
    """Usagers identified through FranceConnect whose mandate was never signed."""
    has_mandat = sa.select(Mandat.id).where(Mandat.usager_id == Usager.id).exists()
    has_code = sa.select(OidcAuthorization.id).where(OidcAuthorization.usager_id == Usager.id).exists()
    return _delete(sa.delete(Usager).where(Usager.created_at < cutoff, ~has_mandat, ~has_code))


def _purge_drafts(cutoff: dt.datetime) -> int:
    """Habilitation requests left as drafts, with their aidants and messages."""
    drafts = sa.select(HabilitationRequest.id).where(
        HabilitationRequest.status == DRAFT, HabilitationRequest.updated_at < cutoff)
    ids = list(db.session().scalars(drafts))
    if not ids:
        return 0
    _delete(sa.delete(HabilitationAidant).where(HabilitationAidant.request_id.in_(ids)))
    _delete(sa.delete(HabilitationMessage).where(HabilitationMessage.request_id.in_(ids)))
    return _delete(sa.delete(HabilitationRequest).where(HabilitationRequest.id.in_(ids)))
