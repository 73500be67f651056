"""The provider's hot path: one statement per question, plain records back.

/authorize, /token and /userinfo run a handful of statements each, written here once with SQLAlchemy
Core and run on the DBAPI cursor of the request's connection (``oidc.provider.sql.Compiled``: compiled
once per dialect, in the request's one transaction, seen by the engine's listeners). They return frozen
records:

* ``ClientRecord``: an active client (authlib's ClientMixin, the same rules as the ORM class);
* ``CodeRecord``: an authorization code, claimed by one conditional ``UPDATE … RETURNING``;
* ``Identity``: the usager behind an autorisation still active, with the structure's SIRET (``act``);
* ``BearerRecord``: an access token with its authorization, client and — when the autorisation is still
  active — the usager, in one SELECT (what /userinfo needs).

The database stays the source of truth: nothing here is kept beyond the request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa

from aidants.accounts.models import aidant_organisation
from aidants.mandats.models import Autorisation
from aidants.organisations.models import Organisation
from aidants.usagers.models import Usager
from oidc.provider.models import ClientRules, CodeRules, OidcAuthorization, OidcClient, OidcToken
from oidc.provider.sql import Compiled, dialect_name

_CLIENT: sa.Table = OidcClient.__table__  # type: ignore[assignment]
_CODE: sa.Table = OidcAuthorization.__table__  # type: ignore[assignment]
_TOKEN: sa.Table = OidcToken.__table__  # type: ignore[assignment]
_AUTORISATION: sa.Table = Autorisation.__table__  # type: ignore[assignment]
_USAGER: sa.Table = Usager.__table__  # type: ignore[assignment]
_ORGANISATION: sa.Table = Organisation.__table__  # type: ignore[assignment]


# --- records ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientRecord(ClientRules):
    """A registered client as one row: what authlib and the pages ask of it."""

    id: int
    client_id: str
    name: str
    secret_hash: str | None
    auth_method: str
    redirect_uris: str
    post_logout_redirect_uris: str
    id_token_alg: str
    userinfo_alg: str | None
    act_claim: bool
    allowed_scopes: str
    is_active: bool


@dataclass(frozen=True, slots=True)
class CodeRecord(CodeRules):
    """An authorization code's row (authlib's AuthorizationCodeMixin), as claimed."""

    id: int
    client_pk: int
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    aidant_id: int
    organisation_id: int
    usager_id: int
    autorisation_id: int
    demarche: str
    auth_time: dt.datetime
    sid: str | None
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Identity:
    """What a service may learn of a usager (the claims by scope) and the SIRET of the acting structure."""

    id: int
    sub: str
    given_name: str
    family_name: str
    preferred_username: str
    birthdate: str
    gender: str
    birthplace: str
    birthcountry: str
    email: str
    siret: str


@dataclass(frozen=True, slots=True)
class BearerRecord:
    """An access token with what /userinfo answers from; ``identity`` is None once the autorisation is not
    active any more (revoked or expired)."""

    scope: str
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    aidant_id: int
    organisation_id: int
    usager_id: int
    autorisation_id: int
    demarche: str
    client: ClientRecord
    identity: Identity | None

    def is_valid_at(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at and self.client.is_active


# --- statements (built once) --------------------------------------------------------------------

_CLIENT_COLUMNS = [_CLIENT.c[field.name] for field in fields(ClientRecord)]
_CODE_COLUMNS = [_CODE.c[field.name] for field in fields(CodeRecord)]
_USAGER_COLUMNS = [_USAGER.c[field.name] for field in fields(Identity) if field.name != "siret"]



def _insert(table: sa.Table) -> sa.Insert:
    """An INSERT of every column but the id, each bound under its own name."""
    return sa.insert(table).values(
        {column: sa.bindparam(column.name, type_=column.type) for column in table.c if column.name != "id"})


_CLIENT_BY_ID = Compiled(sa.select(*_CLIENT_COLUMNS).where(
    _CLIENT.c.client_id == sa.bindparam("client_id"), _CLIENT.c.is_active.is_(True)))

_NONCE_USED = Compiled(sa.select(_CODE.c.id).where(
    _CODE.c.client_pk == sa.bindparam("client_pk"), _CODE.c.nonce == sa.bindparam("nonce")).limit(1))

_INSERT_CODE = Compiled(_insert(_CODE))

_CLAIM_CODE = Compiled(
    sa.update(_CODE)
    .where(_CODE.c.code_hash == sa.bindparam("b_code_hash"), _CODE.c.client_pk == sa.bindparam("b_client_pk"),
           _CODE.c.used_at.is_(None))
    .values(used_at=sa.bindparam("now"))
    .returning(*_CODE_COLUMNS)
)

_CODE_BY_HASH = Compiled(sa.select(_CODE.c.id, _CODE.c.client_pk, _CODE.c.aidant_id, _CODE.c.usager_id).where(
    _CODE.c.code_hash == sa.bindparam("code_hash")))

_REVOKE_TOKENS = Compiled(
    sa.update(_TOKEN)
    .where(_TOKEN.c.authorization_id == sa.bindparam("b_authorization_id"), _TOKEN.c.revoked_at.is_(None))
    .values(revoked_at=sa.bindparam("now"))
)

_ERASED_USAGER = _USAGER.alias("erased_usager")


def _active(autorisation: Any) -> sa.ColumnElement[bool]:
    """The provider's copy of ``mandats.queries``' "usable now" rule, for its compiled statements: not revoked,
    not expired, and its usager not erased (an erased usager's identity is never handed out, whatever the
    autorisation says). The erasure is read by primary key, so the rule stands in any statement, joined to the
    usager or not."""
    return sa.and_(
        autorisation.c.revoked_at.is_(None), autorisation.c.expires_at > sa.bindparam("now"),
        ~sa.exists().where(_ERASED_USAGER.c.id == autorisation.c.usager_id, _ERASED_USAGER.c.erased_at.is_not(None)))


_ACTIVE_AUTORISATION = _active(_AUTORISATION)

_IDENTITY = Compiled(
    sa.select(*_USAGER_COLUMNS, _ORGANISATION.c.siret)
    .select_from(_AUTORISATION.join(_USAGER, _USAGER.c.id == _AUTORISATION.c.usager_id)
                 .join(_ORGANISATION, _ORGANISATION.c.id == _AUTORISATION.c.organisation_id))
    .where(_AUTORISATION.c.id == sa.bindparam("autorisation_id"), _ACTIVE_AUTORISATION)
)

_INSERT_TOKEN = Compiled(_insert(_TOKEN))

# PostgreSQL: /token's claim, identity and token in one statement. The code is claimed by the same
# conditional UPDATE; the access token's hash is inserted only for a code still valid whose autorisation
# is active (what authlib and ``authenticate_user`` then check; any later refusal rolls it all back);
# the identity is read with the claim.
_CLAIMED = _CLAIM_CODE.statement.cte("claimed")  # type: ignore[attr-defined]
_CLAIM_ACTIVE = _AUTORISATION.alias("claim_active")
_TOKEN_FOR_CLAIM = sa.insert(_TOKEN).from_select(
    ["token_hash", "authorization_id", "scope", "created_at", "expires_at"],
    sa.select(sa.bindparam("token_hash", type_=_TOKEN.c.token_hash.type), _CLAIMED.c.id, _CLAIMED.c.scope,
              sa.bindparam("now", type_=_TOKEN.c.created_at.type),
              sa.bindparam("token_expires_at", type_=_TOKEN.c.expires_at.type))
    .select_from(_CLAIMED.join(_CLAIM_ACTIVE, _CLAIM_ACTIVE.c.id == _CLAIMED.c.autorisation_id))
    .where(_CLAIMED.c.expires_at > sa.bindparam("now"), _active(_CLAIM_ACTIVE)),
).returning(_TOKEN.c.id).cte("issued")
_CLAIM_WITH_IDENTITY = Compiled(
    sa.select(*[_CLAIMED.c[column.name] for column in _CODE_COLUMNS], *_USAGER_COLUMNS, _ORGANISATION.c.siret,
              sa.select(sa.func.count()).select_from(_TOKEN_FOR_CLAIM).scalar_subquery())
    .select_from(
        _CLAIMED.outerjoin(_AUTORISATION, sa.and_(_AUTORISATION.c.id == _CLAIMED.c.autorisation_id,
                                                  _ACTIVE_AUTORISATION))
        .outerjoin(_USAGER, _USAGER.c.id == _AUTORISATION.c.usager_id)
        .outerjoin(_ORGANISATION, _ORGANISATION.c.id == _AUTORISATION.c.organisation_id))
)

_MEMBERSHIP: sa.Table = aidant_organisation
_IS_MEMBER = Compiled(sa.select(_MEMBERSHIP.c.aidant_id).where(
    _MEMBERSHIP.c.aidant_id == sa.bindparam("aidant_id"),
    _MEMBERSHIP.c.organisation_id == sa.bindparam("organisation_id")))

_OFFER = Compiled(sa.select(_AUTORISATION.c.demarche).where(
    _AUTORISATION.c.id == sa.bindparam("autorisation_id"), _AUTORISATION.c.usager_id == sa.bindparam("usager_id"),
    _AUTORISATION.c.organisation_id == sa.bindparam("organisation_id"), _ACTIVE_AUTORISATION))

# /authorize's questions in one statement: the client, whether it already sent this nonce, whether the
# aidant belongs to their current structure, and the démarche of the autorisation chosen (if still active).
_AUTHORIZE_CONTEXT = Compiled(
    sa.select(
        *_CLIENT_COLUMNS,
        sa.exists().where(_CODE.c.client_pk == _CLIENT.c.id, _CODE.c.nonce == sa.bindparam("nonce")),
        sa.exists().where(_MEMBERSHIP.c.aidant_id == sa.bindparam("aidant_id"),
                          _MEMBERSHIP.c.organisation_id == sa.bindparam("organisation_id")),
        sa.select(_AUTORISATION.c.demarche).where(
            _AUTORISATION.c.id == sa.bindparam("autorisation_id"),
            _AUTORISATION.c.usager_id == sa.bindparam("usager_id"),
            _AUTORISATION.c.organisation_id == sa.bindparam("organisation_id"),
            _ACTIVE_AUTORISATION).scalar_subquery(),
    ).where(_CLIENT.c.client_id == sa.bindparam("client_id"), _CLIENT.c.is_active.is_(True))
)

_BEARER_CODE_COLUMNS = [_CODE.c[name] for name in (
    "aidant_id", "organisation_id", "usager_id", "autorisation_id", "demarche")]
_BEARER = Compiled(
    sa.select(_TOKEN.c.scope, _TOKEN.c.expires_at, _TOKEN.c.revoked_at, *_BEARER_CODE_COLUMNS,
              *_CLIENT_COLUMNS, *_USAGER_COLUMNS, _ORGANISATION.c.siret)
    .select_from(
        _TOKEN.join(_CODE, _CODE.c.id == _TOKEN.c.authorization_id)
        .join(_CLIENT, _CLIENT.c.id == _CODE.c.client_pk)
        .outerjoin(_AUTORISATION, sa.and_(_AUTORISATION.c.id == _CODE.c.autorisation_id, _ACTIVE_AUTORISATION))
        .outerjoin(_USAGER, _USAGER.c.id == _AUTORISATION.c.usager_id)
        .outerjoin(_ORGANISATION, _ORGANISATION.c.id == _AUTORISATION.c.organisation_id))
    .where(_TOKEN.c.token_hash == sa.bindparam("token_hash"))
)


# --- questions ----------------------------------------------------------------------------------


def active_client(client_id: str) -> ClientRecord | None:
    """An active client by its public identifier."""
    row = _CLIENT_BY_ID.first({"client_id": client_id})
    return ClientRecord(*row) if row is not None else None


def nonce_used(client_pk: int, nonce: str) -> bool:
    """Whether this client already sent this nonce (a nonce is single use per client)."""
    return _NONCE_USED.first({"client_pk": client_pk, "nonce": nonce}) is not None


def insert_code(values: dict[str, Any]) -> None:
    """Store an authorization code (its hash) and what the aidant chose."""
    _INSERT_CODE.execute(values)


def claim_code(code_hash: str, client_pk: int, now: dt.datetime) -> CodeRecord | None:
    """Mark an unused code of this client used and return it; None when unknown, another's or already used.

    One conditional UPDATE: of two requests racing with the same code, exactly one gets the row.
    """
    row = _CLAIM_CODE.first({"b_code_hash": code_hash, "b_client_pk": client_pk, "now": now})
    return CodeRecord(*row) if row is not None else None


@dataclass(frozen=True, slots=True)
class Claim:
    """A claimed code, the identity behind it if its autorisation is active, and whether the access token
    given was stored with the claim (PostgreSQL; elsewhere the caller stores it)."""

    code: CodeRecord
    identity: Identity | None
    token_stored: bool


def claim_code_for_token(code_hash: str, client_pk: int, now: dt.datetime, token_hash: str,
                         token_expires_at: dt.datetime) -> Claim | None:
    """Claim an unused code of this client (``claim_code``), read the identity behind it, and — on
    PostgreSQL, in the same statement — store the access token's hash if the code is still valid and
    its autorisation active. None when unknown, another's or already used."""
    if dialect_name() != "postgresql":
        code = claim_code(code_hash, client_pk, now)
        if code is None:
            return None
        identity = None if code.is_expired_at(now) else identity_if_active(code.autorisation_id, now)
        return Claim(code, identity, token_stored=False)
    row = _CLAIM_WITH_IDENTITY.first({"b_code_hash": code_hash, "b_client_pk": client_pk, "now": now,
                                      "token_hash": token_hash, "token_expires_at": token_expires_at})
    if row is None:
        return None
    n_code = len(_CODE_COLUMNS)
    usager, issued = row[n_code:-1], row[-1]
    identity = Identity(*usager) if usager[0] is not None else None
    return Claim(CodeRecord(*row[:n_code]), identity, token_stored=bool(issued))


@dataclass(frozen=True, slots=True)
class SpentCode:
    """What revoking a replayed code's tokens and journaling it need."""

    id: int
    client_pk: int
    aidant_id: int
    usager_id: int


def code_by_hash(code_hash: str) -> SpentCode | None:
    """A code by its hash, used or not (to tell a replay from an unknown code)."""
    row = _CODE_BY_HASH.first({"code_hash": code_hash})
    return SpentCode(*row) if row is not None else None


def revoke_tokens(authorization_id: int, now: dt.datetime) -> None:
    """Revoke every token issued for an authorization."""
    _REVOKE_TOKENS.execute({"b_authorization_id": authorization_id, "now": now})


def identity_if_active(autorisation_id: int, now: dt.datetime) -> Identity | None:
    """The usager behind an autorisation that may be used now (None once revoked or expired): read at each
    call, so a revocation takes effect at once."""
    row = _IDENTITY.first({"autorisation_id": autorisation_id, "now": now})
    return Identity(*row) if row is not None else None


def is_member(aidant_id: int, organisation_id: int) -> bool:
    """Whether the aidant belongs to the structure (their current one must be among theirs)."""
    params = {"aidant_id": aidant_id, "organisation_id": organisation_id}
    return _IS_MEMBER.first(params) is not None


def active_demarche(autorisation_id: int, usager_id: int, organisation_id: int, now: dt.datetime) -> str | None:
    """The démarche of this usager's autorisation in the structure if it may be used now, else None."""
    params = {"autorisation_id": autorisation_id, "usager_id": usager_id, "organisation_id": organisation_id,
              "now": now}
    row = _OFFER.first(params)
    return None if row is None else str(row[0])


@dataclass(frozen=True, slots=True)
class AuthorizeContext:
    """What /authorize asks of the database, read at once: the client and the answers about the request."""

    client: ClientRecord
    nonce_used: bool
    is_member: bool
    demarche: str | None


def authorize_context(client_id: str, nonce: str, aidant_id: int, organisation_id: int, usager_id: int,
                      autorisation_id: int, now: dt.datetime) -> AuthorizeContext | None:
    """The active client with: whether it sent ``nonce`` before, whether the aidant belongs to the
    structure, and the démarche of this usager's autorisation there if it may be used now (one SELECT;
    the same answers as ``active_client``, ``nonce_used``, ``is_member`` and ``active_demarche``)."""
    row = _AUTHORIZE_CONTEXT.first({
        "client_id": client_id, "nonce": nonce, "aidant_id": aidant_id, "organisation_id": organisation_id,
        "usager_id": usager_id, "autorisation_id": autorisation_id, "now": now})
    if row is None:
        return None
    *client, nonce_used, member, demarche = row
    return AuthorizeContext(ClientRecord(*client), bool(nonce_used), bool(member), demarche)


def insert_token(values: dict[str, Any]) -> None:
    """Store an access token (its hash)."""
    _INSERT_TOKEN.execute(values)


_N_HEAD = 3 + len(_BEARER_CODE_COLUMNS)  # the token's columns, then the authorization's
_N_CLIENT = len(_CLIENT_COLUMNS)


def bearer(token_hash: str, now: dt.datetime) -> BearerRecord | None:
    """An access token by hash, with its authorization, client and (if still active) the usager: one SELECT."""
    row = _BEARER.first({"token_hash": token_hash, "now": now})
    if row is None:
        return None
    client_end = _N_HEAD + _N_CLIENT
    usager = row[client_end:]
    identity = Identity(*usager) if usager[0] is not None else None
    scope, expires_at, revoked_at, aidant_id, organisation_id, usager_id, autorisation_id, demarche = row[:_N_HEAD]
    return BearerRecord(scope, expires_at, revoked_at, aidant_id, organisation_id, usager_id, autorisation_id,
                        demarche, ClientRecord(*row[_N_HEAD:client_end]), identity)
