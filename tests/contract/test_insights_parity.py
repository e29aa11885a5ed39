"""The observatory insights computed by the Store and by the analytics history agree on the same data: the Store is
seeded (the seed generator, plus records that exercise every filter rule), every batch it stores and every session
rollup it saves is exported to ClickHouse, and the summary, provider comparison, every breakdown and the heatmap are
compared with and without facets, in UTC and in other zones."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from core.adapters.clickhouse.connection import AnalyticsConnection
from core.adapters.clickhouse.history import ClickHouseHistory
from core.adapters.clickhouse.insights import ClickHouseFactInsights
from core.adapters.sqlite import SqliteStore
from core.aggregate import handle_ingested
from core.catalog.models import Workspace
from core.ingest import IngestService
from core.insights import service
from core.insights.models import InsightQuery
from core.insights.split import SplitInsights
from core.insights.window import to_ns
from core.models import SessionMetricsSummary
from core.ports.fact_insights import SessionRollupRow
from core.ports.insights import DIMENSIONS, InsightFilter, InsightStore
from core.ports.store import IngestUnitOfWork, OutboxMessage, SessionRollup
from core.pricing import PriceTable
from core.records import Batch, EventRecord, Links, LlmCallRecord, SessionRecord, SpanRecord, ToolCallRecord, Usage
from core.seed import PROFILES, seed_database
from core.seed.profiles import Range
from core.span_filter import SpanFilter
from tests.contract.test_insights_contract import _metrics
from tests.payloads import kv

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
T = to_ns(NOW)
H = 3600 * 10**9
DAY = 24 * H
ORG = "acme"


class _RecordingUnitOfWork(IngestUnitOfWork):
    """Passes every call to the Store's unit of work and keeps each written batch, as the Store stored it."""

    def __init__(self, inner: IngestUnitOfWork, written: list[tuple[Batch, int]]) -> None:
        self._inner = inner
        self._written = written

    def llm_calls_by_ids(self, org_id: str, ids: list[str]) -> list[LlmCallRecord]:
        return self._inner.llm_calls_by_ids(org_id, ids)

    def llm_call_candidates(self, org_id: str, session_id: str, t_from: int, t_to: int, tokens_out: list[int]
                            ) -> list[LlmCallRecord]:
        return self._inner.llm_call_candidates(org_id, session_id, t_from, t_to, tokens_out)

    def session_links(self, org_id: str, session_ids: list[str]) -> Any:
        return self._inner.session_links(org_id, session_ids)

    def session_workspaces(self, org_id: str, session_ids: list[str]) -> dict[str, str]:
        return self._inner.session_workspaces(org_id, session_ids)

    def tool_use_ids_for_spans(self, org_id: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        return self._inner.tool_use_ids_for_spans(org_id, keys)

    def write(self, batch: Batch, request_digest: str, outbox: list[tuple[str, bytes]]) -> None:
        self._inner.write(batch, request_digest, outbox)
        self._written.append((copy.deepcopy(batch), time.time_ns()))

    def adopt_tool_placeholders(self, org_id: str, real_ids: dict[str, str]) -> None:
        self._inner.adopt_tool_placeholders(org_id, real_ids)

    def link_session_to_task(self, org_id: str, session_id: str, link: Any) -> int:
        return self._inner.link_session_to_task(org_id, session_id, link)


class RecordingStore(SqliteStore):
    """The SQLite store, keeping what an export worker and an aggregate worker would hand to the history."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.written: list[tuple[Batch, int]] = []
        self.rollups: list[tuple[str, SessionRollupRow]] = []

    @contextmanager
    def unit_of_work(self) -> Iterator[IngestUnitOfWork]:
        with super().unit_of_work() as uow:
            yield _RecordingUnitOfWork(uow, self.written)

    def keep_rollups(self, rollups: list[SessionRollup]) -> None:
        """The aggregate worker's rollup sink (what the export of rollups receives)."""
        for org_id, _, rollup_json, computed_ns in rollups:
            summary = SessionMetricsSummary.model_validate_json(rollup_json)
            self.rollups.append((org_id, SessionRollupRow.from_summary(summary, computed_ns)))


def _drain(store: RecordingStore) -> None:
    while True:
        messages: list[OutboxMessage] = store.claim_outbox(500)
        if not messages:
            return
        handle_ingested(store, PriceTable.load(), [m.payload for m in messages], rollups=store.keep_rollups)
        store.ack_outbox([m.id for m in messages])


def _span(trace: str, sid: str, t: int, session_id: str | None, source: str, workspace: str = "",
          model: str | None = None, provider: str | None = None, task: str | None = None,
          name: str = "op") -> SpanRecord:
    return SpanRecord(trace, sid, None, name, "internal", "ok", None, t, t + 2_000_000, session_id, "svc", source,
                      workspace, Usage(model=model, provider=provider), Links(task_id=task), "{}", "{}", None)


def _call(key: str, sid: str | None, t: int, model: str | None, provider: str | None, cost: float,
          span: tuple[str, str] | None = None, success: bool = True) -> LlmCallRecord:
    usage = Usage(model=model, provider=provider, tokens_in=70, tokens_out=9, cache_read_tokens=500,
                  provided_cost_usd=cost)
    return LlmCallRecord(key, sid, t, None if span is None else 250.0, usage, trace_id=span[0] if span else None,
                         span_id=span[1] if span else None, success=success, source="span" if span else "event")


def _edge_cases(store: RecordingStore, ingest: IngestService) -> None:
    """Records the seed does not make: no session (an eval run and an SDK span), a call without a model, a tool
    placeholder adopted by its real id, API errors, a decision event before its result, an LLM call reported by an
    event then a span, an execute span linking earlier spans of its session to a task, and session activity."""
    t = T - 3 * DAY

    def write(**facts: Any) -> None:
        with store.unit_of_work() as uow:
            uow.write(Batch(ORG, **facts), f"edge-{time.time_ns()}", [])

    write(sessions={"e-s1": SessionRecord("e-s1", t, t + H, source_type="claude_code", workspace="/src/edge"),
                    "e-s2": SessionRecord("e-s2", t, t + 2 * H, source_type="gemini_cli")},
          spans=[_span("ee1", "01", t, None, "eval", "/src/edge/sub", model="gpt-5", provider="openai"),
                 _span("ee2", "01", t + 5, None, "other"),
                 _span("ee3", "01", t + 7, "e-s1", "claude_code", "/src/edge"),
                 _span("ee3", "02", t + 8, "e-s2", "gemini_cli")],
          llm_calls=[_call("e-c1", None, t + 10, "gpt-5", "openai", 1.25, span=("ee1", "01")),
                     _call("e-c2", None, t + 11, None, None, 0.0),
                     _call("e-c3", "e-s1", t + 12, "claude-sonnet-4-5", "anthropic", 0.5, success=False),
                     _call("e-c4", "e-s2", t + 13, "gemini-2.5-pro", "google", 0.25)],
          tool_calls=[ToolCallRecord("span:ee1:01", None, tool_name="search", time_ns=t + 20, trace_id="ee1",
                                     span_id="01"),
                      ToolCallRecord("e-t2", "e-s1", time_ns=t + 21),  # neither name nor outcome: not a call
                      ToolCallRecord("e-t3", "e-s1", decision="accept"),  # a decision, before its result
                      ToolCallRecord("e-t4", "e-s2", tool_name="shell", time_ns=t + 22, success=False)],
          events=[EventRecord("e-ev1", "claude_code.api_error", "claude_code", t + 30, "e-s1", None, None, None,
                              None, None, "{}", "{}"),
                  EventRecord("e-ev2", "gemini_cli.api_error", "gemini_cli", t + 31, None, None, "ee1", "01", None,
                              None, "{}", "{}")])
    # A session seen only early on whose later facts fall more than a day after its last sighting: days and
    # facets see it only where its sightings are near.
    write(sessions={"e-s5": SessionRecord("e-s5", t, t + H, source_type="claude_code", workspace="/src/edge")},
          llm_calls=[_call("e-c5", "e-s5", t + 54 * H, "claude-sonnet-4-5", "anthropic", 0.75),
                     _call("e-c6", "e-s5", t + 20 * H, "claude-sonnet-4-5", "anthropic", 0.5)],
          tool_calls=[ToolCallRecord("e-t5", "e-s5", tool_name="Read", time_ns=t + 54 * H, success=True)],
          events=[EventRecord("e-ev3", "claude_code.api_error", "claude_code", t + 54 * H, "e-s5", None, None,
                              None, None, None, "{}", "{}")])
    # The placeholder's real id arrives with its span; the decision's result arrives later.
    write(tool_calls=[ToolCallRecord("toolu-real", None, success=True, duration_ms=40.0, trace_id="ee1",
                                     span_id="01"),
                      ToolCallRecord("e-t3", "e-s1", tool_name="Bash", time_ns=t + 40, success=True)])
    # An execute span links its session to a task: earlier spans of the session without one take it.
    write(sessions={"e-s3": SessionRecord("e-s3", t + H, t + 2 * H, source_type="coordinator")},
          spans=[_span("ee4", "01", t + H, "e-s3", "coordinator")])
    batch = Batch(ORG, sessions={"e-s3": SessionRecord("e-s3", t + H, t + 2 * H, source_type="coordinator")},
                  spans=[_span("ee4", "02", t + H + 1, "e-s3", "coordinator", name="observatory.execute",
                               task="task-linked")])
    ingest.store_batch(batch, "traces", "edge-execute")
    # One LLM call reported by its event, then by its span (the join rewrites the stored call).
    sid, when = "e-s4", t + 2 * H
    logs = ExportLogsServiceRequest()
    rl = logs.resource_logs.add()
    rl.resource.attributes.extend([kv("service.name", "claude-code"), kv("session.id", sid)])
    rec = LogRecord(time_unix_nano=when)
    for k, v in {"event.name": "api_request", "session.id": sid, "model": "claude-sonnet-4-5", "request_id": "rq-1",
                 "input_tokens": "120", "output_tokens": "30", "cost_usd": "0.01", "duration_ms": "900"}.items():
        rec.attributes.append(kv(k, v))
    rl.scope_logs.add().log_records.append(rec)
    traces = ExportTraceServiceRequest()
    rs = traces.resource_spans.add()
    rs.resource.attributes.extend([kv("service.name", "claude-code"), kv("session.id", sid)])
    sp = Span(trace_id=b"\x07" * 16, span_id=b"\x08" * 8, name="claude_code.llm_request", kind=Span.SPAN_KIND_CLIENT,
              start_time_unix_nano=when - 900_000_000, end_time_unix_nano=when)
    for k, v in {"session.id": sid, "model": "claude-sonnet-4-5", "input_tokens": 120, "output_tokens": 30}.items():
        sp.attributes.append(kv(k, v))
    rs.scope_spans.add().spans.append(sp)
    ingest.ingest(ORG, "logs", logs, "edge-logs")
    ingest.ingest(ORG, "traces", traces, "edge-traces")
    # Session activity from metric points (rolled up by the aggregate worker).
    for sid, added in (("e-s1", 10), ("e-s2", 4)):
        ingest.ingest(ORG, "metrics", _metrics(sid, t + H, [
            ("claude_code.lines_of_code.count", "added", added, None),
            ("claude_code.lines_of_code.count", "removed", 3, None),
            ("claude_code.commit.count", None, 1, None),
            ("claude_code.pull_request.count", None, 1, None),
            ("claude_code.active_time.total", "cli", 12.5, None),
        ]), f"edge-metrics-{sid}")
    # Another org's data, which no read of ORG may see.
    with store.unit_of_work() as uow:
        uow.write(Batch("globex", sessions={"e-s1": SessionRecord("e-s1", t, t + H, source_type="eval")},
                        llm_calls=[_call("g-c1", "e-s1", t + 10, "gpt-5", "openai", 99.0)],
                        spans=[_span("gg1", "01", t, "e-s1", "eval")]), "globex", [])


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, analytics_engine_dir: Path) -> Iterator[tuple[Any, Any]]:
    """(the Store, SplitInsights over the history the Store's writes were exported to)."""
    store = RecordingStore(tmp_path_factory.mktemp("parity") / "parity.db")
    ingest = IngestService(store, PriceTable.load(), SpanFilter.from_env({}))
    seed_database(store, ingest, PROFILES["minimal"], org_id=ORG, seed=3, anchor_ns=T)
    seed_database(store, ingest, PROFILES["default"].with_options(num_workspaces=2, spans_per_task=Range(20, 60),
                                                                  spans_per_request=120),
                  org_id=ORG, seed=5, anchor_ns=T - H)
    _edge_cases(store, ingest)
    _drain(store)
    # Catalog workspaces: one covering a seeded path's parent, one nested under another (the longest path wins).
    seeded = sorted({b.sessions[s].workspace for b, _ in store.written for s in b.sessions
                     if b.sessions[s].workspace})
    parent = seeded[0].rsplit("/", 1)[0]
    for ws_id, path in (("ws-parent", parent), ("ws-edge", "/src/edge"), ("ws-sub", "/src/edge/sub")):
        store.create_workspace(ORG, Workspace(id=ws_id, name=ws_id.upper(), path=path, created_at=NOW,
                                              updated_at=NOW))

    conn = AnalyticsConnection(f"chdb://{analytics_engine_dir}?database=parity_{time.time_ns()}")
    history = ClickHouseHistory(conn)
    for batch, version in store.written:
        history.export(batch.org_id, batch, version_ns=version)
    for org_id, row in store.rollups:
        history.export_session_rollups(org_id, [row])
    yield store, SplitInsights(ClickHouseFactInsights(conn), store)
    store.close()


def _same(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-9), path
    elif isinstance(a, dict):
        assert sorted(a) == sorted(b), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), f"{path}: {a} != {b}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _queries() -> list[InsightQuery]:
    facets: list[dict[str, str]] = [
        {}, {"source_type": "claude_code"}, {"source_type": "gemini_cli"}, {"source_type": "eval"},
        {"source_type": "coordinator"}, {"provider": "claude"}, {"provider": "gemini"}, {"provider": "anthropic"},
        {"model": "claude-sonnet-4-5"}, {"model": "gpt-5"}, {"workspace": "unknown"}, {"workspace": "ws-parent"},
        {"workspace": "ws-edge"}, {"workspace": "/src/edge"}, {"provider": "openai", "source_type": "eval"},
        {"model": "claude-sonnet-4-5", "workspace": "ws-parent"},
        {"source_type": "claude_code", "workspace": "ws-edge"},
    ]
    out = []
    for tz in ("UTC", "Asia/Kolkata", "America/New_York"):
        for f in facets:
            out.append(InsightQuery(tz=tz, **f))
    out.append(InsightQuery(start_date="2026-02-20", end_date="2026-02-27", tz="Europe/Paris"))
    out.append(InsightQuery(start_date="2026-02-25T06:30:00", end_date="2026-02-26T18:00:00", provider="anthropic"))
    return out


@pytest.mark.parametrize("q", _queries(), ids=lambda q: "-".join(f"{k}={v}" for k, v in q.model_dump(
    exclude_none=True).items()))
def test_store_and_analytics_agree(stores: tuple[InsightStore, InsightStore], q: InsightQuery) -> None:
    store, split = stores
    now = NOW + timedelta(hours=1)
    _same(service.metrics_summary(store, ORG, q, now).model_dump(),
          service.metrics_summary(split, ORG, q, now).model_dump(), "summary")
    _same(service.provider_comparison(store, ORG, q, now).model_dump(),
          service.provider_comparison(split, ORG, q, now).model_dump(), "providers")
    for dimension in DIMENSIONS:
        _same(service.breakdown(store, ORG, dimension, q, now).model_dump(),
              service.breakdown(split, ORG, dimension, q, now).model_dump(), dimension)
    _same(service.heatmap(store, ORG, q, now).model_dump(), service.heatmap(split, ORG, q, now).model_dump(),
          "heatmap")


def test_the_seeded_data_exercises_every_facet(stores: tuple[InsightStore, InsightStore]) -> None:
    """The comparisons above compare something: each facet selects data, and not all of it."""
    store, _ = stores
    now = NOW + timedelta(hours=1)
    everything = service.metrics_summary(store, ORG, InsightQuery(), now)
    assert everything.turn_count > 100 and everything.total_spans > 500 and everything.tool_calls > 50
    assert everything.lines_added == 14 and everything.api_errors == 3 and everything.total_tasks > 0
    for facets in ({"source_type": "gemini_cli"}, {"provider": "claude"}, {"workspace": "ws-parent"},
                   {"workspace": "unknown"}, {"model": "gpt-5"}):
        part = service.metrics_summary(store, ORG, InsightQuery(**facets), now)
        assert 0 < part.turn_count < everything.turn_count, facets
    sources = {i.id for i in service.breakdown(store, ORG, "source_type", InsightQuery(), now).items}
    assert {"claude_code", "gemini_cli", "eval", "coordinator", "other"} <= sources


@pytest.mark.parametrize("widths_h", [(24, 24, 24), (23, 25, 24), (24, 24, 6)],
                         ids=["uniform", "clock-change", "short-last"])
def test_days_of_any_width_agree(stores: tuple[InsightStore, InsightStore], widths_h: tuple[int, ...]) -> None:
    """Buckets of one width are found by arithmetic, others (a day with a clock change) by search: both agree."""
    store, split = stores
    edges = [to_ns(NOW - timedelta(days=3))]
    for width in widths_h:
        edges.append(edges[-1] + width * H)
    days = list(zip(edges, edges[1:], strict=False))
    for f in (InsightFilter(edges[0], edges[-1]), InsightFilter(edges[0], edges[-1], source_type="claude_code"),
              InsightFilter(edges[0], edges[-1], provider="claude")):
        mine, theirs = store.insight_days(ORG, f, days), split.insight_days(ORG, f, days)
        assert sum(d.calls.calls for d in mine) > 0
        _same([asdict(d) for d in mine], [asdict(d) for d in theirs], f"days {widths_h}")
