"""SqliteInsights: the SQL of the insights API area on SqliteBase (its covering indexes in MIGRATIONS below).

Every aggregate is a scan of a covering index (no table row is read on the common paths): unfiltered time
ranges walk time-led indexes; session filters and session groupings walk session-led ones, a time range per
session, and groupings by a session's value finish on the few per-session rows instead of sorting every fact.
Filters resolve to SQL: ``source_type`` / ``workspace`` through the sessions table (records without a session
through their span's own columns), ``provider`` / ``model`` on LLM calls, and through the sessions that made a
matching call for the other facts (see InsightFilter)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core.adapters.sqlite.base import SqliteBase
from core.ports.fact_insights import CatalogWorkspace
from core.ports.insights import (
    API_ERROR_EVENTS,
    BreakdownKeys,
    CallTotals,
    DayTotals,
    Dimension,
    GroupTotals,
    InsightFilter,
    InsightStore,
    InsightTotals,
)

_CALL_COLUMNS = ("tokens_in, tokens_out, cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_usd, "
                 "cache_savings_usd, success, unpriced, duration_ms, span_id")
MIGRATIONS: list[tuple[int, str]] = [
    (20, f"""
CREATE INDEX llm_calls_insights_time ON llm_calls(org_id, time_ns, session_id, provider, model, {_CALL_COLUMNS});
CREATE INDEX llm_calls_insights_session ON llm_calls(org_id, session_id, time_ns, model, provider, {_CALL_COLUMNS});
CREATE INDEX spans_insights_sessionless ON spans(org_id, start_ns, source_type, workspace) WHERE session_id IS NULL;
CREATE INDEX spans_insights_task ON spans(org_id, start_ns, task_id, session_id, source_type, workspace, model,
    provider) WHERE task_id IS NOT NULL;
CREATE INDEX tool_calls_insights_time ON tool_calls(org_id, time_ns, session_id, success, tool_name);
CREATE INDEX tool_calls_insights_session ON tool_calls(org_id, session_id, time_ns, success, tool_name);
CREATE INDEX events_insights ON events(org_id, name, time_ns, session_id);
"""),
    # The covering session indexes above start with the v1 session indexes' columns: those only cost ingest.
    (21, """
DROP INDEX IF EXISTS llm_calls_session;
DROP INDEX IF EXISTS tool_calls_session;
"""),
]

# A session's first/last seen times come from its records' times; the slack keeps a session whose bounds were
# learned from a slightly different clock (a span's start vs its call's end) inside its records' window.
_SESSION_SLACK_NS = 86_400 * 10**9

# Per-call sums (first level) and sums of those sums (second level), in CallTotals order.
_SUMS = """COUNT(*) AS n, TOTAL(c.success = 0) AS failed, TOTAL(c.unpriced != 0) AS unpriced,
    TOTAL(c.tokens_in) AS t_in, TOTAL(c.tokens_out) AS t_out, TOTAL(c.cache_read_tokens) AS t_cr,
    TOTAL(c.cache_creation_tokens) AS t_cc, TOTAL(c.reasoning_tokens) AS t_rs, TOTAL(c.cost_usd) AS cost,
    TOTAL(c.cache_savings_usd) AS savings, TOTAL(c.duration_ms) AS dur, COUNT(c.duration_ms) AS timed,
    COUNT(c.span_id) AS spans"""
_SUMS2 = ("TOTAL(n), TOTAL(failed), TOTAL(unpriced), TOTAL(t_in), TOTAL(t_out), TOTAL(t_cr), TOTAL(t_cc), "
          "TOTAL(t_rs), TOTAL(cost), TOTAL(savings), TOTAL(dur), TOTAL(timed), TOTAL(spans)")
_API_ERRORS = ", ".join(f"'{name}'" for name in API_ERROR_EVENTS)
_ACTIVITY = ("lines_added", "lines_removed", "commit_count", "pull_request_count", "active_time_ms")


def _call_totals(row: Iterable[Any], sessions: int | None = None) -> CallTotals:
    """CallTotals from the 13 sums (and distinct sessions, last, unless given)."""
    r = list(row)
    return CallTotals(calls=int(r[0]), failed_calls=int(r[1]), unpriced_calls=int(r[2]), tokens_in=int(r[3]),
                      tokens_out=int(r[4]), cache_read_tokens=int(r[5]), cache_creation_tokens=int(r[6]),
                      reasoning_tokens=int(r[7]), cost_usd=float(r[8]), cache_savings_usd=float(r[9]),
                      duration_ms=float(r[10]), timed_calls=int(r[11]), span_calls=int(r[12]),
                      sessions=int(r[13]) if sessions is None else sessions)


def _ws_match(column: str) -> str:
    """A stored workspace path matches the filter value itself (``unknown`` for none) or, when the value is a
    catalog workspace id, that workspace's path or a path under it."""
    return (f"(COALESCE({column}, 'unknown') = :ws OR {column} = :ws_path "
            f"OR substr({column}, 1, :ws_prefix_len) = :ws_prefix)")


_POOL: list[ThreadPoolExecutor] = []


def _day_pool() -> ThreadPoolExecutor:
    """Two long-lived threads, so their per-thread read connections are reused across requests."""
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(max_workers=2, thread_name_prefix="insight-days"))
    return _POOL[0]


def _split_call_groups(reader: Callable[[], sqlite3.Connection], s: _Scope, dimension: str, window: str
                       ) -> dict[str | None, CallTotals]:
    """Call sums by model or provider over the whole window: the scan dominates (a row per call), so the two
    halves of the window run on two threads (each its own read connection: SQLite steps a statement without
    the GIL). Sums are taken per (value, session) so the halves merge exactly, distinct sessions included."""
    lo, hi = s.params["lo"], s.params["hi"]
    mid = lo + (hi - lo) // 2
    sql = (f"SELECT c.{dimension}, c.session_id, {_SUMS} FROM llm_calls c INDEXED BY llm_calls_insights_time "
           f"WHERE c.org_id = :org AND {window} GROUP BY 1, 2")

    def half(bounds: tuple[int, int]) -> list[Any]:
        return reader().execute(sql, dict(s.params, lo=bounds[0], hi=bounds[1])).fetchall()

    out: dict[str | None, CallTotals] = {}
    sessions: dict[str | None, set[str]] = {}
    for rows in _day_pool().map(half, ((lo, mid), (mid, hi))):
        for row in rows:
            out.setdefault(row[0], CallTotals()).add(_call_totals(row[2:], sessions=0))
            if row[1] is not None:
                sessions.setdefault(row[0], set()).add(row[1])
    for key, totals in out.items():
        totals.sessions = len(sessions.get(key, ()))
    return out


class _Scope:
    """An InsightFilter turned into SQL fragments and named parameters for one org."""

    def __init__(self, conn: sqlite3.Connection, org_id: str, f: InsightFilter) -> None:
        self.f = f
        ws_path = None
        if f.workspace is not None:
            row = conn.execute("SELECT path FROM workspaces WHERE org_id = ? AND id = ? AND path != ''",
                               (org_id, f.workspace)).fetchone()
            ws_path = row[0] if row else None
        prefix = ws_path.rstrip("/") + "/" if ws_path else None
        self.params: dict[str, Any] = {
            "org": org_id, "src": f.source_type, "provider": f.provider, "model": f.model, "ws": f.workspace,
            "ws_path": ws_path, "ws_prefix": prefix, "ws_prefix_len": len(prefix) if prefix else 0,
        }
        self.window(f.start_ns, f.end_ns)

    def window(self, lo: int, hi: int) -> None:
        self.params.update(lo=lo, hi=hi, slo=lo - _SESSION_SLACK_NS, shi=hi + _SESSION_SLACK_NS)

    def own_match(self, alias: str) -> str:
        """source_type / workspace on a span's own columns (records without a session)."""
        terms = []
        if self.f.source_type is not None:
            terms.append(f"{alias}.source_type = :src")
        if self.f.workspace is not None:
            terms.append(_ws_match(f"{alias}.workspace"))
        return " AND ".join(terms) or "1"

    def session_terms(self, alias: str, facets: bool = True) -> str:
        """Sessions near the window (whose source_type / workspace match, with ``facets``)."""
        terms = [f"{alias}.org_id = :org", f"{alias}.last_seen_ns >= :slo", f"{alias}.first_seen_ns < :shi"]
        if facets and self.f.source_type is not None:
            terms.append(f"{alias}.source_type = :src")
        if facets and self.f.workspace is not None:
            terms.append(_ws_match(f"{alias}.workspace"))
        return " AND ".join(terms)

    def sessions_sql(self, facets: bool = True) -> str:
        return f"SELECT ss.session_id FROM sessions ss WHERE {self.session_terms('ss', facets)}"

    def call_terms(self, alias: str) -> str:
        terms = []
        if self.f.provider is not None:
            terms.append(f"{alias}.provider = :provider")
        if self.f.model is not None:
            terms.append(f"{alias}.model = :model")
        return "".join(f" AND {t}" for t in terms)

    def call_sessions_sql(self) -> str:
        """Sessions that made a matching LLM call inside the window."""
        return ("SELECT c.session_id FROM llm_calls c INDEXED BY llm_calls_insights_time WHERE c.org_id = :org "
                f"AND c.time_ns >= :lo AND c.time_ns < :hi AND c.session_id IS NOT NULL{self.call_terms('c')}")

    def fact_terms(self, alias: str) -> list[str]:
        """WHERE terms, one statement each, for a fact table with session_id / trace_id / span_id (tool calls,
        events). Records without a session match through their span only when the filter is on sessions
        alone (a provider or model is a property of calls, not of tools)."""
        f = self.f
        if not f.by_session and not f.by_call:
            return ["1"]
        terms = []  # IN implies a session, and lets the planner probe a session-led index per session
        if f.by_session:
            terms.append(f"{alias}.session_id IN ({self.sessions_sql()})")
        if f.by_call:
            terms.append(f"{alias}.session_id IN ({self.call_sessions_sql()})")
        parts = [" AND ".join(terms)]
        if f.by_session and not f.by_call:
            parts.append(f"{alias}.session_id IS NULL AND EXISTS (SELECT 1 FROM spans sp WHERE sp.org_id = :org "
                         f"AND sp.trace_id = {alias}.trace_id AND sp.span_id = {alias}.span_id "
                         f"AND {self.own_match('sp')})")
        return parts

    def span_session_term(self, alias: str) -> str:
        """A span matches source_type / workspace through its session, or its own columns without one."""
        if not self.f.by_session:
            return "1"
        return (f"(({alias}.session_id IS NOT NULL AND {alias}.session_id IN ({self.sessions_sql()})) "
                f"OR ({alias}.session_id IS NULL AND {self.own_match(alias)}))")


class SqliteInsights(SqliteBase, InsightStore):
    # -- LLM calls -----------------------------------------------------------------------------------------
    @staticmethod
    def _call_totals(conn: sqlite3.Connection, s: _Scope, long_window: bool = True) -> CallTotals:
        window = f"c.time_ns >= :lo AND c.time_ns < :hi{s.call_terms('c')}"
        sessions: int | None = None
        distinct = ", COUNT(DISTINCT c.session_id)"
        if long_window:
            # Over many calls, one index probe per session near the window beats deduplicating every call.
            sessions = int(conn.execute(
                f"SELECT COUNT(*) FROM sessions x WHERE {s.session_terms('x', s.f.by_session)} AND EXISTS (SELECT 1 "
                "FROM llm_calls c INDEXED BY llm_calls_insights_session WHERE c.org_id = :org "
                f"AND c.session_id = x.session_id AND {window})", s.params).fetchone()[0])
            distinct = ""
        if not s.f.by_session:
            row = conn.execute(f"SELECT {_SUMS}{distinct} FROM llm_calls c INDEXED BY llm_calls_insights_time "
                               f"WHERE c.org_id = :org AND {window}", s.params)
            return _call_totals(row.fetchone(), sessions)
        totals = _call_totals(conn.execute(
            f"SELECT {_SUMS}{distinct} FROM llm_calls c INDEXED BY llm_calls_insights_session "
            f"WHERE c.org_id = :org AND c.session_id IN ({s.sessions_sql()}) AND {window}", s.params).fetchone(),
            sessions)
        totals.add(_call_totals(conn.execute(
            f"SELECT {_SUMS} FROM llm_calls c INDEXED BY llm_calls_insights_session "
            f"WHERE c.org_id = :org AND c.session_id IS NULL AND {window} "
            "AND EXISTS (SELECT 1 FROM spans sp WHERE sp.org_id = :org AND sp.trace_id = c.trace_id "
            f"AND sp.span_id = c.span_id AND {s.own_match('sp')})", s.params).fetchone(), 0))
        return totals

    @staticmethod
    def _call_groups(reader: Callable[[], sqlite3.Connection], s: _Scope, dimension: Dimension
                     ) -> dict[str | None, CallTotals]:
        """Call sums by the dimension's raw value (model, provider, session source_type or workspace path).

        Model and provider group the calls directly. Source type and workspace sum calls per session (in the
        session-led index's order, no sort of the calls) and group those few rows by the session's value;
        calls without a session group by their span's."""
        window = f"c.time_ns >= :lo AND c.time_ns < :hi{s.call_terms('c')}"
        out: dict[str | None, CallTotals] = {}
        statements: list[str] = []
        if dimension in ("model", "provider"):
            if not s.f.by_session:
                return _split_call_groups(reader, s, dimension, window)
            else:
                statements.append(
                    f"SELECT c.{dimension}, {_SUMS}, COUNT(DISTINCT c.session_id) FROM llm_calls c "
                    f"INDEXED BY llm_calls_insights_session WHERE c.org_id = :org "
                    f"AND c.session_id IN ({s.sessions_sql()}) AND {window} GROUP BY 1")
                statements.append(
                    f"SELECT c.{dimension}, {_SUMS}, 0 FROM llm_calls c INDEXED BY llm_calls_insights_session "
                    f"WHERE c.org_id = :org AND c.session_id IS NULL AND {window} AND EXISTS (SELECT 1 FROM spans sp "
                    "WHERE sp.org_id = :org AND sp.trace_id = c.trace_id AND sp.span_id = c.span_id "
                    f"AND {s.own_match('sp')}) GROUP BY 1")
        else:
            statements.append(
                f"WITH per AS (SELECT c.session_id, {_SUMS} FROM llm_calls c INDEXED BY llm_calls_insights_session "
                f"WHERE c.org_id = :org AND c.session_id IN ({s.sessions_sql(facets=s.f.by_session)}) AND {window} "
                f"GROUP BY 1) SELECT x.{dimension}, {_SUMS2}, COUNT(*) FROM per "
                "LEFT JOIN sessions x ON x.org_id = :org AND x.session_id = per.session_id GROUP BY 1")
            statements.append(
                f"SELECT sp.{dimension}, {_SUMS}, 0 FROM llm_calls c INDEXED BY llm_calls_insights_session "
                "LEFT JOIN spans sp ON sp.org_id = c.org_id AND sp.trace_id = c.trace_id AND sp.span_id = c.span_id "
                f"WHERE c.org_id = :org AND c.session_id IS NULL AND {window} AND {s.own_match('sp')} GROUP BY 1")
        conn = reader()
        for sql in statements:
            for row in conn.execute(sql, s.params):
                out.setdefault(row[0], CallTotals()).add(_call_totals(row[1:]))
        return out

    # -- spans ---------------------------------------------------------------------------------------------
    @staticmethod
    def _span_count(conn: sqlite3.Connection, s: _Scope) -> int:
        """Spans by start time (without provider / model: those count the spans of matching calls)."""
        window = "x.start_ns >= :lo AND x.start_ns < :hi"
        if not s.f.by_session:
            return int(conn.execute(f"SELECT COUNT(*) FROM spans x WHERE x.org_id = :org AND {window}",
                                    s.params).fetchone()[0])
        # IN alone (no IS NOT NULL) lets the planner probe the partial session index once per session.
        with_session = conn.execute(f"SELECT COUNT(*) FROM spans x WHERE x.org_id = :org "
                                    f"AND x.session_id IN ({s.sessions_sql()}) AND {window}", s.params)
        without = conn.execute(f"SELECT COUNT(*) FROM spans x INDEXED BY spans_insights_sessionless "
                               f"WHERE x.org_id = :org AND {window} AND x.session_id IS NULL AND {s.own_match('x')}",
                               s.params)
        return int(with_session.fetchone()[0]) + int(without.fetchone()[0])

    @staticmethod
    def _span_groups(conn: sqlite3.Connection, s: _Scope, dimension: Dimension) -> dict[str | None, int]:
        """Span counts by session source_type / workspace path (own columns without a session)."""
        window = "x.start_ns >= :lo AND x.start_ns < :hi"
        out: dict[str | None, int] = {}
        for key, n in conn.execute(
            f"WITH per AS (SELECT x.session_id, COUNT(*) AS n FROM spans x WHERE x.org_id = :org "
            f"AND x.session_id IN ({s.sessions_sql(facets=s.f.by_session)}) AND {window} GROUP BY 1) "
            f"SELECT ss.{dimension}, TOTAL(per.n) FROM per LEFT JOIN sessions ss ON ss.org_id = :org "
            "AND ss.session_id = per.session_id GROUP BY 1", s.params,
        ):
            out[key] = out.get(key, 0) + int(n)
        for key, n in conn.execute(
            f"SELECT x.{dimension}, COUNT(*) FROM spans x INDEXED BY spans_insights_sessionless "
            f"WHERE x.org_id = :org AND {window} AND x.session_id IS NULL AND {s.own_match('x')} GROUP BY 1",
            s.params,
        ):
            out[key] = out.get(key, 0) + int(n)
        return out

    @staticmethod
    def _span_task_terms(s: _Scope) -> str:
        llm = f" AND x.model IS NOT NULL{s.call_terms('x')}" if s.f.by_call else ""
        return (f"x.org_id = :org AND x.start_ns >= :lo AND x.start_ns < :hi AND x.task_id IS NOT NULL{llm} "
                f"AND {s.span_session_term('x')}")

    # -- tool calls, API errors ------------------------------------------------------------------------------
    @staticmethod
    def _tools(conn: sqlite3.Connection, s: _Scope) -> tuple[int, int]:
        count = failed = 0
        # Unfiltered: one time range; filtered: a time range per matching session (and the session-less range).
        index = "tool_calls_insights_session" if s.f.by_session or s.f.by_call else "tool_calls_insights_time"
        for term in s.fact_terms("t"):
            # A record with neither a name nor an outcome is a placeholder, not a call (core.sessions).
            row = conn.execute(
                f"SELECT COUNT(*), TOTAL(t.success = 0) FROM tool_calls t INDEXED BY {index} WHERE t.org_id = :org "
                "AND t.time_ns >= :lo AND t.time_ns < :hi AND (t.tool_name IS NOT NULL OR t.success IS NOT NULL) "
                f"AND {term}", s.params,
            ).fetchone()
            count += int(row[0])
            failed += int(row[1])
        return count, failed

    @staticmethod
    def _api_errors(conn: sqlite3.Connection, s: _Scope) -> int:
        return sum(
            int(conn.execute(
                f"SELECT COUNT(*) FROM events e WHERE e.org_id = :org AND e.name IN ({_API_ERRORS}) "
                f"AND e.time_ns >= :lo AND e.time_ns < :hi AND {term}", s.params,
            ).fetchone()[0])
            for term in s.fact_terms("e")
        )

    # -- session activity and the catalog ------------------------------------------------------------------
    @staticmethod
    def _activity(conn: sqlite3.Connection, s: _Scope, t: InsightTotals) -> None:
        """Sums of the session aggregates (metric points as increments, core.sessions) of the sessions active in
        the window."""
        sums = ", ".join(f"TOTAL(json_extract(x.rollup, '$.{k}'))" for k in _ACTIVITY)
        row = conn.execute(
            f"SELECT {sums} FROM sessions x WHERE x.org_id = :org AND x.last_seen_ns >= :lo "
            f"AND x.first_seen_ns < :hi AND x.rollup IS NOT NULL AND {s.fact_terms('x')[0]}", s.params,
        ).fetchone()
        t.lines_added, t.lines_removed, t.commits, t.pull_requests, t.active_time_ms = (int(v) for v in row)

    def _catalog(self, conn: sqlite3.Connection, s: _Scope, t: InsightTotals) -> None:
        f = s.f
        ws = ""
        if f.workspace is not None:  # the filter names a catalog workspace by id, or by its path
            ws = " AND (w.id = :ws OR (w.path != '' AND w.path = :ws))"
        t.workspaces = int(conn.execute(f"SELECT COUNT(*) FROM workspaces w WHERE w.org_id = :org{ws}",
                                        s.params).fetchone()[0])
        params = dict(s.params, task_ids=None)
        task_terms = ["t.org_id = :org", "t.created_ns >= :lo", "t.created_ns < :hi"]
        if f.workspace is not None:
            task_terms.append(f"t.workspace_id IN (SELECT w.id FROM workspaces w WHERE w.org_id = :org{ws})")
        if f.source_type is not None or f.by_call:
            # Telemetry facets reach a task through its spans: it counts when a matching span ran in the window.
            rows = conn.execute(f"SELECT DISTINCT x.task_id FROM spans x INDEXED BY spans_insights_task "
                                f"WHERE {self._span_task_terms(s)}", params)
            params["task_ids"] = json.dumps([r[0] for r in rows])
            task_terms.append("t.id IN (SELECT value FROM json_each(:task_ids))")
        tasks = f"SELECT t.id FROM tasks t WHERE {' AND '.join(task_terms)}"
        t.tasks = int(conn.execute(f"SELECT COUNT(*) FROM ({tasks})", params).fetchone()[0])
        provider = " AND a.provider = :provider" if f.provider is not None else ""
        t.agents = int(conn.execute(
            f"SELECT COUNT(DISTINCT a.agent_id) FROM agent_assignments a WHERE a.org_id = :org "
            f"AND a.task_id IN ({tasks}){provider}", params,
        ).fetchone()[0])

    # -- the port ------------------------------------------------------------------------------------------
    def insight_totals(self, org_id: str, f: InsightFilter) -> InsightTotals:
        conn = self._reader()
        s = _Scope(conn, org_id, f)
        t = InsightTotals(calls=self._call_totals(conn, s))
        t.spans = t.calls.span_calls if f.by_call else self._span_count(conn, s)
        t.tool_calls, t.failed_tool_calls = self._tools(conn, s)
        t.api_errors = self._api_errors(conn, s)
        self._activity(conn, s, t)
        self._catalog(conn, s, t)
        return t

    def insight_groups(self, org_id: str, f: InsightFilter, dimension: Dimension) -> list[GroupTotals]:
        conn = self._reader()
        s = _Scope(conn, org_id, f)
        roots = conn.execute("SELECT id, path FROM workspaces WHERE org_id = :org AND path != ''", s.params) \
            if dimension == "workspace" else []
        keys = BreakdownKeys(dimension, [CatalogWorkspace(r[0], r[1]) for r in roots])
        groups: dict[str, GroupTotals] = {}
        for raw, calls in self._call_groups(self._reader, s, dimension).items():
            g = groups.setdefault(keys.of(raw), GroupTotals(keys.of(raw)))
            g.calls.add(calls)
        if dimension in ("model", "provider") or f.by_call:
            for g in groups.values():
                g.spans = g.calls.span_calls
        else:
            for raw, n in self._span_groups(conn, s, dimension).items():
                key = keys.of(raw)
                groups.setdefault(key, GroupTotals(key)).spans += n
        return [g for g in groups.values() if g.calls.calls or g.spans]

    def insight_days(self, org_id: str, f: InsightFilter, days: list[tuple[int, int]]) -> list[DayTotals]:
        # Days are independent reads: two threads (each with its own read connection; SQLite runs a statement
        # without the GIL) use both cores, which a 30-day heatmap over a million spans needs.
        if len(days) < 4:
            return self._days(org_id, f, days)
        half = len(days) // 2
        parts = list(_day_pool().map(lambda part: self._days(org_id, f, part), (days[:half], days[half:])))
        return parts[0] + parts[1]

    def _days(self, org_id: str, f: InsightFilter, days: list[tuple[int, int]]) -> list[DayTotals]:
        conn = self._reader()
        s = _Scope(conn, org_id, f)
        out = []
        for lo, hi in days:
            s.window(lo, hi)
            d = DayTotals(lo, hi, calls=self._call_totals(conn, s, long_window=False))
            d.spans = d.calls.span_calls if f.by_call else self._span_count(conn, s)
            d.tasks = int(conn.execute(f"SELECT COUNT(DISTINCT x.task_id) FROM spans x INDEXED BY spans_insights_task "
                                       f"WHERE {self._span_task_terms(s)}", s.params).fetchone()[0])
            d.tool_calls, d.failed_tool_calls = self._tools(conn, s)
            d.api_errors = self._api_errors(conn, s)
            out.append(d)
        return out

    def workspace_labels(self, org_id: str, keys: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        conn = self._reader()
        unique = sorted(set(keys))
        for i in range(0, len(unique), 500):
            chunk = unique[i:i + 500]
            rows = conn.execute(
                f"SELECT id, name FROM workspaces WHERE org_id = ? AND id IN ({','.join('?' * len(chunk))})",
                (org_id, *chunk),
            )
            out.update({r[0]: r[1] for r in rows})
        return out
