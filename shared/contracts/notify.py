"""Messages of the notify service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from shared.contracts.fields import Identifier, NullableText, Text, Timestamp
from shared.contracts.message import Event


@dataclass(frozen=True, kw_only=True)
class ReportFiled(Event):
    """A report (举报) about a declaration under publicity, for the organisation running it."""

    TYPE: ClassVar[str] = "notify.report.filed.v1"

    reference: Identifier  # given to the reporter to look up the answer
    declaration_id: Identifier
    content: Text
    reporter: NullableText  # subject, or None when anonymous
    filed_at: Timestamp


MESSAGES = (ReportFiled,)
