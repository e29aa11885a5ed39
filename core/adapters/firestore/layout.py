"""Firestore document layout: org-scoped collections and natural-key document ids (a replay hits the same doc)."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

# Collections under orgs/{org_id}/ (every fact of an org lives below its org document).
SPANS = "spans"              # {trace_id}:{span_id}
TRACES = "traces"            # {trace_id}: the trace's start (min over its spans), for the trace list
LLM_CALLS = "llm_calls"      # {call_key}
TOOL_CALLS = "tool_calls"    # {tool_use_id}
EVENTS = "events"            # {event_key}
METRIC_POINTS = "metric_points"  # {series_key}:{start_ns}:{time_ns}
SESSIONS = "sessions"        # {session_id}
SESSION_LINKS = "session_links"  # {session_id}
REDACTIONS = "redactions"    # {request_digest}:{key}
REJECTIONS = "rejections"    # {request_digest}:{reason}
EVENT_LOG = "event_log"      # {dedup_key}#{i} or a sequence id
TASKS = "tasks"              # {task_id} (catalog area; read here only for an event's workspace)
# Top level: the outbox is one queue across orgs (the port's outbox methods take no org).
OUTBOX = "outbox"            # {id:020d}

# Fact collections carry `expire_at` so a Firestore TTL policy drops them after the retention period.
FACT_COLLECTIONS = (SPANS, TRACES, LLM_CALLS, TOOL_CALLS, EVENTS, METRIC_POINTS, SESSIONS, SESSION_LINKS,
                    REDACTIONS, REJECTIONS, EVENT_LOG)
# Entity collections (catalog, chains): no TTL; listed so indexes and tooling know them.
ENTITY_COLLECTIONS = ("workspaces", "tasks", "agent_assignments", "messages",
                      "execution_chains", "chain_stages", "chain_metric_entries", "chain_stage_errors")
TTL_FIELD = "expire_at"
# DESIGN §7 retention defaults: spans, metric points and the event log 30 days; sessions, calls 90 days.
RETENTION_DAYS: dict[str, int] = {
    SPANS: 30, TRACES: 30, METRIC_POINTS: 30, EVENT_LOG: 30, EVENTS: 30, REDACTIONS: 30, REJECTIONS: 30,
    SESSIONS: 90, SESSION_LINKS: 90, LLM_CALLS: 90, TOOL_CALLS: 90,
}

_MAX_ID_BYTES = 700  # Firestore allows 1,500 bytes per id; long natural keys are hashed below this


def part(value: object) -> str:
    """One component of a document id: '/' (and '%', ':' so components stay unambiguous) percent-encoded."""
    return quote(str(value), safe="-_.~!$&'()*+,;=@ ")


def doc_id(*parts: object) -> str:
    """Natural-key document id; ids Firestore reserves (`.`, `..`, `__x__`) or too long are made safe."""
    text = ":".join(part(p) for p in parts)
    if len(text.encode()) > _MAX_ID_BYTES:
        text = text[:200] + "~" + hashlib.sha256(text.encode()).hexdigest()
    if text in (".", "..") or (text.startswith("__") and text.endswith("__")) or not text:
        text = "~" + text
    return text


def org_path(org_id: str, collection: str, *key: object) -> str:
    """orgs/{org}/{collection}/{natural key}."""
    return f"orgs/{part(org_id) or '~'}/{collection}/{doc_id(*key)}"


def outbox_path(message_id: int) -> str:
    return f"{OUTBOX}/{message_id:020d}"


def expire_at(collection: str, retention: dict[str, int] | None = None, now: datetime | None = None) -> datetime:
    """When a fact document of ``collection`` written now expires (the TTL policy's field value)."""
    days = (retention or RETENTION_DAYS).get(collection, RETENTION_DAYS[collection])
    return (now or datetime.now(UTC)) + timedelta(days=days)


def span_roles(name: str | None, model: str | None, tokens_in: int, tokens_out: int) -> dict[str, bool]:
    """Derived fields stored on every span document, so an assignment's tool calls and turns are two
    aggregation queries instead of a read of every span: a tool span's name contains `tool.` (any ASCII case,
    as SQLite's LIKE); a turn is any other span that names a model or counts tokens."""
    tool = "tool." in (name or "").lower()
    return {"tool_span": tool, "turn_span": not tool and (model is not None or tokens_in > 0 or tokens_out > 0)}


_seq_lock = threading.Lock()
_last_seq = 0


def sequence_id() -> int:
    """Time-ordered id without a shared counter document: microseconds x 1000 + 3 random digits (two writers in
    the same microsecond rarely draw the same digits), strictly increasing within a process."""
    global _last_seq
    with _seq_lock:
        candidate = (time.time_ns() // 1000) * 1000 + random.randrange(1000)  # noqa: S311 - not a secret
        _last_seq = max(candidate, _last_seq + 1)
        return _last_seq
