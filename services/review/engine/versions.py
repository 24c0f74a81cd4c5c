"""Diagram versions: list them, compare two by element id, and migrate an instance.

A running instance stays on the version it started with (its saved state holds
the specs it runs, the called processes' included). Migration is explicit and
refused, with the reason, when the target version lacks an element that the
instance has a running task on (the task would be lost) or that its history
refers to (the saved state would not load) — in the calling diagram or inside a
called process. A version that calls other processes is compared with another
one process by process: the diff names the process of each changed element, and
the decision tables the versions bundle rule by rule (``decision`` on each item).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select

from services.review.engine import audit, definitions, runtime
from services.review.engine import state as stored
from services.review.engine.steps import Step, step
from services.review.models import Definition, Instance
from shared import decisions as tables
from shared.errors import Conflict, NotFound
from shared.uow import UnitOfWork

MODEL_NS = definitions.NS["bpmn"]


def listing(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every deployed version, numbered per process in deploy order, with its instances."""
    counts = dict(
        uow.session.execute(
            select(Instance.definition_id, func.count())
            .where(Instance.status == "running")
            .group_by(Instance.definition_id)
        ).all()
    )
    out: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    labels: dict[str, str] = {}
    for d in uow.session.scalars(select(Definition).order_by(Definition.deployed_at, Definition.id)):
        seen[d.process_id] = seen.get(d.process_id, 0) + 1
        labels[d.id] = f"{d.process_id}@{seen[d.process_id]}"
        out.append(
            {
                "id": d.id,
                "process_id": d.process_id,
                "number": seen[d.process_id],
                "label": labels[d.id],
                "file_name": d.file_name,
                "deployed_at": d.deployed_at.isoformat(),
                "running_instances": counts.get(d.id, 0),
                "calls": [labels.get(called, called[:12]) for called in d.calls or []],
                "decisions": bundled(d),
            }
        )
    return out


def bundled(definition: Definition) -> list[str]:
    """The decision tables a version bundles: ``decision (file, content hash prefix)``."""
    return [
        f"{decision_id} ({table['file_name']} {definitions.content_hash(table['dmn'].encode('utf-8'))[:8]})"
        for decision_id, table in sorted((definition.decisions or {}).items())
    ]


def resolve(uow: UnitOfWork, ref: str) -> Definition:
    """A version by its hash, a unique hash prefix (at least 6 characters) or ``process@N``."""
    if "@" in ref:
        process_id, _, number = ref.partition("@")
        for version in listing(uow):
            numbered = (
                uow.session.get(Definition, version["id"])
                if version["process_id"] == process_id and str(version["number"]) == number
                else None
            )
            if numbered is not None:
                return numbered
        raise NotFound.on("version", "exists", f"no version {ref}")
    if len(ref) < 6:
        raise NotFound.on("version", "exists", f"give at least 6 characters of the version hash, not {ref!r}")
    found = list(uow.session.scalars(select(Definition).where(Definition.id.startswith(ref.lower()))))
    if len(found) != 1:
        raise NotFound.on("version", "exists", f"{ref!r} matches {len(found)} versions")
    return found[0]


# -- diff ------------------------------------------------------------------------


def _elements(bpmn: str) -> dict[str, dict[str, Any]]:
    """The model elements with an id (diagram layout left out), each with what defines it."""
    root = etree.fromstring(bpmn.encode("utf-8"))
    out = {}
    for element in root.iter():
        if not isinstance(element.tag, str) or not element.tag.startswith("{" + MODEL_NS + "}"):
            continue
        element_id = element.get("id")
        if not element_id:
            continue
        attributes = {etree.QName(k).localname: v for k, v in element.attrib.items() if k not in ("id", "name")}
        # Content that belongs to the element itself (expressions, scripts, properties, flows),
        # not to child elements that have ids of their own.
        content = []
        for child in element.iter():
            if child is element or not isinstance(child.tag, str):
                continue
            if child.get("id") and child.tag.startswith("{" + MODEL_NS + "}"):
                continue
            owner = child.getparent()
            while (
                owner is not None
                and owner is not element
                and not (owner.get("id") and str(owner.tag).startswith("{" + MODEL_NS + "}"))
            ):
                owner = owner.getparent()
            if owner is not element:
                continue
            content.append((etree.QName(child).localname, dict(child.attrib), (child.text or "").strip()))
        out[element_id] = {
            "type": etree.QName(element).localname,
            "name": element.get("name"),
            "attributes": attributes,
            "content": content,
        }
    return out


@dataclass
class Diff:
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed, "changed": self.changed}


def diff(old_bpmn: str | None, new_bpmn: str | None, process: str | None = None, result: Diff | None = None) -> Diff:
    """What changed between two diagrams, by element id (None: the diagram is absent on that
    side). ``process`` is noted on every item (the called process it belongs to)."""
    old = _elements(old_bpmn) if old_bpmn else {}
    new = _elements(new_bpmn) if new_bpmn else {}
    result = result if result is not None else Diff()
    where = {"process": process} if process else {}
    for element_id in sorted(new.keys() - old.keys()):
        result.added.append(
            {"id": element_id, "type": new[element_id]["type"], "name": new[element_id]["name"], **where}
        )
    for element_id in sorted(old.keys() - new.keys()):
        result.removed.append(
            {"id": element_id, "type": old[element_id]["type"], "name": old[element_id]["name"], **where}
        )
    for element_id in sorted(old.keys() & new.keys()):
        before, after = old[element_id], new[element_id]
        aspects = [aspect for aspect in ("type", "name", "attributes", "content") if before[aspect] != after[aspect]]
        if aspects:
            result.changed.append(
                {
                    "id": element_id,
                    "type": after["type"],
                    "name": after["name"],
                    "what": aspects,
                    **where,
                    **({"from_type": before["type"]} if "type" in aspects else {}),
                    **({"from_name": before["name"]} if "name" in aspects else {}),
                }
            )
    return result


def diff_versions(uow: UnitOfWork, old: Definition, new: Definition) -> Diff:
    """Two deployed versions compared: the diagram itself, then each process it calls (on either
    side), its elements marked with ``process``, then the decision tables they bundle, rule by
    rule, marked with ``decision``."""
    result = diff(old.bpmn, new.bpmn)
    old_versions, new_versions = definitions.called_versions(uow, old), definitions.called_versions(uow, new)
    old_called = {d.process_id: d for d in old_versions}
    new_called = {d.process_id: d for d in new_versions}
    for process_id in sorted(old_called.keys() | new_called.keys()):
        before, after = old_called.get(process_id), new_called.get(process_id)
        if before is not None and after is not None and before.id == after.id:
            continue
        diff(before.bpmn if before else None, after.bpmn if after else None, process_id, result)
    old_tables = definitions.stored_decisions([old, *old_versions])
    new_tables = definitions.stored_decisions([new, *new_versions])
    for decision_id in sorted(old_tables.keys() | new_tables.keys()):
        diff_decision(decision_id, old_tables.get(decision_id), new_tables.get(decision_id), result)
    return result


def _rows(table: tuple[str, str] | None) -> tuple[Any, dict[str, Any]]:
    if table is None:
        return None, {}
    parsed = tables.parse(table[0], table[1].encode("utf-8"))
    return parsed, {row.id: row for row in parsed.rows}


def diff_decision(decision_id: str, old: tuple[str, str] | None, new: tuple[str, str] | None, result: Diff) -> Diff:
    """What changed in a decision table (file name, DMN text; None: absent on that side): the table
    as a whole (hit policy, input and output columns), then its rules by id, each with its row."""
    if old is not None and new is not None and old[1] == new[1]:
        return result
    (before, old_rows), (after, new_rows) = _rows(old), _rows(new)
    where = {"decision": decision_id}
    if before is None or after is None:
        table = after or before
        (result.added if before is None else result.removed).append(
            {"id": decision_id, "type": "decision", "name": table.name, **where}
        )
        return result
    aspects = [
        aspect
        for aspect, a, b in (
            ("hit_policy", before.hit_policy, after.hit_policy),
            ("inputs", before.inputs, after.inputs),
            ("outputs", before.outputs, after.outputs),
            ("name", before.name, after.name),
        )
        if a != b
    ]
    if aspects:
        result.changed.append(
            {"id": decision_id, "type": "decisionTable", "name": after.name, "what": aspects, **where}
        )
    for rule_id in [r for r in new_rows if r not in old_rows]:
        row = new_rows[rule_id]
        result.added.append({"id": rule_id, "type": "rule", "name": row.description, "row": row.number, **where})
    for rule_id in [r for r in old_rows if r not in new_rows]:
        row = old_rows[rule_id]
        result.removed.append({"id": rule_id, "type": "rule", "name": row.description, "row": row.number, **where})
    for rule_id in [r for r in new_rows if r in old_rows]:
        a, b = old_rows[rule_id], new_rows[rule_id]
        what = [
            aspect
            for aspect in ("inputs", "outputs", "description", "number")
            if getattr(a, aspect) != getattr(b, aspect)
        ]
        if what:
            result.changed.append(
                {
                    "id": rule_id,
                    "type": "rule",
                    "name": b.description,
                    "row": b.number,
                    "what": ["row" if w == "number" else w for w in what],
                    **where,
                    **(
                        {
                            "from": {"inputs": list(a.inputs), "outputs": list(a.outputs)},
                            "to": {"inputs": list(b.inputs), "outputs": list(b.outputs)},
                        }
                        if {"inputs", "outputs"} & set(what)
                        else {}
                    ),
                }
            )
    return result


# -- migrate ---------------------------------------------------------------------


def _task_spec_names(spec: dict[str, Any], subprocess_specs: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Per spec (the process, each embedded subprocess and each called process): element -> type."""
    names = {spec["name"]: {name: ts.get("typename", "") for name, ts in spec["task_specs"].items()}}
    for sub_name, sub in subprocess_specs.items():
        names[sub_name] = {name: ts.get("typename", "") for name, ts in sub["task_specs"].items()}
    return names


def refusals(
    state: dict[str, Any], target_names: dict[str, dict[str, str]], old_names: dict[str, dict[str, str]]
) -> list[str]:
    """Why the saved state cannot move to the target specs (empty when it can)."""
    reasons = []
    running_mask = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
    top = state["spec"]["name"]
    groups = [(top, state["tasks"].values())]
    for sub in state.get("subprocesses", {}).values():
        groups.append((sub["spec"], sub["tasks"].values()))
    for spec_name, tasks in groups:
        target, old = target_names.get(spec_name), old_names.get(spec_name, {})
        inside = "" if spec_name == top else f" in {spec_name!r}"
        for task in tasks:
            name = task["task_spec"]
            running = bool(task["state"] & running_mask)
            if target is None:
                reasons.append(
                    f"running tasks{inside} would be lost: the target version has no process {spec_name!r}"
                    if running
                    else f"the instance's history passed {spec_name!r}, which the target version lacks"
                )
            elif name not in target:
                reasons.append(
                    f"running task on element {name!r}{inside} would be lost: the target version has no such element"
                    if running
                    else f"the instance's history passed element {name!r}{inside}, which the target version lacks"
                )
            elif running and old.get(name) and target[name] != old[name]:
                reasons.append(
                    f"running task on element {name!r}{inside} would change from {old[name]} to {target[name]}"
                )
    return sorted(set(reasons))


def migrate(uow: UnitOfWork, instance_ref: str, version_ref: str, operator: str) -> Instance:
    """Move an instance to another version of its process, or refuse (409) saying why."""
    target = resolve(uow, version_ref)
    instance_id = uow.session.scalar(
        select(Instance.id).where((Instance.id == instance_ref) | (Instance.declaration_id == instance_ref))
    )
    if instance_id is None:
        raise NotFound.on("instance", "exists", f"no review process {instance_ref}")
    with runtime.locked(uow, instance_id=instance_id) as (instance, _):
        if target.id == instance.definition_id:
            raise Conflict.on("version", "different", "the instance already runs on that version")
        if target.process_id != instance.process_id:
            raise Conflict.on(
                "version",
                "same_process",
                f"version {target.id[:12]} is of process {target.process_id}, the instance runs {instance.process_id}",
            )
        if instance.status != "running":
            raise Conflict.on("instance", "running", f"the instance is {instance.status}")
        state = stored.with_specs(uow, instance)
        new_spec, new_subs = stored.spec_dicts(uow, target.id)
        old_names = _task_spec_names(state["spec"], state["subprocess_specs"])
        reasons = refusals(state, _task_spec_names(new_spec, new_subs), old_names)
        if reasons:
            raise Conflict.on("version", "no_lost_tasks", "migration refused (迁移被拒绝): " + "; ".join(reasons))
        state["spec"], state["subprocess_specs"] = new_spec, new_subs
        workflow = runtime.SERIALIZER.from_dict(state)
        workflow.script_engine = runtime.ScriptEngine(uow, instance.declaration_id)
        previous = instance.definition_id
        instance.definition_id = target.id
        with step(
            instance.id,
            instance.declaration_id,
            Step(
                "operator",
                actor=operator,
                element=None,
                decision="migrate",
                changes={"definition_id": {"from": previous, "to": target.id}},
            ),
            workflow,
        ):
            runtime.advance(uow, instance, workflow)
    return instance


def audit_operator(
    uow: UnitOfWork,
    instance: Instance,
    operator: str,
    decision: str,
    reason: str | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    audit.append(
        uow, instance, source="operator", actor=operator, decision=decision, reason=reason, changes=changes or {}
    )
