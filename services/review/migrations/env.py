"""Alembic environment of the review service."""

from services.review.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
