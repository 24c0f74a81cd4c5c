"""Alembic environment of the certificate service."""

from services.certificate.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
