"""Entry point `hierarchy`: task, span, exec and session hierarchies, outliers, span summaries, event queue."""

from __future__ import annotations

import flask

from core.hierarchy import events, execs, outliers, sessions, span_tree, tasks
from core.hierarchy.models import (
    ClaudeCodeEventList,
    ClaudeCodeEventsQuery,
    ExecHierarchyQuery,
    ExecHierarchyWithMessages,
    OutlierAnalysis,
    OutlierQuery,
    SpanHierarchyQuery,
    SpanHierarchyResult,
    TaskHierarchy,
    TaskHierarchyQuery,
    TaskSpanSummary,
    TurnGroupedHierarchy,
)
from functions._api import Operation, serve

OPERATIONS: dict[str, Operation] = {
    "task_hierarchy": Operation(
        lambda c: tasks.task_hierarchy(c.services.store, c.org_id, c.path["task_id"], c.params), TaskHierarchy,
        TaskHierarchyQuery),
    "task_outliers": Operation(
        lambda c: outliers.task_outliers(c.services.store, c.org_id, c.path["task_id"], c.params), OutlierAnalysis,
        OutlierQuery),
    "task_span_summary": Operation(
        lambda c: tasks.task_span_summary(c.services.store, c.org_id, c.path["task_id"]), TaskSpanSummary),
    "span_hierarchy": Operation(
        lambda c: span_tree.span_hierarchy(c.services.store, c.org_id, c.params), SpanHierarchyResult,
        SpanHierarchyQuery),
    "exec_hierarchy": Operation(
        lambda c: execs.exec_hierarchy(c.services.store, c.org_id, c.params), ExecHierarchyWithMessages,
        ExecHierarchyQuery),
    "claude_code_events": Operation(
        lambda c: events.claude_code_events(c.services.store, c.org_id, c.params), ClaudeCodeEventList,
        ClaudeCodeEventsQuery),
    "claude_code_session_hierarchy": Operation(
        lambda c: sessions.turn_grouped(c.services.store, c.org_id, c.path["session_id"]), TurnGroupedHierarchy),
}


def hierarchy(request: flask.Request) -> flask.Response:
    return serve(request, "hierarchy", OPERATIONS)
