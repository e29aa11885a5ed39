"""Entry point `hooks`: Claude Code hook payloads under /api/observatory/hooks (scope `ingest`)."""

from __future__ import annotations

import flask

from core.hooks import HookAck, HookPayload, receive_hook
from functions._api import Call, Operation, serve


def _hook(call: Call) -> HookAck:
    return receive_hook(call.services.store, call.org_id, call.body, call.headers)


OPERATIONS: dict[str, Operation] = {
    "hook": Operation(_hook, HookAck, body=HookPayload),
}


def hooks(request: flask.Request) -> flask.Response:
    return serve(request, "hooks", OPERATIONS)
