"""Entry point `agents`: agent assignments of the caller's org, their agent's stats and recomputed totals."""

from __future__ import annotations

import flask

from core.catalog import service
from core.catalog.models import AgentAssignment, AgentStats, AssignmentCreate, AssignmentUpdate
from functions._api import Operation, serve

OPERATIONS: dict[str, Operation] = {
    "create_assignment": Operation(lambda c: service.create_assignment(c.services.store, c.org_id, c.body),
                                   AgentAssignment, body=AssignmentCreate, status=201),
    "get_assignment": Operation(
        lambda c: service.get_assignment(c.services.store, c.org_id, c.path["assignment_id"]), AgentAssignment),
    "update_assignment": Operation(
        lambda c: service.update_assignment(c.services.store, c.org_id, c.path["assignment_id"], c.body),
        AgentAssignment, body=AssignmentUpdate),
    "delete_assignment": Operation(
        lambda c: service.delete_assignment(c.services.store, c.org_id, c.path["assignment_id"]), None, status=204),
    "assignment_stats": Operation(
        lambda c: service.assignment_stats(c.services.store, c.org_id, c.path["assignment_id"]), AgentStats),
    "recalculate_assignment": Operation(
        lambda c: service.recalculate_assignment(c.services.store, c.org_id, c.path["assignment_id"]),
        AgentAssignment),
}


def agents(request: flask.Request) -> flask.Response:
    return serve(request, "agents", OPERATIONS)
