"""The only module that talks SMTP (smtplib): workers call it, never a web request."""

from __future__ import annotations

import hashlib
import smtplib
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any


class DeliveryError(RuntimeError):
    """The message could not be handed to the SMTP server (it will be tried again)."""


def build(sender: str, recipient: str, subject: str, body: str, key: str) -> EmailMessage:
    """The email; its Message-ID comes from the idempotency key, so a resend can be spotted downstream."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    domain = sender.rsplit("@", 1)[-1].strip(" >") or "aidants.localhost"
    message["Message-ID"] = f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"
    message.set_content(body)
    return message


def send(config: dict[str, Any], message: EmailMessage) -> None:
    """Hand one message to the configured SMTP server, with short timeouts."""
    try:
        with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=config["SMTP_TIMEOUT"]) as smtp:
            if config["SMTP_STARTTLS"]:
                smtp.starttls()
            if config["SMTP_USER"]:
                smtp.login(config["SMTP_USER"], config["SMTP_PASSWORD"])
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise DeliveryError(f"{type(error).__name__}: {error}"[:400]) from error
