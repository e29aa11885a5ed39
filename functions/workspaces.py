"""Entry point `workspaces`: workspaces of the caller's org and their stats."""

from __future__ import annotations

import flask

from core.catalog import service
from core.catalog.models import (
    Workspace,
    WorkspaceCreate,
    WorkspaceList,
    WorkspaceQuery,
    WorkspaceStats,
    WorkspaceUpdate,
)
from functions._api import Operation, serve

OPERATIONS: dict[str, Operation] = {
    "list_workspaces": Operation(lambda c: service.list_workspaces(c.services.store, c.org_id, c.params),
                                 WorkspaceList, WorkspaceQuery),
    "create_workspace": Operation(lambda c: service.create_workspace(c.services.store, c.org_id, c.body),
                                  Workspace, body=WorkspaceCreate, status=201),
    "get_workspace": Operation(
        lambda c: service.get_workspace(c.services.store, c.org_id, c.path["workspace_id"]), Workspace),
    "update_workspace": Operation(
        lambda c: service.update_workspace(c.services.store, c.org_id, c.path["workspace_id"], c.body),
        Workspace, body=WorkspaceUpdate),
    "delete_workspace": Operation(
        lambda c: service.delete_workspace(c.services.store, c.org_id, c.path["workspace_id"]), None, status=204),
    "workspace_stats": Operation(
        lambda c: service.workspace_stats(c.services.store, c.org_id, c.path["workspace_id"]), WorkspaceStats),
}


def workspaces(request: flask.Request) -> flask.Response:
    return serve(request, "workspaces", OPERATIONS)
