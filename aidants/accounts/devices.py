"""TOTP devices: checking codes once only, app enrolment, card activation.

A code is accepted by one conditional UPDATE (``last_step < matched step``), so
when two workers or two machines receive the same code at the same moment the
database lets exactly one of them through.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from aidants import db
from aidants.accounts.models import Aidant, TotpDevice
from aidants.journal import services as journal
from aidants.security import totp
from aidants.security.crypto import KeyRing

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


def seed_of(device: TotpDevice) -> bytes:
    """Decrypt a device's seed (kept in memory only while checking a code)."""
    return keyring().decrypt(device.seed_encrypted, _context(device))


def encrypt_seed(kind: str, seed: bytes) -> str:
    """Encrypt a seed for storage."""
    return keyring().encrypt(seed, f"totp-seed:{kind}".encode())


def _window(device: TotpDevice, now: dt.datetime) -> range:
    center = totp.step_at(now, device.period) + device.drift
    low = center - 1
    if device.last_step is not None:
        low = max(low, device.last_step + 1)
    return range(low, center + 2)


def _claim_step(device: TotpDevice, step: int, drift: int) -> bool:
    """Record ``step`` as used; False when another request used it (or a later one) first."""
    result = db.session().execute(
        sa.update(TotpDevice)
        .where(TotpDevice.id == device.id)
        .where(sa.or_(TotpDevice.last_step.is_(None), TotpDevice.last_step < step))
        .values(last_step=step, drift=drift)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    device.last_step, device.drift = step, drift
    return True


def check_code(device: TotpDevice, code: str, now: dt.datetime) -> bool:
    """Accept a code of this device at most once; follow a card's drift."""
    step = totp.match_step(seed_of(device), code, device.digits, _window(device, now))
    if step is None:
        return False
    drift = step - totp.step_at(now, device.period) if device.kind == "card" else device.drift
    return _claim_step(device, step, drift)


def usable_devices(aidant: Aidant) -> list[TotpDevice]:
    """The devices whose codes may sign this aidant in."""
    statement = sa.select(TotpDevice).where(TotpDevice.aidant_id == aidant.id, TotpDevice.status == "active")
    return list(db.session().scalars(statement.order_by(TotpDevice.id)))


def check_aidant_code(aidant: Aidant, code: str, now: dt.datetime) -> TotpDevice | None:
    """The aidant's device that accepts this code, if any (the code is then spent)."""
    code = code.strip().replace(" ", "")
    for device in usable_devices(aidant):
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
    return _enrolment(device, aidant, seed_of(device)) if device else None


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
    """A card by its serial number."""
    statement = sa.select(TotpDevice).where(TotpDevice.serial_number == serial_number.strip())
    return db.session().scalars(statement).first()


def activate_card(aidant: Aidant, serial_number: str, first: str, second: str, now: dt.datetime) -> str | None:
    """Bind a card in stock to the aidant when two consecutive codes prove it is in their hands.

    Returns an error message in French, or None when the card is now active. The
    card's clock drift is measured here and kept, so later windows stay tight.
    """
    card = find_card(serial_number)
    if card is None or card.kind != "card":
        return "Aucune carte ne porte ce numéro de série."
    if card.status != "stock" or (card.aidant_id not in (None, aidant.id)):
        return "Cette carte est déjà attribuée. Contactez votre référent."
    current = totp.step_at(now, card.period)
    steps = range(current - CALIBRATION_STEPS, current + CALIBRATION_STEPS + 1)
    step = totp.match_consecutive(seed_of(card), first.strip(), second.strip(), card.digits, steps)
    if step is None or not _claim_step(card, step + 1, step + 1 - current):
        return "Les deux codes ne correspondent pas à cette carte. Attendez le code suivant et réessayez."
    card.aidant_id, card.status, card.activated_at = aidant.id, "active", now
    journal.append(
        "card_activation", now=now, aidant_id=aidant.id, organisation_id=aidant.current_organisation_id,
        extra={"serial_number": card.serial_number, "drift_steps": card.drift},
    )
    return None


def reencrypt_seeds(batch: int = 1000) -> int:
    """Re-encrypt the seeds written under an older key with the ring's current key."""
    ring, count = keyring(), 0
    statement = sa.select(TotpDevice).where(~TotpDevice.seed_encrypted.startswith(ring.current_kid + ":"))
    for device in db.session().scalars(statement.execution_options(yield_per=batch)):
        device.seed_encrypted = ring.encrypt(seed_of(device), _context(device))
        count += 1
    db.session().flush()
    return count
