"""The one route table: which function owns which method + path (local server, OpenAPI and infra derive from it)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.errors import MethodNotAllowed, NotFound


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    operation: str
    summary: str
    pattern: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path)
        object.__setattr__(self, "pattern", re.compile(f"^{regex}/?$"))

    @property
    def scope(self) -> str:
        """The API-key scope a call needs: reads `read`, everything else `write`; telemetry posted by agents
        (OTLP, the legacy JSON ingest routes, Claude Code hooks) `ingest`, so an agent's key never needs more."""
        if self.operation == "ingest" or self.function in ("legacy_ingest", "hooks"):
            return "ingest"
        return "read" if self.method == "GET" else "write"


_API = "/api/observatory"


def _r(method: str, path: str, function: str, operation: str, summary: str) -> Route:
    return Route(method, f"{_API}{path}", function, operation, summary)


def _v1(method: str, path: str, operation: str, summary: str) -> Route:
    return Route(method, f"/api/v1{path}", "agent_sessions", operation, summary)


# Literal paths come before parameterised siblings (`/spans/enriched` before `/spans/{span_id}`).
ROUTES: tuple[Route, ...] = (
    Route("GET", "/healthz", "healthz", "healthz", "Readiness probe"),
    Route("POST", "/v1/traces", "ingest_traces", "ingest", "OTLP/HTTP traces"),
    Route("POST", "/v1/logs", "ingest_logs", "ingest", "OTLP/HTTP logs"),
    Route("POST", "/v1/metrics", "ingest_metrics", "ingest", "OTLP/HTTP metrics"),
    # `GET /` (the dashboard) comes before `POST /` so that the dispatchers' "first owner" of `/` is not OTLP.
    Route("GET", "/", "ui", "ui_page", "The web dashboard (HTML; no API key: it asks for one)"),
    Route("GET", "/ui/{asset}", "ui", "ui_asset", "A static file of the web dashboard (app.js, app.css, index.html)"),
    Route("POST", "/", "ingest_otlp", "ingest", "OTLP/JSON of any signal on one URL (Gemini CLI)"),
    # -- telemetry reads (function `query`) --------------------------------------------------------
    _r("GET", "/openapi.json", "query", "openapi", "This API as an OpenAPI 3.1 document"),
    _r("GET", "/traces", "query", "list_traces", "Trace summaries"),
    _r("GET", "/traces/{trace_id}", "query", "get_trace", "One trace with its spans"),
    _r("GET", "/sessions", "query", "list_sessions", "Agent sessions"),
    _r("GET", "/sessions/{session_id}", "query", "get_session", "One session"),
    _r("GET", "/sessions/{session_id}/tools/summary", "query", "session_tools_summary",
       "Tool calls of a session grouped by tool"),
    _r("GET", "/sessions/{session_id}/tools", "query", "session_tools", "Tool calls of a session"),
    _r("GET", "/sessions/{session_id}/llm-calls", "query", "session_llm_calls", "LLM calls of a session"),
    _r("GET", "/sessions/{session_id}/events", "query", "session_events", "Log events of a session"),
    _r("GET", "/sessions/{session_id}/metrics", "query", "session_metrics", "SessionMetricsSummary of a session"),
    _r("GET", "/telemetry/metrics", "query", "list_metrics", "Stored metric points"),
    # -- erasure (function `sessions`) -------------------------------------------------------------
    _r("DELETE", "/sessions/{session_id}", "sessions", "purge_session",
       "Erase a session and everything recorded for it"),
    # -- spans (function `spans`) ------------------------------------------------------------------
    _r("GET", "/spans", "spans", "list_spans", "Spans with filters"),
    _r("POST", "/spans", "spans", "create_span", "Create a span"),
    _r("GET", "/spans/enriched", "spans", "list_enriched_spans", "Spans with display names (optionally a tree)"),
    _r("GET", "/spans/{span_id}", "spans", "get_span", "One span"),
    _r("PUT", "/spans/{span_id}", "spans", "update_span", "Update a span"),
    _r("DELETE", "/spans/{span_id}", "spans", "delete_span", "Delete a span"),
    _r("GET", "/spans/{span_id}/enriched", "spans", "get_enriched_span", "One span with its tool input and result"),
    _r("GET", "/spans/{span_id}/events", "spans", "list_span_events", "Events of a span"),
    _r("POST", "/spans/{span_id}/events", "spans", "add_span_event", "Add an event to a span"),
    # -- workspaces (function `workspaces`) ----------------------------------------------------------
    _r("GET", "/workspaces", "workspaces", "list_workspaces", "Workspaces"),
    _r("POST", "/workspaces", "workspaces", "create_workspace", "Create a workspace"),
    _r("GET", "/workspaces/{workspace_id}", "workspaces", "get_workspace", "One workspace"),
    _r("PUT", "/workspaces/{workspace_id}", "workspaces", "update_workspace", "Update a workspace"),
    _r("DELETE", "/workspaces/{workspace_id}", "workspaces", "delete_workspace", "Delete a workspace"),
    _r("GET", "/workspaces/{workspace_id}/stats", "workspaces", "workspace_stats", "WorkspaceStats"),
    # -- tasks (function `tasks`) --------------------------------------------------------------------
    _r("GET", "/tasks", "tasks", "list_tasks", "Tasks"),
    _r("POST", "/tasks", "tasks", "create_task", "Create a task"),
    _r("GET", "/tasks/{task_id}", "tasks", "get_task", "One task"),
    _r("PUT", "/tasks/{task_id}", "tasks", "update_task", "Update a task"),
    _r("DELETE", "/tasks/{task_id}", "tasks", "delete_task", "Delete a task"),
    _r("GET", "/tasks/{task_id}/agents", "tasks", "task_agents", "Agent assignments of a task"),
    _r("GET", "/tasks/{task_id}/timeline", "tasks", "task_timeline", "Timeline of a task"),
    _r("POST", "/tasks/{task_id}/recalculate", "tasks", "recalculate_task",
       "Recompute a task's and its assignments' aggregates from their spans"),
    _r("GET", "/tasks/{task_id}/hierarchy", "hierarchy", "task_hierarchy",
       "Task -> agent assignments -> traces -> span tree (or a session's hierarchy)"),
    _r("GET", "/tasks/{task_id}/outliers", "hierarchy", "task_outliers", "Z-score outlier spans of a task"),
    _r("GET", "/tasks/{task_id}/span-summary", "hierarchy", "task_span_summary", "Span summary of a task"),
    # -- agent assignments (function `agents`) -------------------------------------------------------
    _r("POST", "/agents", "agents", "create_assignment", "Create an agent assignment"),
    _r("GET", "/agents/{assignment_id}", "agents", "get_assignment", "One agent assignment"),
    _r("PUT", "/agents/{assignment_id}", "agents", "update_assignment", "Update an agent assignment"),
    _r("DELETE", "/agents/{assignment_id}", "agents", "delete_assignment", "Delete an agent assignment"),
    _r("GET", "/agents/{assignment_id}/stats", "agents", "assignment_stats", "AgentStats of an assignment's agent"),
    _r("POST", "/agents/{assignment_id}/recalculate", "agents", "recalculate_assignment",
       "Recompute an assignment's aggregates from its spans"),
    # -- inbox messages (function `messages`) --------------------------------------------------------
    _r("GET", "/messages", "messages", "list_messages", "Inbox messages"),
    _r("POST", "/messages", "messages", "create_message", "Create a message"),
    _r("GET", "/messages/{message_id}", "messages", "get_message", "One message"),
    _r("PUT", "/messages/{message_id}", "messages", "update_message", "Update a message"),
    _r("DELETE", "/messages/{message_id}", "messages", "delete_message", "Delete a message"),
    _r("POST", "/messages/{message_id}/read", "messages", "read_message", "Mark a message read"),
    _r("POST", "/messages/{message_id}/archive", "messages", "archive_message", "Archive a message"),
    # -- aggregates (function `insights`) ------------------------------------------------------------
    _r("GET", "/metrics/summary", "insights", "metrics_summary", "MetricsSummary under the control-plane filter"),
    _r("GET", "/metrics/providers", "insights", "provider_comparison", "Provider comparison"),
    _r("GET", "/breakdowns/{dimension}", "insights", "breakdown",
       "Cost, tokens and calls by model, provider, source_type or workspace"),
    _r("GET", "/heatmap", "insights", "heatmap", "Daily activity heatmap"),
    # -- hierarchies (function `hierarchy`) ----------------------------------------------------------
    _r("GET", "/hierarchy/spans", "hierarchy", "span_hierarchy", "Parent-span tree with node types"),
    _r("GET", "/hierarchy/exec", "hierarchy", "exec_hierarchy", "Exec hierarchy grouped by triggering message"),
    _r("GET", "/claude-code/events", "hierarchy", "claude_code_events", "Sessions as event-queue items"),
    _r("GET", "/claude-code/sessions/{session_id}/hierarchy", "hierarchy", "claude_code_session_hierarchy",
       "Turns of a session with the tools each ran"),
    # -- execution chains, stages, approvals, evals (function `chains`) ------------------------------
    _r("GET", "/chains", "chains", "list_chains", "Chain summaries with stage count, max stage and agent flow"),
    _r("POST", "/chains", "chains", "create_chain", "Create an execution chain"),
    _r("GET", "/chains/lookup", "chains", "lookup_chain", "Find a chain by message id, task id or GitHub issue"),
    _r("GET", "/chains/stats", "chains", "chain_stats", "ChainStats"),
    _r("GET", "/chains/stats/by-agent", "chains", "chain_stats_by_agent", "Chain stats per agent"),
    _r("GET", "/chains/status-counts", "chains", "chain_status_counts", "ChainStatusCounts"),
    _r("GET", "/chains/evals", "chains", "list_eval_chains", "Eval-suite chains"),
    _r("GET", "/chains/{chain_id}", "chains", "get_chain", "One chain by id or unique id prefix"),
    _r("DELETE", "/chains/{chain_id}", "chains", "delete_chain", "Delete a chain and its stages"),
    _r("PUT", "/chains/{chain_id}/status", "chains", "update_chain_status", "Set a chain's status"),
    _r("POST", "/chains/{chain_id}/metrics", "chains", "add_chain_metrics",
       "Add amounts to a chain's metrics (Idempotency-Key)"),
    _r("GET", "/chains/{chain_id}/journey", "chains", "chain_journey", "The chain's narrative, one step per stage"),
    _r("GET", "/chains/{chain_id}/env", "chains", "chain_env",
       "Environment an executor needs so its spans link to the chain"),
    _r("POST", "/chains/{chain_id}/stages", "chains", "create_stage", "Create the next stage of a chain"),
    _r("GET", "/stages/{stage_id}", "chains", "get_stage", "One stage"),
    _r("PUT", "/stages/{stage_id}/status", "chains", "update_stage_status", "Set a stage's status"),
    _r("PUT", "/stages/{stage_id}/session", "chains", "link_stage_session", "Link a session to a stage"),
    _r("PUT", "/stages/{stage_id}/approval", "chains", "stage_approval", "Request or decide a stage's approval"),
    _r("POST", "/stages/{stage_id}/metrics", "chains", "add_stage_metrics",
       "Add amounts to a stage's metrics (Idempotency-Key)"),
    _r("POST", "/stages/{stage_id}/error", "chains", "stage_error", "Record a stage error (stage fails)"),
    _r("GET", "/stages/{stage_id}/spans", "chains", "stage_spans", "Spans of a stage (light, paged)"),
    _r("GET", "/stages/{stage_id}/eval-assessment", "chains", "get_eval_assessment", "A stage's EvalAssessment"),
    _r("PUT", "/stages/{stage_id}/eval-assessment", "chains", "put_eval_assessment", "Store an EvalAssessment"),
    _r("GET", "/evals", "chains", "query_evals", "Eval results with the seed's filters"),
    _r("POST", "/spans/{span_id}/link", "chains", "link_span", "Link a span to a chain and stage"),
    _r("GET", "/approvals/pending", "chains", "pending_approvals", "Stages awaiting approval, oldest first"),
    # -- Claude Code hooks (function `hooks`) and the live event log (function `events`) -------------
    _r("POST", "/hooks", "hooks", "hook", "A Claude Code hook payload"),
    _r("GET", "/events", "events", "list_events", "The event log (JSON pages with a cursor, or an event stream)"),
    # -- operating it (function `ops`) ---------------------------------------------------------------
    _r("GET", "/ops/status", "ops", "ops_status",
       "Outbox backlog, aggregate lag, dead letters, rejected items by reason, store health"),
    # -- legacy JSON ingest (function `legacy_ingest`) -----------------------------------------------
    _r("POST", "/ingest/claude", "legacy_ingest", "ingest_claude", "Session totals as ClaudeMetrics JSON"),
    _r("POST", "/ingest/otel", "legacy_ingest", "ingest_otel", "Gemini-style JSON spans"),
    # -- the agent-session store (function `agent_sessions`, on the Analytics port) -----------------------------
    _v1("GET", "/sessions", "v1_list_sessions", "Browsable agent sessions, newest first, cursor-paged"),
    _v1("GET", "/sessions/{session_id}", "v1_get_session", "One agent session with its commit count"),
    _v1("GET", "/sessions/{session_id}/messages", "v1_session_messages", "Messages with their tool calls"),
    _v1("GET", "/sessions/{session_id}/gitlinks", "v1_session_git_links", "Commits and PRs of a session"),
    _v1("GET", "/sessions/{session_id}/stars", "v1_session_stars", "Stars of a session"),
    _v1("POST", "/sessions/{session_id}/stars", "v1_star_session", "Star a session for a user"),
    _v1("DELETE", "/sessions/{session_id}/stars", "v1_unstar_session", "Withdraw a user's star"),
    _v1("GET", "/sessions/{session_id}/pins", "v1_session_pins", "Pinned messages of a session"),
    _v1("POST", "/sessions/{session_id}/pins", "v1_pin_message", "Pin a message for a user (with a note)"),
    _v1("DELETE", "/sessions/{session_id}/pins", "v1_unpin_message", "Withdraw a user's pin"),
    _v1("GET", "/session-deletes", "v1_session_deletes", "Sessions users deleted"),
    _v1("POST", "/session-deletes", "v1_delete_session", "Record a user's deletion of a session"),
    _v1("DELETE", "/session-deletes", "v1_undelete_session", "Withdraw a user's deletion"),
    _v1("GET", "/users", "v1_users", "Users of browsable sessions"),
    _v1("GET", "/projects", "v1_projects", "Projects of browsable sessions"),
    _v1("GET", "/agents", "v1_agents", "Agent types of browsable sessions"),
    _v1("GET", "/search", "v1_search", "Search messages and tool calls (snippets with highlights)"),
    _v1("GET", "/gitlinks", "v1_git_links", "Sessions behind a commit (sha) or pull request (pr)"),
    _v1("GET", "/analytics/usage", "v1_usage", "Sessions, messages, commits and tokens per user"),
    _v1("GET", "/analytics/heatmap", "v1_heatmap", "Sessions by day of week and hour"),
    _v1("GET", "/analytics/tools", "v1_tools", "The 20 most used tools"),
    _v1("GET", "/analytics/daily", "v1_daily", "Sessions, messages and output tokens per day"),
    _v1("GET", "/analytics/tokens-by-model", "v1_tokens_by_model", "Output and context tokens per model"),
    _v1("POST", "/sync", "v1_sync", "Push sessions, messages and tool calls (secrets masked, git links extracted)"),
)


# CloudEvent functions (Pub/Sub push): entry points in functions/<name>.py, not HTTP routes.
WORKERS: tuple[str, ...] = ("aggregate", "export_clickhouse", "retention")

# Every function that touches the Analytics port (the aggregate worker exports the session rollups it recomputes).
# Embedded ClickHouse opens in one process only (DESIGN §8), so where analytics is embedded these share one
# process: the local stack forwards their requests to it, the emulated cloud hosts them together.
ANALYTICS_FUNCTIONS: tuple[str, ...] = ("agent_sessions", "insights", "export_clickhouse", "aggregate")


def match(path: str, function: str | None = None) -> list[tuple[Route, dict[str, str]]]:
    """Every route (optionally of one function) whose path matches, with its path parameters."""
    found = []
    for route in ROUTES:
        if function is not None and route.function != function:
            continue
        m = route.pattern.match(path)
        if m:
            found.append((route, m.groupdict()))
    return found


def resolve(method: str, path: str, function: str | None = None) -> tuple[Route, dict[str, str]]:
    """The route serving ``method path``; NotFound when no path matches, MethodNotAllowed when no method does.

    A literal segment wins over a parameter (routes are ordered so); among routes matching the path, the
    first with the method serves it."""
    candidates = match(path, function)
    if not candidates:
        raise NotFound(f"no route for {path}")
    for route, params in candidates:
        if route.method == method or (method == "HEAD" and route.method == "GET"):
            return route, params
    allowed = sorted({r.method for r, _ in candidates})
    raise MethodNotAllowed(f"method {method} not allowed on {candidates[0][0].path} (allowed: {', '.join(allowed)})")
