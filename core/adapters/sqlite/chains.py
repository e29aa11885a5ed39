"""SqliteChains: the SQL of the chains API area on SqliteBase (migrations 50-59 below)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.adapters.sqlite.base import SqliteBase
from core.adapters.sqlite.event_log import append_events
from core.adapters.sqlite.times import from_ns, to_ns
from core.ports.catalog import DuplicateId
from core.ports.chains import ChainStore, IdempotencyConflict

if TYPE_CHECKING:  # the records load with the first change (local imports below), not with the Store
    from core.chains.models import (
        AgentStatsResult,
        ChainQuery,
        ChainStage,
        ChainStats,
        ChainStatusCounts,
        ChainSummary,
        EvalQuery,
        ExecutionChain,
        PendingApprovalInfo,
    )
    from core.models import SpanView
    from core.ports.chain_records import ChainDecision, ChainOutcome, MetricEntry, StageDecision, StageOutcome

# Timestamps are integer nanoseconds (`*_ns` columns hold the models' `*_at`). Foreign keys carry org_id, so a
# stage, metric entry or error can only belong to a chain of its own org; deleting a chain deletes them all.
# Metric entries and errors are the facts the stage and chain amounts are summed from (`stage_id` '' marks a
# chain-level entry); their keys make a resent POST apply once.
_TOP = "\U0010ffff"  # sorts after every character: [prefix, prefix + _TOP) holds every id starting with prefix

MIGRATIONS: list[tuple[int, str]] = [
    (50, """
CREATE TABLE execution_chains (
    org_id TEXT NOT NULL, id TEXT NOT NULL, source_type TEXT NOT NULL, source_ref TEXT, github_repo TEXT,
    github_issue_number INTEGER, status TEXT NOT NULL, current_stage INTEGER NOT NULL DEFAULT 0,
    workspace_id TEXT, workspace_path TEXT, created_ns INTEGER NOT NULL, updated_ns INTEGER, completed_ns INTEGER,
    total_cost REAL NOT NULL DEFAULT 0, total_tokens INTEGER NOT NULL DEFAULT 0,
    total_turns INTEGER NOT NULL DEFAULT 0, stages_completed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX execution_chains_recent ON execution_chains(org_id, created_ns DESC);
CREATE INDEX execution_chains_status ON execution_chains(org_id, status, created_ns DESC);
CREATE INDEX execution_chains_source ON execution_chains(org_id, source_type, source_ref);
CREATE INDEX execution_chains_github ON execution_chains(org_id, github_repo, github_issue_number)
    WHERE github_repo IS NOT NULL;
CREATE INDEX execution_chains_workspace ON execution_chains(org_id, workspace_id) WHERE workspace_id IS NOT NULL;

CREATE TABLE chain_stages (
    org_id TEXT NOT NULL, id TEXT NOT NULL, chain_id TEXT NOT NULL, stage_number INTEGER NOT NULL,
    agent_id TEXT NOT NULL, provider TEXT NOT NULL DEFAULT '', message_id TEXT, task_id TEXT, session_id TEXT,
    status TEXT NOT NULL, approval_status TEXT, approval_type TEXT, handoff_to TEXT,
    iteration INTEGER NOT NULL DEFAULT 1, human_feedback TEXT,
    created_ns INTEGER NOT NULL, started_ns INTEGER, completed_ns INTEGER,
    cost REAL NOT NULL DEFAULT 0, tokens_in INTEGER NOT NULL DEFAULT 0, tokens_out INTEGER NOT NULL DEFAULT 0,
    turns INTEGER NOT NULL DEFAULT 0, tool_calls INTEGER NOT NULL DEFAULT 0, duration_ms INTEGER NOT NULL DEFAULT 0,
    error_message TEXT, error_count INTEGER NOT NULL DEFAULT 0,
    eval_assessment TEXT, eval_benchmark_id TEXT, eval_model TEXT, eval_language TEXT, eval_condition TEXT,
    eval_mode TEXT, eval_stdout_ok INTEGER,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, chain_id, stage_number),
    FOREIGN KEY (org_id, chain_id) REFERENCES execution_chains(org_id, id) ON DELETE CASCADE
);
CREATE INDEX chain_stages_agent ON chain_stages(org_id, agent_id);
CREATE INDEX chain_stages_task ON chain_stages(org_id, task_id) WHERE task_id IS NOT NULL;
CREATE INDEX chain_stages_message ON chain_stages(org_id, message_id) WHERE message_id IS NOT NULL;
CREATE INDEX chain_stages_session ON chain_stages(org_id, session_id) WHERE session_id IS NOT NULL;
CREATE INDEX chain_stages_awaiting ON chain_stages(org_id, created_ns) WHERE status = 'awaiting_approval';
CREATE INDEX chain_stages_evals ON chain_stages(org_id, created_ns DESC) WHERE eval_assessment IS NOT NULL;

CREATE TABLE chain_metric_entries (
    org_id TEXT NOT NULL, chain_id TEXT NOT NULL, stage_id TEXT NOT NULL, entry_key TEXT NOT NULL,
    cost REAL NOT NULL, tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, tokens INTEGER NOT NULL,
    turns INTEGER NOT NULL, tool_calls INTEGER NOT NULL, duration_ms INTEGER NOT NULL, created_ns INTEGER NOT NULL,
    PRIMARY KEY (org_id, chain_id, stage_id, entry_key),
    FOREIGN KEY (org_id, chain_id) REFERENCES execution_chains(org_id, id) ON DELETE CASCADE
);

CREATE TABLE chain_stage_errors (
    org_id TEXT NOT NULL, stage_id TEXT NOT NULL, entry_key TEXT NOT NULL, message TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    PRIMARY KEY (org_id, stage_id, entry_key),
    FOREIGN KEY (org_id, stage_id) REFERENCES chain_stages(org_id, id) ON DELETE CASCADE
);

CREATE INDEX spans_stage_start ON spans(org_id, stage_id, start_ns) WHERE stage_id IS NOT NULL
"""),
]



def _fields(row: sqlite3.Row) -> dict[str, Any]:
    """Row -> model fields: `*_ns` become `*_at` datetimes; the eval filter columns stay behind."""
    out: dict[str, Any] = {}
    for key in row.keys():  # noqa: SIM118 - sqlite3.Row is not a mapping
        if key == "org_id" or (key.startswith("eval_") and key != "eval_assessment"):
            continue
        if key.endswith("_ns"):
            out[key[:-3] + "_at"] = from_ns(row[key])
        elif key == "eval_assessment":
            out[key] = json.loads(row[key]) if row[key] else None
        else:
            out[key] = row[key]
    return out


def _stage(row: sqlite3.Row) -> ChainStage:
    from core.chains.models import ChainStage

    return ChainStage.model_validate(_fields(row))


def _chain(row: sqlite3.Row) -> ExecutionChain:
    from core.chains.models import ExecutionChain

    return ExecutionChain.model_validate(_fields(row))


def _columns(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Model fields -> column values (eval_assessment also fills the columns GET /evals filters on)."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name.endswith("_at"):
            out[name[:-3] + "_ns"] = to_ns(value)
        elif name == "eval_assessment":
            a = value
            out.update(
                eval_assessment=a.model_dump_json() if a is not None else None,
                eval_benchmark_id=a.benchmark_id if a is not None else None,
                eval_model=a.model if a is not None else None,
                eval_language=a.language if a is not None else None,
                eval_condition=a.condition if a is not None else None,
                eval_mode=a.eval_mode if a is not None else None,
                eval_stdout_ok=int(a.stdout_ok) if a is not None else None,
            )
        else:
            out[name] = value
    return out


def _insert(conn: sqlite3.Connection, table: str, org_id: str, values: Mapping[str, Any]) -> None:
    cols = ["org_id", *values]
    conn.execute(f"INSERT INTO {table} ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                 [org_id, *values.values()])


_CHAIN_COLUMNS = frozenset({"status", "completed_ns", "updated_ns"})
_STAGE_COLUMNS = frozenset({
    "status", "approval_status", "approval_type", "human_feedback", "session_id", "started_ns", "completed_ns",
    "error_message", "eval_assessment", "eval_benchmark_id", "eval_model", "eval_language", "eval_condition",
    "eval_mode", "eval_stdout_ok",
})


def _update(conn: sqlite3.Connection, table: str, allowed: frozenset[str], org_id: str, entity_id: str,
            values: Mapping[str, Any]) -> None:
    unknown = set(values) - allowed
    if unknown:
        raise ValueError(f"not changeable on {table}: {sorted(unknown)}")
    if values:
        conn.execute(f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in values)} WHERE org_id = ? AND id = ?",
                     [*values.values(), org_id, entity_id])


_STAGE_TOTALS = """
UPDATE chain_stages SET (cost, tokens_in, tokens_out, turns, tool_calls, duration_ms) = (
    SELECT COALESCE(SUM(cost), 0), COALESCE(SUM(tokens_in), 0), COALESCE(SUM(tokens_out), 0),
           COALESCE(SUM(turns), 0), COALESCE(SUM(tool_calls), 0), COALESCE(SUM(duration_ms), 0)
    FROM chain_metric_entries WHERE org_id = ?1 AND chain_id = ?2 AND stage_id = ?3),
    error_count = (SELECT COUNT(*) FROM chain_stage_errors WHERE org_id = ?1 AND stage_id = ?3)
WHERE org_id = ?1 AND id = ?3
"""
_CHAIN_TOTALS = """
UPDATE execution_chains SET (current_stage, stages_completed, total_cost, total_tokens, total_turns) = (
    SELECT COALESCE(MAX(s.stage_number), 0), COALESCE(SUM(s.status = 'completed'), 0),
           COALESCE(SUM(s.cost), 0) + e.cost, COALESCE(SUM(s.tokens_in + s.tokens_out), 0) + e.tokens,
           COALESCE(SUM(s.turns), 0) + e.turns
    FROM (SELECT COALESCE(SUM(cost), 0) AS cost, COALESCE(SUM(tokens), 0) AS tokens, COALESCE(SUM(turns), 0) AS turns
          FROM chain_metric_entries WHERE org_id = ?1 AND chain_id = ?2 AND stage_id = '') AS e
    LEFT JOIN chain_stages s ON s.org_id = ?1 AND s.chain_id = ?2),
    updated_ns = ?3
WHERE org_id = ?1 AND id = ?2
"""
# The chain's status follows its stages' approvals (a final chain keeps its status).
_CHAIN_APPROVAL_STATUS = """
UPDATE execution_chains SET status = CASE WHEN EXISTS (
    SELECT 1 FROM chain_stages WHERE org_id = ?1 AND chain_id = ?2 AND status = 'awaiting_approval')
    THEN 'pending_approval' ELSE 'active' END
WHERE org_id = ?1 AND id = ?2 AND status IN ('active', 'pending_approval')
"""
_SUMMARY = """
SELECT c.id, c.source_type, c.source_ref, c.github_repo, c.github_issue_number, c.status, c.current_stage,
       c.total_cost, c.total_tokens, c.total_turns, c.stages_completed, c.created_ns, c.completed_ns,
       (SELECT COUNT(*) FROM chain_stages s WHERE s.org_id = c.org_id AND s.chain_id = c.id) AS stage_count,
       (SELECT COALESCE(MAX(stage_number), 0) FROM chain_stages s WHERE s.org_id = c.org_id AND s.chain_id = c.id)
           AS max_stage,
       (SELECT COALESCE(group_concat(agent_id, ' -> '), '') FROM (
           SELECT agent_id FROM chain_stages s WHERE s.org_id = c.org_id AND s.chain_id = c.id
           ORDER BY stage_number)) AS agent_flow
FROM execution_chains c
"""
_STATS = """
SELECT COUNT(*) AS total_chains, COALESCE(SUM(c.status = 'active'), 0) AS active_chains,
       (SELECT COUNT(*) FROM chain_stages s JOIN execution_chains c2 ON c2.org_id = s.org_id AND c2.id = s.chain_id
        WHERE s.org_id = ?1 AND s.status = 'awaiting_approval' AND c2.created_ns >= ?2) AS pending_approvals,
       COALESCE(SUM(c.status = 'completed'), 0) AS completed_chains,
       COALESCE(SUM(c.status = 'failed'), 0) AS failed_chains,
       COALESCE(SUM(c.total_cost), 0) AS total_cost, COALESCE(SUM(c.total_tokens), 0) AS total_tokens,
       COALESCE(CAST((SELECT COUNT(*) FROM chain_stages s JOIN execution_chains c3
                      ON c3.org_id = s.org_id AND c3.id = s.chain_id
                      WHERE s.org_id = ?1 AND c3.created_ns >= ?2) AS REAL) / NULLIF(COUNT(*), 0), 0)
           AS average_stages_count,
       COALESCE(AVG(CASE WHEN c.completed_ns IS NOT NULL THEN (c.completed_ns - c.created_ns) / 1e6 END), 0)
           AS average_duration_ms
FROM execution_chains c WHERE c.org_id = ?1 AND c.created_ns >= ?2
"""
_STATUS_COUNTS = """
SELECT COUNT(*) AS total_chains, COALESCE(SUM(status = 'completed'), 0) AS completed,
       COALESCE(SUM(status = 'active'), 0) AS active, COALESCE(SUM(status = 'pending_approval'), 0) AS pending_approval,
       COALESCE(SUM(status = 'failed'), 0) AS failed, COALESCE(SUM(total_cost), 0) AS total_cost,
       COALESCE(SUM(total_tokens), 0) AS total_tokens
FROM execution_chains WHERE org_id = ?1 AND created_ns >= ?2
"""
_BY_AGENT = """
SELECT s.agent_id, COUNT(*) AS stages, COALESCE(SUM(s.status = 'completed'), 0) AS completed,
       COALESCE(SUM(s.status = 'failed'), 0) AS failed, COALESCE(SUM(s.cost), 0) AS total_cost,
       COALESCE(SUM(s.tokens_in), 0) AS total_tokens_in, COALESCE(SUM(s.tokens_out), 0) AS total_tokens_out
FROM chain_stages s JOIN execution_chains c ON c.org_id = s.org_id AND c.id = s.chain_id
WHERE s.org_id = ?1 AND c.created_ns >= ?2
GROUP BY s.agent_id ORDER BY stages DESC, s.agent_id
"""
_PENDING = """
SELECT s.chain_id, c.source_type, c.source_ref, s.id AS stage_id, s.stage_number, s.agent_id, s.approval_status,
       s.approval_type, s.task_id, s.session_id, s.cost, s.turns, s.created_ns AS stage_created
FROM chain_stages s INDEXED BY chain_stages_awaiting
JOIN execution_chains c ON c.org_id = s.org_id AND c.id = s.chain_id
WHERE s.org_id = ? AND s.status = 'awaiting_approval'
ORDER BY s.created_ns, s.id LIMIT ? OFFSET ?
"""
_MIN_NS = -(2**63)


def _offset(offset: int) -> int:
    """SQLite takes int64 only; any offset past 2**62 rows is past the end anyway."""
    return min(offset, 2**62)


class SqliteChains(SqliteBase, ChainStore):
    # -- chains ----------------------------------------------------------------------------------------------
    @staticmethod
    def _chain_row(conn: sqlite3.Connection, org_id: str, chain_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM execution_chains WHERE org_id = ? AND id = ?", (org_id, chain_id)).fetchone()
        return row

    @staticmethod
    def _stage_row(conn: sqlite3.Connection, org_id: str, stage_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM chain_stages WHERE org_id = ? AND id = ?", (org_id, stage_id)).fetchone()
        return row

    def create_chain(self, org_id: str, chain: ExecutionChain) -> ExecutionChain:
        values = _columns(chain.model_dump(exclude={"stages"}))
        with self.transaction() as conn:
            if self._chain_row(conn, org_id, chain.id) is not None:
                raise DuplicateId(f"chain {chain.id!r} already exists")
            _insert(conn, "execution_chains", org_id, values)
            row = self._chain_row(conn, org_id, chain.id)
            assert row is not None
            return _chain(row)

    def get_chain(self, org_id: str, chain_id: str) -> ExecutionChain | None:
        row = self._chain_row(self._reader(), org_id, chain_id)
        return _chain(row) if row is not None else None

    def chain_ids_with_prefix(self, org_id: str, prefix: str, limit: int = 2) -> list[str]:
        rows = self._reader().execute(
            "SELECT id FROM execution_chains WHERE org_id = ? AND id >= ? AND id < ? ORDER BY id LIMIT ?",
            (org_id, prefix, prefix + _TOP, limit)).fetchall()
        return [r[0] for r in rows if r[0].startswith(prefix)]

    def find_chain(self, org_id: str, *, message_id: str | None = None, task_id: str | None = None,
                   github_repo: str | None = None, github_issue_number: int | None = None
                   ) -> ExecutionChain | None:
        # The matching ids first, then their chains (CROSS JOIN keeps that order: an org's chains are never scanned).
        if message_id is not None:
            ids = ("SELECT chain_id AS id FROM chain_stages WHERE org_id = ?1 AND message_id = ?2 UNION "
                   "SELECT id FROM execution_chains WHERE org_id = ?1 AND source_type = 'message' AND source_ref = ?2")
            params: tuple[Any, ...] = (org_id, message_id)
        elif task_id is not None:
            ids = "SELECT DISTINCT chain_id AS id FROM chain_stages WHERE org_id = ?1 AND task_id = ?2"
            params = (org_id, task_id)
        elif github_repo is not None and github_issue_number is not None:
            ids = "SELECT id FROM execution_chains WHERE org_id = ?1 AND github_repo = ?2 AND github_issue_number = ?3"
            params = (org_id, github_repo, github_issue_number)
        else:
            return None
        row = self._reader().execute(
            f"SELECT c.* FROM ({ids}) AS m CROSS JOIN execution_chains c ON c.org_id = ?1 AND c.id = m.id "
            "ORDER BY c.created_ns DESC, c.id LIMIT 1", params).fetchone()
        return _chain(row) if row is not None else None

    def list_chains(self, org_id: str, q: ChainQuery) -> list[ChainSummary]:
        from core.chains.models import ChainSummary

        clauses, params = ["c.org_id = ?"], [org_id]
        for column, value in (("c.status", q.status), ("c.source_type", q.source_type),
                              ("c.workspace_id", q.workspace_id), ("c.github_repo", q.github_repo)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if q.agent_id is not None:
            clauses.append("EXISTS (SELECT 1 FROM chain_stages a WHERE a.org_id = c.org_id AND a.chain_id = c.id "
                           "AND a.agent_id = ?)")
            params.append(q.agent_id)
        if q.created_after is not None:
            clauses.append("c.created_ns >= ?")
            params.append(to_ns(q.created_after))  # type: ignore[arg-type]
        rows = self._reader().execute(
            f"{_SUMMARY} WHERE {' AND '.join(clauses)} ORDER BY c.created_ns DESC, c.id LIMIT ? OFFSET ?",
            [*params, q.limit, _offset(q.offset)]).fetchall()
        return [ChainSummary.model_validate(_fields(r)) for r in rows]

    def delete_chain(self, org_id: str, chain_id: str) -> bool:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM execution_chains WHERE org_id = ? AND id = ?", (org_id, chain_id)
                                ).rowcount > 0

    @staticmethod
    def _add_entry(conn: sqlite3.Connection, org_id: str, chain_id: str, stage_id: str, entry: MetricEntry) -> bool:
        """Store the entry; False when its key was applied before with the same amounts."""
        stored = conn.execute(
            "SELECT cost, tokens_in, tokens_out, tokens, turns, tool_calls, duration_ms FROM chain_metric_entries "
            "WHERE org_id = ? AND chain_id = ? AND stage_id = ? AND entry_key = ?",
            (org_id, chain_id, stage_id, entry.key)).fetchone()
        if stored is not None:
            if tuple(stored) != entry.amounts():
                raise IdempotencyConflict(
                    "this Idempotency-Key was already used for different amounts: use a new key")
            return False
        _insert(conn, "chain_metric_entries", org_id, {
            "chain_id": chain_id, "stage_id": stage_id, "entry_key": entry.key, "cost": entry.cost,
            "tokens_in": entry.tokens_in, "tokens_out": entry.tokens_out, "tokens": entry.tokens,
            "turns": entry.turns, "tool_calls": entry.tool_calls, "duration_ms": entry.duration_ms,
            "created_ns": time.time_ns()})
        return True

    def change_chain(self, org_id: str, chain_id: str, decide: ChainDecision) -> ChainOutcome | None:
        from core.ports.chain_records import ChainOutcome

        with self.transaction() as conn:
            row = self._chain_row(conn, org_id, chain_id)
            if row is None:
                return None
            chain = _chain(row)
            change = decide(chain)
            if change.empty:
                return ChainOutcome(chain, False)
            if change.metric is not None and not self._add_entry(conn, org_id, chain_id, "", change.metric):
                return ChainOutcome(chain, False)
            _update(conn, "execution_chains", _CHAIN_COLUMNS, org_id, chain_id, _columns(change.fields))
            conn.execute(_CHAIN_TOTALS, (org_id, chain_id, time.time_ns()))
            append_events(conn, org_id, change.events)
            after = self._chain_row(conn, org_id, chain_id)
            assert after is not None
            return ChainOutcome(_chain(after), True)

    def _since_ns(self, created_after: datetime | None) -> int:
        return to_ns(created_after) if created_after is not None else _MIN_NS  # type: ignore[return-value]

    def chain_stats(self, org_id: str, created_after: datetime | None) -> ChainStats:
        from core.chains.models import ChainStats

        row = self._reader().execute(_STATS, (org_id, self._since_ns(created_after))).fetchone()
        return ChainStats.model_validate(dict(row))

    def chain_status_counts(self, org_id: str, created_after: datetime | None) -> ChainStatusCounts:
        from core.chains.models import ChainStatusCounts

        row = self._reader().execute(_STATUS_COUNTS, (org_id, self._since_ns(created_after))).fetchone()
        return ChainStatusCounts.model_validate(dict(row))

    def chain_stats_by_agent(self, org_id: str, created_after: datetime | None) -> list[AgentStatsResult]:
        from core.chains.models import AgentStatsResult

        rows = self._reader().execute(_BY_AGENT, (org_id, self._since_ns(created_after))).fetchall()
        return [AgentStatsResult.model_validate(dict(r)) for r in rows]

    # -- stages ----------------------------------------------------------------------------------------------
    def create_stage(self, org_id: str, stage: ChainStage,
                     check: Callable[[ExecutionChain], None] | None = None) -> ChainStage | None:
        values = _columns(stage.model_dump(exclude={"stage_number", "eval_assessment", "session", "spans"}))
        with self.transaction() as conn:
            row = self._chain_row(conn, org_id, stage.chain_id)
            if row is None:
                return None
            if check is not None:
                check(_chain(row))
            if self._stage_row(conn, org_id, stage.id) is not None:
                raise DuplicateId(f"stage {stage.id!r} already exists")
            # The write lock serialises writers, so MAX + 1 inside this transaction is the next free number; the
            # UNIQUE (org_id, chain_id, stage_number) constraint backs it.
            cols = ["org_id", *values, "stage_number"]
            conn.execute(
                f"INSERT INTO chain_stages ({','.join(cols)}) SELECT {','.join('?' * (len(cols) - 1))}, "
                "COALESCE(MAX(stage_number), 0) + 1 FROM chain_stages WHERE org_id = ? AND chain_id = ?",
                [org_id, *values.values(), org_id, stage.chain_id])
            conn.execute(_CHAIN_TOTALS, (org_id, stage.chain_id, time.time_ns()))
            created = self._stage_row(conn, org_id, stage.id)
            assert created is not None
            return _stage(created)

    def get_stage(self, org_id: str, stage_id: str) -> ChainStage | None:
        row = self._stage_row(self._reader(), org_id, stage_id)
        return _stage(row) if row is not None else None

    def list_stages(self, org_id: str, chain_id: str) -> list[ChainStage]:
        rows = self._reader().execute(
            "SELECT * FROM chain_stages WHERE org_id = ? AND chain_id = ? ORDER BY stage_number",
            (org_id, chain_id)).fetchall()
        return [_stage(r) for r in rows]

    def change_stage(self, org_id: str, stage_id: str, decide: StageDecision) -> StageOutcome | None:
        from core.ports.chain_records import StageOutcome

        with self.transaction() as conn:
            row = self._stage_row(conn, org_id, stage_id)
            if row is None:
                return None
            stage = _stage(row)
            chain_row = self._chain_row(conn, org_id, stage.chain_id)
            assert chain_row is not None  # a stage's chain exists (foreign key)
            chain = _chain(chain_row)
            change = decide(stage, chain)
            if change.empty:
                return StageOutcome(stage, chain, False)
            if change.metric is not None and not self._add_entry(conn, org_id, chain.id, stage_id, change.metric):
                return StageOutcome(stage, chain, False)
            if change.error is not None:
                stored = conn.execute(
                    "SELECT message FROM chain_stage_errors WHERE org_id = ? AND stage_id = ? AND entry_key = ?",
                    (org_id, stage_id, change.error.key)).fetchone()
                if stored is not None:
                    if stored[0] != change.error.message:
                        raise IdempotencyConflict(
                            "this Idempotency-Key was already used for another error: use a new key")
                    return StageOutcome(stage, chain, False)
                _insert(conn, "chain_stage_errors", org_id, {
                    "stage_id": stage_id, "entry_key": change.error.key, "message": change.error.message,
                    "created_ns": time.time_ns()})
            _update(conn, "chain_stages", _STAGE_COLUMNS, org_id, stage_id, _columns(change.fields))
            if change.metric is not None or change.error is not None:
                conn.execute(_STAGE_TOTALS, (org_id, chain.id, stage_id))
            if "status" in change.fields:
                conn.execute(_CHAIN_APPROVAL_STATUS, (org_id, chain.id))
            conn.execute(_CHAIN_TOTALS, (org_id, chain.id, time.time_ns()))
            append_events(conn, org_id, change.events)
            stage_after, chain_after = self._stage_row(conn, org_id, stage_id), self._chain_row(conn, org_id, chain.id)
            assert stage_after is not None and chain_after is not None
            return StageOutcome(_stage(stage_after), _chain(chain_after), True)

    def pending_approvals(self, org_id: str, limit: int, offset: int) -> list[PendingApprovalInfo]:
        from core.chains.models import PendingApprovalInfo

        rows = self._reader().execute(_PENDING, (org_id, limit, _offset(offset))).fetchall()
        out = []
        for r in rows:
            fields = dict(r)
            fields["stage_created"] = from_ns(fields["stage_created"])
            out.append(PendingApprovalInfo.model_validate(fields))
        return out

    def query_evals(self, org_id: str, q: EvalQuery) -> list[ChainStage]:
        clauses, params = ["org_id = ?", "eval_assessment IS NOT NULL"], [org_id]
        for column, value in (("chain_id", q.chain_id), ("eval_model", q.model), ("eval_language", q.language),
                              ("eval_benchmark_id", q.benchmark_id), ("eval_condition", q.condition),
                              ("eval_mode", q.eval_mode)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if q.success_only:
            clauses.append("eval_stdout_ok = 1")
        if q.failure_only:
            clauses.append("eval_stdout_ok = 0")
        rows = self._reader().execute(
            f"SELECT * FROM chain_stages WHERE {' AND '.join(clauses)} ORDER BY created_ns DESC, id LIMIT ? OFFSET ?",
            [*params, q.limit, _offset(q.offset)]).fetchall()
        return [_stage(r) for r in rows]

    # -- spans -----------------------------------------------------------------------------------------------
    def stage_spans(self, org_id: str, stage_id: str, limit: int, offset: int) -> tuple[list[SpanView], int]:
        from core.adapters.sqlite.reads import LITE_COLUMNS, span_view

        conn = self._reader()
        total = conn.execute("SELECT COUNT(*) FROM spans INDEXED BY spans_stage_start WHERE org_id = ? AND "
                             "stage_id = ?", (org_id, stage_id)).fetchone()[0]
        rows = conn.execute(
            f"SELECT {LITE_COLUMNS} FROM spans INDEXED BY spans_stage_start WHERE org_id = ? AND stage_id = ? "
            "ORDER BY start_ns, span_id LIMIT ? OFFSET ?", (org_id, stage_id, limit, _offset(offset))).fetchall()
        return [span_view(r, lite=True) for r in rows], int(total)

    def link_span(self, org_id: str, trace_id: str, span_id: str, chain_id: str, stage_id: str | None) -> bool:
        with self.transaction() as conn:
            return conn.execute(
                "UPDATE spans SET chain_id = ?, stage_id = ? WHERE org_id = ? AND trace_id = ? AND span_id = ?",
                (chain_id, stage_id, org_id, trace_id, span_id)).rowcount > 0
