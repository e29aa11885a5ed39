"""Entry point `sessions`: erasure of a session under /api/observatory/sessions/{session_id} (scope `write`)."""

from __future__ import annotations

import flask

from core import erasure
from functions._api import Call, Operation, serve


def _purge(call: Call) -> None:
    erasure.purge_session(call.services.store, call.org_id, call.path["session_id"])


OPERATIONS: dict[str, Operation] = {
    "purge_session": Operation(_purge, None, status=204),
}


def sessions(request: flask.Request) -> flask.Response:
    return serve(request, "sessions", OPERATIONS)
