"""E-mail through an SMTP server (``NOTIFY_SMTP_*``), or a logging stand-in for development."""
from __future__ import annotations

import logging
import os
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

log = logging.getLogger("titles.notify.email")


@dataclass(frozen=True)
class SmtpEmail:
    host: str
    port: int = 25
    sender: str = "noreply@titles.invalid"
    sender_name: str = "职称评审系统"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0
    name: str = "email"

    @classmethod
    def from_environment(cls) -> "SmtpEmail | None":
        host = os.environ.get("NOTIFY_SMTP_HOST")
        if not host:
            return None
        return cls(host=host, port=int(os.environ.get("NOTIFY_SMTP_PORT", "25")),
                   sender=os.environ.get("NOTIFY_SMTP_FROM", "noreply@titles.invalid"),
                   username=os.environ.get("NOTIFY_SMTP_USER") or None,
                   password=os.environ.get("NOTIFY_SMTP_PASSWORD") or None,
                   starttls=os.environ.get("NOTIFY_SMTP_STARTTLS", "").lower() in ("1", "true", "yes"),
                   timeout=float(os.environ.get("NOTIFY_SMTP_TIMEOUT", "10")))

    def send(self, address: str, title: str, body: str, short: str) -> None:
        message = EmailMessage()
        message["From"] = formataddr((self.sender_name, self.sender))
        message["To"] = address
        message["Subject"] = title
        message["Message-ID"] = make_msgid(domain=self.sender.rsplit("@", 1)[-1])
        message.set_content(body, charset="utf-8")
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


class LoggingEmail:
    """The embedded default: the e-mail is written to the log instead of being sent."""

    name = "email"

    def send(self, address: str, title: str, body: str, short: str) -> None:
        log.info("email to %s: %s", address, title, extra={"channel": "email", "title": title})
