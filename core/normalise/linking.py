"""Links a span or event to task / assignment / chain / stage ids, in the seed's priority order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.normalise.attributes import first, to_str
from core.normalise.resource import ResourceContext, task_id_in_path
from core.records import Links

# Background polling spans of the seed's coordinator must not be attributed to the worktree they run in.
_BACKGROUND_NAMES = frozenset(
    {"messages.list", "messages.github_sync", "messages.ack", "messages.send", "messages.search",
     "messages.import-github"}
)
# Spans that mark the start of a task execution: their session's orphan spans are linked to their task.
EXECUTE_SPAN_NAMES = frozenset({"claude.execute", "observatory.execute", "ailang.execute"})
_LINK_KEYS = frozenset({
    "task.id", "observatory.task_id", "ailang.task_id", "exec.parent_task_id", "task.workspace", "assignment_id",
    "observatory.assignment_id", "ailang.assignment_id", "chain_id", "observatory.chain_id", "ailang.chain_id",
    "stage_id", "observatory.stage_id", "ailang.stage_id", "message_id", "observatory.message_id",
    "ailang.message_id",
})


def link(ctx: ResourceContext, attrs: Mapping[str, Any], name: str) -> Links:
    """Priority: resource task id, span ``task.id``, ``exec.parent_task_id``, ``task.workspace`` path,
    resource ``process.cwd`` path (skipped for background span names). Chain and stage ids come from
    the resource (``ailang.*`` / ``observatory.*``) or the span's ``chain_id`` / ``stage_id``."""
    base = ctx.links
    if _LINK_KEYS.isdisjoint(attrs):  # fast path: only the resource can link this span
        task_id = base.task_id or (None if name in _BACKGROUND_NAMES else ctx.cwd_task_id)
        return Links(task_id, base.assignment_id, base.chain_id, base.stage_id, base.message_id)
    task = (
        base.task_id
        or to_str(first(attrs, ("task.id", "observatory.task_id", "ailang.task_id")))
        or to_str(attrs.get("exec.parent_task_id"))
        or task_id_in_path(attrs.get("task.workspace"))
        or (None if name in _BACKGROUND_NAMES else ctx.cwd_task_id)
    )
    return Links(
        task_id=task,
        assignment_id=base.assignment_id
        or to_str(first(attrs, ("assignment_id", "observatory.assignment_id", "ailang.assignment_id"))),
        chain_id=base.chain_id or to_str(first(attrs, ("chain_id", "observatory.chain_id", "ailang.chain_id"))),
        stage_id=base.stage_id or to_str(first(attrs, ("stage_id", "observatory.stage_id", "ailang.stage_id"))),
        message_id=base.message_id
        or to_str(first(attrs, ("message_id", "observatory.message_id", "ailang.message_id"))),
    )
