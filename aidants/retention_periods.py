"""How long each kind of data is kept: defined once, read by the « Données personnelles » page and by the
retention job (``aidants.jobs``) that deletes or anonymises what has outlived its period.

Each entry: the kind of data, what it covers, how long it is kept (``days``, counted from ``counted_from``)
and why (the legal basis of the duration). Keep the wording French: the public page prints it as is.
"""

from __future__ import annotations

from typing import TypedDict


class RetentionPeriod(TypedDict):
    """One kind of data and its retention period."""

    label: str  # what the data is, as the public page names it
    days: int  # how long it is kept
    counted_from: str  # from which event the period runs
    reason: str  # why this duration


#: The retention periods, by kind of data. Code reads ``RETENTION_PERIODS[kind]["days"]``.
RETENTION_PERIODS: dict[str, RetentionPeriod] = {
    "mandat": {
        "label": "Mandats, autorisations et attestations",
        "days": 5 * 365,
        "counted_from": "la fin du mandat (expiration, révocation ou remplacement)",
        "reason": "Prouver, en cas de contestation, qu'une démarche a été faite sous un mandat valable "
                  "(prescription de droit commun).",
    },
    "usager": {
        "label": "Identité des usagers transmise par FranceConnect",
        "days": 5 * 365,
        "counted_from": "la fin du dernier mandat de l'usager",
        "reason": "Rattacher les mandats et leur journal à la personne qui les a donnés.",
    },
    "journal": {
        "label": "Journal des actions (identifiants seulement, sans donnée nominative)",
        "days": 5 * 365,
        "counted_from": "l'enregistrement de l'action",
        "reason": "Traçabilité et sécurité du service ; le journal ne contient aucun nom ni adresse.",
    },
    "aidant": {
        "label": "Comptes des aidants et des référents",
        "days": 365,
        "counted_from": "la désactivation du compte",
        "reason": "Permettre la réactivation d'un compte désactivé par erreur et répondre aux questions "
                  "sur les mandats créés.",
    },
    "session": {
        "label": "Sessions de connexion et liens de connexion",
        "days": 30,
        "counted_from": "la fin de la session ou l'expiration du lien",
        "reason": "Sécurité : comprendre une connexion suspecte signalée par un aidant.",
    },
    "connection_log": {
        "label": "Journaux techniques de connexion (adresse IP, date)",
        "days": 365,
        "counted_from": "la connexion",
        "reason": "Obligation de conservation des données de connexion (article L34-1 du code des postes "
                  "et des communications électroniques).",
    },
    "habilitation": {
        "label": "Demandes d'habilitation et leurs échanges",
        "days": 3 * 365,
        "counted_from": "la décision (acceptation, refus ou clôture)",
        "reason": "Justifier l'habilitation d'une structure et instruire une nouvelle demande.",
    },
    "outbox": {
        "label": "Courriels envoyés par le service",
        "days": 90,
        "counted_from": "l'envoi",
        "reason": "Vérifier qu'un message est bien parti en cas de réclamation.",
    },
}
