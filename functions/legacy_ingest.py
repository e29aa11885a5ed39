"""Entry point `legacy_ingest`: ClaudeMetrics and Gemini-style JSON spans under /api/observatory/ingest."""

from __future__ import annotations

import flask
from pydantic import BaseModel, ConfigDict

from core import legacy_ingest as legacy
from core.legacy_ingest import ClaudeIngestResult, ClaudeMetrics, GeminiSpans, Id, OtelIngestResult
from functions._api import Call, Operation, serve


class OtelQuery(BaseModel):
    """`task_id` links every span of the request to a task (else the `X-Task-ID` header does)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    task_id: Id | None = None


def _claude(call: Call) -> ClaudeIngestResult:
    s = call.services
    return legacy.ingest_claude(s.ingest, s.prices, call.org_id, call.body)


def _otel(call: Call) -> OtelIngestResult:
    s = call.services
    task_id = call.params.task_id or call.headers.get("X-Task-ID")
    return legacy.ingest_gemini(s.ingest, s.prices, call.org_id, call.body, task_id)


OPERATIONS: dict[str, Operation] = {
    "ingest_claude": Operation(_claude, ClaudeIngestResult, body=ClaudeMetrics, status=201),
    "ingest_otel": Operation(_otel, OtelIngestResult, OtelQuery, GeminiSpans, status=201),
}


def legacy_ingest(request: flask.Request) -> flask.Response:
    return serve(request, "legacy_ingest", OPERATIONS)
