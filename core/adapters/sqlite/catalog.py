"""SqliteCatalog: the SQL of the catalog API area on SqliteBase (tables in MIGRATIONS below)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core import events
from core.adapters.sqlite.base import SqliteBase
from core.adapters.sqlite.event_log import append_events, task_workspace
from core.adapters.sqlite.times import from_ns, to_ns
from core.ports.catalog import CatalogStore, DuplicateId, MissingReference

if TYPE_CHECKING:
    from core.catalog.models import (
        AgentAssignment,
        AgentStats,
        Message,
        MessageQuery,
        MessageStatus,
        Task,
        TaskQuery,
        TimelineEntry,
        Workspace,
        WorkspaceQuery,
        WorkspaceStats,
    )

# Timestamps are integer nanoseconds (as in the telemetry tables); columns `*_ns` hold the models' `*_at`.
# Every change of a task, assignment or message appends its change events in the same transaction.
# Foreign keys carry org_id, so a row can only ever reference rows of its own org.
MIGRATIONS: list[tuple[int, str]] = [
    (10, """
CREATE TABLE workspaces (
    org_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL DEFAULT '', git_remote TEXT,
    created_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX workspaces_recent ON workspaces(org_id, created_ns DESC);

CREATE TABLE tasks (
    org_id TEXT NOT NULL, id TEXT NOT NULL, workspace_id TEXT, parent_task_id TEXT,
    title TEXT NOT NULL, description TEXT, source_type TEXT NOT NULL, source_ref TEXT,
    status TEXT NOT NULL, priority TEXT NOT NULL,
    created_ns INTEGER NOT NULL, started_ns INTEGER, completed_ns INTEGER,
    total_duration_ms INTEGER NOT NULL DEFAULT 0, total_tokens_in INTEGER NOT NULL DEFAULT 0,
    total_tokens_out INTEGER NOT NULL DEFAULT 0, total_cost_usd REAL NOT NULL DEFAULT 0,
    agent_count INTEGER NOT NULL DEFAULT 0, span_count INTEGER NOT NULL DEFAULT 0,
    error_count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, workspace_id) REFERENCES workspaces(org_id, id) ON DELETE CASCADE
);
CREATE INDEX tasks_recent ON tasks(org_id, created_ns DESC);
CREATE INDEX tasks_workspace ON tasks(org_id, workspace_id, created_ns DESC);
CREATE INDEX tasks_status ON tasks(org_id, status, created_ns DESC);
CREATE INDEX tasks_source ON tasks(org_id, source_type, source_ref);
CREATE INDEX tasks_parent ON tasks(org_id, parent_task_id) WHERE parent_task_id IS NOT NULL;

CREATE TABLE agent_assignments (
    org_id TEXT NOT NULL, id TEXT NOT NULL, task_id TEXT NOT NULL, agent_id TEXT NOT NULL,
    provider TEXT NOT NULL DEFAULT '', status TEXT NOT NULL,
    assigned_ns INTEGER NOT NULL, started_ns INTEGER, completed_ns INTEGER, parent_assignment_id TEXT,
    duration_ms INTEGER NOT NULL DEFAULT 0, tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0, cost_usd REAL NOT NULL DEFAULT 0,
    tool_calls INTEGER NOT NULL DEFAULT 0, turns INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, task_id) REFERENCES tasks(org_id, id) ON DELETE CASCADE
);
CREATE INDEX agent_assignments_task ON agent_assignments(org_id, task_id, assigned_ns);
CREATE INDEX agent_assignments_agent ON agent_assignments(org_id, agent_id);
CREATE INDEX agent_assignments_status ON agent_assignments(org_id, status);
CREATE INDEX agent_assignments_provider ON agent_assignments(org_id, provider);

CREATE TABLE messages (
    org_id TEXT NOT NULL, id TEXT NOT NULL, task_id TEXT, inbox TEXT NOT NULL, from_agent TEXT NOT NULL,
    title TEXT NOT NULL, content TEXT NOT NULL, message_type TEXT NOT NULL, status TEXT NOT NULL,
    priority TEXT NOT NULL, github_issue_number INTEGER, github_repo TEXT, correlation_id TEXT, reply_to_id TEXT,
    created_ns INTEGER NOT NULL, read_ns INTEGER, archived_ns INTEGER, content_hash TEXT,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX messages_recent ON messages(org_id, created_ns DESC);
CREATE INDEX messages_inbox ON messages(org_id, inbox, status, created_ns DESC);
CREATE INDEX messages_status ON messages(org_id, status, created_ns DESC);
CREATE INDEX messages_from ON messages(org_id, from_agent, created_ns DESC);
CREATE INDEX messages_task ON messages(org_id, task_id) WHERE task_id IS NOT NULL;

CREATE INDEX spans_catalog_assignment ON spans(org_id, assignment_id) WHERE assignment_id IS NOT NULL;
"""),
]



def _column(field: str) -> str:
    return field[:-3] + "_ns" if field.endswith("_at") else field


def _value(field: str, value: Any) -> Any:
    return to_ns(value) if field.endswith("_at") else value


def _fields(row: sqlite3.Row) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in row.keys():  # noqa: SIM118 - sqlite3.Row is not a mapping
        if key == "org_id":
            continue
        if key.endswith("_ns"):
            out[key[:-3] + "_at"] = from_ns(row[key])
        else:
            out[key] = row[key]
    return out


# Tool spans per the seed (`claude_code.tool.*`, `gemini.tool.*`, `tool.*`); an LLM span is any other span that
# names a model or carries tokens.
_IS_TOOL = "name LIKE '%tool.%'"
_IS_LLM = f"(NOT {_IS_TOOL} AND (model IS NOT NULL OR tokens_in > 0 OR tokens_out > 0))"

_TASK_TOTALS = """
UPDATE tasks SET (span_count, total_duration_ms, total_tokens_in, total_tokens_out, total_cost_usd, error_count) = (
    SELECT COUNT(*), CAST(ROUND(COALESCE(SUM(duration_ms), 0)) AS INTEGER), COALESCE(SUM(tokens_in), 0),
           COALESCE(SUM(tokens_out), 0), COALESCE(SUM(cost_usd), 0), COALESCE(SUM(status = 'error'), 0)
    FROM spans WHERE org_id = ?1 AND task_id = ?2)
WHERE org_id = ?1 AND id = ?2
"""
_TASK_TOTALS_NOW = f"SELECT workspace_id, {', '.join(events.TASK_TOTALS)} FROM tasks WHERE org_id = ? AND id = ?"
_AGENT_COUNT = """
UPDATE tasks SET agent_count = (
    SELECT COUNT(DISTINCT agent_id) FROM agent_assignments WHERE org_id = ?1 AND task_id = ?2)
WHERE org_id = ?1 AND id = ?2
"""
_ASSIGNMENT_TOTALS = f"""
UPDATE agent_assignments SET (duration_ms, tokens_in, tokens_out, cost_usd, tool_calls, turns) = (
    SELECT CAST(ROUND(COALESCE(SUM(duration_ms), 0)) AS INTEGER), COALESCE(SUM(tokens_in), 0),
           COALESCE(SUM(tokens_out), 0), COALESCE(SUM(cost_usd), 0), COALESCE(SUM({_IS_TOOL}), 0),
           COALESCE(SUM({_IS_LLM}), 0)
    FROM spans WHERE org_id = ?1 AND assignment_id = ?2)
WHERE org_id = ?1 AND id = ?2
"""
_WORKSPACE_STATS = """
SELECT w.id, w.name, w.path,
       COUNT(t.id) AS task_count,
       COALESCE(SUM(t.total_cost_usd), 0) AS total_cost,
       COALESCE(SUM(t.total_tokens_in + t.total_tokens_out), 0) AS total_tokens,
       COALESCE(AVG(t.status = 'completed'), 0) AS success_rate,
       (SELECT COUNT(DISTINCT a.agent_id) FROM agent_assignments a JOIN tasks t2
            ON t2.org_id = a.org_id AND t2.id = a.task_id
        WHERE a.org_id = w.org_id AND t2.workspace_id = w.id) AS unique_agents,
       MAX(MAX(t.created_ns, COALESCE(t.started_ns, 0), COALESCE(t.completed_ns, 0))) AS last_activity_ns
FROM workspaces w LEFT JOIN tasks t ON t.org_id = w.org_id AND t.workspace_id = w.id
WHERE w.org_id = ? AND w.id = ?
GROUP BY w.org_id, w.id
"""
_AGENT_STATS = """
SELECT agent_id,
       (SELECT provider FROM agent_assignments WHERE org_id = ?1 AND agent_id = ?2
        ORDER BY assigned_ns DESC, id DESC LIMIT 1) AS provider,
       COUNT(*) AS execution_count, COALESCE(SUM(duration_ms), 0) AS total_duration_ms,
       COALESCE(AVG(duration_ms), 0) AS avg_duration_ms, COALESCE(SUM(tokens_in), 0) AS total_tokens_in,
       COALESCE(SUM(tokens_out), 0) AS total_tokens_out, COALESCE(SUM(cost_usd), 0) AS total_cost,
       COALESCE(SUM(tool_calls), 0) AS total_tool_calls, COALESCE(AVG(status = 'completed'), 0) AS success_rate
FROM agent_assignments WHERE org_id = ?1 AND agent_id = ?2
GROUP BY agent_id
"""
_TIMELINE = """
SELECT t.id AS task_id, t.title, t.status, s.span_id, s.trace_id, s.name AS span_name, s.start_ns, s.end_ns,
       s.duration_ms, s.status AS span_status, s.tokens_in, s.tokens_out, s.cost_usd, s.provider
FROM tasks t LEFT JOIN spans s ON s.org_id = t.org_id AND s.task_id = t.id
WHERE t.org_id = ? AND t.id = ?
ORDER BY s.start_ns, s.trace_id, s.span_id
LIMIT ? OFFSET ?
"""


class SqliteCatalog(SqliteBase, CatalogStore):
    # -- generic row helpers --------------------------------------------------------------------------------
    def _get(self, table: str, org_id: str, entity_id: str, conn: sqlite3.Connection | None = None
             ) -> dict[str, Any] | None:
        row = (conn or self._reader()).execute(
            f"SELECT * FROM {table} WHERE org_id = ? AND id = ?", (org_id, entity_id)).fetchone()
        return _fields(row) if row is not None else None

    @staticmethod
    def _exists(conn: sqlite3.Connection, table: str, org_id: str, entity_id: str) -> bool:
        return conn.execute(f"SELECT 1 FROM {table} WHERE org_id = ? AND id = ?", (org_id, entity_id)
                            ).fetchone() is not None

    def _insert(self, conn: sqlite3.Connection, table: str, org_id: str, fields: dict[str, Any]) -> None:
        if self._exists(conn, table, org_id, fields["id"]):
            raise DuplicateId(f"{table[:-1].replace('_', ' ')} {fields['id']!r} already exists")
        cols = ["org_id", *(_column(f) for f in fields)]
        values = [org_id, *(_value(f, v) for f, v in fields.items())]
        conn.execute(f"INSERT INTO {table} ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})", values)

    @staticmethod
    def _set(conn: sqlite3.Connection, table: str, org_id: str, entity_id: str, allowed: frozenset[str],
             changes: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> None:
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"not updatable on {table}: {sorted(unknown)}")
        sets = {_column(f): _value(f, v) for f, v in changes.items()}
        sets.update(extra or {})
        if sets:
            conn.execute(f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in sets)} WHERE org_id = ? AND id = ?",
                         [*sets.values(), org_id, entity_id])

    @staticmethod
    def _status(conn: sqlite3.Connection, table: str, org_id: str, entity_id: str) -> str | None:
        """The entity's status before a change (None: no such entity), to tell which events the change makes."""
        row = conn.execute(f"SELECT status FROM {table} WHERE org_id = ? AND id = ?", (org_id, entity_id)
                           ).fetchone()
        return str(row[0]) if row is not None else None

    def _delete(self, table: str, org_id: str, entity_id: str) -> bool:
        with self.transaction() as conn:
            return conn.execute(f"DELETE FROM {table} WHERE org_id = ? AND id = ?", (org_id, entity_id)
                                ).rowcount > 0

    # -- workspaces --------------------------------------------------------------------------------------------
    def create_workspace(self, org_id: str, ws: Workspace) -> Workspace:
        from core.catalog.models import Workspace

        with self.transaction() as conn:
            self._insert(conn, "workspaces", org_id, ws.model_dump())
            return Workspace.model_validate(self._get("workspaces", org_id, ws.id, conn))

    def get_workspace(self, org_id: str, workspace_id: str) -> Workspace | None:
        from core.catalog.models import Workspace

        found = self._get("workspaces", org_id, workspace_id)
        return Workspace.model_validate(found) if found is not None else None

    def list_workspaces(self, org_id: str, q: WorkspaceQuery) -> list[Workspace]:
        from core.catalog.models import Workspace

        rows = self._reader().execute(
            "SELECT * FROM workspaces WHERE org_id = ? ORDER BY created_ns DESC, id LIMIT ? OFFSET ?",
            (org_id, q.limit, _offset(q.offset))).fetchall()
        return [Workspace.model_validate(_fields(r)) for r in rows]

    _WORKSPACE_FIELDS = frozenset({"name", "path", "git_remote", "created_at", "updated_at"})

    def update_workspace(self, org_id: str, workspace_id: str, changes: Mapping[str, Any]) -> Workspace | None:
        from core.catalog.models import Workspace

        with self.transaction() as conn:
            if not self._exists(conn, "workspaces", org_id, workspace_id):
                return None
            extra = {} if "updated_at" in changes else {"updated_ns": to_ns(datetime.now(UTC))}
            self._set(conn, "workspaces", org_id, workspace_id, self._WORKSPACE_FIELDS, changes, extra)
            return Workspace.model_validate(self._get("workspaces", org_id, workspace_id, conn))

    def delete_workspace(self, org_id: str, workspace_id: str) -> bool:
        return self._delete("workspaces", org_id, workspace_id)

    def workspace_stats(self, org_id: str, workspace_id: str) -> WorkspaceStats | None:
        from core.catalog.models import WorkspaceStats

        row = self._reader().execute(_WORKSPACE_STATS, (org_id, workspace_id)).fetchone()
        if row is None:
            return None
        fields = _fields(row)
        fields["last_activity"] = fields.pop("last_activity_at")
        return WorkspaceStats.model_validate(fields)

    # -- tasks ---------------------------------------------------------------------------------------------
    @staticmethod
    def _check_task_refs(conn: sqlite3.Connection, org_id: str, fields: Mapping[str, Any]) -> None:
        ws = fields.get("workspace_id")
        if ws is not None and not SqliteCatalog._exists(conn, "workspaces", org_id, ws):
            raise MissingReference("workspace_id", ws)
        parent = fields.get("parent_task_id")
        if parent is not None and not SqliteCatalog._exists(conn, "tasks", org_id, parent):
            raise MissingReference("parent_task_id", parent)

    def create_task(self, org_id: str, task: Task) -> Task:
        from core.catalog.models import Task

        fields = task.model_dump()
        with self.transaction() as conn:
            self._check_task_refs(conn, org_id, fields)
            self._insert(conn, "tasks", org_id, fields)
            created = Task.model_validate(self._get("tasks", org_id, task.id, conn))
            append_events(conn, org_id, events.task_created(created))
            return created

    def get_task(self, org_id: str, task_id: str) -> Task | None:
        from core.catalog.models import Task

        found = self._get("tasks", org_id, task_id)
        return Task.model_validate(found) if found is not None else None

    def list_tasks(self, org_id: str, q: TaskQuery) -> list[Task]:
        from core.catalog.models import Task

        where, params = _filters(org_id, [("workspace_id", q.workspace_id), ("status", q.status),
                                          ("source_type", q.source_type), ("parent_task_id", q.parent_task_id)])
        rows = self._reader().execute(
            f"SELECT * FROM tasks WHERE {where} ORDER BY created_ns DESC, id LIMIT ? OFFSET ?",
            [*params, q.limit, _offset(q.offset)]).fetchall()
        return [Task.model_validate(_fields(r)) for r in rows]

    _TASK_FIELDS = frozenset({
        "workspace_id", "parent_task_id", "title", "description", "source_type", "source_ref", "status",
        "priority", "created_at", "started_at", "completed_at",
    })

    def update_task(self, org_id: str, task_id: str, changes: Mapping[str, Any]) -> Task | None:
        from core.catalog.models import Task

        with self.transaction() as conn:
            before = self._status(conn, "tasks", org_id, task_id)
            if before is None:
                return None
            self._check_task_refs(conn, org_id, changes)
            self._set(conn, "tasks", org_id, task_id, self._TASK_FIELDS, changes)
            updated = Task.model_validate(self._get("tasks", org_id, task_id, conn))
            if changes:
                append_events(conn, org_id, events.task_changed(before, updated))
            return updated

    def delete_task(self, org_id: str, task_id: str) -> bool:
        with self.transaction() as conn:
            row = conn.execute("DELETE FROM tasks WHERE org_id = ? AND id = ? RETURNING workspace_id",
                               (org_id, task_id)).fetchone()
            if row is None:
                return False
            append_events(conn, org_id, events.task_deleted(task_id, row["workspace_id"]))
            return True

    def task_timeline(self, org_id: str, task_id: str, limit: int = 1000, offset: int = 0
                      ) -> list[TimelineEntry]:
        from core.catalog.models import TimelineEntry

        rows = self._reader().execute(_TIMELINE, (org_id, task_id, limit, _offset(offset))).fetchall()
        out = []
        for r in rows:
            fields = _fields(r)
            fields["start_time"] = fields.pop("start_at")
            fields["end_time"] = fields.pop("end_at")
            if fields["duration_ms"] is not None:
                fields["duration_ms"] = round(fields["duration_ms"])
            out.append(TimelineEntry.model_validate(fields))
        return out

    def recalculate_task(self, org_id: str, task_id: str) -> Task | None:
        from core.catalog.models import Task

        with self.transaction() as conn:
            before = conn.execute(_TASK_TOTALS_NOW, (org_id, task_id)).fetchone()
            if before is None:
                return None
            conn.execute(_TASK_TOTALS, (org_id, task_id))
            conn.execute(_AGENT_COUNT, (org_id, task_id))
            after = conn.execute(_TASK_TOTALS_NOW, (org_id, task_id)).fetchone()
            if tuple(after) != tuple(before):  # a recompute that changed nothing (a redelivery) appends nothing
                totals = dict(zip(after.keys(), after, strict=True))
                append_events(conn, org_id, events.task_metrics_updated(task_id, totals.pop("workspace_id"),
                                                                         totals))
            return Task.model_validate(self._get("tasks", org_id, task_id, conn))

    # -- agent assignments -----------------------------------------------------------------------------------
    def create_assignment(self, org_id: str, a: AgentAssignment) -> AgentAssignment:
        from core.catalog.models import AgentAssignment

        with self.transaction() as conn:
            if not self._exists(conn, "tasks", org_id, a.task_id):
                raise MissingReference("task_id", a.task_id)
            self._insert(conn, "agent_assignments", org_id, a.model_dump())
            conn.execute(_AGENT_COUNT, (org_id, a.task_id))
            created = AgentAssignment.model_validate(self._get("agent_assignments", org_id, a.id, conn))
            append_events(conn, org_id, events.agent_assigned(created, task_workspace(conn, org_id, a.task_id)))
            return created

    def get_assignment(self, org_id: str, assignment_id: str) -> AgentAssignment | None:
        from core.catalog.models import AgentAssignment

        found = self._get("agent_assignments", org_id, assignment_id)
        return AgentAssignment.model_validate(found) if found is not None else None

    def list_task_assignments(self, org_id: str, task_id: str) -> list[AgentAssignment]:
        from core.catalog.models import AgentAssignment

        rows = self._reader().execute(
            "SELECT * FROM agent_assignments WHERE org_id = ? AND task_id = ? ORDER BY assigned_ns, id",
            (org_id, task_id)).fetchall()
        return [AgentAssignment.model_validate(_fields(r)) for r in rows]

    _ASSIGNMENT_FIELDS = frozenset({
        "agent_id", "provider", "status", "assigned_at", "started_at", "completed_at", "parent_assignment_id",
    })

    def update_assignment(self, org_id: str, assignment_id: str, changes: Mapping[str, Any]
                          ) -> AgentAssignment | None:
        from core.catalog.models import AgentAssignment

        with self.transaction() as conn:
            row = conn.execute("SELECT task_id, status FROM agent_assignments WHERE org_id = ? AND id = ?",
                               (org_id, assignment_id)).fetchone()
            if row is None:
                return None
            self._set(conn, "agent_assignments", org_id, assignment_id, self._ASSIGNMENT_FIELDS, changes)
            conn.execute(_AGENT_COUNT, (org_id, row["task_id"]))
            updated = AgentAssignment.model_validate(self._get("agent_assignments", org_id, assignment_id, conn))
            append_events(conn, org_id, events.agent_changed(
                row["status"], updated, task_workspace(conn, org_id, updated.task_id)))
            return updated

    def delete_assignment(self, org_id: str, assignment_id: str) -> bool:
        with self.transaction() as conn:
            row = conn.execute("DELETE FROM agent_assignments WHERE org_id = ? AND id = ? RETURNING task_id",
                               (org_id, assignment_id)).fetchone()
            if row is None:
                return False
            conn.execute(_AGENT_COUNT, (org_id, row["task_id"]))
            return True

    def agent_stats(self, org_id: str, agent_id: str) -> AgentStats | None:
        from core.catalog.models import AgentStats

        row = self._reader().execute(_AGENT_STATS, (org_id, agent_id)).fetchone()
        return AgentStats.model_validate(_fields(row)) if row is not None else None

    def recalculate_assignment(self, org_id: str, assignment_id: str) -> AgentAssignment | None:
        from core.catalog.models import AgentAssignment

        with self.transaction() as conn:
            if conn.execute(_ASSIGNMENT_TOTALS, (org_id, assignment_id)).rowcount == 0:
                return None
            return AgentAssignment.model_validate(self._get("agent_assignments", org_id, assignment_id, conn))

    # -- inbox messages --------------------------------------------------------------------------------------
    def create_message(self, org_id: str, m: Message) -> Message:
        from core.catalog.models import Message

        with self.transaction() as conn:
            self._insert(conn, "messages", org_id, m.model_dump())
            created = Message.model_validate(self._get("messages", org_id, m.id, conn))
            append_events(conn, org_id, events.message_created(created, task_workspace(conn, org_id, m.task_id)))
            return created

    def get_message(self, org_id: str, message_id: str) -> Message | None:
        from core.catalog.models import Message

        found = self._get("messages", org_id, message_id)
        return Message.model_validate(found) if found is not None else None

    def list_messages(self, org_id: str, q: MessageQuery) -> list[Message]:
        from core.catalog.models import Message

        where, params = _filters(org_id, [("inbox", q.inbox), ("status", q.status),
                                          ("from_agent", q.from_agent), ("task_id", q.task_id)])
        rows = self._reader().execute(
            f"SELECT * FROM messages WHERE {where} ORDER BY created_ns DESC, id LIMIT ? OFFSET ?",
            [*params, q.limit, _offset(q.offset)]).fetchall()
        return [Message.model_validate(_fields(r)) for r in rows]

    _MESSAGE_FIELDS = frozenset({
        "task_id", "inbox", "from_agent", "title", "content", "message_type", "status", "priority",
        "github_issue_number", "github_repo", "correlation_id", "reply_to_id", "created_at", "read_at",
        "archived_at", "content_hash",
    })

    def update_message(self, org_id: str, message_id: str, changes: Mapping[str, Any]) -> Message | None:
        with self.transaction() as conn:
            before = self._status(conn, "messages", org_id, message_id)
            if before is None:
                return None
            self._set(conn, "messages", org_id, message_id, self._MESSAGE_FIELDS, changes)
            return self._message_changed(conn, org_id, message_id, before)

    def delete_message(self, org_id: str, message_id: str) -> bool:
        return self._delete("messages", org_id, message_id)

    def set_message_status(self, org_id: str, message_id: str, status: MessageStatus, at: datetime
                           ) -> Message | None:
        ns = to_ns(at)
        with self.transaction() as conn:
            before = self._status(conn, "messages", org_id, message_id)
            if before is None:
                return None
            conn.execute(
                "UPDATE messages SET status = ?1,"
                " read_ns = CASE WHEN ?1 = 'read' THEN COALESCE(read_ns, ?2) ELSE read_ns END,"
                " archived_ns = CASE WHEN ?1 = 'archived' THEN COALESCE(archived_ns, ?2) ELSE archived_ns END"
                " WHERE org_id = ?3 AND id = ?4", (status, ns, org_id, message_id))
            return self._message_changed(conn, org_id, message_id, before)

    def _message_changed(self, conn: sqlite3.Connection, org_id: str, message_id: str, before: str) -> Message:
        from core.catalog.models import Message

        m = Message.model_validate(self._get("messages", org_id, message_id, conn))
        append_events(conn, org_id, events.message_changed(before, m, task_workspace(conn, org_id, m.task_id)))
        return m


def _offset(offset: int) -> int:
    """SQLite takes int64 only; any offset past 2**62 rows is past the end anyway."""
    return min(offset, 2**62)


def _filters(org_id: str, filters: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
    clauses = ["org_id = ?"]
    params: list[Any] = [org_id]
    for column, value in filters:
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    return " AND ".join(clauses), params
