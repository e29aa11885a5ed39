"""ErasureStore contract: purge_session erases one session's facts of one org and nothing else."""

from __future__ import annotations

from typing import Any

from core.ingest import IngestService
from core.models import MetricQuery, SpanQuery
from core.ports.erasure import PURGED_TABLES
from core.ports.store import SessionLink, Store
from core.pricing import PriceTable
from core.records import Batch, ToolCallRecord
from core.span_filter import SpanFilter
from tests.contract.test_store_contract import store  # noqa: F401 - the adapter-parametrised fixture
from tests.payloads import log_request, trace_request


def _service(s: Store) -> IngestService:
    return IngestService(s, PriceTable.load(), SpanFilter.from_env({}))


def _record_session(s: Store, org: str, session: str) -> None:
    """Spans with an LLM call and a tool call, log events (one an LLM call), a task link and a tool call known
    only through a span of the session."""
    svc = _service(s)
    svc.ingest(org, "traces", trace_request(3, attrs={"session.id": session, "gen_ai.request.model":
                                                      "claude-haiku-4-5", "gen_ai.operation.name": "chat",
                                                      "input_tokens": 10, "output_tokens": 5}), f"{org}{session}t")
    tool = trace_request(1, attrs={"session.id": session, "gen_ai.operation.name": "execute_tool",
                                   "gen_ai.tool.name": "read_file", "gen_ai.tool.call.id": f"call-{session}"})
    svc.ingest(org, "traces", tool, f"{org}{session}tool")
    svc.ingest(org, "logs", log_request([
        {"event.name": "user_prompt", "session.id": session, "prompt": "hi"},
        {"event.name": "api_request", "session.id": session, "model": "claude-haiku-4-5",
         "request_id": f"req-{org}-{session}", "input_tokens": "1", "output_tokens": "2"},
    ]), f"{org}{session}l")
    trace_id = tool.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    span_id = tool.resource_spans[0].scope_spans[0].spans[0].span_id.hex()
    with s.unit_of_work() as uow:
        uow.link_session_to_task(org, session, SessionLink("task-1", "asg-1"))
        # A tool call stored without its session id: found through its span.
        uow.write(Batch(org, tool_calls=[ToolCallRecord(f"orphan-{session}", None, tool_name="Bash",
                                                        trace_id=trace_id, span_id=span_id)]), "x", [])


def _snapshot(s: Store, org: str, session: str) -> dict[str, Any]:
    return {
        "spans": len(s.list_spans(org, SpanQuery(session_id=session, limit=1000))),
        "session": s.get_session(org, session) is not None,
        "llm_calls": len(s.session_llm_calls(org, session)),
        "tools": len(s.session_tool_calls(org, session)),
        "events": len(s.session_events(org, session)),
    }


def test_purge_erases_everything_of_the_session(store: Store) -> None:  # noqa: F811
    _record_session(store, "acme", "s1")
    counts = store.purge_session("acme", "s1")
    assert set(counts) == set(PURGED_TABLES)
    assert counts["spans"] == 4 and counts["sessions"] == 1 and counts["session_links"] == 1
    assert counts["llm_calls"] == 4  # three chat spans and one api_request event
    assert counts["tool_calls"] == 2  # the span's and the one known only by its span
    assert counts["events"] == 2
    assert _snapshot(store, "acme", "s1") == {"spans": 0, "session": False, "llm_calls": 0, "tools": 0,
                                              "events": 0}
    with store.unit_of_work() as uow:
        assert uow.session_links("acme", ["s1"]) == {}


def test_purge_leaves_other_sessions_and_orgs_untouched(store: Store) -> None:  # noqa: F811
    _record_session(store, "acme", "s1")
    _record_session(store, "acme", "s2")
    _record_session(store, "globex", "s1")
    before_s2 = _snapshot(store, "acme", "s2")
    before_globex = _snapshot(store, "globex", "s1")
    store.purge_session("acme", "s1")
    assert _snapshot(store, "acme", "s2") == before_s2
    assert _snapshot(store, "globex", "s1") == before_globex
    assert before_globex["spans"] == 4 and before_globex["session"]


def test_purge_of_unknown_session_deletes_nothing(store: Store) -> None:  # noqa: F811
    _record_session(store, "acme", "s1")
    assert store.purge_session("acme", "nope") == dict.fromkeys(PURGED_TABLES, 0)
    assert store.purge_session("globex", "s1") == dict.fromkeys(PURGED_TABLES, 0)
    assert _snapshot(store, "acme", "s1")["spans"] == 4


def test_purge_is_idempotent(store: Store) -> None:  # noqa: F811
    _record_session(store, "acme", "s1")
    assert sum(store.purge_session("acme", "s1").values()) > 0
    assert store.purge_session("acme", "s1") == dict.fromkeys(PURGED_TABLES, 0)


def test_purge_removes_metric_points_of_the_session(store: Store) -> None:  # noqa: F811
    from core.records import MetricPointRecord

    points = [MetricPointRecord(f"series-{sid}", "claude_code.token.usage", "sum", "delta", 1, 2, 5.0, sid,
                                "claude-haiku-4-5", "input", "{}", "{}") for sid in ("s1", "s2")]
    with store.unit_of_work() as uow:
        uow.write(Batch("acme", metric_points=points), "m", [])
    assert store.purge_session("acme", "s1")["metric_points"] == 1
    remaining = store.list_metric_points("acme", MetricQuery())
    assert [p.session_id for p in remaining] == ["s2"]


def test_purge_enqueues_the_notice_with_the_erasure(store: Store) -> None:  # noqa: F811
    _record_session(store, "acme", "s1")
    while pending := store.claim_outbox(100):
        store.ack_outbox([m.id for m in pending])
    seen: list[tuple[list[str], list[str], dict[str, int]]] = []

    def notice(traces: list[str], tasks: list[str], counts: dict[str, int]) -> list[tuple[str, bytes]]:
        seen.append((traces, tasks, counts))
        return [("topic", b"purged")]

    counts = store.purge_session("acme", "s1", notice)
    [(traces, tasks, given)] = seen
    assert len(traces) == 2 and tasks == ["task-1"] and given == counts
    assert [(m.topic, m.payload) for m in store.claim_outbox(10)] == [("topic", b"purged")]
    assert store.purge_session("acme", "s1", notice) == dict.fromkeys(PURGED_TABLES, 0)
    assert len(seen) == 1  # nothing deleted: no notice
