"""FirestoreInsights: the insights API area on Firestore, aggregated in Python over projected window scans.

Firestore has no GROUP BY. Each request reads the window's facts once (one range query per collection on its time
field, projected to the fields the aggregates use) and sums them here, applying the same InsightFilter rules as
core/adapters/sqlite/insights.py: ``source_type`` / ``workspace`` through the session (session-less records
through their span's own fields), ``provider`` / ``model`` on LLM calls and through the sessions that made a
matching call for the other facts. The catalog counts (workspaces, tasks, agents) go through the catalog port
methods, so they follow whatever layout the catalog area keeps.

Cost: every request reads each LLM call, span, tool call and API-error event of its window, and the sessions
seen near it (one billed read per document; projections only cut bandwidth), plus the org's workspaces and the
window's tasks and their assignments. That is fine for dashboards over days or weeks of a team's activity; for
very large windows the next step is rollup documents per (org, day, dimension value) recomputed from the facts
(never incremented) by the aggregate worker, read here instead of the facts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from core.adapters.firestore import layout
from core.adapters.firestore.indexes import QueryShape
from core.adapters.sqlite.times import to_ns
from core.ports.insights import (
    API_ERROR_EVENTS,
    UNKNOWN,
    BreakdownKeys,
    CallTotals,
    DayTotals,
    Dimension,
    GroupTotals,
    InsightFilter,
    InsightStore,
    InsightTotals,
)

if TYPE_CHECKING:
    from core.catalog.models import Workspace
    from core.ports.catalog import CatalogStore

Doc = dict[str, Any]

# Same slack as the SQLite adapter: a session's bounds come from its records' times, possibly another clock's.
_SESSION_SLACK_NS = 86_400 * 10**9
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_PAGE = 1000  # catalog list page size (PageQuery's cap)
_ACTIVITY = ("lines_added", "lines_removed", "commit_count", "pull_request_count", "active_time_ms")

_CALL_FIELDS = ["session_id", "time_ns", "provider", "model", "tokens_in", "tokens_out", "cache_read_tokens",
                "cache_creation_tokens", "reasoning_tokens", "cost_usd", "cache_savings_usd", "success", "unpriced",
                "duration_ms", "trace_id", "span_id"]
_SPAN_FIELDS = ["session_id", "start_ns", "source_type", "workspace", "task_id", "model", "provider"]
_TOOL_FIELDS = ["session_id", "time_ns", "tool_name", "success", "trace_id", "span_id"]
_EVENT_FIELDS = ["session_id", "time_ns", "name", "trace_id", "span_id"]
_SESSION_FIELDS = ["session_id", "first_seen_ns", "last_seen_ns", "source_type", "workspace"]


def _clamp(ns: int) -> int:
    return max(_INT64_MIN, min(ns, _INT64_MAX))


def _scan(client: Any, org_id: str, collection: str, time_field: str, lo: int, hi: int | None,
          fields: list[str], names: tuple[str, ...] = ()) -> list[Doc]:
    """Documents with ``lo <= time_field < hi`` (no upper bound for None), projected to ``fields``; ``names``: an
    `in` filter on ``name``. Records its shape for the index check (tests/cloud/test_firestore_indexes.py)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    from core.adapters.firestore import reads

    q: Any = client.collection(f"orgs/{layout.part(org_id) or '~'}/{collection}")
    if names:
        q = q.where(filter=FieldFilter("name", "in", list(names)))
    q = q.where(filter=FieldFilter(time_field, ">=", _clamp(lo)))
    if hi is not None:
        q = q.where(filter=FieldFilter(time_field, "<", _clamp(hi)))
    reads.RECORDED_SHAPES.add(QueryShape(collection, ("name",) if names else (), (time_field, "ASCENDING")))
    return [snap.to_dict() for snap in q.select(fields).stream()]


def _sums(docs: Iterable[Doc], sessions: int = 0) -> CallTotals:
    """The SQLite adapter's per-call sums: NULLs add nothing, ``success`` False is a failure (None is not)."""
    t = CallTotals(sessions=sessions)
    for c in docs:
        t.calls += 1
        t.failed_calls += c.get("success") is False
        t.unpriced_calls += bool(c.get("unpriced"))
        t.tokens_in += c.get("tokens_in") or 0
        t.tokens_out += c.get("tokens_out") or 0
        t.cache_read_tokens += c.get("cache_read_tokens") or 0
        t.cache_creation_tokens += c.get("cache_creation_tokens") or 0
        t.reasoning_tokens += c.get("reasoning_tokens") or 0
        t.cost_usd += c.get("cost_usd") or 0.0
        t.cache_savings_usd += c.get("cache_savings_usd") or 0.0
        if c.get("duration_ms") is not None:
            t.duration_ms += c["duration_ms"]
            t.timed_calls += 1
        t.span_calls += c.get("span_id") is not None
    return t


@dataclass(slots=True)
class _Facts:
    """One request's reads: the facts of ``[lo, hi)`` and the sessions near it, and the lookups they need."""

    store: FirestoreInsights
    org_id: str
    f: InsightFilter
    lo: int
    hi: int
    calls: list[Doc] = field(default_factory=list)
    sessions: dict[str, Doc] = field(default_factory=dict)
    _spans: list[Doc] | None = None
    _tools: list[Doc] | None = None
    _errors: list[Doc] | None = None
    _span_docs: dict[tuple[str, str], Doc | None] = field(default_factory=dict)
    _workspaces: list[Workspace] | None = None
    ws_path: str | None = None
    ws_prefix: str | None = None

    def load(self, with_rollup: bool = False) -> _Facts:
        client = self.store.client
        self.calls = _scan(client, self.org_id, layout.LLM_CALLS, "time_ns", self.lo, self.hi, _CALL_FIELDS)
        fields = _SESSION_FIELDS + (["rollup"] if with_rollup else [])
        # Sessions that may be near some window inside [lo, hi): range on last_seen_ns, first_seen_ns checked here.
        self.sessions = {
            d["session_id"]: d
            for d in _scan(client, self.org_id, layout.SESSIONS, "last_seen_ns", self.lo - _SESSION_SLACK_NS, None,
                           fields)
            if d["first_seen_ns"] < self.hi + _SESSION_SLACK_NS
        }
        if self.f.workspace is not None:
            ws = next((w for w in self.workspaces() if w.id == self.f.workspace and w.path != ""), None)
            self.ws_path = ws.path if ws else None
            self.ws_prefix = ws.path.rstrip("/") + "/" if ws else None
        return self

    # -- lazily read collections ---------------------------------------------------------------------------
    def spans(self) -> list[Doc]:
        if self._spans is None:
            self._spans = _scan(self.store.client, self.org_id, layout.SPANS, "start_ns", self.lo, self.hi,
                                _SPAN_FIELDS)
        return self._spans

    def tools(self) -> list[Doc]:
        if self._tools is None:
            # A record with neither a name nor an outcome is a placeholder, not a call (core.sessions).
            self._tools = [d for d in _scan(self.store.client, self.org_id, layout.TOOL_CALLS, "time_ns", self.lo,
                                            self.hi, _TOOL_FIELDS)
                           if d.get("tool_name") is not None or d.get("success") is not None]
        return self._tools

    def errors(self) -> list[Doc]:
        if self._errors is None:
            self._errors = _scan(self.store.client, self.org_id, layout.EVENTS, "time_ns", self.lo, self.hi,
                                 _EVENT_FIELDS, API_ERROR_EVENTS)
        return self._errors

    def workspaces(self) -> list[Workspace]:
        if self._workspaces is None:
            self._workspaces = self.store._all_workspaces(self.org_id)
        return self._workspaces

    def span_of(self, doc: Doc) -> Doc | None:
        """The span a session-less record names (None when it names none or the span is gone)."""
        key = (doc.get("trace_id"), doc.get("span_id"))
        if key[0] is None or key[1] is None:
            return None
        return self._span_docs.get((key[0], key[1]))

    def fetch_spans(self, docs: Iterable[Doc]) -> None:
        """Read, in one batch, the spans of the session-less records among ``docs``."""
        keys = {(d["trace_id"], d["span_id"]) for d in docs
                if d.get("session_id") is None and d.get("trace_id") is not None and d.get("span_id") is not None}
        keys -= set(self._span_docs)
        if not keys:
            return
        client = self.store.client
        paths = {layout.org_path(self.org_id, layout.SPANS, t, s): (t, s) for t, s in sorted(keys)}
        for key in keys:
            self._span_docs[key] = None
        for snap in client.get_all([client.document(p) for p in paths], field_paths=["source_type", "workspace"]):
            if snap.exists:
                self._span_docs[paths[snap.reference.path]] = snap.to_dict() or {}

    # -- the filter ------------------------------------------------------------------------------------------
    def ws_match(self, value: str | None) -> bool:
        ws = self.f.workspace
        return ((value if value is not None else UNKNOWN) == ws
                or (self.ws_path is not None and value == self.ws_path)
                or (self.ws_prefix is not None and value is not None and value.startswith(self.ws_prefix)))

    def facets_match(self, doc: Doc | None) -> bool:
        """source_type / workspace on a session or on a span's own fields; a missing document matches only when
        the filter has neither facet."""
        if not self.f.by_session:
            return True
        if doc is None:
            return False
        if self.f.source_type is not None and doc.get("source_type") != self.f.source_type:
            return False
        return self.f.workspace is None or self.ws_match(doc.get("workspace"))

    def call_match(self, c: Doc) -> bool:
        f = self.f
        return ((f.provider is None or c.get("provider") == f.provider)
                and (f.model is None or c.get("model") == f.model))

    def near(self, lo: int, hi: int, facets: bool = True) -> set[str]:
        """Sessions near ``[lo, hi)`` (whose source_type / workspace match, with ``facets``)."""
        return {sid for sid, s in self.sessions.items()
                if s["last_seen_ns"] >= lo - _SESSION_SLACK_NS and s["first_seen_ns"] < hi + _SESSION_SLACK_NS
                and (not facets or self.facets_match(s))}

    def window_calls(self, lo: int, hi: int) -> list[Doc]:
        return [c for c in self.calls if lo <= c["time_ns"] < hi and self.call_match(c)]

    def call_sessions(self, lo: int, hi: int) -> set[str]:
        """Sessions that made a matching LLM call inside the window."""
        return {c["session_id"] for c in self.window_calls(lo, hi) if c.get("session_id") is not None}

    def fact_match(self, lo: int, hi: int) -> Any:
        """A predicate on a tool call / event of the window (see SqliteInsights' fact_terms)."""
        f = self.f
        if not f.by_session and not f.by_call:
            return lambda d: True
        sessions = self.near(lo, hi) if f.by_session else None
        called = self.call_sessions(lo, hi) if f.by_call else None

        def match(d: Doc) -> bool:
            sid = d.get("session_id")
            if sid is None:  # a provider or model is a property of calls, not of tools
                return f.by_session and not f.by_call and self.facets_match(self.span_of(d))
            return (sessions is None or sid in sessions) and (called is None or sid in called)
        return match

    # -- aggregates of one window ------------------------------------------------------------------------------
    def call_totals(self, lo: int, hi: int, long_window: bool = True) -> CallTotals:
        calls = self.window_calls(lo, hi)
        if not self.f.by_session:
            included = calls
            distinct = {c["session_id"] for c in calls if c.get("session_id") is not None}
        else:
            sessions = self.near(lo, hi)
            with_session = [c for c in calls if c.get("session_id") in sessions]
            self.fetch_spans(calls)
            included = with_session + [c for c in calls if c.get("session_id") is None
                                       and self.facets_match(self.span_of(c))]
            distinct = {c["session_id"] for c in with_session}
        if long_window:  # sessions near the window (facets applied) that made a matching call in it
            distinct = self.near(lo, hi, self.f.by_session) & {c.get("session_id") for c in calls}
        return _sums(included, len(distinct))

    def span_count(self, lo: int, hi: int) -> int:
        spans = [s for s in self.spans() if lo <= s["start_ns"] < hi]
        if not self.f.by_session:
            return len(spans)
        sessions = self.near(lo, hi)
        return sum(1 for s in spans if (s.get("session_id") in sessions if s.get("session_id") is not None
                                        else self.facets_match(s)))

    def task_ids(self, lo: int, hi: int) -> set[str]:
        """Tasks with a span started in the window that matches the filter (a span naming a matching model for
        provider / model)."""
        f = self.f
        sessions = self.near(lo, hi) if f.by_session else set()
        out = set()
        for s in self.spans():
            if not (lo <= s["start_ns"] < hi) or s.get("task_id") is None:
                continue
            if f.by_call and (s.get("model") is None or not self.call_match(s)):
                continue
            if f.by_session and not (s.get("session_id") in sessions if s.get("session_id") is not None
                                     else self.facets_match(s)):
                continue
            out.add(s["task_id"])
        return out

    def tool_counts(self, lo: int, hi: int) -> tuple[int, int]:
        tools = [t for t in self.tools() if lo <= t["time_ns"] < hi]
        if self.f.by_session and not self.f.by_call:
            self.fetch_spans(tools)
        match = self.fact_match(lo, hi)
        hits = [t for t in tools if match(t)]
        return len(hits), sum(1 for t in hits if t.get("success") is False)

    def api_errors(self, lo: int, hi: int) -> int:
        errors = [e for e in self.errors() if lo <= e["time_ns"] < hi]
        if self.f.by_session and not self.f.by_call:
            self.fetch_spans(errors)
        match = self.fact_match(lo, hi)
        return sum(1 for e in errors if match(e))


class FirestoreInsights(InsightStore):
    """The InsightStore port on Firestore (mixed into FirestoreStore, which provides ``client`` and the catalog
    methods used for the workspace, task and agent counts)."""

    client: Any

    # -- catalog reads (through the catalog port, whatever its layout) -----------------------------------------
    def _catalog_port(self) -> CatalogStore:
        return cast("CatalogStore", self)

    def _all_workspaces(self, org_id: str) -> list[Workspace]:
        from core.catalog.models import WorkspaceQuery

        out: list[Workspace] = []
        while True:
            page = self._catalog_port().list_workspaces(org_id, WorkspaceQuery(limit=_PAGE, offset=len(out)))
            out += page
            if len(page) < _PAGE:
                return out

    def _window_tasks(self, org_id: str, lo: int, hi: int, workspace_ids: list[str] | None) -> list[str]:
        """Ids of the tasks created in ``[lo, hi)`` (of the given workspaces when not None)."""
        from core.catalog.models import TaskQuery

        out: list[str] = []
        for ws_id in workspace_ids if workspace_ids is not None else [None]:
            offset = 0
            while True:
                page = self._catalog_port().list_tasks(org_id, TaskQuery(workspace_id=ws_id, limit=_PAGE,
                                                                          offset=offset))
                offset += len(page)
                for t in page:
                    created = to_ns(t.created_at)
                    if created is not None and lo <= created < hi:
                        out.append(t.id)
                if len(page) < _PAGE:
                    break
        return out

    def _catalog(self, facts: _Facts, t: InsightTotals) -> None:
        f, org_id = facts.f, facts.org_id
        workspaces = facts.workspaces()
        if f.workspace is not None:  # the filter names a catalog workspace by id, or by its path
            workspaces = [w for w in workspaces if w.id == f.workspace or (w.path != "" and w.path == f.workspace)]
        t.workspaces = len(workspaces)
        tasks = self._window_tasks(org_id, f.start_ns, f.end_ns,
                                   [w.id for w in workspaces] if f.workspace is not None else None)
        if f.source_type is not None or f.by_call:
            # Telemetry facets reach a task through its spans: it counts when a matching span ran in the window.
            matching = facts.task_ids(f.start_ns, f.end_ns)
            tasks = [task_id for task_id in tasks if task_id in matching]
        t.tasks = len(set(tasks))
        agents: set[str] = set()
        for task_id in sorted(set(tasks)):
            for a in self._catalog_port().list_task_assignments(org_id, task_id):
                if f.provider is None or a.provider == f.provider:
                    agents.add(a.agent_id)
        t.agents = len(agents)

    @staticmethod
    def _activity(facts: _Facts, t: InsightTotals) -> None:
        """Sums of the session aggregates of the sessions active in the window (no slack here)."""
        f = facts.f
        called = facts.call_sessions(f.start_ns, f.end_ns) if f.by_call else None
        sums = dict.fromkeys(_ACTIVITY, 0.0)
        for sid, s in facts.sessions.items():
            if not (s["last_seen_ns"] >= f.start_ns and s["first_seen_ns"] < f.end_ns) or not s.get("rollup"):
                continue
            if not facts.facets_match(s) or (called is not None and sid not in called):
                continue
            rollup = json.loads(s["rollup"])
            for k in _ACTIVITY:
                value = rollup.get(k)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    sums[k] += value
        t.lines_added, t.lines_removed, t.commits, t.pull_requests, t.active_time_ms = (int(sums[k]) for k in _ACTIVITY)

    # -- the port ------------------------------------------------------------------------------------------------
    def insight_totals(self, org_id: str, f: InsightFilter) -> InsightTotals:
        facts = _Facts(self, org_id, f, f.start_ns, f.end_ns).load(with_rollup=True)
        lo, hi = f.start_ns, f.end_ns
        t = InsightTotals(calls=facts.call_totals(lo, hi))
        t.spans = t.calls.span_calls if f.by_call else facts.span_count(lo, hi)
        t.tool_calls, t.failed_tool_calls = facts.tool_counts(lo, hi)
        t.api_errors = facts.api_errors(lo, hi)
        self._activity(facts, t)
        self._catalog(facts, t)
        return t

    def insight_groups(self, org_id: str, f: InsightFilter, dimension: Dimension) -> list[GroupTotals]:
        facts = _Facts(self, org_id, f, f.start_ns, f.end_ns).load()
        lo, hi = f.start_ns, f.end_ns
        keys = BreakdownKeys(dimension, facts.workspaces() if dimension == "workspace" else [])
        calls = facts.window_calls(lo, hi)
        if f.by_session or dimension not in ("model", "provider"):
            facts.fetch_spans(calls)
        # Raw dimension value -> (calls, sessions that made them).
        raw_calls: dict[str | None, tuple[list[Doc], set[str]]] = {}

        def put(raw: str | None, c: Doc, sid: str | None) -> None:
            docs, sids = raw_calls.setdefault(raw, ([], set()))
            docs.append(c)
            if sid is not None:
                sids.add(sid)

        if dimension in ("model", "provider"):
            sessions = facts.near(lo, hi) if f.by_session else None
            for c in calls:
                sid = c.get("session_id")
                if sessions is None or (sid is not None and sid in sessions):
                    put(c.get(dimension), c, sid)
                elif sid is None and facts.facets_match(facts.span_of(c)):
                    put(c.get(dimension), c, None)
        else:
            sessions = facts.near(lo, hi, f.by_session)
            for c in calls:
                sid = c.get("session_id")
                if sid is not None:
                    if sid in sessions:
                        put(facts.sessions[sid].get(dimension), c, sid)
                    continue
                # Joined like SQL's LEFT JOIN: a call without its span groups (and matches) with every field None.
                span = facts.span_of(c) or {}
                if facts.facets_match(span):
                    put(span.get(dimension), c, None)
        groups: dict[str, GroupTotals] = {}
        for raw, (docs, sids) in raw_calls.items():
            key = keys.of(raw)
            groups.setdefault(key, GroupTotals(key)).calls.add(_sums(docs, len(sids)))
        if dimension in ("model", "provider") or f.by_call:
            for g in groups.values():
                g.spans = g.calls.span_calls
        else:
            sessions = facts.near(lo, hi, f.by_session)
            for s in facts.spans():
                if not (lo <= s["start_ns"] < hi):
                    continue
                sid = s.get("session_id")
                if sid is not None:
                    if sid not in sessions:
                        continue
                    raw = facts.sessions[sid].get(dimension)
                elif facts.facets_match(s):
                    raw = s.get(dimension)
                else:
                    continue
                key = keys.of(raw)
                groups.setdefault(key, GroupTotals(key)).spans += 1
        return [g for g in groups.values() if g.calls.calls or g.spans]

    def insight_days(self, org_id: str, f: InsightFilter, days: list[tuple[int, int]]) -> list[DayTotals]:
        if not days:
            return []
        facts = _Facts(self, org_id, f, min(lo for lo, _ in days), max(hi for _, hi in days)).load()
        out = []
        for lo, hi in days:
            d = DayTotals(lo, hi, calls=facts.call_totals(lo, hi, long_window=False))
            d.spans = d.calls.span_calls if f.by_call else facts.span_count(lo, hi)
            d.tasks = len(facts.task_ids(lo, hi))
            d.tool_calls, d.failed_tool_calls = facts.tool_counts(lo, hi)
            d.api_errors = facts.api_errors(lo, hi)
            out.append(d)
        return out

    def workspace_labels(self, org_id: str, keys: list[str]) -> dict[str, str]:
        wanted = set(keys)
        if not wanted:
            return {}
        return {w.id: w.name for w in self._all_workspaces(org_id) if w.id in wanted}
