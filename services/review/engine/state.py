"""An instance's saved state: SpiffWorkflow's JSON of what the instance did and waits for, naming
its process version instead of carrying the version's specs.

SpiffWorkflow's serializer writes the parsed diagram (every task spec of the process and of each
process it calls) into every instance's JSON: for the social review 130 KiB of the 143 KiB a fresh
instance saves, rebuilt into objects at every load and written again at every step. The specs are
the same for every instance of a version, and a version never changes once deployed (its id is its
content's hash, engine/definitions.py). So the state the runtime stores names the version
(``titles_definition_id``), and loading takes the specs parsed once per process for that version.

A state that carries its specs (saved before this, or written by ``runtime.SERIALIZER``, which still
writes them for whoever wants a self-contained copy) is read as SpiffWorkflow writes it; ``load``
gives such an instance the specs of its own version, so its next save is short too.
"""

from __future__ import annotations

import functools
import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from sqlalchemy import bindparam, inspect, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from services.review.engine import definitions, timers
from services.review.models import Definition, Instance
from shared.pipeline import Batch
from shared.prepared import Prepared
from shared.uow import UnitOfWork

VERSION_KEY = "titles_definition_id"  # in a state without specs: the version whose specs it runs


class _Converter(BpmnWorkflowConverter):  # type: ignore[misc]
    """Reads both kinds of state; writes the specs or only the version's name (``embed``)."""

    embed = True

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        version = definitions.version_of(workflow.spec, workflow.subprocess_specs)
        if self.embed or version is None:
            full: dict[str, Any] = super().to_dict(workflow)
            return full
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        dct[VERSION_KEY] = version
        return dct

    def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
        version = dct.pop(VERSION_KEY, None)
        if version is None:
            workflow: BpmnWorkflow = super().from_dict(dct)
            return workflow
        parsed = definitions.parsed(version)
        if parsed is None:
            raise LookupError(
                f"the state runs version {version[:12]}, not parsed in this process: load it with state.load"
            )
        spec, subprocess_specs = parsed
        # As SpiffWorkflow's own from_dict does once it has restored the specs.
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class Embedding(_Converter):
    embed = True


class Referencing(_Converter):
    embed = False


def serializer(converter: type[_Converter]) -> BpmnWorkflowSerializer:
    config = timers.serializer_config()
    config[BpmnWorkflow] = converter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


STORED = serializer(Referencing)  # what the runtime stores in instances.state
WHOLE = serializer(Embedding)  # a whole workflow, specs included


def dump(workflow: BpmnWorkflow) -> str:
    """The state to store: the version's name in place of its specs (where the specs are a deployed
    version's, as the runtime's always are)."""
    text: str = STORED.serialize_json(workflow)
    return text


def save(uow: UnitOfWork, instance: Instance, batch: Batch | None = None) -> None:
    """Write what the step changed of the instance's row now, in one compare-and-set UPDATE (Core):
    the columns changed since it was loaded, the version bumped where it still holds the version read,
    as the mapper's version check would, else StaleDataError (raised where ``batch`` has the server's
    answer: at the end of its block). The ORM's flush would do the same through its unit of work, at
    several times the CPU of the statement on every step. A row not yet written (a start) is left to
    the flush."""
    row = inspect(instance)
    if not row.persistent or not row.committed_state:
        return
    changed = {key: getattr(instance, key) for key in row.committed_state}
    version = instance.version
    changed["version"] = version + 1
    written = _save_statement(tuple(changed)).execute(
        uow.session.connection(), {**changed, "id_": instance.id, "read": version}
    )
    batch = batch or Batch(pipelined=False)

    def check() -> None:
        if batch.rowcount(written) != 1:
            raise StaleDataError(f"instance {instance.id} was changed by another writer (version {version} is gone)")
        set_committed_value(instance, "version", version + 1)
        # Written: what the flush does after writing a row. The row is clean (else every flush would
        # still visit it), and the transaction knows it was written in it, so that rolling back a
        # savepoint it was written in expires it (the next read takes the row as the database has it).
        row._commit_all(row.dict, uow.session.identity_map)
        uow.session._register_altered([row])

    batch.after(check)


@functools.lru_cache(maxsize=64)
def _save_statement(columns: tuple[str, ...]) -> Prepared:
    """Built and compiled once per set of columns (a step changes the same few)."""
    return Prepared(
        update(Instance)
        .where(Instance.id == bindparam("id_"), Instance.version == bindparam("read"))
        .values(**{key: bindparam(key) for key in columns})
    )


def load(uow: UnitOfWork, instance: Instance) -> BpmnWorkflow:
    """The instance's workflow, on the specs of its version (parsed once per process)."""
    dct = _as_dict(uow, instance)
    STORED.migrate(dct)
    workflow: BpmnWorkflow = STORED.from_dict(dct)
    return workflow


def process_data(uow: UnitOfWork, instance: Instance, name: str) -> Any:
    """A value of the process's data, as ``workflow.task_tree.data`` (its root task's) or else ``workflow.data``
    holds it, read from the stored state without building the workflow: a view that shows one value (the
    panel's, the applicant's ID number for recusals) needs no engine, and building a social review's workflow
    is some ten milliseconds."""
    dct = _as_dict(uow, instance)
    STORED.migrate(dct)
    root = dct["tasks"][dct["root"]]
    restore = STORED.registry.restore
    return restore(root.get("data", {}).get(name)) or restore(dct.get("data", {}).get(name))


def with_specs(uow: UnitOfWork, instance: Instance) -> dict[str, Any]:
    """The stored state as SpiffWorkflow writes it, specs included (what a migration compares)."""
    dct = json.loads(instance.state)
    version = dct.pop(VERSION_KEY, None)
    if version is not None:
        dct["spec"], dct["subprocess_specs"] = spec_dicts(uow, version)
    return dct  # type: ignore[no-any-return]


def spec_dicts(uow: UnitOfWork, version: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A version's process spec and subprocess specs as SpiffWorkflow's serializer writes them."""
    spec, subprocess_specs = _parsed(uow, version)
    full = WHOLE.to_dict(BpmnWorkflow(spec, subprocess_specs))
    return full["spec"], full["subprocess_specs"]


def _as_dict(uow: UnitOfWork, instance: Instance) -> dict[str, Any]:
    dct: dict[str, Any] = json.loads(instance.state)
    version = dct.get(VERSION_KEY)
    if version is None:
        # Saved with its specs: they are its own version's (a migration sets the version with them).
        dct.pop("spec", None)
        dct.pop("subprocess_specs", None)
        version = dct[VERSION_KEY] = instance.definition_id
    _parsed(uow, version)
    return dct


def _parsed(uow: UnitOfWork, version: str) -> tuple[Any, dict[str, Any]]:
    found = definitions.parsed(version)
    if found is None:
        definition = uow.session.get(Definition, version)
        if definition is None:
            raise LookupError(f"version {version[:12]} of the instance's process is not stored")
        found = definitions.specs_of(uow, definition)
    return found
