"""Versioned SQLite migrations of the local store; applied in order, each exactly once."""

from __future__ import annotations

import importlib
import sqlite3
import time

# The spans table's columns in insert order (the ingest upsert and the API's span writes share it).
SPAN_COLUMNS = (
    "org_id", "trace_id", "span_id", "parent_span_id", "name", "kind", "status", "status_message", "start_ns",
    "end_ns", "duration_ms", "session_id", "service_name", "source_type", "workspace", "model", "provider",
    "tokens_in", "tokens_out", "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens",
    "provided_cost_usd", "computed_cost_usd", "cost_usd", "cache_savings_usd", "unpriced", "task_id",
    "assignment_id", "chain_id", "stage_id", "message_id", "attributes", "resource_attributes", "events",
)

# Every table is keyed by (org_id, natural key): a replayed batch hits the same rows.
MIGRATIONS: list[tuple[int, str]] = [
    (1, """
CREATE TABLE spans (
    org_id TEXT NOT NULL, trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_span_id TEXT,
    name TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL, status_message TEXT,
    start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, duration_ms REAL NOT NULL,
    session_id TEXT, service_name TEXT, source_type TEXT NOT NULL, workspace TEXT,
    model TEXT, provider TEXT, tokens_in INTEGER NOT NULL DEFAULT 0, tokens_out INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0, cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0, provided_cost_usd REAL, computed_cost_usd REAL,
    cost_usd REAL NOT NULL DEFAULT 0, cache_savings_usd REAL NOT NULL DEFAULT 0, unpriced INTEGER NOT NULL DEFAULT 0,
    task_id TEXT, assignment_id TEXT, chain_id TEXT, stage_id TEXT, message_id TEXT,
    attributes TEXT NOT NULL, resource_attributes TEXT NOT NULL, events TEXT
);
CREATE UNIQUE INDEX spans_key ON spans(org_id, trace_id, span_id);
CREATE INDEX spans_start ON spans(org_id, start_ns DESC);
CREATE INDEX spans_session ON spans(org_id, session_id, start_ns) WHERE session_id IS NOT NULL;
CREATE INDEX spans_task ON spans(org_id, task_id) WHERE task_id IS NOT NULL;

CREATE TABLE llm_calls (
    org_id TEXT NOT NULL, call_key TEXT NOT NULL, session_id TEXT, time_ns INTEGER NOT NULL, duration_ms REAL,
    model TEXT, provider TEXT, tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL, cache_creation_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
    provided_cost_usd REAL, computed_cost_usd REAL, cost_usd REAL NOT NULL, cache_savings_usd REAL NOT NULL,
    unpriced INTEGER NOT NULL, request_id TEXT, response_id TEXT, trace_id TEXT, span_id TEXT, event_key TEXT,
    prompt_id TEXT, success INTEGER NOT NULL, source TEXT NOT NULL,
    task_id TEXT, assignment_id TEXT, chain_id TEXT, stage_id TEXT,
    PRIMARY KEY (org_id, call_key)
);
CREATE INDEX llm_calls_request ON llm_calls(org_id, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX llm_calls_response ON llm_calls(org_id, response_id) WHERE response_id IS NOT NULL;
CREATE INDEX llm_calls_session ON llm_calls(org_id, session_id, time_ns);

CREATE TABLE tool_calls (
    org_id TEXT NOT NULL, tool_use_id TEXT NOT NULL, session_id TEXT, tool_name TEXT, time_ns INTEGER,
    duration_ms REAL, success INTEGER, error TEXT, decision TEXT, decision_source TEXT, approval_wait_ms REAL,
    tool_input TEXT, tool_result TEXT, trace_id TEXT, span_id TEXT,
    PRIMARY KEY (org_id, tool_use_id)
);
CREATE INDEX tool_calls_session ON tool_calls(org_id, session_id, time_ns);
CREATE INDEX tool_calls_span ON tool_calls(org_id, trace_id, span_id) WHERE span_id IS NOT NULL;

CREATE TABLE events (
    org_id TEXT NOT NULL, event_key TEXT NOT NULL, name TEXT NOT NULL, dialect TEXT NOT NULL,
    time_ns INTEGER NOT NULL, session_id TEXT, prompt_id TEXT, trace_id TEXT, span_id TEXT, severity TEXT,
    body TEXT, attributes TEXT NOT NULL, resource_attributes TEXT NOT NULL,
    PRIMARY KEY (org_id, event_key)
);
CREATE INDEX events_session ON events(org_id, session_id, time_ns);
CREATE INDEX events_time ON events(org_id, time_ns);

CREATE TABLE metric_points (
    org_id TEXT NOT NULL, series_key TEXT NOT NULL, start_ns INTEGER NOT NULL, time_ns INTEGER NOT NULL,
    name TEXT NOT NULL, metric_type TEXT NOT NULL, temporality TEXT NOT NULL, value REAL NOT NULL,
    session_id TEXT, model TEXT, label_type TEXT, attributes TEXT NOT NULL, resource_attributes TEXT NOT NULL,
    PRIMARY KEY (org_id, series_key, start_ns, time_ns)
);
CREATE INDEX metric_points_session ON metric_points(org_id, session_id, name);
CREATE INDEX metric_points_name ON metric_points(org_id, name, time_ns);

CREATE TABLE sessions (
    org_id TEXT NOT NULL, session_id TEXT NOT NULL, first_seen_ns INTEGER NOT NULL, last_seen_ns INTEGER NOT NULL,
    service_name TEXT, source_type TEXT NOT NULL, workspace TEXT, user_id TEXT, user_email TEXT,
    account_org TEXT, app_version TEXT, terminal_type TEXT, models TEXT NOT NULL DEFAULT '[]',
    rollup TEXT, rollup_ns INTEGER,
    PRIMARY KEY (org_id, session_id)
);
CREATE INDEX sessions_recent ON sessions(org_id, last_seen_ns DESC);

CREATE TABLE session_links (
    org_id TEXT NOT NULL, session_id TEXT NOT NULL, task_id TEXT, assignment_id TEXT,
    PRIMARY KEY (org_id, session_id)
);

CREATE TABLE redactions (
    org_id TEXT NOT NULL, request_digest TEXT NOT NULL, kind TEXT NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (org_id, request_digest, kind)
);

CREATE TABLE rejections (
    org_id TEXT NOT NULL, request_digest TEXT NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (org_id, request_digest, reason)
);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL,
    created_ns INTEGER NOT NULL, claimed_ns INTEGER, attempts INTEGER NOT NULL DEFAULT 0
);
"""),
]


# Each API area's mixin module keeps its own migrations, numbered in its own range so areas never collide:
# catalog 10-19, insights 20-29, span_views 30-39, erasure 40-49, chains 50-59, hooks 60-69, event_log 70-79,
# maintenance 80-89.
_AREAS = ("catalog", "insights", "span_views", "erasure", "chains", "hooks", "event_log", "maintenance")


def all_migrations() -> list[tuple[int, str]]:
    """The telemetry tables' migrations plus every area's, in version order."""
    found = list(MIGRATIONS)
    for area in _AREAS:
        found += importlib.import_module(f"core.adapters.sqlite.{area}").MIGRATIONS
    versions = [v for v, _ in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"duplicate migration versions: {sorted(versions)}")
    return sorted(found)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations; returns the schema version now in force."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_ns INTEGER)")
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_version")}
    migrations = all_migrations()
    for version, script in migrations:
        if version in applied:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have applied it between our read and the lock.
            if conn.execute("SELECT 1 FROM schema_version WHERE version = ?", (version,)).fetchone() is None:
                for statement in script.split(";\n"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO schema_version VALUES (?, ?)", (version, time.time_ns()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return max(v for v, _ in migrations)
