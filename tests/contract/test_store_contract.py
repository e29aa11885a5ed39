"""The Store port's contract: every adapter must pass this suite unchanged (add its factory to STORES)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.adapters.sqlite import SqliteStore
from core.ingest import IngestService
from core.models import MetricQuery, SpanQuery, TraceQuery
from core.ports.store import SessionLink, SessionRollup, Store
from core.pricing import PriceTable
from core.records import (
    Batch,
    EventRecord,
    Links,
    LlmCallRecord,
    MetricPointRecord,
    SessionRecord,
    SpanRecord,
    ToolCallRecord,
    Usage,
)
from core.span_filter import SpanFilter
from tests.payloads import log_request, trace_request

STORES: dict[str, Callable[[Path], Store]] = {
    "sqlite": lambda tmp: SqliteStore(tmp / "contract.db"),
}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = STORES[request.param](tmp_path)
    yield s
    s.close()


def service(store: Store) -> IngestService:
    return IngestService(store, PriceTable.load(), SpanFilter.from_env({}))


def test_replaying_a_batch_changes_no_stored_fact(store: Store) -> None:
    req = trace_request(5, attrs={"session.id": "s1", "gen_ai.request.model": "claude-haiku-4-5",
                                  "input_tokens": 10, "output_tokens": 5})
    svc = service(store)
    svc.ingest("acme", "traces", req, "d1")
    before = [s.model_dump() for s in store.list_spans("acme", SpanQuery(limit=100))]
    for _ in range(3):
        svc.ingest("acme", "traces", req, "d1")
    assert [s.model_dump() for s in store.list_spans("acme", SpanQuery(limit=100))] == before
    assert len(before) == 5
    assert len(store.list_traces("acme", TraceQuery())) == 1


def test_every_read_stays_inside_its_org(store: Store) -> None:
    svc = service(store)
    svc.ingest("acme", "traces", trace_request(2, attrs={"session.id": "shared"}), "a")
    svc.ingest("acme", "logs", log_request([{"event.name": "api_request", "session.id": "shared",
                                             "model": "claude-haiku-4-5", "request_id": "r1",
                                             "input_tokens": "1", "output_tokens": "2"}]), "b")
    assert store.list_spans("globex", SpanQuery()) == []
    assert store.list_traces("globex", TraceQuery()) == []
    assert store.get_session("globex", "shared") is None
    assert store.session_llm_calls("globex", "shared") == []
    assert store.list_metric_points("globex", MetricQuery()) == []
    assert store.get_session("acme", "shared") is not None
    assert len(store.session_llm_calls("acme", "shared")) == 1


def test_tool_call_sources_fill_fields_and_never_clear_them(store: Store) -> None:
    a = Batch("acme", tool_calls=[ToolCallRecord("t1", "s", tool_name="Bash", decision="accept")])
    b = Batch("acme", tool_calls=[ToolCallRecord("t1", "s", success=True, duration_ms=12.0)])
    for batch in (a, b, a):
        with store.unit_of_work() as uow:
            uow.write(batch, "x", [])
    [tool] = store.session_tool_calls("acme", "s")
    assert (tool.tool_name, tool.decision, tool.success, tool.duration_ms) == ("Bash", "accept", True, 12.0)


def test_sessions_merge_first_last_seen_and_models(store: Store) -> None:
    base = 1_700_000_000 * 10**9
    for first, last, model in ((200, 300, "m2"), (100, 150, "m1"), (200, 300, "m2")):
        rec = SessionRecord("s", base + first * 10**9, base + last * 10**9, service_name="claude-code",
                            source_type="claude_code", models={model})
        with store.unit_of_work() as uow:
            uow.write(Batch("acme", sessions={"s": rec}), "x", [])
    session = store.get_session("acme", "s")
    assert session is not None and session.models == ["m1", "m2"]
    assert session.started_at is not None and session.last_seen_at is not None
    assert session.started_at.timestamp() == 1_700_000_100
    assert session.last_seen_at.timestamp() == 1_700_000_300


def test_llm_call_lookups_by_id_and_candidates(store: Store) -> None:
    call = LlmCallRecord("req:r1", "s", 1_000, 5.0, Usage(model="m", tokens_out=7), request_id="r1")
    with store.unit_of_work() as uow:
        uow.write(Batch("acme", llm_calls=[call]), "x", [])
    with store.unit_of_work() as uow:
        assert [c.call_key for c in uow.llm_calls_by_ids("acme", ["r1"])] == ["req:r1"]
        assert uow.llm_calls_by_ids("globex", ["r1"]) == []
        assert len(uow.llm_call_candidates("acme", "s", 0, 2_000, [7])) == 1
        assert uow.llm_call_candidates("acme", "s", 0, 2_000, [8]) == []
        assert uow.llm_call_candidates("acme", "s", 2_000, 3_000, [7]) == []


def test_orphan_spans_linked_when_their_task_is_learned(store: Store) -> None:
    service(store).ingest("acme", "traces", trace_request(3, attrs={"session.id": "s9"}), "a")
    with store.unit_of_work() as uow:
        assert uow.link_session_to_task("acme", "s9", SessionLink("task-1", "as-1")) == 3
        assert uow.session_links("acme", ["s9"]) == {"s9": SessionLink("task-1", "as-1")}
    assert {s.task_id for s in store.list_spans("acme", SpanQuery(session_id="s9"))} == {"task-1"}


def test_outbox_is_durable_until_acknowledged(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.write(Batch("acme"), "x", [("topic-a", b"one"), ("topic-a", b"two")])
    first = store.claim_outbox(10)
    assert [m.payload for m in first] == [b"one", b"two"]
    assert store.outbox_backlog() == 2
    store.ack_outbox([first[0].id])
    assert [m.payload for m in store.claim_outbox(10)] == [b"two"]
    store.enqueue_outbox([("topic-b", b"three")])
    assert [(m.topic, m.payload) for m in store.claim_outbox(10)] == [("topic-a", b"two"), ("topic-b", b"three")]


def test_failed_unit_of_work_writes_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.unit_of_work() as uow:
        uow.write(Batch("acme", tool_calls=[ToolCallRecord("t1", "s", tool_name="Bash")]), "x", [("t", b"p")])
        raise RuntimeError("boom")
    assert store.session_tool_calls("acme", "s") == []
    assert store.outbox_backlog() == 0


def test_older_rollup_never_overwrites_newer(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.write(Batch("acme", sessions={"s": SessionRecord("s", 1, 2)}), "x", [])
    store.save_session_rollup("acme", "s", '{"v": "new"}', 200)
    store.save_session_rollup("acme", "s", '{"v": "old"}', 100)
    session = store.get_session("acme", "s")
    assert session is not None and session.summary == {"v": "new"}


def test_rollups_saved_together_keep_each_sessions_newest(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.write(Batch("acme", sessions={sid: SessionRecord(sid, 1, 2) for sid in ("a", "b")}), "x", [])
        uow.write(Batch("other", sessions={"a": SessionRecord("a", 1, 2)}), "y", [])
    store.save_session_rollup("acme", "b", '{"v": "b-newer"}', 300)
    store.save_session_rollups([SessionRollup("acme", "a", '{"v": "a"}', 200),
                                SessionRollup("acme", "b", '{"v": "b-older"}', 100),
                                SessionRollup("acme", "missing", '{"v": "none"}', 200),
                                SessionRollup("other", "a", '{"v": "other-a"}', 200)])
    store.save_session_rollups([])
    summaries = {(org, sid): (v.summary if (v := store.get_session(org, sid)) else None)
                 for org, sid in (("acme", "a"), ("acme", "b"), ("acme", "missing"), ("other", "a"))}
    assert summaries == {("acme", "a"): {"v": "a"}, ("acme", "b"): {"v": "b-newer"}, ("acme", "missing"): None,
                         ("other", "a"): {"v": "other-a"}}


def _facts_batch(org: str, session_id: str) -> Batch:
    """A session (times in whole microseconds, which the read views keep) with calls of two models (one failed,
    one unpriced), tool calls (one failed, one known only by its approval), an API error among other events, delta
    and cumulative metric points and three spans."""
    t0 = 1_760_000_000_000_000_000
    calls = [LlmCallRecord(f"{session_id}-c{i}", session_id, t0 + i * 10**9, 5.0,
                           Usage(model=model, tokens_in=10 * i, tokens_out=i, cache_read_tokens=2,
                                 cache_creation_tokens=1, reasoning_tokens=i % 2, computed_cost_usd=cost,
                                 cache_savings_usd=0.001 * i, unpriced=cost is None),
                           success=i != 2)
             for i, (model, cost) in enumerate([("claude-haiku-4-5", 0.01), ("claude-sonnet-4-5", 0.2),
                                                ("claude-haiku-4-5", 0.03), ("mystery-model", None)])]
    tools = [ToolCallRecord(f"{session_id}-ok", session_id, "Bash", t0, success=True),
             ToolCallRecord(f"{session_id}-bad", session_id, "Edit", t0 + 1, success=False),
             ToolCallRecord(f"span:{session_id}:cd", session_id, decision="accept")]
    events = [EventRecord(f"{session_id}-e{i}", name, "claude_code", t0 + i, session_id, None, None, None, None,
                          None, "{}", "{}")
              for i, name in enumerate(["claude_code.api_error", "claude_code.user_prompt"])]
    points = [MetricPointRecord(f"{session_id}-tok", "claude_code.token.usage", "sum", "delta", t0 - 10_000,
                                t0 + 50 * 10**9, 40.0, session_id, "claude-haiku-4-5", "input", "{}", "{}"),
              *(MetricPointRecord(f"{session_id}-lines", "claude_code.lines_of_code.count", "sum", "cumulative",
                                  t0, t0 + k * 1000, v, session_id, None, "added", "{}", "{}")
                for k, v in ((5, 3.0), (9, 7.0)))]
    spans = [SpanRecord(f"{session_id:0<32}"[:32], f"{i:016x}", None, "claude_code.tool", "internal", "ok", None,
                        t0 + i, t0 + i + 5, session_id, "claude-code", "claude_code", "", Usage(), Links(), "{}", "{}",
                        None) for i in range(1, 4)]
    return Batch(org, spans=spans, events=events, llm_calls=calls, tool_calls=tools, metric_points=points,
                 sessions={session_id: SessionRecord(session_id, t0, t0 + 90 * 10**9 + 123_456)})


def test_session_facts_select_what_the_rollup_reads_within_the_org(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.write(_facts_batch("acme", "s-facts"), "f1", [])
        uow.write(_facts_batch("acme", "s-other"), "f2", [])
        uow.write(_facts_batch("globex", "s-facts"), "f3", [])
    facts = store.session_facts("acme", "s-facts")
    assert facts is not None
    # The adapter's own selection (when it has one) agrees with the port's default built from the read views.
    assert facts == Store.session_facts(store, "acme", "s-facts")
    assert [(c.model, c.tokens_in, c.success, c.unpriced) for c in facts.calls] == [
        ("claude-haiku-4-5", 0, True, False), ("claude-sonnet-4-5", 10, True, False),
        ("claude-haiku-4-5", 20, False, False), ("mystery-model", 30, True, True)]
    assert [c.time_ns - facts.calls[0].time_ns for c in facts.calls] == [0, 10**9, 2 * 10**9, 3 * 10**9]
    assert [(p.series_key, p.value) for p in facts.points] == [("s-facts-tok", 40.0), ("s-facts-lines", 7.0),
                                                                ("s-facts-lines", 3.0)]
    assert (facts.tool_calls, facts.failed_tool_calls, facts.api_errors, facts.span_count) == (2, 1, 1, 3)
    assert facts.started_at is not None and facts.last_seen_at is not None
    assert store.session_facts("acme", "missing") is None
    assert store.session_facts("initech", "s-facts") is None
    globex = store.session_facts("globex", "s-facts")
    assert globex is not None and globex.span_count == 3 and len(globex.calls) == 4


def test_a_session_learns_its_workspace_from_span_attributes(store: Store) -> None:
    service(store).ingest("acme", "traces", trace_request(2, attrs={"session.id": "s-cwd",
                                                                     "process.cwd": "/home/dev/repo"}), "w")
    session = store.get_session("acme", "s-cwd")
    assert session is not None and session.workspace == "/home/dev/repo"
