"""The facts a session's rollup is computed from, selected column by column (no read model per row)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from core.metric_math import PointIn
from core.ports.insights import API_ERROR_EVENTS
from core.session_facts import CallFact, SessionFacts

_CALLS = ("SELECT model, time_ns, tokens_in, tokens_out, cache_read_tokens, cache_creation_tokens, reasoning_tokens, "
          "cost_usd, cache_savings_usd, unpriced, success FROM llm_calls WHERE org_id = ? AND session_id = ? "
          "ORDER BY time_ns")
_POINTS = ("SELECT series_key, name, temporality, start_ns, time_ns, value, model, label_type FROM metric_points "
           "WHERE org_id = ? AND session_id = ? ORDER BY time_ns DESC")
_TOOLS = ("SELECT COUNT(*), COALESCE(SUM(success = 0), 0) FROM tool_calls WHERE org_id = ? AND session_id = ? "
          "AND (tool_name IS NOT NULL OR success IS NOT NULL)")
_API_ERRORS = (f"SELECT COUNT(*) FROM events WHERE org_id = ? AND session_id = ? "
               f"AND name IN ({','.join('?' * len(API_ERROR_EVENTS))})")


def _dt(ns: int | None) -> datetime | None:
    return datetime.fromtimestamp(ns / 1e9, UTC) if ns else None  # as the session view renders it


def session_facts(conn: sqlite3.Connection, org_id: str, session_id: str) -> SessionFacts | None:
    key = (org_id, session_id)
    session = conn.execute("SELECT first_seen_ns, last_seen_ns FROM sessions WHERE org_id = ? AND session_id = ?",
                           key).fetchone()
    if session is None:
        return None
    calls = [CallFact(m, t, ti, to, cr, cc, rs, cost, sav, bool(unpriced), bool(ok))
             for m, t, ti, to, cr, cc, rs, cost, sav, unpriced, ok in conn.execute(_CALLS, key)]
    points = [PointIn(series, name, temporality, start or 0, t, value, model, label)
              for series, name, temporality, start, t, value, model, label in conn.execute(_POINTS, key)]
    tools, failed = conn.execute(_TOOLS, key).fetchone()
    return SessionFacts(
        started_at=_dt(session[0]), last_seen_at=_dt(session[1]), calls=calls, points=points, tool_calls=tools,
        failed_tool_calls=failed, api_errors=conn.execute(_API_ERRORS, (*key, *API_ERROR_EVENTS)).fetchone()[0],
        span_count=conn.execute("SELECT COUNT(*) FROM spans WHERE org_id = ? AND session_id = ?", key).fetchone()[0],
    )
