"""Entry point `query`: telemetry reads under /api/observatory (scope `read`, the caller's org only)."""

from __future__ import annotations

from typing import Any

import flask
from pydantic import BaseModel, ConfigDict

from core import queries
from core.models import (
    EventList,
    LlmCallList,
    MetricPointList,
    MetricQuery,
    PageQuery,
    SessionList,
    SessionMetricsSummary,
    SessionView,
    ToolCallList,
    ToolSummaryList,
    TraceDetail,
    TraceList,
    TraceQuery,
)
from functions._api import Call, Operation, serve


class WorkspaceScope(BaseModel):
    """`workspace`: answer 403 for a session of another workspace (the seed's guard)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    workspace: str | None = None


def _openapi(call: Call) -> dict[str, Any]:
    from functions._openapi import openapi_document

    return openapi_document()


OPERATIONS: dict[str, Operation] = {
    "openapi": Operation(_openapi, None),
    "list_traces": Operation(
        lambda c: queries.list_traces(c.services.store, c.org_id, c.params, c.services.trace_archives), TraceList,
        TraceQuery),
    "get_trace": Operation(
        lambda c: queries.get_trace(c.services.store, c.org_id, c.path["trace_id"], c.services.trace_archives),
        TraceDetail),
    "list_sessions": Operation(
        lambda c: queries.list_sessions(c.services.store, c.org_id, c.params.limit, c.params.offset), SessionList,
        PageQuery),
    "get_session": Operation(
        lambda c: queries.get_session(c.services.store, c.org_id, c.path["session_id"], c.params.workspace),
        SessionView, WorkspaceScope),
    "session_tools": Operation(
        lambda c: queries.session_tools(c.services.store, c.org_id, c.path["session_id"], c.params.workspace),
        ToolCallList, WorkspaceScope),
    "session_tools_summary": Operation(
        lambda c: queries.session_tools_summary(c.services.store, c.org_id, c.path["session_id"],
                                                c.params.workspace),
        ToolSummaryList, WorkspaceScope),
    "session_llm_calls": Operation(
        lambda c: queries.session_llm_calls(c.services.store, c.org_id, c.path["session_id"]), LlmCallList),
    "session_events": Operation(
        lambda c: queries.session_events(c.services.store, c.org_id, c.path["session_id"]), EventList),
    "session_metrics": Operation(
        lambda c: queries.session_metrics(c.services.store, c.services.prices, c.org_id, c.path["session_id"]),
        SessionMetricsSummary),
    "list_metrics": Operation(lambda c: queries.list_metrics(c.services.store, c.org_id, c.params),
                              MetricPointList, MetricQuery),
}


def query(request: flask.Request) -> flask.Response:
    return serve(request, "query", OPERATIONS)
