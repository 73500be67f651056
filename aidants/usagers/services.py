"""Usagers: created or updated from the identity FranceConnect returned, stored exactly as received.

FranceConnect rebuilds a citizen's ``sub`` from the pivot fields, so nothing is
trimmed, re-cased or reformatted: a partial birthdate stays ``YYYY-00-00`` and an
empty birthplace (born abroad) stays empty. Our ``sub`` is an HMAC of
FranceConnect's pairwise ``sub`` under ``USAGER_SUB_KEY``; the raw value is never kept.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from aidants import db
from aidants.journal import services as journal
from aidants.security import crypto
from aidants.usagers.models import Usager

#: INSEE COG codes (communes and countries): 5 characters, Corsica's 2A/2B included.
COG = re.compile(r"^(?:2[AB]|[0-9]{2})[0-9]{3}$")
#: YYYY-MM-DD, where MM and DD may be 00 when unknown (YYYY-MM-00, YYYY-00-00).
BIRTHDATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
GENDERS = ("male", "female")
NAME_MAX = 256
EMAIL_MAX = 254


class InvalidIdentity(ValueError):
    """FranceConnect's claims do not form a pivot identity we can store; the message is in French."""


def usager_sub(fc_sub: str) -> str:
    """Our sub: the keyed hash of FranceConnect's sub (stable as long as USAGER_SUB_KEY is)."""
    return crypto.keyed_hash(current_app.config["USAGER_SUB_KEY"].encode(), fc_sub)


def find_by_fc_sub(fc_sub: str) -> Usager | None:
    """The usager FranceConnect calls ``fc_sub``, if already known."""
    statement = sa.select(Usager).where(Usager.sub == usager_sub(fc_sub))
    return db.session().scalars(statement).first()


def _text(claims: Mapping[str, Any], name: str, *, required: bool, limit: int = NAME_MAX) -> str:
    value = claims.get(name)
    if value is None or value == "":
        if required:
            raise InvalidIdentity(f"L'identité transmise par FranceConnect ne comporte pas le champ « {name} ».")
        return ""
    if not isinstance(value, str) or len(value) > limit or _CONTROL.search(value):
        raise InvalidIdentity(f"Le champ « {name} » transmis par FranceConnect n'a pas le format attendu.")
    return value


#: NUL and other control characters have no place in a name, a date or an email.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _birthdate_is_valid(value: str) -> bool:
    found = BIRTHDATE.match(value)
    if found is None:
        return False
    year, month, day = (int(part) for part in found.groups())
    if month == 0:
        return day == 0  # YYYY-00-00: only the year is known
    if not 1 <= month <= 12:
        return False
    if day == 0:
        return True  # YYYY-MM-00
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def pivot_identity(claims: Mapping[str, Any]) -> dict[str, str]:
    """Check FranceConnect's claims and return the fields to store, unaltered."""
    fields = {
        "given_name": _text(claims, "given_name", required=True),
        "family_name": _text(claims, "family_name", required=True),
        "birthdate": _text(claims, "birthdate", required=True, limit=10),
        "gender": _text(claims, "gender", required=True, limit=10),
        "birthplace": _text(claims, "birthplace", required=False, limit=5),
        "birthcountry": _text(claims, "birthcountry", required=True, limit=5),
        "preferred_username": _text(claims, "preferred_username", required=False),
        "email": _text(claims, "email", required=False, limit=EMAIL_MAX),
    }
    if not _birthdate_is_valid(fields["birthdate"]):
        raise InvalidIdentity("La date de naissance transmise par FranceConnect n'a pas le format attendu.")
    if fields["gender"] not in GENDERS:
        raise InvalidIdentity("Le sexe transmis par FranceConnect n'a pas le format attendu.")
    if not COG.match(fields["birthcountry"]):
        raise InvalidIdentity("Le pays de naissance transmis par FranceConnect n'a pas le format attendu.")
    if fields["birthplace"] and not COG.match(fields["birthplace"]):
        raise InvalidIdentity("Le lieu de naissance transmis par FranceConnect n'a pas le format attendu.")
    return fields


def _search_name(given_name: str, family_name: str) -> str:
    return f"{given_name} {family_name}".lower()


def record_identity(
    claims: Mapping[str, Any], now: dt.datetime, *, aidant_id: int | None = None,
    organisation_id: int | None = None,
) -> Usager:
    """Create or update the usager FranceConnect identified, and journal it (flushed, not committed)."""
    fc_sub = claims.get("sub")
    if not isinstance(fc_sub, str) or not fc_sub:
        raise InvalidIdentity("L'identité transmise par FranceConnect ne comporte pas d'identifiant.")
    fields = pivot_identity(claims)
    sub = usager_sub(fc_sub)
    known = db.session().execute(sa.select(Usager.email).where(Usager.sub == sub)).first()
    old_email = None if known is None else known.email
    values = {**fields, "updated_at": now,
              "search_name": _search_name(fields["given_name"], fields["family_name"])}
    # One statement, so two first identifications of the same person at once both succeed.
    insert = postgresql.insert if db.is_postgresql() else sqlite.insert
    statement = insert(Usager).values(sub=sub, created_at=now, **values)
    row = db.session().execute(
        statement.on_conflict_do_update(index_elements=[Usager.sub], set_=values)
        .returning(Usager.id, Usager.created_at)
    ).one()
    created = known is None and row.created_at == now
    usager = db.session().get(Usager, row.id, populate_existing=True)
    assert usager is not None
    actor: dict[str, Any] = {
        "actor_kind": "aidant" if aidant_id is not None else "system",
        "aidant_id": aidant_id, "organisation_id": organisation_id, "usager_id": usager.id,
    }
    journal.append("franceconnect_usager", now=now, extra={"created": created}, **actor)
    if old_email is not None and old_email != usager.email:
        journal.append("update_email_usager", now=now, **actor)
    return usager
