"""Diagram versions: list them, compare two by element id, and migrate an instance.

A running instance stays on the version it started with. Migration is explicit
and refused, with the reason, when the target version lacks an element that the
instance has a running task on (the task would be lost) or that its history
refers to (the saved state would not load).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from sqlalchemy import func, select
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from services.review.engine import audit, definitions
from services.review.models import Definition, Instance
from shared.errors import Conflict, NotFound
from shared.uow import UnitOfWork

MODEL_NS = definitions.NS["bpmn"]


def listing(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every deployed version, numbered per process in deploy order, with its instances."""
    counts = dict(uow.session.execute(select(Instance.definition_id, func.count())
                                      .where(Instance.status == "running").group_by(Instance.definition_id)).all())
    out, seen = [], {}
    for d in uow.session.scalars(select(Definition).order_by(Definition.deployed_at, Definition.id)):
        seen[d.process_id] = seen.get(d.process_id, 0) + 1
        out.append({"id": d.id, "process_id": d.process_id, "number": seen[d.process_id],
                    "label": f"{d.process_id}@{seen[d.process_id]}", "file_name": d.file_name,
                    "deployed_at": d.deployed_at.isoformat(), "running_instances": counts.get(d.id, 0)})
    return out


def resolve(uow: UnitOfWork, ref: str) -> Definition:
    """A version by its hash, a unique hash prefix (at least 6 characters) or ``process@N``."""
    if "@" in ref:
        process_id, _, number = ref.partition("@")
        for version in listing(uow):
            if version["process_id"] == process_id and str(version["number"]) == number:
                return uow.session.get(Definition, version["id"])
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
        attributes = {etree.QName(k).localname: v for k, v in element.attrib.items()
                      if k not in ("id", "name")}
        # Content that belongs to the element itself (expressions, scripts, properties, flows),
        # not to child elements that have ids of their own.
        content = []
        for child in element.iter():
            if child is element or not isinstance(child.tag, str):
                continue
            if child.get("id") and child.tag.startswith("{" + MODEL_NS + "}"):
                continue
            owner = child.getparent()
            while owner is not None and owner is not element and not (
                    owner.get("id") and str(owner.tag).startswith("{" + MODEL_NS + "}")):
                owner = owner.getparent()
            if owner is not element:
                continue
            content.append((etree.QName(child).localname, dict(child.attrib), (child.text or "").strip()))
        out[element_id] = {"type": etree.QName(element).localname, "name": element.get("name"),
                           "attributes": attributes, "content": content}
    return out


@dataclass
class Diff:
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed, "changed": self.changed}


def diff(old_bpmn: str, new_bpmn: str) -> Diff:
    old, new = _elements(old_bpmn), _elements(new_bpmn)
    result = Diff()
    for element_id in sorted(new.keys() - old.keys()):
        result.added.append({"id": element_id, "type": new[element_id]["type"], "name": new[element_id]["name"]})
    for element_id in sorted(old.keys() - new.keys()):
        result.removed.append({"id": element_id, "type": old[element_id]["type"], "name": old[element_id]["name"]})
    for element_id in sorted(old.keys() & new.keys()):
        before, after = old[element_id], new[element_id]
        aspects = [aspect for aspect in ("type", "name", "attributes", "content") if before[aspect] != after[aspect]]
        if aspects:
            result.changed.append({"id": element_id, "type": after["type"], "name": after["name"],
                                   "what": aspects,
                                   **({"from_type": before["type"]} if "type" in aspects else {}),
                                   **({"from_name": before["name"]} if "name" in aspects else {})})
    return result


# -- migrate ---------------------------------------------------------------------

def _spec_dicts(target: Definition) -> tuple[dict[str, Any], dict[str, Any]]:
    from services.review.engine.runtime import SERIALIZER

    spec, subprocess_specs = definitions.specs(target.id, target.bpmn, target.process_id)
    fresh = SERIALIZER.to_dict(BpmnWorkflow(spec, subprocess_specs))
    return fresh["spec"], fresh["subprocess_specs"]


def _task_spec_names(spec: dict[str, Any], subprocess_specs: dict[str, Any]) -> dict[str, str]:
    names = {name: ts.get("typename", "") for name, ts in spec["task_specs"].items()}
    for sub in subprocess_specs.values():
        names.update({name: ts.get("typename", "") for name, ts in sub["task_specs"].items()})
    return names


def refusals(state: dict[str, Any], target_names: dict[str, str], old_names: dict[str, str]) -> list[str]:
    """Why the saved state cannot move to the target spec (empty when it can)."""
    reasons = []
    running_mask = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
    all_tasks = list(state["tasks"].values())
    for sub in state.get("subprocesses", {}).values():
        all_tasks.extend(sub["tasks"].values())
    for task in all_tasks:
        name = task["task_spec"]
        running = bool(task["state"] & running_mask)
        if name not in target_names:
            reasons.append(f"running task on element {name!r} would be lost: the target version has no such element"
                           if running else
                           f"the instance's history passed element {name!r}, which the target version lacks")
        elif running and old_names.get(name) and target_names[name] != old_names[name]:
            reasons.append(f"running task on element {name!r} would change from {old_names[name]} to "
                           f"{target_names[name]}")
    return sorted(set(reasons))


def migrate(uow: UnitOfWork, instance_ref: str, version_ref: str, operator: str) -> Instance:
    """Move an instance to another version of its process, or refuse (409) saying why."""
    from services.review.engine import runtime
    from services.review.engine.incidents import Step, step

    target = resolve(uow, version_ref)
    instance_id = uow.session.scalar(select(Instance.id).where(
        (Instance.id == instance_ref) | (Instance.declaration_id == instance_ref)))
    if instance_id is None:
        raise NotFound.on("instance", "exists", f"no review process {instance_ref}")
    with runtime.locked(uow, instance_id=instance_id) as (instance, _):
        if target.id == instance.definition_id:
            raise Conflict.on("version", "different", "the instance already runs on that version")
        if target.process_id != instance.process_id:
            raise Conflict.on("version", "same_process",
                              f"version {target.id[:12]} is of process {target.process_id}, "
                              f"the instance runs {instance.process_id}")
        if instance.status != "running":
            raise Conflict.on("instance", "running", f"the instance is {instance.status}")
        state = json.loads(instance.state)
        new_spec, new_subs = _spec_dicts(target)
        old_names = _task_spec_names(state["spec"], state["subprocess_specs"])
        reasons = refusals(state, _task_spec_names(new_spec, new_subs), old_names)
        if reasons:
            raise Conflict.on("version", "no_lost_tasks", "migration refused (迁移被拒绝): " + "; ".join(reasons))
        state["spec"], state["subprocess_specs"] = new_spec, new_subs
        workflow = runtime.SERIALIZER.from_dict(state)
        workflow.script_engine = runtime.ScriptEngine(uow, instance.declaration_id)
        previous = instance.definition_id
        instance.definition_id = target.id
        with step(instance.id, instance.declaration_id,
                  Step("operator", actor=operator, element=None, decision="migrate",
                       changes={"definition_id": {"from": previous, "to": target.id}}), workflow):
            runtime.advance(uow, instance, workflow)
    return instance


def audit_operator(uow: UnitOfWork, instance: Instance, operator: str, decision: str,
                   reason: str | None = None, changes: dict[str, Any] | None = None) -> None:
    audit.append(uow, instance, source="operator", actor=operator, decision=decision, reason=reason,
                 changes=changes or {})
