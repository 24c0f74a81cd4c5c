"""E-mail through an SMTP server (``NOTIFY_SMTP_*``), or a logging stand-in for development."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from shared import config

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
    def from_environment(cls) -> SmtpEmail | None:
        smtp = config.settings().notify_smtp
        if smtp is None:
            return None
        return cls(
            host=smtp.host,
            port=smtp.port,
            sender=smtp.sender,
            username=smtp.username,
            password=smtp.password,
            starttls=smtp.starttls,
            timeout=smtp.timeout,
        )

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
