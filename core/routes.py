"""The one route table: which function owns which method + path (local server, OpenAPI and infra derive from it)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Route:
    methods: tuple[str, ...]
    path: str
    function: str
    operation: str
    summary: str
    pattern: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path)
        object.__setattr__(self, "pattern", re.compile(f"^{regex}/?$"))


_API = "/api/observatory"
ROUTES: tuple[Route, ...] = (
    Route(("GET",), "/healthz", "healthz", "healthz", "Readiness probe"),
    Route(("POST",), "/v1/traces", "ingest_traces", "ingest", "OTLP/HTTP traces"),
    Route(("POST",), "/v1/logs", "ingest_logs", "ingest", "OTLP/HTTP logs"),
    Route(("POST",), "/v1/metrics", "ingest_metrics", "ingest", "OTLP/HTTP metrics"),
    Route(("POST",), "/", "ingest_otlp", "ingest", "OTLP/JSON of any signal on one URL (Gemini CLI)"),
    Route(("GET",), f"{_API}/traces", "query", "list_traces", "Trace summaries"),
    Route(("GET",), f"{_API}/traces/{{trace_id}}", "query", "get_trace", "One trace with its spans"),
    Route(("GET",), f"{_API}/spans", "query", "list_spans", "Spans with filters"),
    Route(("GET",), f"{_API}/sessions", "query", "list_sessions", "Agent sessions"),
    Route(("GET",), f"{_API}/sessions/{{session_id}}", "query", "get_session", "One session"),
    Route(("GET",), f"{_API}/sessions/{{session_id}}/tools", "query", "session_tools", "Tool calls of a session"),
    Route(("GET",), f"{_API}/sessions/{{session_id}}/llm-calls", "query", "session_llm_calls",
          "LLM calls of a session"),
    Route(("GET",), f"{_API}/sessions/{{session_id}}/events", "query", "session_events", "Log events of a session"),
    Route(("GET",), f"{_API}/sessions/{{session_id}}/metrics", "query", "session_metrics",
          "SessionMetricsSummary of a session"),
    Route(("GET",), f"{_API}/telemetry/metrics", "query", "list_metrics", "Stored metric points"),
)


def match(path: str, function: str | None = None) -> tuple[Route, dict[str, str]] | None:
    """The route owning ``path`` (optionally only among one function's routes) and its path parameters."""
    for route in ROUTES:
        if function is not None and route.function != function:
            continue
        m = route.pattern.match(path)
        if m:
            return route, m.groupdict()
    return None
