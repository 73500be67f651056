"""Aidants, TOTP devices, server-side sessions, login links and throttles.

Models hold columns and pure predicates; the rules live in the services.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aidants.db import Base
from aidants.organisations.models import Organisation

aidant_organisation = sa.Table(
    "aidant_organisation",
    Base.metadata,
    sa.Column("aidant_id", sa.ForeignKey("aidant.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("organisation_id", sa.ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True),
)

referent_organisation = sa.Table(
    "referent_organisation",
    Base.metadata,
    sa.Column("aidant_id", sa.ForeignKey("aidant.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("organisation_id", sa.ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True),
)


class Aidant(Base):
    """A habilitated helper (or a référent / staff member); signs in with email + TOTP, no password."""

    __tablename__ = "aidant"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)  # stored lower-cased
    first_name: Mapped[str] = mapped_column(sa.String(150))
    last_name: Mapped[str] = mapped_column(sa.String(150))
    profession: Mapped[str] = mapped_column(sa.String(150), default="")
    aidant_type: Mapped[str] = mapped_column(sa.String(40), default="")  # aidants.accounts.aidant_types
    phone: Mapped[str] = mapped_column(sa.String(30), default="")
    current_organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisation.id"))
    can_create_mandats: Mapped[bool] = mapped_column(default=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    is_staff: Mapped[bool] = mapped_column(default=False)
    cgu_version: Mapped[str | None] = mapped_column(sa.String(20))
    created_at: Mapped[dt.datetime]
    last_login_at: Mapped[dt.datetime | None]
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None]

    current_organisation: Mapped[Organisation | None] = relationship(foreign_keys=[current_organisation_id])
    organisations: Mapped[list[Organisation]] = relationship(secondary=aidant_organisation)
    referent_of: Mapped[list[Organisation]] = relationship(secondary=referent_organisation)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def is_locked(self, now: dt.datetime) -> bool:
        """Whether too many failed codes lock the account right now."""
        return self.locked_until is not None and self.locked_until > now


class TotpDevice(Base):
    """A TOTP generator: a physical card (60 s, serial number) or an authenticator app (30 s).

    ``last_step`` is the last time step accepted: a code of that step or earlier is
    refused, which makes each code single use. ``drift`` is the card's clock offset in
    steps, measured at activation and followed at each accepted code.
    """

    __tablename__ = "totp_device"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(10))  # card | app
    serial_number: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    aidant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("aidant.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20))  # stock | pending | active | retired
    retired_reason: Mapped[str | None] = mapped_column(sa.String(20))
    period: Mapped[int] = mapped_column(default=60)
    digits: Mapped[int] = mapped_column(default=6)
    seed_encrypted: Mapped[str] = mapped_column(sa.String(200))
    last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    drift: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime]
    activated_at: Mapped[dt.datetime | None]

    aidant: Mapped[Aidant | None] = relationship()

    @property
    def is_usable(self) -> bool:
        """Whether codes of this device may sign its aidant in."""
        return self.status == "active" and self.aidant_id is not None


class AidantSession(Base):
    """A server-side session: the cookie holds a random id whose SHA-256 is kept here.

    Deleting nothing, revoking by date, lets logout end a session everywhere and
    lets an operator see who was signed in when.
    """

    __tablename__ = "aidant_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    aidant_id: Mapped[int] = mapped_column(sa.ForeignKey("aidant.id"), index=True)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    last_active_at: Mapped[dt.datetime]
    verified_at: Mapped[dt.datetime]  # last time a TOTP code was checked for this session
    reauth_required: Mapped[bool] = mapped_column(default=False)
    revoked_at: Mapped[dt.datetime | None]

    aidant: Mapped[Aidant] = relationship()

    def is_valid(self, now: dt.datetime) -> bool:
        """Whether the session may still authenticate requests."""
        return self.revoked_at is None and now < self.expires_at


class LoginLink(Base):
    """A one-time sign-in link emailed after a valid email + code; 5 minutes, single use."""

    __tablename__ = "login_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    aidant_id: Mapped[int] = mapped_column(sa.ForeignKey("aidant.id"), index=True)
    device_id: Mapped[int] = mapped_column(sa.ForeignKey("totp_device.id"))
    next_url: Mapped[str] = mapped_column(sa.String(500), default="")
    browser_hash: Mapped[str | None] = mapped_column(sa.String(64))  # the asking browser's cookie value, hashed
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]

    def is_usable(self, now: dt.datetime) -> bool:
        return self.used_at is None and now < self.expires_at


class Throttle(Base):
    """Failure counter for a key (``ip:…``); the backoff state lives here, not in a process."""

    __tablename__ = "throttle"

    key: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[dt.datetime]
    blocked_until: Mapped[dt.datetime | None]
