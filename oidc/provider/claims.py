"""What a service learns: pairwise identifiers, the usager's claims by scope, FranceConnect's labels."""

from __future__ import annotations

from typing import Any

from flask import current_app

from aidants.security import crypto
from oidc.provider.store import Identity

#: FranceConnect's ``rep_scope`` label of each démarche.
REP_SCOPE_LABELS = {
    "papiers": "Papier-Citoyenneté-Elections",
    "famille": "Famille-Scolarité",
    "social": "Social-Santé",
    "travail": "Travail-Formation",
    "logement": "Logement",
    "transports": "Transports-Mobilité",
    "argent": "Argent-Impots-Consommation",
    "justice": "Justice",
    "etranger": "Etranger-Europe",
    "loisirs": "Loisirs-Sport-Culture",
}
DEMARCHE_BY_LABEL = {label: code for code, label in REP_SCOPE_LABELS.items()}

SCOPE_CLAIMS = {
    "profile": ("given_name", "family_name", "birthdate", "gender", "preferred_username"),
    "birth": ("birthplace", "birthcountry"),
    "email": ("email",),
    "given_name": ("given_name",),
    "family_name": ("family_name",),
    "birthdate": ("birthdate",),
    "gender": ("gender",),
    "birthplace": ("birthplace",),
    "birthcountry": ("birthcountry",),
    "preferred_username": ("preferred_username",),
}


def _key() -> bytes:
    return str(current_app.config["USAGER_SUB_KEY"]).encode()


def pairwise_sub(client_id: str, usager_sub: str) -> str:
    """The usager's identifier for one client (from our own ``sub`` of them): two clients cannot link
    their users."""
    return crypto.keyed_hash(_key(), f"usager|{client_id}|{usager_sub}")


def pairwise_aidant(client_id: str, aidant_id: int) -> str:
    """The acting aidant's identifier for one client."""
    return crypto.keyed_hash(_key(), f"aidant|{client_id}|{aidant_id}")


def act_claim(client_id: str, aidant_id: int, siret: str) -> dict[str, str]:
    """RFC 8693 ``act``: who really acts for the subject (the aidant), and for which structure."""
    return {"sub": pairwise_aidant(client_id, aidant_id), "siret": siret}


def userinfo(client_id: str, usager: Identity, scope: str) -> dict[str, Any]:
    """The usager's claims that the granted scopes allow, exactly as FranceConnect gave them."""
    granted = {name for item in scope.split() for name in SCOPE_CLAIMS.get(item, ())}
    claims: dict[str, Any] = {"sub": pairwise_sub(client_id, usager.sub)}
    for name in sorted(granted):
        value = getattr(usager, name)
        if value or name in ("birthplace",):
            claims[name] = value
    return claims


def claims_shape_error(claims_param: dict[str, Any]) -> str | None:
    """What is wrong with a ``claims`` request's shape (OIDC Core 5.5), or None."""
    for member in ("id_token", "userinfo"):
        requested = claims_param.get(member)
        if requested is None:
            continue
        if not isinstance(requested, dict):
            return f"'claims.{member}' must be a JSON object."
        for name, spec in requested.items():
            if spec is not None and not isinstance(spec, dict):
                return f"'claims.{member}.{name}' must be null or a JSON object."
            if isinstance(spec, dict) and "values" in spec and not isinstance(spec["values"], list):
                return f"'claims.{member}.{name}.values' must be a JSON array."
    return None


def requested_rep_scopes(claims_param: dict[str, Any] | None) -> set[str] | None:
    """The démarches a ``claims`` request asks for through ``rep_scope`` values (None: no restriction)."""
    if not claims_param:
        return None
    wanted = (claims_param.get("id_token") or {}).get("rep_scope")
    if not isinstance(wanted, dict):
        return None
    values = wanted.get("values") or ([wanted["value"]] if "value" in wanted else None)
    if values is None:
        return None
    return {DEMARCHE_BY_LABEL[v] for v in values if isinstance(v, str) and v in DEMARCHE_BY_LABEL}
