"""Text messages through an SMS gateway.

A gateway is anything with ``send(address, title, body, short)``; the operator's
provider is plugged in by naming its class in ``NOTIFY_SMS_GATEWAY``
(``package.module:Class``, constructed without arguments, reading its own
settings). The embedded default only logs.
"""

from __future__ import annotations

import importlib
import logging

from shared import config

log = logging.getLogger("titles.notify.sms")


class LoggingSmsGateway:
    name = "sms"

    def send(self, address: str, title: str, body: str, short: str) -> None:
        masked = address[:3] + "****" + address[-4:] if len(address) >= 7 else "****"
        log.info("sms to %s: %s", masked, short, extra={"channel": "sms"})


def gateway():  # noqa: ANN201 - a Channel
    spec = config.settings().notify_sms_gateway
    if not spec:
        return LoggingSmsGateway()
    module, _, cls = spec.partition(":")
    return getattr(importlib.import_module(module), cls)()
