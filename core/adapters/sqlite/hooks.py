"""SqliteHooks: the SQL of the hooks API area on SqliteBase (migrations 60-69 below)."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

from core.adapters.sqlite.base import SqliteBase
from core.adapters.sqlite.outbox_rows import insert_outbox

if TYPE_CHECKING:  # the records load with the first hook (local imports below), not with the Store
    from core.ports.hook_records import HookNotice, HookOutcome, HookRecord, HookSession, ToolEnd, ToolStart

# Hooks add to the telemetry tables rather than keeping their own, so erasing a session erases what hooks told
# (events, tool calls, the session row). The chain, stage and message a session was started for are
# `linked_*`: its own correlation, apart from any chain column another area may give sessions.
MIGRATIONS: list[tuple[int, str]] = [
    (60, """
ALTER TABLE sessions ADD COLUMN ended_ns INTEGER;
ALTER TABLE sessions ADD COLUMN end_reason TEXT;
ALTER TABLE sessions ADD COLUMN transcript_path TEXT;
ALTER TABLE sessions ADD COLUMN start_source TEXT;
ALTER TABLE sessions ADD COLUMN linked_chain_id TEXT;
ALTER TABLE sessions ADD COLUMN linked_stage_id TEXT;
ALTER TABLE sessions ADD COLUMN linked_message_id TEXT;
ALTER TABLE tool_calls ADD COLUMN end_ns INTEGER
"""),
]

# The first workspace, transcript path and start source stay (a later `cwd` is wherever the agent cd'ed to);
# the latest correlation ids win, as an explicit link does in ingest (a chain comes with its stage, or none).
_UPSERT_SESSION = """
INSERT INTO sessions (org_id, session_id, first_seen_ns, last_seen_ns, source_type, workspace, models,
    transcript_path, start_source, linked_chain_id, linked_stage_id, linked_message_id)
VALUES (?,?,?,?,'claude_code',?,?,?,?,?,?,?)
ON CONFLICT(org_id, session_id) DO UPDATE SET
    first_seen_ns = MIN(sessions.first_seen_ns, excluded.first_seen_ns),
    last_seen_ns = MAX(sessions.last_seen_ns, excluded.last_seen_ns),
    source_type = CASE WHEN sessions.source_type = 'other' THEN excluded.source_type ELSE sessions.source_type END,
    workspace = COALESCE(NULLIF(sessions.workspace, ''), excluded.workspace),
    transcript_path = COALESCE(sessions.transcript_path, excluded.transcript_path),
    start_source = COALESCE(sessions.start_source, excluded.start_source),
    linked_chain_id = COALESCE(excluded.linked_chain_id, sessions.linked_chain_id),
    linked_stage_id = CASE WHEN excluded.linked_chain_id IS NOT NULL THEN excluded.linked_stage_id
                           ELSE COALESCE(excluded.linked_stage_id, sessions.linked_stage_id) END,
    linked_message_id = COALESCE(excluded.linked_message_id, sessions.linked_message_id),
    models = CASE WHEN excluded.models = '[]' THEN sessions.models ELSE (SELECT json_group_array(value) FROM (
        SELECT value FROM json_each(sessions.models) UNION SELECT value FROM json_each(excluded.models)
        ORDER BY value)) END
"""
# A start never clears what an end (or another source) filled; the earliest start wins; the duration is
# computed once the end is known (a PostToolUse may arrive first: hooks of one tool run concurrently).
_START_TOOL = """
INSERT INTO tool_calls (org_id, tool_use_id, session_id, tool_name, time_ns, tool_input) VALUES (?,?,?,?,?,?)
ON CONFLICT(org_id, tool_use_id) DO UPDATE SET
    session_id = COALESCE(tool_calls.session_id, excluded.session_id),
    tool_name = COALESCE(tool_calls.tool_name, excluded.tool_name),
    time_ns = CASE WHEN tool_calls.time_ns IS NULL OR excluded.time_ns < tool_calls.time_ns
                   THEN excluded.time_ns ELSE tool_calls.time_ns END,
    tool_input = COALESCE(excluded.tool_input, tool_calls.tool_input),
    duration_ms = CASE WHEN tool_calls.duration_ms IS NULL AND tool_calls.end_ns IS NOT NULL
                            AND tool_calls.end_ns >= excluded.time_ns
                       THEN (tool_calls.end_ns - excluded.time_ns) / 1e6 ELSE tool_calls.duration_ms END
"""
# An end without a known start takes the end as its start time (for ordering), with no duration; a duration
# another source measured (Claude Code's own tool_result event) is kept.
_END_TOOL = """
INSERT INTO tool_calls (org_id, tool_use_id, session_id, tool_name, time_ns, tool_input, tool_result, success,
    error, end_ns) VALUES (?,?,?,?,?,?,?,?,?,?)
ON CONFLICT(org_id, tool_use_id) DO UPDATE SET
    session_id = COALESCE(tool_calls.session_id, excluded.session_id),
    tool_name = COALESCE(tool_calls.tool_name, excluded.tool_name),
    time_ns = COALESCE(tool_calls.time_ns, excluded.time_ns),
    tool_input = COALESCE(tool_calls.tool_input, excluded.tool_input),
    tool_result = COALESCE(excluded.tool_result, tool_calls.tool_result),
    success = excluded.success,
    error = COALESCE(excluded.error, tool_calls.error),
    end_ns = excluded.end_ns,
    duration_ms = COALESCE(tool_calls.duration_ms,
                           CASE WHEN tool_calls.time_ns IS NOT NULL AND tool_calls.time_ns <= excluded.end_ns
                                THEN (excluded.end_ns - tool_calls.time_ns) / 1e6 END)
"""
_LATEST_UNFINISHED = """
SELECT tool_use_id FROM tool_calls WHERE org_id = ? AND session_id = ? AND tool_name = ? AND end_ns IS NULL
    AND success IS NULL AND time_ns IS NOT NULL AND time_ns <= ?
ORDER BY time_ns DESC, tool_use_id DESC LIMIT 1
"""
_SESSION_LINKS = "workspace, linked_chain_id, linked_stage_id, linked_message_id"
_INSERT_EVENT = (
    "INSERT OR IGNORE INTO events (org_id, event_key, name, dialect, time_ns, session_id, body, attributes, "
    "resource_attributes) VALUES (?,?,?,'claude_code',?,?,?,?,'{}')"
)


class SqliteHooks(SqliteBase):
    def record_hook(self, org_id: str, hook: HookRecord, notice: HookNotice | None = None) -> HookOutcome:
        from core.ports.hook_records import HookEffects, HookOutcome

        with self.transaction() as conn:
            seen = conn.execute("SELECT attributes FROM events WHERE org_id = ? AND event_key = ?",
                                (org_id, hook.key)).fetchone()
            if seen is not None:  # a replay: the hook's facts are all stored already
                tool_use_id = json.loads(seen[0]).get("tool_use_id")
                return HookOutcome(True, tool_use_id if isinstance(tool_use_id, str) else None)
            sid = hook.session_id
            before = conn.execute(f"SELECT {_SESSION_LINKS} FROM sessions WHERE org_id = ? AND session_id = ?",
                                  (org_id, sid)).fetchone()
            _upsert_session(conn, org_id, hook)
            tool_use_id = None
            if hook.tool_start is not None:
                tool_use_id = _start_tool(conn, org_id, hook, hook.tool_start)
            if hook.tool_end is not None:
                tool_use_id = _end_tool(conn, org_id, hook, hook.tool_end)
            after = conn.execute(f"SELECT {_SESSION_LINKS} FROM sessions WHERE org_id = ? AND session_id = ?",
                                 (org_id, sid)).fetchone()
            spans, tasks = _link(conn, org_id, sid, hook.links.task_id, before, after)
            # Spans stored before the workspace was known get it now; later ones get it at ingest (which
            # looks the session up). An end re-checks, for spans that raced the first hook.
            if after["workspace"] and (before is None or not before["workspace"] or hook.ends_session):
                spans += conn.execute(
                    "UPDATE spans SET workspace = ? WHERE org_id = ? AND session_id = ? "
                    "AND (workspace IS NULL OR workspace = '')", (after["workspace"], org_id, sid)).rowcount
            conn.execute(_INSERT_EVENT, (org_id, hook.key, hook.event_name, hook.time_ns, sid, hook.event_body,
                                         hook.stored_attributes(tool_use_id)))
            if hook.redactions:
                conn.executemany("INSERT OR REPLACE INTO redactions VALUES (?,?,?,?)",
                                 [(org_id, hook.key, kind, n) for kind, n in sorted(hook.redactions.items())])
            if notice is not None:
                insert_outbox(conn, notice(HookEffects(sid, tasks, tool_use_id, spans)))
        return HookOutcome(False, tool_use_id, spans)

    def hook_session(self, org_id: str, session_id: str) -> HookSession | None:
        from core.ports.hook_records import HookLinks, HookSession

        r = self._reader().execute(
            "SELECT s.*, l.task_id AS link_task_id FROM sessions s LEFT JOIN session_links l "
            "ON l.org_id = s.org_id AND l.session_id = s.session_id WHERE s.org_id = ? AND s.session_id = ?",
            (org_id, session_id)).fetchone()
        if r is None:
            return None
        return HookSession(
            session_id=r["session_id"], first_seen_ns=r["first_seen_ns"], last_seen_ns=r["last_seen_ns"],
            workspace=r["workspace"] or None, transcript_path=r["transcript_path"], start_source=r["start_source"],
            ended_ns=r["ended_ns"], end_reason=r["end_reason"],
            links=HookLinks(r["link_task_id"], r["linked_chain_id"], r["linked_stage_id"], r["linked_message_id"]),
        )


def _upsert_session(conn: sqlite3.Connection, org_id: str, hook: HookRecord) -> None:
    sid, at, links = hook.session_id, hook.time_ns, hook.links
    conn.execute(_UPSERT_SESSION, (org_id, sid, at, at, hook.workspace or None,
                                   json.dumps([hook.model] if hook.model else []), hook.transcript_path,
                                   hook.start_source, links.chain_id, links.stage_id, links.message_id))
    if hook.starts_session:  # a resumed session is open again
        conn.execute("UPDATE sessions SET ended_ns = NULL, end_reason = NULL WHERE org_id = ? AND session_id = ? "
                     "AND ended_ns < ?", (org_id, sid, at))
    if hook.ends_session:
        conn.execute("UPDATE sessions SET end_reason = CASE WHEN ended_ns IS NULL OR ended_ns <= ? THEN ? "
                     "ELSE end_reason END, ended_ns = MAX(COALESCE(ended_ns, 0), ?) "
                     "WHERE org_id = ? AND session_id = ?", (at, hook.end_reason, at, org_id, sid))


def _start_tool(conn: sqlite3.Connection, org_id: str, hook: HookRecord, tool: ToolStart) -> str:
    conn.execute(_START_TOOL, (org_id, tool.tool_use_id, hook.session_id, tool.tool_name, hook.time_ns,
                               tool.tool_input))
    return tool.tool_use_id


def _end_tool(conn: sqlite3.Connection, org_id: str, hook: HookRecord, tool: ToolEnd) -> str:
    tool_use_id = tool.tool_use_id
    if tool_use_id is None:
        row = conn.execute(_LATEST_UNFINISHED, (org_id, hook.session_id, tool.tool_name, hook.time_ns)).fetchone()
        tool_use_id = row[0] if row is not None else tool.fallback_id
    conn.execute(_END_TOOL, (org_id, tool_use_id, hook.session_id, tool.tool_name, hook.time_ns, tool.tool_input,
                             tool.tool_result, int(tool.success), tool.error, hook.time_ns))
    return tool_use_id


def _link(conn: sqlite3.Connection, org_id: str, session_id: str, task_id: str | None, before: sqlite3.Row | None,
          after: sqlite3.Row) -> tuple[int, list[str]]:
    """Give the session's spans that have no link yet the session's links when a hook changed them; returns
    (span updates, tasks whose spans changed)."""
    spans = 0
    tasks: list[str] = []
    if task_id:
        current = conn.execute("SELECT task_id FROM session_links WHERE org_id = ? AND session_id = ?",
                               (org_id, session_id)).fetchone()
        if current is None or current[0] != task_id:
            conn.execute(
                "INSERT INTO session_links (org_id, session_id, task_id, assignment_id) VALUES (?,?,?,NULL) "
                "ON CONFLICT(org_id, session_id) DO UPDATE SET task_id = excluded.task_id",
                (org_id, session_id, task_id))
            linked = conn.execute("UPDATE spans SET task_id = ? WHERE org_id = ? AND session_id = ? "
                                  "AND task_id IS NULL", (task_id, org_id, session_id)).rowcount
            spans += linked
            if linked:
                tasks.append(task_id)
    chain, stage, message = after["linked_chain_id"], after["linked_stage_id"], after["linked_message_id"]
    old = (None, None, None) if before is None else (
        before["linked_chain_id"], before["linked_stage_id"], before["linked_message_id"])
    if (chain or stage) and (chain, stage) != old[:2]:
        # A chain and its stage go together: only spans linked to neither take the pair.
        spans += conn.execute(
            "UPDATE spans SET chain_id = ?, stage_id = ? WHERE org_id = ? AND session_id = ? AND chain_id IS NULL "
            "AND stage_id IS NULL", (chain, stage, org_id, session_id)).rowcount
    if message and message != old[2]:
        spans += conn.execute(
            "UPDATE spans SET message_id = ? WHERE org_id = ? AND session_id = ? AND message_id IS NULL",
            (message, org_id, session_id)).rowcount
    return spans, tasks
