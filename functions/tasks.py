"""Entry point `tasks`: tasks of the caller's org, their agent assignments, timeline and recomputed totals."""

from __future__ import annotations

import flask

from core.catalog import service
from core.catalog.models import (
    AssignmentList,
    Task,
    TaskCreate,
    TaskList,
    TaskQuery,
    TaskUpdate,
    TimelineList,
    TimelineQuery,
)
from functions._api import Operation, serve

OPERATIONS: dict[str, Operation] = {
    "list_tasks": Operation(lambda c: service.list_tasks(c.services.store, c.org_id, c.params), TaskList, TaskQuery),
    "create_task": Operation(lambda c: service.create_task(c.services.store, c.org_id, c.body), Task,
                             body=TaskCreate, status=201),
    "get_task": Operation(lambda c: service.get_task(c.services.store, c.org_id, c.path["task_id"]), Task),
    "update_task": Operation(
        lambda c: service.update_task(c.services.store, c.org_id, c.path["task_id"], c.body), Task, body=TaskUpdate),
    "delete_task": Operation(
        lambda c: service.delete_task(c.services.store, c.org_id, c.path["task_id"]), None, status=204),
    "task_agents": Operation(
        lambda c: service.task_agents(c.services.store, c.org_id, c.path["task_id"]), AssignmentList),
    "task_timeline": Operation(
        lambda c: service.task_timeline(c.services.store, c.org_id, c.path["task_id"], c.params), TimelineList,
        TimelineQuery),
    "recalculate_task": Operation(
        lambda c: service.recalculate_task(c.services.store, c.org_id, c.path["task_id"]), Task),
}


def tasks(request: flask.Request) -> flask.Response:
    return serve(request, "tasks", OPERATIONS)
