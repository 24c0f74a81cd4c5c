"""``titles-bpmn``: the process designer's command line.

    titles-bpmn validate FILE...          check diagrams and decision tables (.dmn) (exit 1 and one
                                          line per problem if any)
    titles-bpmn deploy FILE...            validate and store new versions (by content hash); a .dmn
                                          FILE deploys the diagrams of its folder again
    titles-bpmn versions                  deployed versions, the instances running on each, what each
                                          calls and the decision tables it bundles
    titles-bpmn diff V1 V2                what changed between two versions, by element id, and in
                                          their decision tables rule by rule
    titles-bpmn migrate INSTANCE VERSION  move a running instance to another version (refused, with
                                          the reason, where running tasks would be lost)
    titles-bpmn layout FILE...            draw each diagram again (its bpmndi: part only) so that it
                                          reads well: left to right, no flow through a shape, no
                                          label over another (--check: only say what is wrong, exit 1)

A VERSION is a content hash, a unique prefix of one (6+ characters) or
``process@N`` (the N-th version deployed of that process). An INSTANCE is an
instance id or a declaration id. The review database comes from the usual
environment (``REVIEW_DATABASE_URL``, ``DATABASE_URL``).

Called processes: a call activity's ``calledElement`` is looked up among the
FILEs given in the same command, then the other diagrams in the calling file's
folder, then (deploy only) the versions already deployed. A caller is deployed
with the versions of the processes it calls, and its version hash covers them:
give ``bpmn/return_and_resubmit.bpmn`` alongside (or keep it beside the modes)
and a change to it makes a new version of every mode that calls it.

Decision tables: a business-rule task's ``calledDecisionId`` is looked up the
same way among the ``.dmn`` files (given, then in the diagram's folder, then
deployed). A version stores the tables its diagram uses and its hash covers
them: after editing ``bpmn/publicity_days.dmn``, ``titles-bpmn deploy
bpmn/publicity_days.dmn`` (or ``bpmn/*.bpmn``) makes a new version of every
diagram that uses it. A broken table is refused naming its file, the decision
and the rule row.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.review.engine import definitions, layout, layout_auto, versions
from shared import decisions as tables
from shared.errors import DomainError


def _database():
    from services.review.bootstrap import database

    return database()


def _read(files: list[str]) -> tuple[dict[str, bytes], dict[str, str]]:
    """The readable files (by the name given) and why the others are not."""
    contents, unreadable = {}, {}
    for name in files:
        try:
            contents[name] = Path(name).read_bytes()
        except OSError as exc:
            unreadable[name] = exc.strerror or str(exc)
    return contents, unreadable


def _print(name: str, problems: list[definitions.Problem]) -> None:
    for problem in problems:
        where = "" if problem.file == Path(name).name else f" (in {problem.file})"
        print(f"{name}: {problem.element or '-'}: {problem.rule}: {problem.message}{where}")


def _check_table(name: str, content: bytes) -> bool:
    problems = list(definitions.table_problems(Path(name).name, content))
    _print(name, problems)
    if not problems:
        print(f"{name}: ok (decision {tables.decision_id_of(content)})")
    return not problems


def _check_all(files: list[str], uow=None) -> dict[str, definitions.Checked] | None:
    """Check each file (its called processes and decision tables found as the module says); None if
    any fails. A decision table (.dmn) is checked on its own."""
    contents, unreadable = _read(files)
    given = {Path(name).name: content for name, content in contents.items()}
    results: dict[str, definitions.Checked] = {}
    failed = False
    for name in files:
        if name in unreadable:
            print(f"{name}: -: readable: {unreadable[name]}")
            failed = True
            continue
        if name.endswith(".dmn"):
            failed = not _check_table(name, contents[name]) or failed
            continue
        library = definitions.lookup(files=given, folder=Path(name).resolve().parent, uow=uow)
        try:
            result = definitions.checked(Path(name).name, contents[name], library)
        except definitions.InvalidDiagram as exc:
            _print(name, exc.problems)
            failed = True
            continue
        results[name] = result
        calls = ", ".join(f"{pid} ({result.calls[pid][0]})" for pid in result.calls)
        decides = ", ".join(f"{did} ({result.decides[did][0]})" for did in sorted(result.decides))
        print(
            f"{name}: ok ({result.process_id})"
            + (f" calls {calls}" if calls else "")
            + (f" decides {decides}" if decides else "")
        )
    return None if failed else results


def validate(files: list[str]) -> int:
    return 0 if _check_all(files) is not None else 1


def _with_diagrams_of_tables(files: list[str]) -> list[str]:
    """The files given, a decision table standing for the diagrams of its folder (deployed again:
    those that bundle it get a new version, the others are unchanged)."""
    out = [name for name in files if not name.endswith(".dmn")]
    for name in files:
        if name.endswith(".dmn"):
            known = {Path(given).resolve() for given in out}
            out += [str(path) for path in sorted(Path(name).resolve().parent.glob("*.bpmn")) if path not in known]
    return out


def deploy(files: list[str]) -> int:
    db = _database()
    with db.uow() as uow:
        diagrams = _with_diagrams_of_tables(files)
        if _check_all(files + [d for d in diagrams if d not in files], uow) is None:
            return 1
        given = {Path(name).name: Path(name).read_bytes() for name in files + diagrams}
        for name in diagrams:
            library = definitions.lookup(files=given, folder=Path(name).resolve().parent, uow=uow)
            definition, new = definitions.deploy(uow, Path(name).name, given[Path(name).name], library)
            called = "".join(f" calls {d.process_id} {d.id[:12]}" for d in definitions.called_versions(uow, definition))
            decides = f" decides {', '.join(sorted(definition.decisions))}" if definition.decisions else ""
            print(
                f"{'deployed' if new else 'unchanged'} {name} {definition.process_id} {definition.id[:12]}"
                f"{called}{decides}"
            )
        uow.commit()
    return 0


def list_versions() -> int:
    db = _database()
    with db.uow(readonly=True) as uow:
        for v in versions.listing(uow):
            calls = f"calls: {', '.join(v['calls'])}  " if v["calls"] else ""
            decides = f"decisions: {', '.join(v['decisions'])}  " if v["decisions"] else ""
            print(
                f"{v['label']:<32} {v['id'][:12]}  {v['deployed_at'][:19]}  {v['file_name']:<32} "
                f"{calls}{decides}running: {v['running_instances']}"
            )
    return 0


def diff(old: str, new: str) -> int:
    db = _database()
    with db.uow(readonly=True) as uow:
        result = versions.diff_versions(uow, versions.resolve(uow, old), versions.resolve(uow, new))

    def inside(item: dict) -> str:
        if item.get("decision"):
            return f"  [in decision {item['decision']}]"
        return f"  [in called process {item['process']}]" if item.get("process") else ""

    def row(item: dict) -> str:
        return f" row {item['row']}" if item.get("row") else ""

    def change(item: dict) -> str:
        if "from" not in item:
            return ""
        before, after = item["from"], item["to"]
        return (
            f": {' | '.join(before['inputs'])} -> {' | '.join(before['outputs'])}"
            f"  becomes  {' | '.join(after['inputs'])} -> {' | '.join(after['outputs'])}"
        )

    for item in result.added:
        print(f"+ {item['id']} ({item['type']}){row(item)} {item['name'] or ''}{inside(item)}")
    for item in result.removed:
        print(f"- {item['id']} ({item['type']}){row(item)} {item['name'] or ''}{inside(item)}")
    for item in result.changed:
        print(f"~ {item['id']} ({item['type']}){row(item)} {', '.join(item['what'])}{change(item)}{inside(item)}")
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


def relayout(files: list[str], check: bool) -> int:
    """Check (``--check``) or redraw each diagram; exit 1 if any problem is left."""
    contents, unreadable = _read(files)
    for name, why in unreadable.items():
        print(f"{name}: -: readable: {why}")
    failed = bool(unreadable)
    for name, content in contents.items():
        try:
            if not check:
                content = layout_auto.relaid(Path(name).name, content)
            problems = layout.problems(Path(name).name, content)
        except layout.LayoutError as exc:
            print(f"{name}: -: drawable: {exc}")
            failed = True
            continue
        _print(name, problems)
        if not check and content != Path(name).read_bytes():
            Path(name).write_bytes(content)
        failed = failed or bool(problems)
        if not problems:
            print(f"{name}: {'laid out' if not check else 'reads well'}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="titles-bpmn", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
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
    p_layout = sub.add_parser("layout", help="draw diagrams again so that they read well")
    p_layout.add_argument("--check", action="store_true", help="only check the drawing (exit 1 naming each problem)")
    p_layout.add_argument("files", nargs="+", metavar="FILE")
    args = parser.parse_args(argv)
    try:
        if args.command == "layout":
            return relayout(args.files, args.check)
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
