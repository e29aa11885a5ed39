"""The InsightStore contract (every adapter runs it through the shared `store` fixture): org isolation, the
control-plane filter, day buckets, the default window and one count per LLM call however it was reported."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, NumberDataPoint
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from core.catalog.models import AgentAssignment, Task, Workspace
from core.insights import service
from core.insights.models import InsightQuery
from core.insights.window import to_ns
from core.ports.insights import InsightFilter
from core.ports.store import Store
from core.pricing import PriceTable
from core.records import (
    Batch,
    EventRecord,
    Links,
    LlmCallRecord,
    SessionRecord,
    SpanRecord,
    ToolCallRecord,
    Usage,
)
from core.sessions import session_summary
from tests.contract import test_store_contract as _contract
from tests.payloads import kv

store = _contract.store  # the adapter-parametrised fixture: every adapter runs this suite
ingest_service = _contract.service

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
T = to_ns(NOW)
H = 3600 * 10**9
DAY = 24 * H
WINDOW = (T - 30 * DAY, T)


def window(lo: int = WINDOW[0], hi: int = WINDOW[1], **facets: Any) -> InsightFilter:
    return InsightFilter(lo, hi, **facets)


def write(store: Store, org: str = "acme", **facts: Any) -> None:
    with store.unit_of_work() as uow:
        uow.write(Batch(org, **facts), "test", [])


def session(sid: str, first: int, last: int | None = None, source: str = "claude_code",
            workspace: str | None = None) -> SessionRecord:
    return SessionRecord(sid, first, last if last is not None else first + H, source_type=source, workspace=workspace)


def call(key: str, sid: str | None, t: int, model: str | None = "claude-sonnet-4-5", provider: str | None = "claude",
         tokens_in: int = 100, tokens_out: int = 10, cost: float = 0.5, success: bool = True,
         span: tuple[str, str] | None = None, cache_read: int = 0) -> LlmCallRecord:
    usage = Usage(model=model, provider=provider, tokens_in=tokens_in, tokens_out=tokens_out,
                  cache_read_tokens=cache_read, provided_cost_usd=cost)
    return LlmCallRecord(key, sid, t, 1000.0, usage, trace_id=span[0] if span else None,
                         span_id=span[1] if span else None, success=success, source="span" if span else "event")


def span(trace: str, sid: str, t: int, session_id: str | None, source: str = "claude_code", workspace: str = "",
         task: str | None = None, model: str | None = None, provider: str | None = None) -> SpanRecord:
    return SpanRecord(trace, sid, None, "op", "internal", "ok", None, t, t + 1_000_000, session_id, "svc", source,
                      workspace, Usage(model=model, provider=provider), Links(task_id=task), "{}", "{}", None)


def tool(tid: str, sid: str | None, t: int, success: bool | None = True,
         span_ref: tuple[str, str] | None = None) -> ToolCallRecord:
    return ToolCallRecord(tid, sid, tool_name="Bash", time_ns=t, success=success,
                          trace_id=span_ref[0] if span_ref else None, span_id=span_ref[1] if span_ref else None)


def api_error(key: str, sid: str | None, t: int) -> EventRecord:
    return EventRecord(key, "claude_code.api_error", "claude_code", t, sid, None, None, None, None, None, "{}", "{}")


def world(store: Store, org: str = "acme") -> None:
    """s1: Claude Code in /src/a; s2: Gemini CLI, no workspace; plus an eval span (no session) with its call."""
    t = T - 2 * DAY
    write(store, org,
          sessions={"s1": session("s1", t, source="claude_code", workspace="/src/a"),
                    "s2": session("s2", t, source="gemini_cli")},
          spans=[span("a1", "01", t, "s1"), span("a1", "02", t + 1, "s1", source="other"),
                 span("a1", "03", t + 2, "s1"), span("b1", "01", t, "s2", source="gemini_cli"),
                 span("e1", "01", t, None, source="eval", workspace="/src/c", model="gpt-5")],
          llm_calls=[call("c1", "s1", t + 10, cache_read=1000), call("c2", "s1", t + 20, success=False),
                     call("c3", "s2", t, model="gemini-2.5-pro", provider="gemini", cost=0.25),
                     call("c4", None, t, model="gpt-5", provider="openai", cost=1.0, span=("e1", "01"))],
          tool_calls=[tool("t1", "s1", t + 30), tool("t2", "s1", t + 40, success=False), tool("t3", "s2", t + 5),
                      tool("t4", None, t + 6, span_ref=("e1", "01")),
                      ToolCallRecord("t5", "s1", time_ns=t + 50)],  # a placeholder: neither name nor outcome
          events=[api_error("e1", "s1", t + 60)])


# -- totals, isolation, window ----------------------------------------------------------------------------------

def test_an_empty_org_has_zero_totals(store: Store) -> None:
    t = store.insight_totals("acme", window())
    assert (t.calls.calls, t.spans, t.tool_calls, t.api_errors, t.workspaces, t.tasks, t.agents) == (0,) * 7
    assert store.insight_groups("acme", window(), "model") == []


def test_totals_sum_calls_spans_tools_and_errors(store: Store) -> None:
    world(store)
    t = store.insight_totals("acme", window())
    c = t.calls
    assert (c.calls, c.failed_calls, c.sessions, c.span_calls) == (4, 1, 2, 1)
    assert (c.tokens_in, c.tokens_out, c.cache_read_tokens) == (400, 40, 1000)
    assert c.cost_usd == pytest.approx(2.25)
    assert (t.spans, t.tool_calls, t.failed_tool_calls, t.api_errors) == (5, 4, 1, 1)


def test_every_aggregate_stays_inside_its_org(store: Store) -> None:
    world(store, "acme")
    assert store.insight_totals("globex", window()).calls.calls == 0
    assert store.insight_totals("globex", window()).spans == 0
    for dimension in ("model", "provider", "source_type", "workspace"):
        assert store.insight_groups("globex", window(), dimension) == []
    [day] = store.insight_days("globex", window(), [WINDOW])
    assert (day.calls.calls, day.spans, day.tool_calls, day.api_errors) == (0, 0, 0, 0)
    write(store, "globex", sessions={"s1": session("s1", T - DAY, source="eval")},
          llm_calls=[call("c1", "s1", T - DAY, cost=9.0)])
    assert store.insight_totals("acme", window()).calls.cost_usd == pytest.approx(2.25)
    assert store.insight_totals("acme", window(source_type="eval")).calls.calls == 1  # acme's own eval call


def test_the_window_is_half_open(store: Store) -> None:
    lo, hi = T - DAY, T
    write(store, sessions={"s": session("s", lo - H, hi + H)},
          llm_calls=[call(f"c{i}", "s", t) for i, t in enumerate((lo - 1, lo, hi - 1, hi))],
          spans=[span("x", f"{i:02d}", t, "s") for i, t in enumerate((lo - 1, lo, hi - 1, hi))],
          tool_calls=[tool(f"t{i}", "s", t) for i, t in enumerate((lo - 1, lo, hi - 1, hi))])
    t = store.insight_totals("acme", window(lo, hi))
    assert (t.calls.calls, t.spans, t.tool_calls) == (2, 2, 2)


def test_replaying_writes_changes_no_aggregate(store: Store) -> None:
    world(store)
    before = store.insight_totals("acme", window())
    world(store)
    assert store.insight_totals("acme", window()) == before


# -- the control-plane filter ----------------------------------------------------------------------------------

def test_source_type_and_workspace_match_through_the_session(store: Store) -> None:
    world(store)
    claude = store.insight_totals("acme", window(source_type="claude_code"))
    # The span of s1 whose own source_type is "other" counts: a record with a session takes the session's.
    assert (claude.calls.calls, claude.spans, claude.tool_calls, claude.failed_tool_calls) == (2, 3, 2, 1)
    assert claude.api_errors == 1
    ev = store.insight_totals("acme", window(source_type="eval"))  # no session: the span's own columns
    assert (ev.calls.calls, ev.spans, ev.tool_calls, ev.api_errors) == (1, 1, 1, 0)
    unknown = store.insight_totals("acme", window(workspace="unknown"))
    assert (unknown.calls.calls, unknown.spans, unknown.tool_calls) == (1, 1, 1)
    assert store.insight_totals("acme", window(workspace="/src/c")).calls.cost_usd == pytest.approx(1.0)
    both = store.insight_totals("acme", window(source_type="gemini_cli", workspace="/src/a"))
    assert (both.calls.calls, both.spans, both.tool_calls) == (0, 0, 0)


def test_a_catalog_workspace_id_covers_its_path_and_paths_under_it(store: Store) -> None:
    world(store)
    store.create_workspace("acme", Workspace(id="ws-a", name="Alpha", path="/src/a", created_at=NOW,
                                             updated_at=NOW))
    t = T - DAY
    write(store, sessions={"s3": session("s3", t, workspace="/src/a/worktrees/task-1"),
                           "s4": session("s4", t, workspace="/src/ab")},
          llm_calls=[call("c5", "s3", t), call("c6", "s4", t)])
    by_id = store.insight_totals("acme", window(workspace="ws-a"))
    assert (by_id.calls.calls, by_id.calls.sessions, by_id.workspaces) == (3, 2, 1)
    assert store.insight_totals("acme", window(workspace="/src/a")).calls.calls == 2  # the path itself only
    groups = {g.key: g for g in store.insight_groups("acme", window(), "workspace")}
    assert set(groups) == {"ws-a", "/src/ab", "unknown", "/src/c"}
    assert (groups["ws-a"].calls.calls, groups["ws-a"].calls.sessions, groups["ws-a"].spans) == (3, 2, 3)
    assert store.workspace_labels("acme", ["ws-a", "/src/ab"]) == {"ws-a": "Alpha"}
    assert store.workspace_labels("globex", ["ws-a"]) == {}


def test_provider_and_model_match_calls_and_reach_other_facts_through_their_sessions(store: Store) -> None:
    world(store)
    t = T - 2 * DAY
    write(store, llm_calls=[call("c7", "s1", t + 70, model="gemini-2.5-pro", provider="gemini", span=("a1", "03"))])
    sonnet = store.insight_totals("acme", window(model="claude-sonnet-4-5"))
    assert (sonnet.calls.calls, sonnet.tool_calls, sonnet.api_errors, sonnet.spans) == (2, 2, 1, 0)
    gemini = store.insight_totals("acme", window(provider="gemini"))
    # s2's call and s1's gemini call; tools of both sessions; the one span that reported a gemini call.
    assert (gemini.calls.calls, gemini.calls.sessions, gemini.tool_calls, gemini.spans) == (2, 2, 3, 1)
    mixed = store.insight_totals("acme", window(provider="gemini", source_type="gemini_cli"))
    assert (mixed.calls.calls, mixed.tool_calls) == (1, 1)
    assert store.insight_totals("acme", window(model="no-such-model")).calls.calls == 0


# -- groups -------------------------------------------------------------------------------------------------------

def test_groups_by_each_dimension(store: Store) -> None:
    world(store)
    write(store, llm_calls=[call("c8", None, T - DAY, model=None, provider=None, cost=0.0)])
    models = {g.key: g for g in store.insight_groups("acme", window(), "model")}
    assert set(models) == {"claude-sonnet-4-5", "gemini-2.5-pro", "gpt-5", "unknown"}
    sonnet = models["claude-sonnet-4-5"].calls
    assert (sonnet.calls, sonnet.failed_calls, sonnet.sessions, sonnet.tokens_in) == (2, 1, 1, 200)
    assert models["gpt-5"].spans == 1  # the span that reported the call
    providers = {g.key: g.calls.calls for g in store.insight_groups("acme", window(), "provider")}
    assert providers == {"claude": 2, "gemini": 1, "openai": 1, "unknown": 1}
    sources = {g.key: g for g in store.insight_groups("acme", window(), "source_type")}
    assert {k: (g.calls.calls, g.spans) for k, g in sources.items()} == {
        "claude_code": (2, 3), "gemini_cli": (1, 1), "eval": (1, 1), "other": (1, 0)}
    assert sources["claude_code"].calls.sessions == 1
    filtered = {g.key for g in store.insight_groups("acme", window(source_type="eval"), "model")}
    assert filtered == {"gpt-5"}


# -- day buckets, the default window, tz ---------------------------------------------------------------------------

def test_day_buckets_split_at_their_bounds(store: Store) -> None:
    mid = T - DAY
    write(store, sessions={"s": session("s", mid - H, mid + H), "r": session("r", mid - H, mid + H)},
          llm_calls=[call("a", "s", mid - 1), call("b", "s", mid), call("c", "r", mid + 1)],
          spans=[span("x", "01", mid - 1, "s", task="task-1"), span("x", "02", mid, "s", task="task-1"),
                 span("x", "03", mid + 2, "r", task="task-2")],
          tool_calls=[tool("t", "s", mid - 5, success=False)], events=[api_error("e", "r", mid + 3)])
    first, second = store.insight_days("acme", window(), [(mid - DAY, mid), (mid, mid + DAY)])
    assert (first.calls.calls, first.calls.sessions, first.spans, first.tasks) == (1, 1, 1, 1)
    assert (first.tool_calls, first.failed_tool_calls, first.api_errors) == (1, 1, 0)
    assert (second.calls.calls, second.calls.sessions, second.spans, second.tasks, second.api_errors) == (2, 2, 2, 2, 1)
    assert (first.start_ns, second.end_ns) == (mid - DAY, mid + DAY)


def test_heatmap_buckets_by_local_day_across_midnight(store: Store) -> None:
    before = to_ns(datetime(2024, 5, 9, 23, 30, tzinfo=UTC))
    after = to_ns(datetime(2024, 5, 10, 0, 30, tzinfo=UTC))
    write(store, sessions={"s": session("s", before, after)},
          llm_calls=[call("a", "s", before, cost=1.0), call("b", "s", after, cost=2.0)])

    def days(tz: str) -> dict[str, tuple[int, float]]:
        q = InsightQuery(start_date="2024-05-08", end_date="2024-05-11", tz=tz)
        h = service.heatmap(store, "acme", q, now=NOW)
        assert [p.date.isoformat() for p in h.days] == ["2024-05-08", "2024-05-09", "2024-05-10", "2024-05-11"]
        return {p.date.isoformat(): (p.calls, p.cost) for p in h.days if p.calls}

    assert days("UTC") == {"2024-05-09": (1, 1.0), "2024-05-10": (1, 2.0)}
    assert days("Europe/Paris") == {"2024-05-10": (2, 3.0)}  # 01:30 and 02:30 local
    assert days("America/New_York") == {"2024-05-09": (2, 3.0)}  # 19:30 and 20:30 local
    assert days("Asia/Kolkata") == {"2024-05-10": (2, 3.0)}  # a half-hour offset: 05:00 and 06:00


def test_local_days_follow_daylight_saving_changes(store: Store) -> None:
    # Europe/Paris, 2024-03-31 lasts 23 hours: 2024-03-30T23:00Z .. 2024-03-31T22:00Z.
    times = [datetime(2024, 3, 30, 22, 30, tzinfo=UTC), datetime(2024, 3, 30, 23, 30, tzinfo=UTC),
             datetime(2024, 3, 31, 21, 30, tzinfo=UTC), datetime(2024, 3, 31, 22, 30, tzinfo=UTC)]
    write(store, sessions={"s": session("s", to_ns(times[0]), to_ns(times[-1]))},
          llm_calls=[call(f"c{i}", "s", to_ns(t)) for i, t in enumerate(times)])
    q = InsightQuery(start_date="2024-03-30", end_date="2024-04-01", tz="Europe/Paris")
    h = service.heatmap(store, "acme", q, now=NOW)
    assert [(p.date.isoformat(), p.calls) for p in h.days] == [("2024-03-30", 1), ("2024-03-31", 2),
                                                              ("2024-04-01", 1)]


def test_the_default_window_is_the_last_30_days(store: Store) -> None:
    write(store, sessions={"s": session("s", T - 40 * DAY, T + DAY)},
          llm_calls=[call("old", "s", T - 31 * DAY), call("in", "s", T - 29 * DAY), call("recent", "s", T - H),
                     call("future", "s", T + H)])
    s = service.metrics_summary(store, "acme", InsightQuery(), now=NOW)
    assert s.turn_count == 2
    assert (s.start_date, s.end_date) == (NOW - timedelta(days=30), NOW)
    heat = service.heatmap(store, "acme", InsightQuery(), now=NOW)
    assert heat.count == 31 and sum(d.calls for d in heat.days) == 2  # the first and last days are partial


def test_summary_success_rate_and_errors_follow_the_session_rule(store: Store) -> None:
    world(store)
    s = service.metrics_summary(store, "acme", InsightQuery(), now=NOW)
    # operations: 4 calls + 4 tool calls + 1 API error; errors: 1 failed call, 1 failed tool, 1 API error.
    assert (s.turn_count, s.tool_calls, s.error_count, s.api_errors) == (4, 4, 3, 1)
    assert s.success_rate == round(6 / 9, 4)
    assert (s.total_sessions, s.total_spans, s.total_cache_read_tokens) == (2, 5, 1000)


# -- one call, three signals -----------------------------------------------------------------------------------------

def _claude_resource(target: Any, sid: str) -> None:
    target.resource.attributes.append(kv("service.name", "claude-code"))
    target.resource.attributes.append(kv("session.id", sid))


def _metrics(sid: str, t: int, points: list[tuple[str, str | None, float, str | None]]) -> ExportMetricsServiceRequest:
    """Delta sum points: (metric name, type label, value, model)."""
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    _claude_resource(rm, sid)
    sm = rm.scope_metrics.add()
    for name, label, value, model in points:
        metric = sm.metrics.add(name=name)
        metric.sum.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
        metric.sum.is_monotonic = True
        point = NumberDataPoint(start_time_unix_nano=t - 60 * 10**9, time_unix_nano=t, as_double=value)
        point.attributes.append(kv("session.id", sid))
        if label:
            point.attributes.append(kv("type", label))
        if model:
            point.attributes.append(kv("model", model))
        metric.sum.data_points.append(point)
    return req


def test_one_call_reported_by_event_span_and_metrics_counts_once(store: Store) -> None:
    svc = ingest_service(store)
    sid, model = "sess-dedup", "claude-sonnet-4-5"
    t = time.time_ns() - 60 * 10**9
    logs = ExportLogsServiceRequest()
    rl = logs.resource_logs.add()
    _claude_resource(rl, sid)
    rec = LogRecord(time_unix_nano=t)
    for k, v in {"event.name": "api_request", "session.id": sid, "model": model, "request_id": "req-1",
                 "input_tokens": "120", "output_tokens": "30", "cost_usd": "0.01", "duration_ms": "900"}.items():
        rec.attributes.append(kv(k, v))
    rl.scope_logs.add().log_records.append(rec)
    traces = ExportTraceServiceRequest()
    rs = traces.resource_spans.add()
    _claude_resource(rs, sid)
    sp = Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="claude_code.llm_request",
              kind=Span.SPAN_KIND_CLIENT, start_time_unix_nano=t - 900_000_000, end_time_unix_nano=t)
    for k, v in {"session.id": sid, "model": model, "input_tokens": 120, "output_tokens": 30}.items():
        sp.attributes.append(kv(k, v))
    rs.scope_spans.add().spans.append(sp)
    metrics = _metrics(sid, t + 10**9, [("claude_code.token.usage", "input", 120, model),
                                        ("claude_code.token.usage", "output", 30, model),
                                        ("claude_code.cost.usage", None, 0.01, model)])
    for signal, req in (("logs", logs), ("traces", traces), ("metrics", metrics), ("logs", logs)):
        svc.ingest("acme", signal, req, f"d-{signal}")
    assert len(store.session_llm_calls("acme", sid)) == 1  # the join the summary relies on
    s = service.metrics_summary(store, "acme", InsightQuery())
    assert (s.turn_count, s.total_tokens_in, s.total_tokens_out, s.total_spans) == (1, 120, 30, 1)
    assert s.total_cost_usd == pytest.approx(0.01)
    [claude] = service.provider_comparison(store, "acme", InsightQuery()).providers
    assert (claude.provider, claude.total_executions, claude.span_count) == ("claude", 1, 1)


def test_activity_sums_the_session_aggregates_of_sessions_in_the_window(store: Store) -> None:
    svc = ingest_service(store)
    prices = PriceTable.load()
    t = time.time_ns() - 3600 * 10**9
    write(store, sessions={"sb": session("sb", t, t, source="gemini_cli")})  # sb is a Gemini CLI session
    for sid, added in (("sa", 10), ("sb", 5)):
        svc.ingest("acme", "metrics", _metrics(sid, t, [
            ("claude_code.lines_of_code.count", "added", added, None),
            ("claude_code.lines_of_code.count", "removed", 3, None),
            ("claude_code.commit.count", None, 1, None),
            ("claude_code.pull_request.count", None, 1, None),
            ("claude_code.active_time.total", "cli", 12.5, None),
        ]), f"m-{sid}")
        # Garbage for a counter, a minute later: a negative increment, and one whose sums would overflow 64 bits.
        # Both count nothing.
        svc.ingest("acme", "metrics", _metrics(sid, t + 60 * 10**9, [
            ("claude_code.commit.count", None, -4, None), ("claude_code.active_time.total", "cli", 1e19, None),
        ]), f"garbage-{sid}")
        summary = session_summary(store, prices, "acme", sid)
        assert summary is not None
        store.save_session_rollup("acme", sid, summary.model_dump_json(), time.time_ns())
    s = service.metrics_summary(store, "acme", InsightQuery())
    assert (s.lines_added, s.lines_removed, s.commit_count, s.pull_request_count) == (15, 6, 2, 2)
    assert s.active_time_ms == 25_000
    only = service.metrics_summary(store, "acme", InsightQuery(source_type="claude_code"))
    assert (only.lines_added, only.commit_count) == (10, 1)
    old = service.metrics_summary(store, "acme", InsightQuery(end_date="2024-01-01"))
    assert old.lines_added == 0


# -- the catalog ----------------------------------------------------------------------------------------------------

def test_catalog_counts_follow_the_window_and_the_filter(store: Store) -> None:
    for ws_id, path in (("ws-a", "/src/a"), ("ws-b", "/src/b")):
        store.create_workspace("acme", Workspace(id=ws_id, name=ws_id, path=path, created_at=NOW, updated_at=NOW))
    tasks = (("task-1", "ws-a", NOW - timedelta(days=1)), ("task-2", "ws-b", NOW - timedelta(days=2)),
             ("task-old", "ws-a", NOW - timedelta(days=45)))
    for task_id, ws_id, created in tasks:
        store.create_task("acme", Task(id=task_id, workspace_id=ws_id, title=task_id, created_at=created))
    for a_id, task_id, agent, provider in (("as-1", "task-1", "coder", "claude"), ("as-2", "task-2", "coder", "claude"),
                                           ("as-3", "task-2", "reviewer", "gemini"),
                                           ("as-4", "task-old", "tester", "claude")):
        store.create_assignment("acme", AgentAssignment(id=a_id, task_id=task_id, agent_id=agent, provider=provider,
                                                        assigned_at=NOW - timedelta(days=1)))
    write(store, sessions={"s": session("s", T - DAY, source="coordinator")},
          spans=[span("x", "01", T - DAY, "s", task="task-2", model="gemini-2.5-pro",
                                                                 provider="gemini")])
    t = store.insight_totals("acme", window())
    assert (t.workspaces, t.tasks, t.agents) == (2, 2, 2)
    ws = store.insight_totals("acme", window(workspace="ws-a"))
    assert (ws.workspaces, ws.tasks, ws.agents) == (1, 1, 1)
    assert store.insight_totals("acme", window(workspace="/src/b")).tasks == 1  # a workspace named by its path
    gemini = store.insight_totals("acme", window(provider="gemini"))
    assert (gemini.tasks, gemini.agents) == (1, 1)  # task-2, through its span naming a gemini model
    coordinator = store.insight_totals("acme", window(source_type="coordinator"))
    assert (coordinator.tasks, coordinator.agents) == (1, 2)
    assert store.insight_totals("globex", window()).tasks == 0
