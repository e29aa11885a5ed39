"""Catalog services: the rules of workspaces, tasks, agent assignments and inbox messages over the CatalogStore."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from core.catalog.models import (
    AgentAssignment,
    AgentStats,
    AssignmentCreate,
    AssignmentList,
    AssignmentUpdate,
    Message,
    MessageCreate,
    MessageList,
    MessageQuery,
    MessageStatus,
    MessageUpdate,
    Task,
    TaskCreate,
    TaskList,
    TaskQuery,
    TaskUpdate,
    TimelineList,
    TimelineQuery,
    Workspace,
    WorkspaceCreate,
    WorkspaceList,
    WorkspaceQuery,
    WorkspaceStats,
    WorkspaceUpdate,
)
from core.errors import BadParameter, Conflict, NotFound
from core.ports.catalog import CatalogStore, DuplicateId, MissingReference

T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id(given: str | None) -> str:
    return given or str(uuid.uuid4())


def _found(value: T | None, what: str, entity_id: str) -> T:
    if value is None:
        raise NotFound(f"{what} {entity_id} not found")
    return value


def _create(write: Callable[[], T]) -> T:
    """Run a store create, turning its domain exceptions into HTTP-mapped errors."""
    try:
        return write()
    except DuplicateId as exc:
        raise Conflict(str(exc)) from None
    except MissingReference as exc:
        raise BadParameter(f"invalid field '{exc.field}': {exc}") from None


def _changes(body: BaseModel, nullable: frozenset[str]) -> dict[str, Any]:
    """The fields the client sent; an explicit null clears a nullable field and is ignored for the others."""
    out = {}
    for name in body.model_fields_set:
        value = getattr(body, name)
        if value is not None or name in nullable:
            out[name] = value
    return out


def _stamps(status: str, started: datetime | None, completed: datetime | None, now: datetime
            ) -> dict[str, datetime]:
    """Lifecycle timestamps a status implies when none were given: running starts, completed/failed end."""
    out = {}
    if status == "running" and started is None:
        out["started_at"] = now
    if status in ("completed", "failed") and completed is None:
        out["completed_at"] = now
    return out


# -- workspaces --------------------------------------------------------------------------------------------------

_WORKSPACE_NULLABLE = frozenset({"git_remote"})


def create_workspace(store: CatalogStore, org_id: str, body: WorkspaceCreate) -> Workspace:
    at = body.created_at or _now()
    ws = Workspace(id=_new_id(body.id), name=body.name, path=body.path, git_remote=body.git_remote,
                   created_at=at, updated_at=at)
    return _create(lambda: store.create_workspace(org_id, ws))


def get_workspace(store: CatalogStore, org_id: str, workspace_id: str) -> Workspace:
    return _found(store.get_workspace(org_id, workspace_id), "workspace", workspace_id)


def list_workspaces(store: CatalogStore, org_id: str, q: WorkspaceQuery) -> WorkspaceList:
    items = store.list_workspaces(org_id, q)
    return WorkspaceList(workspaces=items, count=len(items), limit=q.limit, offset=q.offset)


def update_workspace(store: CatalogStore, org_id: str, workspace_id: str, body: WorkspaceUpdate) -> Workspace:
    changes = _changes(body, _WORKSPACE_NULLABLE)
    return _found(store.update_workspace(org_id, workspace_id, changes), "workspace", workspace_id)


def delete_workspace(store: CatalogStore, org_id: str, workspace_id: str) -> None:
    if not store.delete_workspace(org_id, workspace_id):
        raise NotFound(f"workspace {workspace_id} not found")


def workspace_stats(store: CatalogStore, org_id: str, workspace_id: str) -> WorkspaceStats:
    return _found(store.workspace_stats(org_id, workspace_id), "workspace", workspace_id)


# -- tasks ---------------------------------------------------------------------------------------------------------

_TASK_NULLABLE = frozenset({"workspace_id", "parent_task_id", "description", "source_ref", "started_at",
                            "completed_at"})


def create_task(store: CatalogStore, org_id: str, body: TaskCreate) -> Task:
    task_id = _new_id(body.id)
    if body.parent_task_id is not None and body.parent_task_id == task_id:
        raise BadParameter("invalid field 'parent_task_id': a task cannot be its own parent")
    now = _now()
    fields = body.model_dump(exclude={"id", "created_at"})
    fields.update(_stamps(body.status, body.started_at, body.completed_at, now))
    task = Task(id=task_id, created_at=body.created_at or now, **fields)
    created = _create(lambda: store.create_task(org_id, task))
    # Spans may have named this task before it existed (a session id used as task id): count them now.
    return store.recalculate_task(org_id, created.id) or created


def get_task(store: CatalogStore, org_id: str, task_id: str) -> Task:
    return _found(store.get_task(org_id, task_id), "task", task_id)


def list_tasks(store: CatalogStore, org_id: str, q: TaskQuery) -> TaskList:
    items = store.list_tasks(org_id, q)
    return TaskList(tasks=items, count=len(items), limit=q.limit, offset=q.offset)


def update_task(store: CatalogStore, org_id: str, task_id: str, body: TaskUpdate) -> Task:
    changes = _changes(body, _TASK_NULLABLE)
    if changes.get("parent_task_id") == task_id:
        raise BadParameter("invalid field 'parent_task_id': a task cannot be its own parent")
    if "status" in changes:
        current = get_task(store, org_id, task_id)
        started = changes.get("started_at", current.started_at)
        completed = changes.get("completed_at", current.completed_at)
        changes.update(_stamps(changes["status"], started, completed, _now()))
    try:
        updated = store.update_task(org_id, task_id, changes)
    except MissingReference as exc:
        raise BadParameter(f"invalid field '{exc.field}': {exc}") from None
    return _found(updated, "task", task_id)


def delete_task(store: CatalogStore, org_id: str, task_id: str) -> None:
    if not store.delete_task(org_id, task_id):
        raise NotFound(f"task {task_id} not found")


def task_agents(store: CatalogStore, org_id: str, task_id: str) -> AssignmentList:
    get_task(store, org_id, task_id)
    items = store.list_task_assignments(org_id, task_id)
    return AssignmentList(agents=items, count=len(items))


def task_timeline(store: CatalogStore, org_id: str, task_id: str, q: TimelineQuery) -> TimelineList:
    entries = store.task_timeline(org_id, task_id, q.limit, q.offset)
    if not entries:  # a task always has at least its span-less row: empty means no task or a page past the end
        get_task(store, org_id, task_id)
    return TimelineList(task_id=task_id, timeline=entries, count=len(entries), limit=q.limit, offset=q.offset)


def recalculate_task(store: CatalogStore, org_id: str, task_id: str) -> Task:
    """Recompute, from the stored spans, every assignment of the task and then the task itself."""
    for a in store.list_task_assignments(org_id, task_id):
        store.recalculate_assignment(org_id, a.id)
    return _found(store.recalculate_task(org_id, task_id), "task", task_id)


# -- agent assignments ---------------------------------------------------------------------------------------------

_ASSIGNMENT_NULLABLE = frozenset({"started_at", "completed_at", "parent_assignment_id"})


def create_assignment(store: CatalogStore, org_id: str, body: AssignmentCreate) -> AgentAssignment:
    now = _now()
    fields = body.model_dump(exclude={"id", "assigned_at"})
    fields.update(_stamps(body.status, body.started_at, body.completed_at, now))
    a = AgentAssignment(id=_new_id(body.id), assigned_at=body.assigned_at or now, **fields)
    created = _create(lambda: store.create_assignment(org_id, a))
    return store.recalculate_assignment(org_id, created.id) or created


def get_assignment(store: CatalogStore, org_id: str, assignment_id: str) -> AgentAssignment:
    return _found(store.get_assignment(org_id, assignment_id), "agent assignment", assignment_id)


def update_assignment(store: CatalogStore, org_id: str, assignment_id: str, body: AssignmentUpdate
                      ) -> AgentAssignment:
    changes = _changes(body, _ASSIGNMENT_NULLABLE)
    if "status" in changes:
        current = get_assignment(store, org_id, assignment_id)
        started = changes.get("started_at", current.started_at)
        completed = changes.get("completed_at", current.completed_at)
        changes.update(_stamps(changes["status"], started, completed, _now()))
    return _found(store.update_assignment(org_id, assignment_id, changes), "agent assignment", assignment_id)


def delete_assignment(store: CatalogStore, org_id: str, assignment_id: str) -> None:
    if not store.delete_assignment(org_id, assignment_id):
        raise NotFound(f"agent assignment {assignment_id} not found")


def assignment_stats(store: CatalogStore, org_id: str, assignment_id: str) -> AgentStats:
    """The AgentStats of the assignment's agent (over all of that agent's assignments)."""
    a = get_assignment(store, org_id, assignment_id)
    return _found(store.agent_stats(org_id, a.agent_id), "agent", a.agent_id)


def recalculate_assignment(store: CatalogStore, org_id: str, assignment_id: str) -> AgentAssignment:
    return _found(store.recalculate_assignment(org_id, assignment_id), "agent assignment", assignment_id)


# -- inbox messages ------------------------------------------------------------------------------------------------

_MESSAGE_NULLABLE = frozenset({"task_id", "github_issue_number", "github_repo", "correlation_id", "reply_to_id"})


def content_hash(content: str) -> str:
    """Identity of a message's content (the seed keeps it for de-duplicating and search)."""
    return hashlib.sha256(content.encode()).hexdigest()


def create_message(store: CatalogStore, org_id: str, body: MessageCreate) -> Message:
    now = _now()
    fields = body.model_dump(exclude={"id", "created_at"})
    m = Message(id=_new_id(body.id), created_at=body.created_at or now, content_hash=content_hash(body.content),
                read_at=now if body.status == "read" else None,
                archived_at=now if body.status == "archived" else None, **fields)
    return _create(lambda: store.create_message(org_id, m))


def get_message(store: CatalogStore, org_id: str, message_id: str) -> Message:
    return _found(store.get_message(org_id, message_id), "message", message_id)


def list_messages(store: CatalogStore, org_id: str, q: MessageQuery) -> MessageList:
    items = store.list_messages(org_id, q)
    return MessageList(messages=items, count=len(items), limit=q.limit, offset=q.offset)


def update_message(store: CatalogStore, org_id: str, message_id: str, body: MessageUpdate) -> Message:
    changes = _changes(body, _MESSAGE_NULLABLE)
    if "content" in changes:
        changes["content_hash"] = content_hash(changes["content"])
    if "status" in changes:
        current = get_message(store, org_id, message_id)
        if changes["status"] == "read" and current.read_at is None:
            changes["read_at"] = _now()
        if changes["status"] == "archived" and current.archived_at is None:
            changes["archived_at"] = _now()
    return _found(store.update_message(org_id, message_id, changes), "message", message_id)


def delete_message(store: CatalogStore, org_id: str, message_id: str) -> None:
    if not store.delete_message(org_id, message_id):
        raise NotFound(f"message {message_id} not found")


def set_message_status(store: CatalogStore, org_id: str, message_id: str, status: MessageStatus) -> Message:
    return _found(store.set_message_status(org_id, message_id, status, _now()), "message", message_id)
