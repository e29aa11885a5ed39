"""Entry point `ops`: the pipeline and store status for operators (scope `read`)."""

from __future__ import annotations

import flask

from core.ops import OpsStatus, ops_status
from functions._api import Operation, serve

OPERATIONS: dict[str, Operation] = {
    "ops_status": Operation(lambda c: ops_status(c.services.store, c.org_id), OpsStatus),
}


def ops(request: flask.Request) -> flask.Response:
    return serve(request, "ops", OPERATIONS)
