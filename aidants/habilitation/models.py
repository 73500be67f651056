"""Habilitation requests: a structure's application to join, reviewed by the staff.

An *issuer* (whoever fills the request in; no account) proves their email with a link
valid 3 days; the link is also their way back into their requests. A request goes
draft → submitted → (changes_required → submitted)* → accepted | refused | closed.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aidants.accounts.models import Aidant
from aidants.db import Base
from aidants.organisations.models import Organisation

DRAFT, SUBMITTED, CHANGES_REQUIRED = "draft", "submitted", "changes_required"
ACCEPTED, REFUSED, CLOSED = "accepted", "refused", "closed"
STATUSES = (DRAFT, SUBMITTED, CHANGES_REQUIRED, ACCEPTED, REFUSED, CLOSED)
STATUS_LABELS = {
    DRAFT: "Brouillon",
    SUBMITTED: "Envoyée, en cours d'examen",
    CHANGES_REQUIRED: "Modifications demandées",
    ACCEPTED: "Acceptée",
    REFUSED: "Refusée",
    CLOSED: "Close",
}
#: The statuses in which the issuer may still change the request.
EDITABLE = (DRAFT, CHANGES_REQUIRED)
#: The statuses in which a request is still alive (neither decided nor closed).
OPEN = (DRAFT, SUBMITTED, CHANGES_REQUIRED)

#: Kinds of structures (value → French label).
KINDS = {
    "commune": "Mairie ou commune",
    "ccas": "CCAS ou CIAS",
    "france_services": "Espace France Services",
    "departement": "Conseil départemental",
    "association": "Association",
    "tiers_lieu": "Tiers-lieu ou espace numérique",
    "autre": "Autre structure publique ou privée",
}

#: The version of the terms (conditions générales) the issuer accepts.
TERMS_VERSION = "2026-01"


class Issuer(Base):
    """Whoever fills in habilitation requests; known by an email they proved to own."""

    __tablename__ = "habilitation_issuer"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)  # lower-cased
    first_name: Mapped[str] = mapped_column(sa.String(150), default="")
    last_name: Mapped[str] = mapped_column(sa.String(150), default="")
    profession: Mapped[str] = mapped_column(sa.String(150), default="")
    phone: Mapped[str] = mapped_column(sa.String(30), default="")
    created_at: Mapped[dt.datetime]
    email_confirmed_at: Mapped[dt.datetime | None]

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def has_details(self) -> bool:
        """Whether the issuer said who they are (needed before a submission)."""
        return bool(self.first_name and self.last_name and self.profession)


class IssuerLink(Base):
    """An emailed access link: a 256-bit token of which only the SHA-256 is kept; valid 3 days."""

    __tablename__ = "habilitation_issuer_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    issuer_id: Mapped[int] = mapped_column(sa.ForeignKey("habilitation_issuer.id"), index=True)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]

    issuer: Mapped[Issuer] = relationship()

    def is_valid(self, now: dt.datetime) -> bool:
        return now < self.expires_at


class HabilitationRequest(Base):
    """A structure's application: who it is, its référent, the aidants to train, and the decision."""

    __tablename__ = "habilitation_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True)
    issuer_id: Mapped[int] = mapped_column(sa.ForeignKey("habilitation_issuer.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), index=True, default=DRAFT)
    siret: Mapped[str] = mapped_column(sa.String(14), default="", index=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    kind: Mapped[str] = mapped_column(sa.String(30), default="")
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    zipcode: Mapped[str] = mapped_column(sa.String(10), default="")
    city: Mapped[str] = mapped_column(sa.String(100), default="")
    referent_first_name: Mapped[str] = mapped_column(sa.String(150), default="")
    referent_last_name: Mapped[str] = mapped_column(sa.String(150), default="")
    referent_email: Mapped[str] = mapped_column(sa.String(254), default="")
    referent_phone: Mapped[str] = mapped_column(sa.String(30), default="")
    referent_profession: Mapped[str] = mapped_column(sa.String(150), default="")
    terms_version: Mapped[str | None] = mapped_column(sa.String(20))
    terms_accepted_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    submitted_at: Mapped[dt.datetime | None]
    decided_at: Mapped[dt.datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("aidant.id"))
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisation.id"))

    issuer: Mapped[Issuer] = relationship()
    organisation: Mapped[Organisation | None] = relationship()
    decided_by: Mapped[Aidant | None] = relationship()
    aidants: Mapped[list[HabilitationAidant]] = relationship(
        back_populates="request", order_by="HabilitationAidant.id", cascade="all, delete-orphan",
    )
    messages: Mapped[list[HabilitationMessage]] = relationship(
        back_populates="request", order_by="HabilitationMessage.id",
    )

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def is_editable(self) -> bool:
        """Whether the issuer may still change it."""
        return self.status in EDITABLE

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, "")

    @property
    def referent_full_name(self) -> str:
        return f"{self.referent_first_name} {self.referent_last_name}".strip()

    @property
    def has_organisation(self) -> bool:
        return bool(self.siret and self.name and self.kind and self.zipcode and self.city)

    @property
    def has_referent(self) -> bool:
        return bool(self.referent_first_name and self.referent_last_name and self.referent_email)

    @property
    def terms_accepted(self) -> bool:
        return self.terms_version == TERMS_VERSION and self.terms_accepted_at is not None


class HabilitationAidant(Base):
    """A person to train as an aidant; after acceptance, the (inactive) account made for them."""

    __tablename__ = "habilitation_aidant"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("habilitation_request.id"), index=True)
    first_name: Mapped[str] = mapped_column(sa.String(150))
    last_name: Mapped[str] = mapped_column(sa.String(150))
    email: Mapped[str] = mapped_column(sa.String(254))  # lower-cased
    profession: Mapped[str] = mapped_column(sa.String(150), default="")
    aidant_type: Mapped[str] = mapped_column(sa.String(40), default="")  # aidants.accounts.aidant_types
    created_at: Mapped[dt.datetime]
    aidant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("aidant.id"))
    trained_at: Mapped[dt.datetime | None]

    request: Mapped[HabilitationRequest] = relationship(back_populates="aidants")
    aidant: Mapped[Aidant | None] = relationship()

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


AUTHOR_ISSUER, AUTHOR_STAFF = "issuer", "staff"


class HabilitationMessage(Base):
    """One message of the thread between the issuer and the staff (decisions carry one too)."""

    __tablename__ = "habilitation_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("habilitation_request.id"), index=True)
    author_kind: Mapped[str] = mapped_column(sa.String(10))  # issuer | staff
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("aidant.id"))  # the staff member
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str | None] = mapped_column(sa.String(20))  # the status this message came with, if any
    created_at: Mapped[dt.datetime]

    request: Mapped[HabilitationRequest] = relationship(back_populates="messages")

    @property
    def from_staff(self) -> bool:
        return self.author_kind == AUTHOR_STAFF

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status or "", "")
