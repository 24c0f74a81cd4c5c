"""Messages of the certificate service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from marshmallow import fields, validate

from shared.contracts.declaration import Mode
from shared.contracts.fields import Identifier, IsoDate, Text, Timestamp
from shared.contracts.message import Command, Event


@dataclass(frozen=True, kw_only=True)
class Issue(Command):
    TYPE: ClassVar[str] = "certificate.issue.v1"

    declaration_id: Identifier
    holder: Identifier
    holder_name: Text
    id_number: Text
    series: Text
    level: Text
    specialty: Text
    qualification_name: Text
    mode: Mode
    committee_name: Text
    approved_on: IsoDate


@dataclass(frozen=True, kw_only=True)
class Issued(Event):
    TYPE: ClassVar[str] = "certificate.issued.v1"

    certificate_id: Identifier
    number: Text
    declaration_id: Identifier
    holder: Identifier
    holder_name: Text
    series: Text
    level: Text
    specialty: Text
    qualification_name: Text
    issued_on: IsoDate


@dataclass(frozen=True, kw_only=True)
class Revoked(Event):
    """The title office revoked a certificate (撤销); verification now says so."""

    TYPE: ClassVar[str] = "certificate.revoked.v1"

    certificate_id: Identifier
    number: Text
    declaration_id: Identifier
    holder: Identifier
    holder_name: Text
    qualification_name: Text
    reason: Text
    # fraud puts the holder on the integrity record (诚信档案); absent from old producers: other
    reason_kind: Annotated[str, fields.String(load_default="other", validate=validate.OneOf(("fraud", "other")))] = (
        "other"
    )
    revoked_by: Identifier
    revoked_at: Timestamp


MESSAGES = (Issue, Issued, Revoked)
