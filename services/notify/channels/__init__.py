"""Outside delivery channels. The inbox (in-app) is not one of them: it is always written,
in the same transaction as the event that caused it, so no channel failure can lose it."""

from __future__ import annotations

from typing import Protocol


class DeliveryFailed(Exception):
    """The channel could not deliver now; the dispatcher retries later."""


class Channel(Protocol):
    @property
    def name(self) -> str:  # read-only: a frozen dataclass's field serves
        ...

    def send(self, address: str, title: str, body: str, short: str) -> None:
        """Deliver or raise (any exception counts as a failed attempt)."""


def configured() -> dict[str, Channel]:
    """The channels from configuration: SMTP when NOTIFY_SMTP_HOST is set, else a logging e-mail;
    SMS through the gateway named by NOTIFY_SMS_GATEWAY (default: logging)."""
    from services.notify.channels.email import LoggingEmail, SmtpEmail
    from services.notify.channels.sms import gateway

    email: Channel = SmtpEmail.from_environment() or LoggingEmail()
    return {"email": email, "sms": gateway()}
