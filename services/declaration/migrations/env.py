"""Alembic environment of the declaration service."""

from services.declaration.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
