"""``titles-bpmn``: the process designer's command line.

    titles-bpmn validate FILE...          check diagrams (exit 1 and one line per problem if any)
    titles-bpmn deploy FILE...            validate and store new versions (by content hash)
    titles-bpmn versions                  deployed versions and the instances running on each
    titles-bpmn diff V1 V2                what changed between two versions, by element id
    titles-bpmn migrate INSTANCE VERSION  move a running instance to another version (refused, with
                                          the reason, where running tasks would be lost)

A VERSION is a content hash, a unique prefix of one (6+ characters) or
``process@N`` (the N-th version deployed of that process). An INSTANCE is an
instance id or a declaration id. The review database comes from the usual
environment (``REVIEW_DATABASE_URL``, ``DATABASE_URL``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.review.engine import definitions, versions
from shared.errors import DomainError


def _database():
    from services.review.bootstrap import database

    return database()


def validate(files: list[str]) -> int:
    failed = 0
    for name in files:
        path = Path(name)
        try:
            process_id = definitions.check(path.name, path.read_bytes())
        except definitions.InvalidDiagram as exc:
            failed += 1
            for problem in exc.problems:
                print(f"{name}: {problem.element or '-'}: {problem.rule}: {problem.message}")
        except OSError as exc:
            failed += 1
            print(f"{name}: -: readable: {exc.strerror}")
        else:
            print(f"{name}: ok ({process_id})")
    return 1 if failed else 0


def deploy(files: list[str]) -> int:
    if validate(files):
        return 1
    db = _database()
    with db.uow() as uow:
        for name in files:
            definition, new = definitions.deploy(uow, Path(name).name, Path(name).read_bytes())
            print(f"{'deployed' if new else 'unchanged'} {name} {definition.process_id} {definition.id[:12]}")
        uow.commit()
    return 0


def list_versions() -> int:
    db = _database()
    with db.uow(readonly=True) as uow:
        for v in versions.listing(uow):
            print(f"{v['label']:<32} {v['id'][:12]}  {v['deployed_at'][:19]}  {v['file_name']:<32} "
                  f"running: {v['running_instances']}")
    return 0


def diff(old: str, new: str) -> int:
    db = _database()
    with db.uow(readonly=True) as uow:
        result = versions.diff(versions.resolve(uow, old).bpmn, versions.resolve(uow, new).bpmn)
    for item in result.added:
        print(f"+ {item['id']} ({item['type']}) {item['name'] or ''}")
    for item in result.removed:
        print(f"- {item['id']} ({item['type']}) {item['name'] or ''}")
    for item in result.changed:
        print(f"~ {item['id']} ({item['type']}) {', '.join(item['what'])}")
    if not (result.added or result.removed or result.changed):
        print("no change to the process (layout aside)")
    return 0


def migrate(instance: str, version: str) -> int:
    db = _database()
    with db.uow() as uow:
        migrated = versions.migrate(uow, instance, version, operator="titles-bpmn")
        uow.commit()
        print(f"migrated {migrated.id} (declaration {migrated.declaration_id}) to {migrated.definition_id[:12]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="titles-bpmn", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("validate", help="check diagrams").add_argument("files", nargs="+", metavar="FILE")
    sub.add_parser("deploy", help="deploy diagrams as new versions").add_argument("files", nargs="+", metavar="FILE")
    sub.add_parser("versions", help="list deployed versions")
    p_diff = sub.add_parser("diff", help="compare two versions by element id")
    p_diff.add_argument("old", metavar="V1")
    p_diff.add_argument("new", metavar="V2")
    p_migrate = sub.add_parser("migrate", help="move an instance to another version")
    p_migrate.add_argument("instance", metavar="INSTANCE")
    p_migrate.add_argument("version", metavar="VERSION")
    args = parser.parse_args(argv)
    try:
        if args.command == "validate":
            return validate(args.files)
        if args.command == "deploy":
            return deploy(args.files)
        if args.command == "versions":
            return list_versions()
        if args.command == "diff":
            return diff(args.old, args.new)
        return migrate(args.instance, args.version)
    except DomainError as exc:
        detail = "; ".join(f"{e.field}: {e.rule}: {e.message}" for e in exc.errors) or exc.message
        print(f"titles-bpmn {args.command}: {detail}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
