"""Brings the databases to where the services can start: migrated, the diagrams deployed, the
demonstration data loaded (``titles migrate``, ``titles deploy``, ``titles seed``; ``titles run`` does all three)."""

from __future__ import annotations

from shared import config
from shared.config import SERVICES
from titles import bootstrap


def migrate(services: list[str]) -> None:
    from shared.migrations import upgrade

    for name in services or SERVICES:
        upgrade(name, config.database_url(name))
        print(f"migrated {name}", flush=True)


def deploy() -> None:
    from services.review import bootstrap as review

    db = review.database()
    for file_name, digest, new in review.deploy(db):
        print(f"{'deployed' if new else 'unchanged'} {file_name} {digest[:12]}", flush=True)
    db.dispose()


def seed() -> None:
    for name in SERVICES:
        module = bootstrap.service(name)
        db = module.database()
        module.seed(db)
        db.dispose()
    print("demonstration data loaded", flush=True)
