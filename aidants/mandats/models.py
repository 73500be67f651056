"""Mandat, Autorisation, and the per-structure index of usagers that the espace aidant lists.

A mandat is a usager's consent, given to an organisation, for some démarches until
a date; each démarche is an autorisation, revocable on its own. At most one *open*
autorisation exists per (usager, organisation, démarche): a partial unique index
enforces it. An autorisation is open until it is revoked (``revoked_at``) or, once
expired, replaced by a newer mandate (``replaced_at``); a new mandate closes the
open ones first, so the index turns a race between two creations into an error
instead of two active autorisations.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aidants.accounts.models import Aidant
from aidants.db import Base
from aidants.organisations.models import DEMARCHES, Organisation
from aidants.usagers.models import Usager

#: French labels of the démarches (FranceConnect's wording).
DEMARCHE_LABELS = {
    "papiers": "Papiers - Citoyenneté - Élections",
    "famille": "Famille - Scolarité",
    "social": "Social - Santé",
    "travail": "Travail - Formation",
    "logement": "Logement",
    "transports": "Transports - Mobilité",
    "argent": "Argent - Impôts - Consommation",
    "justice": "Justice",
    "etranger": "Étranger - Europe",
    "loisirs": "Loisirs - Sport - Culture",
}
assert set(DEMARCHE_LABELS) == set(DEMARCHES)

#: Duration keywords and their length in days.
DURATIONS = {"short": 1, "month": 31, "semester": 182, "long": 365}
DURATION_LABELS = {
    "short": "1 jour (expire demain)",
    "month": "1 mois (31 jours)",
    "semester": "6 mois (182 jours)",
    "long": "1 an (365 jours)",
}

#: The version of the mandate text printed on attestations (templates/mandats/textes/<version>.html).
TEMPLATE_VERSION = "v1"

#: A mandate that ended (expired or revoked) less than this long ago may be renewed without FranceConnect.
RENEWAL_WINDOW = dt.timedelta(days=365)

#: What each démarche covers, in words an usager understands (read aloud at the desk, shown on the forms).
DEMARCHE_DESCRIPTIONS = {
    "papiers": "Carte d'identité, passeport, permis de conduire, inscription sur les listes électorales, "
               "recensement citoyen.",
    "famille": "Allocations familiales, aides à la garde d'enfants, inscription et aides scolaires, "
               "état civil (naissance, mariage, décès).",
    "social": "Assurance maladie, complémentaire santé solidaire, RSA, prime d'activité, handicap (MDPH), "
              "retraite.",
    "travail": "Inscription et suivi à France Travail, allocations chômage, formation professionnelle, "
               "compte personnel de formation.",
    "logement": "Aides au logement (APL), demande de logement social, chèque énergie, changement d'adresse.",
    "transports": "Carte grise, amendes, titres de transport et aides à la mobilité.",
    "argent": "Impôts (déclaration, paiement, réclamations), surendettement, litiges de consommation. "
              "Donne accès à des informations financières sensibles.",
    "justice": "Casier judiciaire, aide juridictionnelle, démarches auprès d'un tribunal.",
    "etranger": "Titre de séjour, naturalisation, démarches liées à un séjour dans un autre pays européen.",
    "loisirs": "Licences sportives, pass Culture, inscriptions aux activités culturelles et de loisirs.",
}
assert set(DEMARCHE_DESCRIPTIONS) == set(DEMARCHES)

ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"
#: Shown, never stored: a mandate whose last autorisation was closed by a newer mandate (a renewal).
REPLACED = "replaced"
STATUS_LABELS = {ACTIVE: "Actif", EXPIRED: "Expiré", REVOKED: "Révoqué", REPLACED: "Remplacé"}

#: An active mandate that ends within this delay gets the "expire bientôt" badge (and the dashboard lists it).
EXPIRES_SOON = dt.timedelta(days=30)


def status_of(expires_at: dt.datetime, unrevoked: int, now: dt.datetime) -> str:
    """A mandate's status from its expiry and its number of unrevoked autorisations."""
    if unrevoked == 0:
        return REVOKED
    return ACTIVE if now < expires_at else EXPIRED


class Mandat(Base):
    """A usager's consent to an organisation for some démarches, until ``expires_at``."""

    __tablename__ = "mandat"
    __table_args__ = (
        sa.Index("ix_mandat_organisation_usager", "organisation_id", "usager_id", "created_at"),
        sa.Index("ix_mandat_created_at", "created_at"),  # statistics: mandates created per month
        sa.Index("ix_mandat_organisation_expires", "organisation_id", "expires_at"),  # dashboard: ending soon
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"))
    usager_id: Mapped[int] = mapped_column(sa.ForeignKey("usager.id"), index=True)
    aidant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("aidant.id"))  # who created it
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    duration: Mapped[str] = mapped_column(sa.String(10))  # short | month | semester | long
    template_version: Mapped[str] = mapped_column(sa.String(20))
    jws: Mapped[str] = mapped_column(sa.Text)  # the attestation as a compact JWS (ES256)
    # SHA-256 of the single-use token of the form that created it: a second submission collides here.
    request_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    renewed_from_id: Mapped[int | None] = mapped_column(sa.ForeignKey("mandat.id"))

    organisation: Mapped[Organisation] = relationship()
    usager: Mapped[Usager] = relationship()
    aidant: Mapped[Aidant | None] = relationship()
    autorisations: Mapped[list[Autorisation]] = relationship(
        back_populates="mandat", order_by="Autorisation.id", cascade="all, delete-orphan",
        foreign_keys="Autorisation.mandat_id",
    )

    @property
    def demarches(self) -> list[str]:
        """Every démarche of the mandate, in the canonical order."""
        found = {a.demarche for a in self.autorisations}
        return [d for d in DEMARCHES if d in found]

    def active_demarches(self, now: dt.datetime) -> list[str]:
        """The démarches that may be used right now."""
        found = {a.demarche for a in self.autorisations if a.is_active(now)}
        return [d for d in DEMARCHES if d in found]

    def status(self, now: dt.datetime) -> str:
        """active, expired or revoked."""
        return status_of(self.expires_at, sum(1 for a in self.autorisations if a.revoked_at is None), now)

    def is_active(self, now: dt.datetime) -> bool:
        """Not expired, and at least one autorisation not revoked."""
        return self.status(now) == ACTIVE

    @property
    def revoked_at(self) -> dt.datetime | None:
        """When the last autorisation was revoked, if every one is."""
        times = [a.revoked_at for a in self.autorisations]
        if not times or any(t is None for t in times):
            return None
        return max(t for t in times if t is not None)

    def ended_at(self, now: dt.datetime) -> dt.datetime | None:
        """When the mandate stopped being active (None while it is)."""
        status = self.status(now)
        if status == ACTIVE:
            return None
        if status == REVOKED:
            return self.revoked_at
        return self.expires_at

    def expires_soon(self, now: dt.datetime) -> bool:
        """Active and ending within 30 days: the aidant should think of renewing it."""
        return self.is_active(now) and self.expires_at - now <= EXPIRES_SOON

    def replacement(self) -> Mandat | None:
        """The newer mandate that closed this one's last autorisation, when a renewal ended it."""
        closed = [a for a in self.autorisations if a.revoked_at is not None]
        if not closed or len(closed) != len(self.autorisations):
            return None
        last = max(closed, key=lambda a: (a.revoked_at, a.id))
        return last.replaced_by if last.revoked_reason == "replaced" else None

    def display_status(self, now: dt.datetime) -> str:
        """active, expired, revoked, or replaced (ended by a renewal: not a revocation)."""
        status = self.status(now)
        if status == REVOKED and self.replacement() is not None:
            return REPLACED
        return status

    def may_be_renewed(self, now: dt.datetime) -> bool:
        """Active, or ended less than a year ago: renewal then skips FranceConnect."""
        ended = self.ended_at(now)
        return ended is None or now - ended < RENEWAL_WINDOW


class Autorisation(Base):
    """One démarche of a mandate. ``usager_id``, ``organisation_id`` and ``expires_at`` repeat the
    mandate's so that the database can index (and constrain) the open autorisations directly."""

    __tablename__ = "autorisation"
    __table_args__ = (
        sa.UniqueConstraint("mandat_id", "demarche", name="uq_autorisation_mandat_demarche"),
        sa.Index(
            "uq_autorisation_open", "usager_id", "organisation_id", "demarche", unique=True,
            sqlite_where=sa.text("revoked_at IS NULL AND replaced_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL AND replaced_at IS NULL"),
        ),
        # The espace aidant's counts and tabs read the rest from the index alone (PostgreSQL's INCLUDE):
        # no visit of the table for the twenty usagers of a page.
        sa.Index("ix_autorisation_organisation_usager", "organisation_id", "usager_id", "expires_at",
                 postgresql_include=["mandat_id", "revoked_at", "revoked_reason"]),
        # statistics: the autorisations still active (not revoked, not yet expired)
        sa.Index("ix_autorisation_unrevoked_expires", "expires_at", "demarche",
                 sqlite_where=sa.text("revoked_at IS NULL"), postgresql_where=sa.text("revoked_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mandat_id: Mapped[int] = mapped_column(sa.ForeignKey("mandat.id", ondelete="CASCADE"), index=True)
    demarche: Mapped[str] = mapped_column(sa.String(20))
    usager_id: Mapped[int] = mapped_column(sa.ForeignKey("usager.id"))
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"))
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("aidant.id"))
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(20))  # revocation | replaced
    replaced_at: Mapped[dt.datetime | None]  # an expired autorisation closed by a newer mandate
    # The newer mandate that closed it (revoked_reason "replaced", or replaced_at once expired).
    replaced_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("mandat.id", ondelete="SET NULL"))

    mandat: Mapped[Mandat] = relationship(back_populates="autorisations", foreign_keys=[mandat_id])
    revoked_by: Mapped[Aidant | None] = relationship()
    replaced_by: Mapped[Mandat | None] = relationship(foreign_keys=[replaced_by_id])

    @property
    def label(self) -> str:
        return DEMARCHE_LABELS[self.demarche]

    def is_active(self, now: dt.datetime) -> bool:
        """Usable now: not revoked and not expired."""
        return self.revoked_at is None and now < self.expires_at

    def status(self, now: dt.datetime) -> str:
        """active, expired or revoked."""
        if self.revoked_at is not None:
            return REVOKED
        return ACTIVE if now < self.expires_at else EXPIRED

    def display_status(self, now: dt.datetime) -> str:
        """Like ``status``, but "replaced" when a newer mandate closed it (a renewal is no revocation)."""
        status = self.status(now)
        return REPLACED if status == REVOKED and self.revoked_reason == "replaced" else status


class MandatUsager(Base):
    """A usager who has (or had) a mandate with an organisation: what the espace aidant lists and searches.

    One row per (organisation, usager), written with each mandate, so that listing
    100,000 usagers of a structure is an index scan instead of a DISTINCT over millions
    of mandates. ``name_key`` is the name without accents or punctuation, lower-cased.
    """

    __tablename__ = "mandat_usager"
    __table_args__ = (
        # The list's order; the tabs' conditions are read from the index alone on PostgreSQL (INCLUDE).
        sa.Index("ix_mandat_usager_name", "organisation_id", "name_key", "usager_id",
                 postgresql_include=["active_until", "has_replaced", "has_revocation"]),
        # The "révoqués" tab, the rarest: its own index, so a page reads its rows and not ten times as many.
        sa.Index("ix_mandat_usager_revoked", "organisation_id", "name_key", "usager_id",
                 postgresql_include=["active_until"], postgresql_where=sa.text("has_revocation"),
                 sqlite_where=sa.text("has_revocation")),
        # PostgreSQL finds word prefixes anywhere in the name through trigrams (extension pg_trgm);
        # SQLite gets a plain index (it scans, which is fine at its scale).
        sa.Index("ix_mandat_usager_name_trgm", "name_key", postgresql_using="gin",
                 postgresql_ops={"name_key": "gin_trgm_ops"}),
    )

    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), primary_key=True)
    usager_id: Mapped[int] = mapped_column(sa.ForeignKey("usager.id"), primary_key=True, index=True)
    name_key: Mapped[str] = mapped_column(sa.String(520))
    since: Mapped[dt.datetime]  # the usager's first mandate with the structure
    # A summary of the usager's autorisations with the structure, for the list's tabs. Written by the database's
    # triggers (migration 0019) on every write of an autorisation, whichever code path makes it; never by the app.
    # "Active" depends on the time: the latest end of an unrevoked autorisation is stored and compared to now.
    active_until: Mapped[dt.datetime | None]
    has_replaced: Mapped[bool] = mapped_column(default=False, server_default=sa.false())  # closed by a renewal
    has_revocation: Mapped[bool] = mapped_column(default=False, server_default=sa.false())  # revoked
