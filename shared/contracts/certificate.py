"""Messages of the certificate service."""
from marshmallow import Schema, fields, validate

from shared.contracts.declaration import MODES
from shared.contracts.fields import date, identifier, text, timestamp


class Issue(Schema):
    declaration_id = identifier()
    holder = identifier()
    holder_name = text()
    id_number = text()
    series = text()
    level = text()
    specialty = text()
    qualification_name = text()
    mode = fields.String(required=True, validate=validate.OneOf(MODES))
    committee_name = text()
    approved_on = date()


class Issued(Schema):
    certificate_id = identifier()
    number = text()
    declaration_id = identifier()
    holder = identifier()
    holder_name = text()
    series = text()
    level = text()
    specialty = text()
    qualification_name = text()
    issued_on = date()


class Revoked(Schema):
    """The title office revoked a certificate (撤销); verification now says so."""

    certificate_id = identifier()
    number = text()
    declaration_id = identifier()
    holder = identifier()
    holder_name = text()
    qualification_name = text()
    reason = text()
    # fraud puts the holder on the integrity record (诚信档案); absent from old producers: other
    reason_kind = fields.String(load_default="other", validate=validate.OneOf(("fraud", "other")))
    revoked_by = identifier()
    revoked_at = timestamp()


class Events:
    SCHEMAS = {"certificate.issued.v1": Issued, "certificate.revoked.v1": Revoked}


class Commands:
    SCHEMAS = {"certificate.issue.v1": Issue}
