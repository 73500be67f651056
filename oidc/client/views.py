"""Identifying a usager with FranceConnect while a mandate is being prepared.

``start`` sends the browser to FranceConnect; ``callback`` checks the answer,
records the usager and logs them out of FranceConnect at once; ``logged_out``
hands over to the mandate's recap page.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from aidants import clock, db
from aidants.espace_usager import services as usager_space
from aidants.espace_usager import views as espace_usager
from aidants.security import crypto
from aidants.usagers import services as usagers
from aidants.web import login_required
from oidc.client import flow
from oidc.client.settings import NotConfigured, current

log = logging.getLogger(__name__)
bp = Blueprint("franceconnect", __name__, url_prefix="/franceconnect")

PENDING = "franceconnect"
LOGOUT_STATE = "franceconnect_logout"
#: The espace usager's sign-in keeps its own pending request, so it never disturbs an aidant's.
PENDING_USAGER = "franceconnect_usager"
LOGOUT_STATE_USAGER = "franceconnect_logout_usager"
DRAFT = "mandat_draft"

#: The French page for each kind of refusal: (title, explanation).
PAGES = {
    "no_pending": ("Identification introuvable",
                   "Aucune identification FranceConnect n'est en cours dans ce navigateur : elle a peut-être "
                   "déjà abouti, ou ce lien vient d'un autre poste. Rien n'a été enregistré."),
    "other_aidant": ("Identification commencée par un autre aidant",
                     "Cette identification FranceConnect a été commencée sous le compte d'un autre aidant. "
                     "Rien n'a été enregistré."),
    "state": ("Réponse de FranceConnect inattendue",
              "La réponse de FranceConnect ne correspond pas à la demande envoyée depuis ce navigateur. "
              "Par sécurité, rien n'a été enregistré."),
    "too_late": ("Identification expirée",
                 "L'identification FranceConnect a duré trop longtemps. Rien n'a été enregistré."),
    "access_denied": ("Identification annulée",
                      "L'usager a annulé sa connexion à FranceConnect. Rien n'a été enregistré. Vous pouvez "
                      "recommencer quand l'usager est prêt."),
    "provider_error": ("FranceConnect a refusé la demande",
                       "FranceConnect n'a pas pu identifier l'usager. Rien n'a été enregistré."),
    "expired": ("Réponse de FranceConnect expirée",
                "La réponse de FranceConnect est arrivée expirée : l'horloge de ce service ou le réseau est "
                "peut-être en cause. Par sécurité, rien n'a été enregistré."),
    "acr": ("Niveau de sécurité insuffisant",
            "FranceConnect a identifié l'usager avec un niveau de sécurité inférieur à celui exigé pour un "
            "mandat. Rien n'a été enregistré."),
    "invalid": ("Réponse de FranceConnect non vérifiable",
                "La réponse de FranceConnect n'a pas pu être vérifiée. Par sécurité, rien n'a été enregistré."),
    "identity": ("Identité incomplète",
                 "L'identité transmise par FranceConnect est incomplète ou mal formée. Rien n'a été enregistré."),
    "unreachable": ("FranceConnect ne répond pas",
                    "FranceConnect ne répond pas pour le moment. Rien n'a été enregistré. Réessayez dans "
                    "quelques minutes."),
    "not_configured": ("FranceConnect n'est pas configuré",
                       "Ce service n'est pas relié à FranceConnect. Prévenez l'équipe technique."),
    "no_draft": ("Aucun mandat en préparation",
                 "Pour identifier un usager, commencez par préparer un mandat : choisissez les démarches et "
                 "la durée, puis lancez FranceConnect."),
    "not_allowed": ("Création de mandats non autorisée",
                    "Votre compte ne permet pas de créer des mandats. Adressez-vous au référent de votre "
                    "structure."),
    "signed_out": ("Session d'aidant expirée",
                   "Votre session d'aidant a expiré ou vous n'êtes pas connecté sur ce navigateur. Connectez-vous, "
                   "puis recommencez l'identification. Rien n'a été enregistré."),
    "logout_unexpected": ("Retour de FranceConnect inattendu",
                          "Ce retour de déconnexion FranceConnect n'était pas attendu dans ce navigateur."),
}


def refused(kind: str, status: int = 400, detail: str | None = None,
            extra: str | None = None) -> tuple[str, int, dict[str, str]]:
    """A clear French page for a refused identification, with a way to start again."""
    title, message = PAGES.get(kind, PAGES["invalid"])
    retry = kind not in ("not_allowed", "not_configured", "signed_out") and isinstance(session.get(DRAFT), dict)
    headers = {"Retry-After": "30"} if status == 503 else {}  # FranceConnect did not answer in time
    return render_template("franceconnect/error.html", title=title, message=message, detail=detail, extra=extra,
                           retry=retry, signed_in=g.get("aidant") is not None), status, headers


@bp.get("/identification")
@login_required
def start() -> Response | tuple[str, int, dict[str, str]]:
    """Send the browser to FranceConnect to identify the usager of the mandate in preparation."""
    if not g.aidant.can_create_mandats:
        return refused("not_allowed", 403)
    if not isinstance(session.get(DRAFT), dict):
        return refused("no_draft")
    try:
        url, pending = flow.begin(current(), g.aidant.id, clock.now())
    except NotConfigured:
        return refused("not_configured", 503)
    except flow.FranceConnectError as exc:
        log.warning("FranceConnect identification could not start: %s", exc.reason)
        return refused(exc.kind, exc.status)
    session[PENDING] = pending.as_session()
    return redirect(url)


@bp.get("/espace-usager")
def start_usager() -> Response | tuple[str, int]:
    """Send a usager to FranceConnect to sign in to their own space (no aidant involved)."""
    try:
        url, pending = flow.begin(current(), 0, clock.now(), purpose="usager")
    except NotConfigured:
        return espace_usager.refused("not_configured", 503)
    except flow.FranceConnectError as exc:
        log.warning("FranceConnect sign-in of a usager could not start: %s", exc.reason)
        return espace_usager.refused(exc.kind, exc.status)
    session[PENDING_USAGER] = pending.as_session()
    return redirect(url)


def _usager_callback(pending: flow.Pending) -> Response | tuple[str, int]:
    """The espace usager's sign-in: verify FranceConnect's answer, open the usager's own session."""
    now = clock.now()
    try:
        settings = current()
        identity = flow.complete(settings, pending, request.args, 0, now)
        signed = usager_space.sign_in(identity.claims, now)
    except NotConfigured:
        return espace_usager.refused("not_configured", 503)
    except flow.FranceConnectError as exc:
        log.warning("FranceConnect sign-in of a usager refused: %s", exc.reason)
        return espace_usager.refused(exc.kind, exc.status)
    except usagers.InvalidIdentity as exc:
        log.warning("FranceConnect identity of a usager refused: %s", exc)
        return espace_usager.refused("identity", 400)
    if signed.cookie is None:
        return espace_usager.no_mandate()
    logout_state = crypto.new_token()
    session[LOGOUT_STATE_USAGER] = logout_state
    url = flow.end_session_url(settings, identity.id_token, logout_state)
    response = redirect(url or url_for("usager.home"))
    espace_usager.set_cookie(response, signed.cookie)
    return response


@bp.get("/retour")
def callback() -> Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    """FranceConnect's answer: verify it, record the usager, then log them out of FranceConnect."""
    usager_pending = flow.Pending.from_session(session.get(PENDING_USAGER))
    if usager_pending is not None and (
            crypto.equal(request.args.get("state", ""), usager_pending.state) or PENDING not in session):
        session.pop(PENDING_USAGER, None)  # single use, whatever happens next
        return _usager_callback(usager_pending)
    pending = flow.Pending.from_session(session.pop(PENDING, None))  # single use, whatever happens next
    if g.get("aidant") is None:
        return refused("signed_out", 401)
    draft: Any = session.get(DRAFT)
    now = clock.now()
    try:
        settings = current()
        identity = flow.complete(settings, pending, request.args, g.aidant.id, now)
        if not isinstance(draft, dict):
            return refused("no_draft")
        usager = usagers.record_identity(identity.claims, now, aidant_id=g.aidant.id,
                                         organisation_id=g.aidant.current_organisation_id)
    except NotConfigured:
        return refused("not_configured", 503)
    except flow.FranceConnectError as exc:
        log.warning("FranceConnect callback refused for aidant %s: %s", g.aidant.id, exc.reason)
        return refused(exc.kind, exc.status, detail=exc.reason)
    except usagers.InvalidIdentity as exc:
        db.refuse()
        log.warning("FranceConnect identity refused for aidant %s: %s", g.aidant.id, exc)
        return refused("identity", extra=str(exc))
    session[DRAFT] = {**draft, "usager_id": usager.id}
    logout_state = crypto.new_token()
    session[LOGOUT_STATE] = logout_state
    url = flow.end_session_url(settings, identity.id_token, logout_state)
    return redirect(url or url_for("mandats.recap"))


@bp.get("/deconnexion")
def logged_out() -> Response | tuple[str, int, dict[str, str]]:
    """FranceConnect logged the usager out; go on to the mandate's recap (or to the espace usager)."""
    usager_state = session.get(LOGOUT_STATE_USAGER)
    if isinstance(usager_state, str) and crypto.equal(request.args.get("state", ""), usager_state):
        session.pop(LOGOUT_STATE_USAGER, None)
        return redirect(url_for("usager.home"))
    if g.get("aidant") is None:
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    expected = session.pop(LOGOUT_STATE, None)
    if not isinstance(expected, str) or not crypto.equal(request.args.get("state", ""), expected):
        return refused("logout_unexpected")
    return redirect(url_for("mandats.recap"))
