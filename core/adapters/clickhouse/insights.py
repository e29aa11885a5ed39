"""ClickHouseFactInsights: the fact aggregations of the insights (FactInsights) over the telemetry history, with the
SQLite adapter's InsightFilter semantics (core/adapters/sqlite/insights.py is the reference).

Each aggregate is one statement per kind of fact over the whole window, grouped by day bucket where there are
several: a record's bucket is the first bucket ending after its time (buckets sorted and disjoint; otherwise one
statement set per bucket). A statement reads its facts from slot_sums.source: the 15-minute slot sums of the
clean slots inside the window and the records (the newest version of each) of the rest, then sums them per
bucket and session first, and only then joins those few rows to the sessions (merged from their sightings) and
applies the filter; the span, tool-call and API-error counts of an unfiltered request, which read no session, are
summed per bucket at once. Filters resolve as in the Store:
- ``source_type`` / ``workspace`` through the record's session, which must be near the bucket (its first / last
  sighting within a day of it); a record without a session through the span it names (its own columns).
- ``provider`` / ``model`` on LLM calls; spans are then the spans that reported a matching call, tasks those with
  a span naming a matching model, and tool calls, API errors and session activity go through the sessions that
  made a matching call inside the bucket.

Assumptions (the day of slack the Store also gives sessions): the sightings of one LLM or tool call lie within a
day of each other, a record is written at most a day before the time it reports, and a record without a session
names a span started at most a day before or after it. They let reads skip every partition of the rewritable
tables written before the window, and look spans up in the window's neighbourhood only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from core.adapters.clickhouse import history_schema as schema
from core.adapters.clickhouse import slot_sums
from core.adapters.clickhouse.connection import AnalyticsConnection, WorkerPool
from core.adapters.clickhouse.slot_sums import CALLS, ERRORS, SPANS, TOOLS, Family, SlotSums
from core.errors import StorageUnavailable
from core.ports.fact_insights import CatalogWorkspace, FactInsights
from core.ports.insights import (
    UNKNOWN,
    BreakdownKeys,
    CallTotals,
    DayTotals,
    Dimension,
    GroupTotals,
    InsightFilter,
    InsightTotals,
)

SLACK_NS = schema.SLACK_NS
_HIGH = schema.ABSENT_HIGH

# Sums in CallTotals order (without sessions) of the per-session sums.
_CALL_SUMS = ", ".join(f"sum(c.{column})" for column in (
    "n", "failed", "unpriced", "t_in", "t_out", "t_cr", "t_cc", "t_rs", "cost", "savings", "dur", "timed", "spans"))
# The span a record without a session names (NULL for records with one: they never need it).
_OWN_REF = "{a}.ref_trace AS trace_id, {a}.ref_span AS span_id"
_NO_REF = "NULL AS trace_id, NULL AS span_id"
_MAX_REF_PARAMETER = 20_000
# A request's statements after its scope (LLM calls, spans, tool calls and API errors, activity) are independent:
# they run side by side, each on its own engine handle.
_READS = WorkerPool("insight-read", 3)


@dataclass(frozen=True, slots=True)
class _Refs:
    """The spans a statement's session-less records name: SQL naming them (a parameter, or a subquery when there
    are many) and the parameters it binds. Per statement: the statements of one request run side by side."""

    sql: str
    params: dict[str, Any]


def _call_totals(row: Sequence[Any]) -> CallTotals:
    """CallTotals from the 13 sums and the distinct sessions."""
    return CallTotals(calls=int(row[0]), failed_calls=int(row[1]), unpriced_calls=int(row[2]), tokens_in=int(row[3]),
                      tokens_out=int(row[4]), cache_read_tokens=int(row[5]), cache_creation_tokens=int(row[6]),
                      reasoning_tokens=int(row[7]), cost_usd=float(row[8]), cache_savings_usd=float(row[9]),
                      duration_ms=float(row[10]), timed_calls=int(row[11]), span_calls=int(row[12]),
                      sessions=int(row[13]))


@dataclass
class _Scope:
    """One request: the filter, its buckets and catalog lookups, as SQL fragments over bound parameters."""

    db: str
    org_id: str
    f: InsightFilter
    buckets: list[tuple[int, int]]
    workspaces: Sequence[CatalogWorkspace]
    params: dict[str, Any] = field(default_factory=dict)
    dirty: dict[str, list[int]] = field(default_factory=dict)  # slots whose sums are stale, per family

    def __post_init__(self) -> None:
        f = self.f
        lo = min(b[0] for b in self.buckets)
        hi = max(b[1] for b in self.buckets)
        self.lo, self.hi = lo, hi
        # Slot sums serve when every inner bucket boundary is a slot boundary (days in any zone are).
        inner = {edge for b in self.buckets for edge in b} - {lo, hi}
        self.slotted = all(edge % slot_sums.SLOT_NS == 0 for edge in inner)
        ws_path = None
        if f.workspace is not None:
            ws_path = next((w.path for w in self.workspaces if w.id == f.workspace and w.path != ""), None)
        self.ws_path = ws_path
        self.params = {
            "org": self.org_id, "los": [b[0] for b in self.buckets], "his": [b[1] for b in self.buckets],
            "lo": lo, "hi": hi, "slack": SLACK_NS, "src": f.source_type, "provider": f.provider, "model": f.model,
            "ws": f.workspace, "ws_path": ws_path, "ws_prefix": ws_path.rstrip("/") + "/" if ws_path else None,
            "width": self.buckets[0][1] - self.buckets[0][0],
        }

    # -- windows and buckets -------------------------------------------------------------------------------
    def bucket(self, column: str) -> str:
        """SQL: the bucket of a time (0 after the last). Buckets of one width end to end (days in UTC or in a zone
        without a clock change) are found by arithmetic, a third of the cost of the search otherwise used."""
        widths = {hi - lo for lo, hi in self.buckets}
        contiguous = all(self.buckets[i][1] == self.buckets[i + 1][0] for i in range(len(self.buckets) - 1))
        if len(widths) == 1 and contiguous and min(widths) > 0:
            return (f"if({column} >= {{lo:Int64}} AND {column} < {{hi:Int64}}, "
                    f"intDiv({column} - {{lo:Int64}}, {{width:Int64}}) + 1, 0)")
        return f"arrayFirstIndex(h -> {column} < h, {{his:Array(Int64)}})"

    @staticmethod
    def in_bucket(column: str, b: str = "b") -> str:
        return f"{b} > 0 AND {column} >= {{los:Array(Int64)}}[{b}]"

    @staticmethod
    def window(column: str, slack: bool = False) -> str:
        if slack:
            return (f"{column} >= {{lo:Int64}} - {{slack:Int64}} AND {column} < {{hi:Int64}} + {{slack:Int64}}")
        return f"{column} >= {{lo:Int64}} AND {column} < {{hi:Int64}}"

    # -- sessions ------------------------------------------------------------------------------------------
    def sessions(self) -> str:
        """Every session of the org, merged from its sightings."""
        def first(column: str, absent: str) -> str:
            return f"if(tupleElement(min({column}), 1) = {_HIGH}, {absent}, tupleElement(min({column}), 2))"
        other = "'other'"
        return (f"SELECT session_id, min(first_seen_ns) AS s_first, max(last_seen_ns) AS s_last, "
                f"{first('source_type', other)} AS s_source, {first('workspace', 'NULL')} AS s_workspace, "
                f"{first('task_link', 'NULL')} AS s_task FROM {self.db}.{schema.SESSIONS} "
                "WHERE org_id = {org:String} GROUP BY session_id")

    @staticmethod
    def near(b: str = "b") -> str:
        """The joined session is seen within a day of bucket ``b``."""
        return (f"s.s_last >= {{los:Array(Int64)}}[{b}] - {{slack:Int64}} "
                f"AND s.s_first < {{his:Array(Int64)}}[{b}] + {{slack:Int64}}")

    def ws_match(self, column: str) -> str:
        terms = [f"ifNull({column}, '{UNKNOWN}') = {{ws:String}}"]
        if self.ws_path is not None:
            terms += [f"{column} = {{ws_path:String}}", f"startsWith({column}, {{ws_prefix:String}})"]
        return "(" + " OR ".join(terms) + ")"

    def facets(self, source: str, workspace: str) -> str:
        """source_type / workspace of a session (``s.s_*``) or of a span's own columns."""
        terms = []
        if self.f.source_type is not None:
            terms.append(f"{source} = {{src:String}}")
        if self.f.workspace is not None:
            terms.append(self.ws_match(workspace))
        return " AND ".join(terms) or "1"

    def session_match(self, session: str, facets: bool = True, b: str = "b") -> str:
        """A record with a session matches through its session near bucket ``b`` (with facets)."""
        terms = [f"{session} IS NOT NULL", self.near(b)]
        if facets and self.f.by_session:
            terms.append(self.facets("s.s_source", "s.s_workspace"))
        return "(" + " AND ".join(terms) + ")"

    def source(self, family: Family) -> str:
        """The family's facts in the window, as rows (org_id, t, keys..., counts...) to sum (slot_sums.source)."""
        return slot_sums.source(self.db, family, self.lo, self.hi, self.slotted, self.dirty.get(family.name, ()))

    def facts(self) -> str:
        """Tool calls and API errors as one source (``n``, ``failed``: tool calls; ``errors``: API errors): they
        match alike, so one statement counts both."""
        columns = "t, session_id, ref_trace, ref_span"
        return (f"SELECT {columns}, n, failed, toUInt64(0) AS errors FROM ({self.source(TOOLS)}) UNION ALL "
                f"SELECT {columns}, toUInt64(0), toUInt64(0), n FROM ({self.source(ERRORS)})")

    def per_bucket(self, family: Family | str, alias: str, where: str = "") -> str:
        """FROM clause of the family's rows (or of a source's) in a bucket (``b``, with ``where``)."""
        source = self.source(family) if isinstance(family, Family) else family
        return (f"FROM (SELECT *, {self.bucket(f'{alias}.t')} AS b FROM ({source}) AS {alias}) "
                f"AS {alias} WHERE {self.in_bucket(f'{alias}.t', f'{alias}.b')}{where}")

    # -- LLM calls -----------------------------------------------------------------------------------------
    def call_terms(self, alias: str) -> str:
        terms = []
        if self.f.provider is not None:
            terms.append(f"{alias}.provider = {{provider:String}}")
        if self.f.model is not None:
            terms.append(f"{alias}.model = {{model:String}}")
        return "".join(f" AND {t}" for t in terms)

    def call_sessions(self) -> str:
        """(bucket, session) of the sessions that made a matching LLM call inside the bucket, as a subquery. Not
        found once and passed on as a parameter: the engine parses a parameter's text on every statement, and a
        month's pairs (~2,000) cost more to parse than the subquery costs to run."""
        where = f" AND c.session_id IS NOT NULL{self.call_terms('c')}"
        return f"(SELECT DISTINCT toInt64(c.b), assumeNotNull(c.session_id) {self.per_bucket(CALLS, 'c', where)})"

    # -- spans a session-less record names -------------------------------------------------------------------
    def own_spans(self, refs: str) -> str:
        """Spans (their own source_type / workspace) whose (trace_id, span_id) is in ``refs`` (a parameter or a
        subquery): the newest version of each, by GROUP BY rather than FINAL, which would merge every span of the
        window; a parameter's traces also go through the trace bloom filter."""
        traces = " AND trace_id IN {ref_traces:Array(String)}" if refs.startswith("{") else ""
        newest = "argMax(tuple(source_type, workspace), version)"
        return (f"SELECT trace_id, span_id, tupleElement({newest}, 1) AS o_source, "
                f"tupleElement({newest}, 2) AS o_workspace, 1 AS o_found FROM {self.db}.{schema.SPANS} "
                f"WHERE org_id = {{org:String}} AND {self.window('start_ns', slack=True)}{traces} "
                f"AND (trace_id, span_id) IN {refs} GROUP BY trace_id, span_id")

    def fact_match(self, session: str, own: bool, b: str = "b") -> str:
        """A tool call or event matches through its session (and, with provider / model, a session that made a
        matching call in the bucket); without a session, through its span, when the filter is on sessions alone."""
        f = self.f
        if not f.by_session and not f.by_call:
            return "1"
        terms = [self.session_match(session, b=b)] if f.by_session else [f"{session} IS NOT NULL"]
        if f.by_call:
            terms.append(f"(toInt64({b}), {session}) IN {self.call_sessions()}")
        match = " AND ".join(terms)
        if own:  # some session-less record names a span: its columns are joined (``o.*``)
            own_facets = self.facets("o.o_source", "o.o_workspace")
            match = f"({match}) OR ({session} IS NULL AND o.o_found = 1 AND {own_facets})"
        return f"({match})"


class ClickHouseFactInsights(FactInsights):
    """FactInsights on the telemetry history tables (history_schema) of one AnalyticsConnection. ``slot_sums=False``
    reads every fact from its records (the benchmark's baseline; the answers are the same)."""

    def __init__(self, conn: AnalyticsConnection, slot_sums: bool = True) -> None:
        self._conn = conn
        self._db = conn.database
        self._slots = SlotSums(conn)
        self._use_sums = slot_sums

    def _rows(self, sql: str, s: _Scope, refs: _Refs | None = None) -> list[Sequence[Any]]:
        params = {**s.params, **refs.params} if refs else s.params
        # Only the parameters the statement names: the engine parses every one it is sent, used or not (a filter's
        # 2,000 (day, session) pairs cost ~20 ms on each statement that never reads them).
        params = {name: value for name, value in params.items() if f"{{{name}:" in sql}
        try:
            result = self._conn.client.query(sql, parameters=params, settings={"join_use_nulls": 1})
        except Exception as exc:
            raise StorageUnavailable(f"analytics cannot answer: {type(exc).__name__}: {exc}"[:500]) from exc
        return list(result.result_rows)

    def _scope(self, org_id: str, f: InsightFilter, buckets: list[tuple[int, int]],
               workspaces: Sequence[CatalogWorkspace]) -> _Scope:
        s = _Scope(self._db, org_id, f, buckets, workspaces)
        s.slotted = s.slotted and self._use_sums
        first, last = -(-s.lo // slot_sums.SLOT_NS) * slot_sums.SLOT_NS, s.hi - s.hi % slot_sums.SLOT_NS
        if s.slotted and first < last:
            s.dirty = self._slots.dirty(org_id, first, last)
        return s

    def _own_refs(self, s: _Scope, family: Family | str) -> _Refs | None:
        """The spans that the family's (or a source's) session-less records name: usually none or few, passed on as
        a parameter (many stay a subquery). None when there are none: spans are not read."""
        source = s.source(family) if isinstance(family, Family) else family
        refs = (f"SELECT DISTINCT r.ref_trace, r.ref_span FROM ({source}) AS r "
                "WHERE r.ref_trace IS NOT NULL AND r.ref_span IS NOT NULL AND r.ref_span != ''")
        rows = self._rows(f"{refs} LIMIT {_MAX_REF_PARAMETER + 1}", s)
        pairs = sorted({(str(r[0]), str(r[1])) for r in rows})
        if not pairs:
            return None
        sql = "{refs:Array(Tuple(String, String))}" if len(rows) <= _MAX_REF_PARAMETER else f"({refs})"
        return _Refs(sql, {"refs": pairs, "ref_traces": sorted({p[0] for p in pairs})})

    @staticmethod
    def _own_join(s: _Scope, alias: str, refs: _Refs) -> str:
        """The join of session-less records (alias ``alias``) to their spans' own columns (``o.*``). Without refs
        nothing is joined: the statements read NULL (what the join gives a record whose span is not found) or leave
        the span's alternative out."""
        return (f" LEFT ANY JOIN ({s.own_spans(refs.sql)}) AS o ON {alias}.trace_id = o.trace_id "
                f"AND {alias}.span_id = o.span_id")

    # -- statements -------------------------------------------------------------------------------------------
    # Each statement reads its family's rows (slot sums and records, slot_sums.source) and first sums them per
    # bucket and session (and per model or provider, and per span for a record without a session): the session's
    # bounds and properties, the spans of session-less records and the filter then apply to those few rows. Rows
    # come back per bucket (and raw dimension value where grouped).

    def _call_rows(self, s: _Scope, long_window: bool, dimension: Dimension | None = None) -> list[Sequence[Any]]:
        """(bucket, raw dimension value or NULL, 13 sums, distinct sessions) per bucket (and value)."""
        f = s.f
        by_session_dim = dimension in ("source_type", "workspace")
        own = f.by_session or by_session_dim  # session-less calls need their span
        refs = self._own_refs(s, CALLS) if own else None
        o_source, o_workspace = ("o.o_source", "o.o_workspace") if refs else ("NULL", "NULL")
        if by_session_dim:
            # Sessions near the bucket (facets only when filtered), else session-less calls by their span.
            inc = (f"({s.session_match('c.session_id', facets=f.by_session)} OR (c.session_id IS NULL AND "
                   f"{s.facets(o_source, o_workspace)}))")
            sessions = "c.session_id IS NOT NULL"
            column = "source" if dimension == "source_type" else "workspace"
            key = f"if(c.session_id IS NOT NULL, s.s_{column}, {o_source if column == 'source' else o_workspace})"
        else:
            inc = "1"
            if f.by_session:
                inc = s.session_match("c.session_id")
                if refs:
                    inc = (f"({inc} OR (c.session_id IS NULL AND o.o_found = 1 AND "
                           f"{s.facets(o_source, o_workspace)}))")
            key = "c.dim"
            if f.by_session:
                sessions = s.session_match("c.session_id")
            elif long_window and dimension is None:
                sessions = s.session_match("c.session_id", facets=False)
            else:
                sessions = "c.session_id IS NOT NULL"
        dim = f"c.{dimension}" if dimension in ("model", "provider") else "NULL"
        ref = _OWN_REF.format(a="c") if refs else _NO_REF
        per_session = (
            f"SELECT c.b AS b, c.session_id AS session_id, {dim} AS dim, {ref}, sum(c.n) AS n, "
            "sum(c.failed) AS failed, sum(c.unpriced) AS unpriced, sum(c.t_in) AS t_in, sum(c.t_out) AS t_out, "
            "sum(c.t_cr) AS t_cr, sum(c.t_cc) AS t_cc, sum(c.t_rs) AS t_rs, sum(c.cost) AS cost, "
            "sum(c.savings) AS savings, sum(c.dur) AS dur, sum(c.timed) AS timed, sum(c.spans) AS spans "
            f"{s.per_bucket(CALLS, 'c', s.call_terms('c'))} GROUP BY b, session_id, dim, trace_id, span_id")
        joins = ""
        if "s.s_" in inc + sessions + key:  # the session's bounds or properties are read
            joins = f"LEFT JOIN ({s.sessions()}) AS s ON c.session_id = s.session_id"
        if refs:
            joins += self._own_join(s, "c", refs)
        source = f"FROM ({per_session}) AS c {joins}"
        if not joins:  # nothing to join: the rows are summed at once, not per session first
            source = s.per_bucket(CALLS, "c", s.call_terms("c"))
        # The rows that count are filtered once, not tested in each of the 14 sums: the engine plans every
        # expression of a statement anew (~0.1 ms each), and a filter's condition is long.
        where = "" if inc == "1" else f" WHERE {inc}"  # without joins the filter is on nothing (inc is "1")
        sql = (f"SELECT c.b, {key if joins else dim} AS raw, {_CALL_SUMS}, "
               f"uniqExactIf(c.session_id, {sessions}) {source}{where} GROUP BY c.b, raw")
        return self._rows(sql, s, refs)

    def _span_rows(self, s: _Scope, dimension: Dimension | None = None, tasks: str = "") -> list[Sequence[Any]]:
        """(bucket, raw dimension value or NULL, span count[, tasks]) per bucket (and value). ``tasks``:
        "count" adds the distinct tasks of the matching spans, "ids" their ids."""
        f = s.f
        span_terms = f"(x.session_id IS NULL AND {s.facets('x.own_source', 'x.own_workspace')})"
        if dimension is not None:
            column = "source" if dimension == "source_type" else "workspace"
            key = f"if(x.session_id IS NOT NULL, s.s_{column}, x.own_{column})"
            match = f"({s.session_match('x.session_id', facets=f.by_session)} OR {span_terms})"
        else:
            key = "NULL"
            match = f"({s.session_match('x.session_id')} OR {span_terms})" if f.by_session else "1"
        select = ["0" if f.by_call else f"sumIf(x.n, {match})"]
        task_columns = ""
        if tasks:
            task_columns = f", x.task_id AS task_id, (x.model IS NOT NULL{s.call_terms('x')}) AS model_ok"
            task = "coalesce(x.task_id, s.s_task)"
            task_match = f"{task} IS NOT NULL AND {match if f.by_session else '1'}"
            if f.by_call:
                task_match += " AND x.model_ok"
            select.append(f"uniqExactIf({task}, {task_match})" if tasks == "count"
                          else f"groupUniqArrayIf({task}, {task_match})")
        selected = ", ".join(select)
        if dimension is None and not tasks and not f.by_session and not f.by_call:  # unfiltered: count per bucket
            return self._rows(f"SELECT x.b, NULL, sum(x.n) {s.per_bucket(SPANS, 'x')} GROUP BY x.b", s)
        per_session = (
            f"SELECT x.b AS b, x.session_id AS session_id, x.own_source AS own_source, "
            f"x.own_workspace AS own_workspace{task_columns}, sum(x.n) AS n {s.per_bucket(SPANS, 'x')} "
            f"GROUP BY b, session_id, own_source, own_workspace{', task_id, model_ok' if tasks else ''}")
        joins = ""
        if "s.s_" in key + selected:
            joins = f"LEFT JOIN ({s.sessions()}) AS s ON x.session_id = s.session_id"
        sql = f"SELECT x.b, {key} AS raw, {selected} FROM ({per_session}) AS x {joins} GROUP BY x.b, raw"
        return self._rows(sql, s)

    def _fact_rows(self, s: _Scope) -> list[Sequence[Any]]:
        """(bucket, tool calls, failed tool calls, API errors) per bucket: they match through their session (and
        the sessions that made a matching call), or without one through the span they name."""
        f = s.f
        counts = ("n", "failed", "errors")
        source = s.facts()
        if not f.by_session and not f.by_call:  # unfiltered: counted per bucket at once
            sums = ", ".join(f"sum(t.{c})" for c in counts)
            return self._rows(f"SELECT t.b, {sums} {s.per_bucket(source, 't')} GROUP BY t.b", s)
        own = f.by_session and not f.by_call
        refs = self._own_refs(s, source) if own else None
        ref = _OWN_REF.format(a="t") if refs else _NO_REF
        sums = ", ".join(f"sum(t.{c}) AS {c}" for c in counts)
        per_session = (f"SELECT t.b AS b, t.session_id AS sid, {ref}, {sums} {s.per_bucket(source, 't')} "
                       "GROUP BY b, sid, trace_id, span_id")
        joins = f"LEFT JOIN ({s.sessions()}) AS s ON t.sid = s.session_id" if f.by_session else ""
        if refs:
            joins += self._own_join(s, "t", refs)
        # The match is computed once per row (not once per sum: a set lookup each time).
        picked = ", ".join(f"t.{c} AS {c}" for c in counts)
        spans = refs is not None  # some session-less record names a span
        if joins:
            rows = f"SELECT t.b AS b, {picked}, {s.fact_match('t.sid', spans)} AS m FROM ({per_session}) AS t {joins}"
        else:  # matched through the calls' sessions alone: the rows are summed at once
            rows = f"SELECT t.b AS b, {picked}, {s.fact_match('t.session_id', spans)} AS m {s.per_bucket(source, 't')}"
        matched = ", ".join(f"sumIf(x.{c}, x.m)" for c in counts)
        return self._rows(f"SELECT x.b, {matched} FROM ({rows}) AS x GROUP BY x.b", s, refs)

    def _activity(self, s: _Scope) -> tuple[int, int, int, int, int]:
        """Lines added and removed, commits, pull requests and active time: sums of the session rollups of the
        sessions active in the window (no slack here)."""
        f = s.f
        terms = ["s.s_last >= {lo:Int64}", "s.s_first < {hi:Int64}"]
        if f.by_session:
            terms.append(s.session_match("r.session_id", b="1"))
        if f.by_call:
            terms.append(f"(toInt64(1), r.session_id) IN {s.call_sessions()}")
        sql = (f"SELECT sum(r.lines_added), sum(r.lines_removed), sum(r.commits), sum(r.pull_requests), "
               f"sum(r.active_time_ms) FROM (SELECT session_id, lines_added, lines_removed, commits, pull_requests, "
               f"active_time_ms FROM {self._db}.{schema.SESSION_ROLLUPS} FINAL WHERE org_id = {{org:String}}) AS r "
               f"INNER JOIN ({s.sessions()}) AS s ON r.session_id = s.session_id WHERE {' AND '.join(terms)}")
        added, removed, commits, pulls, active = (int(v or 0) for v in self._rows(sql, s)[0])
        return added, removed, commits, pulls, active

    # -- the port ------------------------------------------------------------------------------------------
    def insight_totals(self, org_id: str, f: InsightFilter, workspaces: Sequence[CatalogWorkspace]
                       ) -> InsightTotals:
        s = self._scope(org_id, f, [(f.start_ns, f.end_ns)], workspaces)
        facts_f = _READS.submit(partial(self._fact_rows, s))
        activity_f = _READS.submit(partial(self._activity, s))
        spans_f = None if f.by_call else _READS.submit(partial(self._span_rows, s))
        calls = [_call_totals(r[2:]) for r in self._call_rows(s, long_window=True)]
        t = InsightTotals(calls=calls[0] if calls else CallTotals())
        t.spans = sum(int(r[2]) for r in spans_f.result()) if spans_f else t.calls.span_calls
        for row in facts_f.result():
            t.tool_calls, t.failed_tool_calls, t.api_errors = int(row[1]), int(row[2]), int(row[3])
        t.lines_added, t.lines_removed, t.commits, t.pull_requests, t.active_time_ms = activity_f.result()
        return t

    def insight_groups(self, org_id: str, f: InsightFilter, dimension: Dimension,
                       workspaces: Sequence[CatalogWorkspace]) -> list[GroupTotals]:
        s = self._scope(org_id, f, [(f.start_ns, f.end_ns)], workspaces)
        keys = BreakdownKeys(dimension, workspaces if dimension == "workspace" else [])
        groups: dict[str, GroupTotals] = {}
        by_calls = dimension in ("model", "provider") or f.by_call  # spans come from the calls' span counts
        spans_f = None if by_calls else _READS.submit(partial(self._span_rows, s, dimension))
        for row in self._call_rows(s, long_window=False, dimension=dimension):
            key = keys.of(row[1])
            groups.setdefault(key, GroupTotals(key)).calls.add(_call_totals(row[2:]))
        if spans_f is None:
            for g in groups.values():
                g.spans = g.calls.span_calls
        else:
            for row in spans_f.result():
                key = keys.of(row[1])
                groups.setdefault(key, GroupTotals(key)).spans += int(row[2])
        return [g for g in groups.values() if g.calls.calls or g.spans]

    def insight_days(self, org_id: str, f: InsightFilter, days: list[tuple[int, int]],
                     workspaces: Sequence[CatalogWorkspace]) -> list[DayTotals]:
        if not days:
            return []
        ordered = all(lo <= hi for lo, hi in days) and all(days[i][1] <= days[i + 1][0]
                                                              for i in range(len(days) - 1))
        if not ordered:  # buckets that overlap or are out of order: one statement set per bucket
            return [self._days(org_id, f, [d], workspaces)[0] for d in days]
        return self._days(org_id, f, days, workspaces)

    def _days(self, org_id: str, f: InsightFilter, days: list[tuple[int, int]],
              workspaces: Sequence[CatalogWorkspace]) -> list[DayTotals]:
        s = self._scope(org_id, f, days, workspaces)
        out = [DayTotals(lo, hi) for lo, hi in days]
        spans_f = _READS.submit(partial(self._span_rows, s, tasks="count"))
        facts_f = _READS.submit(partial(self._fact_rows, s))
        for row in self._call_rows(s, long_window=False):
            out[int(row[0]) - 1].calls = _call_totals(row[2:])
        for row in spans_f.result():
            d = out[int(row[0]) - 1]
            d.spans, d.tasks = int(row[2]), int(row[3])
        for row in facts_f.result():
            d = out[int(row[0]) - 1]
            d.tool_calls, d.failed_tool_calls, d.api_errors = int(row[1]), int(row[2]), int(row[3])
        if f.by_call:
            for d in out:
                d.spans = d.calls.span_calls
        return out

    def task_ids(self, org_id: str, f: InsightFilter, workspaces: Sequence[CatalogWorkspace]) -> set[str]:
        s = self._scope(org_id, f, [(f.start_ns, f.end_ns)], workspaces)
        return {task for row in self._span_rows(s, tasks="ids") for task in row[3]}
