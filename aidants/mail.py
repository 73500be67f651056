"""Outgoing email: SMTP when configured; in development, the console and ``/dev/outbox``.

The development outbox is a database table, not process memory, so every
worker (and the test suite) sees the same messages. It is absent in production.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from email.message import EmailMessage

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column

from aidants import db
from aidants.db import Base

log = logging.getLogger(__name__)


class OutboxMessage(Base):
    """An email as it would have been sent, kept in development only."""

    __tablename__ = "dev_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime]
    recipient: Mapped[str] = mapped_column(sa.String(254), index=True)
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)


def send(recipient: str, subject: str, body: str, now: dt.datetime) -> None:
    """Send an email now (call after the transaction that justifies it has committed)."""
    config = current_app.config
    if config["SMTP_HOST"]:
        _send_smtp(recipient, subject, body)
    if config["DEV_OUTBOX"]:
        # Printed for the developer at the terminal of `make run`; never in production.
        print(f"\n--- email to {recipient}: {subject}\n{body}\n---", flush=True)
        # Its own short transaction: sending never commits (or rolls back) the request's own changes.
        with db.engine().begin() as connection:
            connection.execute(sa.insert(OutboxMessage).values(
                created_at=now, recipient=recipient, subject=subject, body=body))
    elif not config["SMTP_HOST"]:
        log.error("no SMTP_HOST configured: email %r to a recipient was not sent", subject)


def _send_smtp(recipient: str, subject: str, body: str) -> None:
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=10) as smtp:
        if config["SMTP_STARTTLS"]:
            smtp.starttls()
        if config["SMTP_USER"]:
            smtp.login(config["SMTP_USER"], config["SMTP_PASSWORD"])
        smtp.send_message(message)
    log.info("email %r sent", subject)


def outbox(limit: int = 50) -> list[OutboxMessage]:
    """The latest development emails, newest first."""
    statement = sa.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    return list(db.session().scalars(statement))
