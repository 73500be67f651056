"""TOTP devices: checking codes once only, app enrolment, card activation.

A code is accepted by one conditional UPDATE (``last_step < matched step``), so
when two workers or two machines receive the same code at the same moment the
database lets exactly one of them through.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm.attributes import set_committed_value

from aidants import db
from aidants.accounts.models import Aidant, TotpDevice
from aidants.journal import services as journal
from aidants.security import totp
from aidants.security.crypto import DecryptionError, KeyRing

log = logging.getLogger(__name__)
CARD_PERIOD = 60
APP_PERIOD = 30
#: Steps searched on each side when a card is activated: a card whose clock is
#: up to this many minutes off can still be calibrated.
CALIBRATION_STEPS = 30
ISSUER = "Aidants Connect"


def keyring() -> KeyRing:
    """The seed key ring of the running app."""
    return current_app.extensions["seed_keyring"]


def _context(device: TotpDevice) -> bytes:
    return f"totp-seed:{device.kind}".encode()


class SeedUnreadable(DecryptionError):
    """A stored seed that no key of the ring opens (a key removed too early, or an altered row)."""

    def __init__(self, device_id: int, kid: str, reason: str) -> None:
        super().__init__(f"seed of TOTP device {device_id} (key {kid!r}): {reason}")
        self.device_id, self.kid = device_id, kid


def seed_of(device: TotpDevice) -> bytes:
    """Decrypt a device's seed (kept in memory only while checking a code)."""
    try:
        return keyring().decrypt(device.seed_encrypted, _context(device))
    except DecryptionError as exc:
        raise SeedUnreadable(device.id, device.seed_encrypted.partition(":")[0], str(exc)) from exc


def encrypt_seed(kind: str, seed: bytes) -> str:
    """Encrypt a seed for storage."""
    return keyring().encrypt(seed, f"totp-seed:{kind}".encode())


def encrypt_seeds(kind: str, seeds: list[bytes]) -> list[str]:
    """Encrypt many seeds at once (a card import): as ``encrypt_seed`` each, without its per-call overhead."""
    return keyring().encrypt_many(seeds, f"totp-seed:{kind}".encode())


def _window(device: TotpDevice, now: dt.datetime) -> range:
    center = totp.step_at(now, device.period) + device.drift
    low = center - 1
    if device.last_step is not None:
        low = max(low, device.last_step + 1)
    return range(low, center + 2)


#: The single-use claim of a step, built once (building it per sign-in cost more CPU than running it).
_STEP: sa.BindParameter[int] = sa.bindparam("claimed_step")
_CLAIM_STEP = (
    sa.update(TotpDevice)
    .where(TotpDevice.id == sa.bindparam("device"))
    .where(sa.or_(TotpDevice.last_step.is_(None), TotpDevice.last_step < _STEP))
    .values(last_step=_STEP, drift=sa.bindparam("new_drift"))
)


def _claim_step(device: TotpDevice, step: int, drift: int) -> bool:
    """Record ``step`` as used; False when another request used it (or a later one) first."""
    # On the request's connection (same transaction) rather than through the ORM's bulk UPDATE: the object is
    # mirrored below, and the ORM path costs more CPU than the statement. A device not yet written (an
    # activation in progress) is flushed first, as the ORM's autoflush would.
    session = db.session()
    session.flush()
    result = session.connection().execute(_CLAIM_STEP, {"device": device.id, "claimed_step": step, "new_drift": drift})
    if result.rowcount != 1:
        return False
    _written(device, last_step=step, drift=drift)
    return True


def _written(device: TotpDevice, **values: object) -> None:
    """Mirror values an UPDATE already wrote, without making the ORM write them a second time."""
    for name, value in values.items():
        set_committed_value(device, name, value)


def check_code(device: TotpDevice, code: str, now: dt.datetime) -> bool:
    """Accept a code of this device at most once; follow a card's drift."""
    try:
        seed = seed_of(device)
    except SeedUnreadable as exc:
        # An operator's mistake (a key removed before rotate-seeds), not the aidant's: say it loudly in
        # the log and refuse this device only, so the aidant's other devices still work.
        log.error("%s; was SEED_ENCRYPTION_KEYS changed without 'aidants rotate-seeds'?", exc)
        return False
    step = totp.match_step(seed, code, device.digits, _window(device, now))
    if step is None:
        return False
    drift = step - totp.step_at(now, device.period) if device.kind == "card" else device.drift
    return _claim_step(device, step, drift)


def is_current_code(aidant: Aidant, code: str, now: dt.datetime,
                    candidates: list[TotpDevice] | None = None) -> bool:
    """Whether a refused code is nevertheless one of the aidant's current codes (spent already): a
    simultaneous request, or the aidant's own double click, used it first; it is not a guess.

    ``candidates``: the aidant's ``usable_devices`` when the caller has them already (the sign-in).
    """
    code = code.strip().replace(" ", "")
    for device in usable_devices(aidant) if candidates is None else candidates:
        try:
            seed = seed_of(device)
        except SeedUnreadable:
            continue
        center = totp.step_at(now, device.period) + device.drift
        if totp.match_step(seed, code, device.digits, range(center - 1, center + 2)) is not None:
            return True
    return False


def usable_devices(aidant: Aidant) -> list[TotpDevice]:
    """The devices whose codes may sign this aidant in."""
    statement = sa.select(TotpDevice).where(TotpDevice.aidant_id == aidant.id, TotpDevice.status == "active")
    return list(db.session().scalars(statement.order_by(TotpDevice.id)))


def check_aidant_code(aidant: Aidant, code: str, now: dt.datetime,
                      candidates: list[TotpDevice] | None = None) -> TotpDevice | None:
    """The aidant's device that accepts this code, if any (the code is then spent).

    ``candidates``: the aidant's ``usable_devices`` when the caller has them already (the sign-in).
    """
    code = code.strip().replace(" ", "")
    for device in usable_devices(aidant) if candidates is None else candidates:
        if check_code(device, code, now):
            return device
    return None


# --- authenticator apps -------------------------------------------------------------


@dataclass(frozen=True)
class Enrolment:
    """A pending app device and what the aidant needs to add it to their app."""

    device: TotpDevice
    uri: str
    secret: str


def start_app_enrolment(aidant: Aidant, now: dt.datetime) -> Enrolment:
    """Create (or replace) the aidant's pending app device and return its QR code content."""
    session = db.session()
    session.execute(
        sa.delete(TotpDevice).where(TotpDevice.aidant_id == aidant.id, TotpDevice.status == "pending")
    )
    seed = totp.new_seed()
    device = TotpDevice(
        kind="app", aidant_id=aidant.id, status="pending", period=APP_PERIOD, digits=6,
        seed_encrypted=encrypt_seed("app", seed), created_at=now,
    )
    session.add(device)
    session.flush()
    return _enrolment(device, aidant, seed)


def _enrolment(device: TotpDevice, aidant: Aidant, seed: bytes) -> Enrolment:
    uri = totp.provisioning_uri(seed, aidant.email, ISSUER, device.period, device.digits)
    return Enrolment(device, uri, totp.base32(seed))


def pending_enrolment(aidant: Aidant) -> Enrolment | None:
    """The enrolment under way, to show its QR code again."""
    device = db.session().scalars(
        sa.select(TotpDevice).where(TotpDevice.aidant_id == aidant.id, TotpDevice.status == "pending")
    ).first()
    if device is None:
        return None
    try:
        return _enrolment(device, aidant, seed_of(device))
    except SeedUnreadable as exc:
        log.error("%s; a new enrolment replaces it", exc)  # nothing was activated with it: start afresh
        return None


def confirm_app_enrolment(aidant: Aidant, code: str, now: dt.datetime) -> bool:
    """Activate the pending app device when the code it shows is typed back."""
    enrolment = pending_enrolment(aidant)
    if enrolment is None or not check_code(enrolment.device, code.strip(), now):
        return False
    enrolment.device.status, enrolment.device.activated_at = "active", now
    journal.append(
        "enrol_app", now=now, aidant_id=aidant.id, organisation_id=aidant.current_organisation_id,
        extra={"device_id": enrolment.device.id},
    )
    return True


# --- physical cards -----------------------------------------------------------------


def find_card(serial_number: str) -> TotpDevice | None:
    """A card by its serial number, whatever its case, spaces or dashes (stored in that normal form)."""
    from aidants.accounts.cards import normalise_serial  # cards imports this module

    statement = sa.select(TotpDevice).where(TotpDevice.serial_number == normalise_serial(serial_number))
    return db.session().scalars(statement).first()


def activate_card(aidant: Aidant, serial_number: str, first: str, second: str, now: dt.datetime) -> str | None:
    """Bind a card in stock to the aidant when two consecutive codes prove it is in their hands.

    Returns an error message in French, or None when the card is now active. The
    card's clock drift is measured here and kept, so later windows stay tight.
    """
    card = find_card(serial_number)
    if card is None or card.kind != "card":
        return "Aucune carte ne porte ce numéro de série. Vérifiez le numéro inscrit au dos de la carte."
    if card.status != "stock" or (card.aidant_id not in (None, aidant.id)):
        return "Cette carte est déjà attribuée. Contactez votre référent."
    current = totp.step_at(now, card.period)
    steps = range(current - CALIBRATION_STEPS, current + CALIBRATION_STEPS + 1)
    try:
        seed = seed_of(card)
    except SeedUnreadable as exc:
        log.error("%s; card activation refused", exc)
        return "Cette carte ne peut pas être activée pour le moment. Contactez votre référent."
    step = totp.match_consecutive(seed, first.strip(), second.strip(), card.digits, steps)
    if step is None:
        return "Les deux codes ne correspondent pas à cette carte. Attendez le code suivant et réessayez."
    if not _bind_card(card, aidant, step + 1, step + 1 - current, now):
        return "Cette carte vient d'être activée par ailleurs. Contactez votre référent."
    journal.append(
        "card_activation", now=now, aidant_id=aidant.id, organisation_id=aidant.current_organisation_id,
        extra={"serial_number": card.serial_number, "drift_steps": card.drift},
    )
    return None


def _bind_card(card: TotpDevice, aidant: Aidant, step: int, drift: int, now: dt.datetime) -> bool:
    """Spend the calibration step and give the card to the aidant in one conditional UPDATE.

    Two requests activating the same card at once (same codes, or two aidants) cannot
    both succeed: the database re-checks the status and the step of the row it updates.
    """
    result = db.session().execute(
        sa.update(TotpDevice)
        .where(TotpDevice.id == card.id, TotpDevice.status == "stock")
        .where(sa.or_(TotpDevice.aidant_id.is_(None), TotpDevice.aidant_id == aidant.id))
        .where(sa.or_(TotpDevice.last_step.is_(None), TotpDevice.last_step < step))
        .values(last_step=step, drift=drift, aidant_id=aidant.id, status="active", activated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    _written(card, last_step=step, drift=drift, aidant_id=aidant.id, status="active", activated_at=now)
    return True


def reencrypt_seeds(batch: int = 1000) -> int:
    """Re-encrypt the seeds written under an older key with the ring's current key.

    Raises ``SeedUnreadable`` (nothing is then worth committing) when a seed opens with no key of the ring.
    """
    ring, count = keyring(), 0
    current = TotpDevice.seed_encrypted.startswith(ring.current_kid + ":", autoescape=True)
    statement = sa.select(TotpDevice).where(~current).order_by(TotpDevice.id)
    for device in db.session().scalars(statement.execution_options(yield_per=batch)):
        device.seed_encrypted = ring.encrypt(seed_of(device), _context(device))
        count += 1
    db.session().flush()
    return count


# --- cards assigned by a référent, then validated with one code -------------------------

#: Why a device leaves its aidant. A card that may be in the wrong hands never goes back to stock.
RETIRE_REASONS = ("lost", "broken", "faulty", "departure", "error", "other")
DAMAGE_REASONS = frozenset({"lost", "broken", "faulty"})


class CardError(ValueError):
    """A card that cannot be assigned as asked (message in French)."""


def assign_card(aidant: Aidant, serial_number: str) -> TotpDevice:
    """Reserve a card in stock for an aidant; it signs nobody in until a code validates it.

    One conditional UPDATE: two référents typing the same serial at once cannot both get it.
    """
    card = find_card(serial_number)
    if card is None or card.kind != "card":
        raise CardError("Aucune carte ne porte ce numéro de série. Vérifiez le numéro inscrit au dos de la carte.")
    if card.status != "stock" or card.aidant_id is not None:
        raise CardError("Cette carte est déjà attribuée ou n'est plus utilisable. Vérifiez le numéro de série.")
    result = db.session().execute(
        sa.update(TotpDevice)
        .where(TotpDevice.id == card.id, TotpDevice.status == "stock", TotpDevice.aidant_id.is_(None))
        .values(aidant_id=aidant.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise CardError("Cette carte vient d'être attribuée par ailleurs. Vérifiez le numéro de série.")
    _written(card, aidant_id=aidant.id)
    return card


def assigned_card(aidant: Aidant) -> TotpDevice | None:
    """The card reserved for the aidant and not validated yet, if any."""
    statement = sa.select(TotpDevice).where(
        TotpDevice.aidant_id == aidant.id, TotpDevice.kind == "card", TotpDevice.status == "stock"
    )
    return db.session().scalars(statement.order_by(TotpDevice.id)).first()


def validate_card(aidant: Aidant, card: TotpDevice, first: str, second: str, now: dt.datetime) -> bool:
    """Activate a card reserved for the aidant when two consecutive codes it shows are typed.

    The same rule as the aidant's own activation: the pair is searched as far as the calibration
    window reaches (a single code there would be guessed too easily), the drift is measured from it,
    and the second code is spent like any code.
    """
    if card.kind != "card" or card.status != "stock" or card.aidant_id != aidant.id:
        return False
    current = totp.step_at(now, card.period)
    try:
        seed = seed_of(card)
    except SeedUnreadable as exc:
        log.error("%s; card validation refused", exc)
        return False
    steps = range(current - CALIBRATION_STEPS, current + CALIBRATION_STEPS + 1)
    step = totp.match_consecutive(seed, first.strip().replace(" ", ""), second.strip().replace(" ", ""),
                                  card.digits, steps)
    if step is None:
        return False
    return _bind_card(card, aidant, step + 1, step + 1 - current, now)


def retire_device(device: TotpDevice, reason: str) -> str:
    """Take a device from its aidant: retired for good, except a card never validated and not at risk.

    Such a card (assigned by mistake, or to someone who left) goes back to stock for another aidant.
    Returns the device's new status.
    """
    if reason not in RETIRE_REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    if device.kind == "card" and device.status == "stock" and reason not in DAMAGE_REASONS:
        device.aidant_id = None
    else:
        device.status, device.retired_reason = "retired", reason
    db.session().flush()
    return device.status
