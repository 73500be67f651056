"""Requests for a new aidant: a référent asks, the staff mark the training done or refuse."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aidants.accounts import aidant_types
from aidants.accounts.models import Aidant
from aidants.db import Base
from aidants.organisations.models import Organisation

PENDING, TRAINED, REFUSED = "pending", "trained", "refused"
STATUS_LABELS = {PENDING: "En attente de formation", TRAINED: "Formation suivie", REFUSED: "Refusée"}


class AidantRequest(Base):
    """One person a référent asked to have trained, the (inactive) account made for them, and the outcome."""

    __tablename__ = "aidant_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("aidant.id"))
    aidant_id: Mapped[int] = mapped_column(sa.ForeignKey("aidant.id"), index=True)
    aidant_type: Mapped[str] = mapped_column(sa.String(40), default="")
    status: Mapped[str] = mapped_column(sa.String(20), default=PENDING, index=True)
    created_at: Mapped[dt.datetime]
    decided_at: Mapped[dt.datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("aidant.id"))
    reason: Mapped[str] = mapped_column(sa.Text, default="")

    organisation: Mapped[Organisation] = relationship()
    aidant: Mapped[Aidant] = relationship(foreign_keys=[aidant_id])
    requested_by: Mapped[Aidant] = relationship(foreign_keys=[requested_by_id])

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def type_label(self) -> str:
        return aidant_types.label(self.aidant_type)

    @property
    def is_pending(self) -> bool:
        return self.status == PENDING
