"""What a running instance has finished leaves its saved state (docs/engine.md E14).

SpiffWorkflow never forgets: every task a return loop passed stays in the task tree and every called
process it ran stays whole in ``workflow.subprocesses``, so the state (and each load and save) grows
with everything the instance ever did. Before each save ``prune`` keeps what is live:

- each task tree is cut just above what is unfinished: under its root (the start task, with the
  data the process started with) it keeps only the subtree of the parent of the lowest common
  ancestor of the unfinished tasks (and of ``last_task``, which the engine reads), moved up to a
  join's split while a join waits under it and never stopping on a join (joins read their inputs
  through ``parent``), so every live task keeps its parent and the data it inherits;
- a called process (or sub-process) whose calling task has finished is reduced to its root task,
  without data: the latest finished run of each process stays in ``workflow.subprocesses``,
  completed (a few hundred bytes); earlier runs leave the state with their calling tasks, so a
  hundred returns keep one run, not a hundred;
- a finished calling task cut off a tree is kept detached (no parent, no children, no data): the
  serializer restores a sub-process only through its calling task;
- the ids of the elements the cut tasks completed are kept per process in the top workflow's data
  (``PRUNED``), so the process view still shows every element passed; the audit log has each step.

A completed instance is left as it is: its outcome is read from the end event it reached.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import AdHocSubprocessSpec
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.util.task import TaskState

# Top workflow data key (scripts never see workflow.data, docs/engine.md E5): process -> element ids.
PRUNED = "pruned_elements"
FINISHED = TaskState.COMPLETED | TaskState.CANCELLED


def prune(workflow: Any) -> None:
    """Drop what the instance has finished from ``workflow``, in place (see the module's text)."""
    if workflow.is_completed():
        return
    done: dict[str, set[str]] = {name: set(ids) for name, ids in workflow.data.get(PRUNED, {}).items()}
    finished = {id(sub) for sub in workflow.subprocesses.values() if _caller_finished(workflow, sub)}
    for subprocess in list(workflow.subprocesses.values()):
        if id(subprocess) in finished and subprocess.task_tree._children:  # not reduced yet
            _keep_only(workflow, subprocess, subprocess.task_tree, done, finished=True)
    _drop_earlier_runs(workflow, finished)
    for each in [workflow, *workflow.subprocesses.values()]:
        if id(each) not in finished:
            cut, root = _cut_point(each), each.task_tree
            if cut is not None and cut is not root and not (cut.parent is root and root._children == [cut.id]):
                _keep_only(workflow, each, cut, done)
    if done:
        workflow.data[PRUNED] = {name: sorted(ids) for name, ids in sorted(done.items())}


def _drop_earlier_runs(workflow: Any, finished: set[int]) -> None:
    """Of the finished runs of each process, keep the latest (runs are kept in the order they began);
    drop the others, their calling tasks and whatever they called."""
    latest: dict[str, Any] = {}
    for subprocess in workflow.subprocesses.values():
        if id(subprocess) in finished:
            latest[subprocess.spec.name] = subprocess
    keep = {id(run) for run in latest.values()}
    dropped = [task_id for task_id, sub in workflow.subprocesses.items() if id(sub) in finished and id(sub) not in keep]
    while dropped:
        task_id = dropped.pop()
        run = workflow.subprocesses.pop(task_id, None)
        if run is None:
            continue
        for owner in [workflow, *workflow.subprocesses.values()]:
            caller = owner.tasks.get(task_id)
            if caller is not None and caller._parent is None and caller is not owner.task_tree:  # detached
                del owner.tasks[task_id]
                workflow.event_manager.remove_task(caller)
        # what the run itself called goes with it
        dropped.extend(t for t, sub in workflow.subprocesses.items() if sub.parent_task_id in run.tasks)


def pruned(workflow: Any) -> dict[str, set[str]]:
    """The elements completed by tasks pruned off the state, by process (the top one's name, or a called one's)."""
    return {name: set(ids) for name, ids in workflow.data.get(PRUNED, {}).items()}


def _caller_finished(workflow: Any, subprocess: Any) -> bool:
    caller = workflow.tasks.get(subprocess.parent_task_id)
    if caller is None:
        caller = next(
            (
                sub.tasks[subprocess.parent_task_id]
                for sub in workflow.subprocesses.values()
                if subprocess.parent_task_id in sub.tasks
            ),
            None,
        )
    return caller is not None and bool(caller.has_state(FINISHED))


def _cut_point(workflow: Any) -> Any:
    """The task whose subtree is kept under the root, or None to leave the tree as it is."""
    if isinstance(workflow.spec, AdHocSubprocessSpec) or getattr(workflow.spec.start, "trigger_specs", None):
        return None  # these read the tree from its root
    live = [t for t in workflow.get_tasks(skip_subprocesses=True) if not t.has_state(FINISHED)]
    if not live:
        return None
    anchors = list(live)
    if workflow.last_task is not None and workflow.tasks.get(workflow.last_task.id) is workflow.last_task:
        anchors.append(workflow.last_task)
    for task in live:
        split = getattr(task.task_spec, "split_task", None)
        if isinstance(task.task_spec, Join) and split:
            anchors.append(task.find_ancestor(split) or workflow.task_tree)
    cut = _common_ancestor(anchors)
    cut = cut.parent or cut
    while isinstance(cut.task_spec, Join) and cut.parent is not None:
        cut = cut.parent
    return cut


def _common_ancestor(tasks: list[Any]) -> Any:
    paths = []
    for task in tasks:
        path = []
        while task is not None:
            path.append(task)
            task = task.parent
        paths.append(path[::-1])
    common = paths[0][0]
    for level in zip(*paths, strict=False):
        if any(t is not level[0] for t in level):
            break
        common = level[0]
    return common


def _keep_only(top: Any, workflow: Any, cut: Any, done: dict[str, set[str]], finished: bool = False) -> None:
    """Keep the tree's root (the start, with the data the process started with) and, under it, the
    subtree of ``cut`` (nothing when the workflow is ``finished``); drop every other task, noting
    the elements they completed."""
    root = workflow.task_tree
    if finished:
        kept = {root.id}
        # What it handed back is in the caller's data already (the engine copies it on completion).
        root._children, root.data, workflow.data = [], {}, {}
    else:
        kept = {root.id} | {task.id for task in _subtree(cut)}
        root._children, cut._parent = [cut.id], root.id
    passed = done.setdefault(workflow.spec.name, set())
    for task_id, task in list(workflow.tasks.items()):
        if task_id in kept:
            continue
        if task.has_state(TaskState.COMPLETED) and task.task_spec.bpmn_id:
            passed.add(task.task_spec.bpmn_id)
        if isinstance(task.task_spec, SubWorkflowTask) and task_id in top.subprocesses:
            # Detached, not dropped: the serializer restores a sub-process through its calling task.
            task._parent, task._children, task.data, task.internal_data = None, [], {}, {}
            continue
        del workflow.tasks[task_id]
        top.event_manager.remove_task(task)
    if workflow.last_task is not None and workflow.last_task.id not in kept:
        workflow.last_task = None
    if not passed:
        del done[workflow.spec.name]


def _subtree(root: Any) -> list[Any]:
    out, stack = [], [root]
    while stack:
        task = stack.pop()
        out.append(task)
        stack.extend(task.children)
    return out
