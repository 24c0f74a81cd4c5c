"""appointments keep a list of proofs: {proof_id: X} becomes {proof_ids: [X]} (data only)

Revision ID: 0010_prof_appointment_proof_ids
Revises: 0009_prof_inbox_committed_at
Create Date: 2026-12-01 10:20:00
"""

import sqlalchemy as sa
from alembic import op

from shared.db import JsonColumn

revision = "0010_prof_appointment_proof_ids"
down_revision = "0009_prof_inbox_committed_at"
branch_labels = None
depends_on = None

profiles = sa.table("profiles", sa.column("subject", sa.String), sa.column("appointment", JsonColumn))


def _rewrite(change) -> None:  # noqa: ANN001 - appointment dict -> appointment dict or None
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(profiles.c.subject, profiles.c.appointment).where(profiles.c.appointment.is_not(None))
    ).all()
    for subject, appointment in rows:
        changed = change(dict(appointment)) if isinstance(appointment, dict) else None
        if changed is not None:
            connection.execute(profiles.update().where(profiles.c.subject == subject).values(appointment=changed))


def _to_list(appointment: dict) -> dict | None:
    if "proof_ids" in appointment:
        return None
    single = appointment.pop("proof_id", None)
    appointment["proof_ids"] = [single] if single else []
    return appointment


def _to_single(appointment: dict) -> dict | None:
    if "proof_ids" not in appointment:
        return None
    proofs = appointment.pop("proof_ids") or []
    appointment["proof_id"] = proofs[0] if proofs else None
    return appointment


def upgrade() -> None:
    _rewrite(_to_list)


def downgrade() -> None:
    _rewrite(_to_single)  # keeps the first proof only
