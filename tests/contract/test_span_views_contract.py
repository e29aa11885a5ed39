"""The SpanViewStore port's contract (span writes with their outbox message, lite reads, session digests,
trace pages), run against every adapter of the Store contract suite; every method stays inside its org."""

from __future__ import annotations

import json

from core.models import SpanQuery, TraceQuery
from core.ports.bus import TELEMETRY_INGESTED
from core.ports.store import SessionLink, Store
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
from tests.contract import test_store_contract as _contract

store = _contract.store  # the adapter-parametrised fixture: every adapter runs this suite

T0 = 1_700_000_000 * 10**9
MS = 10**6


def span(span_id: str, trace_id: str = "t1", *, parent: str | None = None, name: str = "op", start_ms: int = 0,
         dur_ms: int = 10, session: str | None = None, task: str | None = None, assignment: str | None = None,
         model: str | None = None, tokens: tuple[int, int] = (0, 0), cost: float | None = None,
         status: str = "ok", workspace: str = "", attrs: str = '{"k":"v"}') -> SpanRecord:
    start = T0 + start_ms * MS
    return SpanRecord(
        trace_id=trace_id, span_id=span_id, parent_span_id=parent, name=name, kind="internal", status=status,
        status_message=None, start_ns=start, end_ns=start + dur_ms * MS, session_id=session, service_name="svc",
        source_type="other", workspace=workspace,
        usage=Usage(model=model, tokens_in=tokens[0], tokens_out=tokens[1], provided_cost_usd=cost),
        links=Links(task_id=task, assignment_id=assignment), attributes_json=attrs, resource_json="{}",
        events_json=None,
    )


def write(store: Store, org: str, **facts: object) -> None:
    """Ingest's write, then what the aggregate worker does after it: index the batch's spans by id."""
    batch = Batch(org, **facts)  # type: ignore[arg-type]
    with store.unit_of_work() as uow:
        uow.write(batch, "digest", [])
    store.index_span_ids(org, sorted({s.trace_id for s in batch.spans}))


def outbox(store: Store) -> list[dict[str, object]]:
    messages = store.claim_outbox(100)
    store.ack_outbox([m.id for m in messages])
    assert {m.topic for m in messages} <= {TELEMETRY_INGESTED}
    return [json.loads(m.payload) for m in messages]


# -- span writes -------------------------------------------------------------------------------------------------

def test_create_span_enqueues_its_change_and_a_replay_changes_nothing(store: Store) -> None:
    rec = span("a1", task="task-1", session="s1", model="m", tokens=(3, 4), cost=0.5)
    assert store.create_span("acme", rec) == "created"
    [message] = outbox(store)
    assert message == {"org_id": "acme", "signal": "traces", "session_ids": ["s1"], "trace_ids": ["t1"],
                       "task_ids": ["task-1"], "counts": {"spans": 1, "events": 0, "llm_calls": 0,
                                                          "tool_calls": 0, "metric_points": 0},
                       "span_changes": [["t1", "a1"]]}
    assert store.create_span("acme", rec) == "replayed"
    assert outbox(store) == []
    assert store.create_span("acme", span("a1", task="task-2")) == "conflict"
    found = store.find_span("acme", "a1")
    assert found is not None and found.task_id == "task-1" and found.cost_usd == 0.5
    assert found.attributes == {"k": "v"}
    session = store.get_session("acme", "s1")  # an API span makes its session known
    assert session is not None and session.started_at is not None


def test_span_writes_stay_inside_their_org(store: Store) -> None:
    store.create_span("acme", span("a1"))
    assert store.find_span("globex", "a1") is None
    assert store.replace_span("globex", span("a1", name="hijack")) is False
    assert store.delete_span("globex", "t1", "a1") is False
    assert store.append_span_event("globex", "t1", "a1", {"name": "x"}) is None
    assert store.create_span("globex", span("a1", name="theirs")) == "created"  # same key, another org
    mine = store.find_span("acme", "a1")
    assert mine is not None and mine.name == "op" and mine.events == []


def test_replace_names_old_and_new_task_and_delete_names_the_old(store: Store) -> None:
    store.create_span("acme", span("a1", task="task-1"))
    outbox(store)
    assert store.replace_span("acme", span("a1", task="task-2", name="renamed")) is True
    [message] = outbox(store)
    assert message["task_ids"] == ["task-1", "task-2"]
    found = store.find_span("acme", "a1")
    assert found is not None and (found.name, found.task_id) == ("renamed", "task-2")
    assert store.delete_span("acme", "t1", "a1") is True
    [message] = outbox(store)
    assert message["task_ids"] == ["task-2"] and message["trace_ids"] == ["t1"]
    assert store.find_span("acme", "a1") is None
    assert store.delete_span("acme", "t1", "a1") is False


def test_span_writes_name_their_spans_and_span_records_read_them_back(store: Store) -> None:
    created = span("a1", session="s1", task="task-1", model="claude-sonnet-4-5", tokens=(10, 5), cost=0.25,
                   workspace="/src/app")
    store.create_span("acme", created)
    [message] = outbox(store)
    assert message["span_changes"] == [["t1", "a1"]]
    assert store.span_records("acme", [("t1", "a1"), ("t1", "missing")]) == [created]
    assert store.span_records("globex", [("t1", "a1")]) == []
    store.append_span_event("acme", "t1", "a1", {"name": "checked"})
    [message] = outbox(store)
    assert message["span_changes"] == [["t1", "a1"]]
    (stored,) = store.span_records("acme", [("t1", "a1")])
    assert json.loads(stored.events_json or "[]")[0]["name"] == "checked" and stored.usage == created.usage
    assert store.delete_span("acme", "t1", "a1") is True
    [message] = outbox(store)
    assert message["span_changes"] == [["t1", "a1"]] and store.span_records("acme", [("t1", "a1")]) == []


def test_span_events_are_appended_in_order(store: Store) -> None:
    store.create_span("acme", span("a1"))
    assert store.append_span_event("acme", "t1", "a1", {"name": "first"}) == 1
    assert store.append_span_event("acme", "t1", "a1", {"name": "second", "event_type": "tool"}) == 2
    found = store.find_span("acme", "a1")
    assert found is not None and [e["name"] for e in found.events] == ["first", "second"]


def test_ingested_spans_are_found_by_id_once_their_traces_are_indexed(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.write(Batch("acme", spans=[span("s-late", "t-late")]), "digest", [])
    assert store.find_span("acme", "s-late") is None
    store.index_span_ids("acme", ["t-late"])
    store.index_span_ids("acme", ["t-late"])  # idempotent
    found = store.find_span("acme", "s-late")
    assert found is not None and found.trace_id == "t-late"
    assert store.find_span("other", "s-late") is None


def test_find_span_prefers_the_latest_when_traces_reuse_an_id(store: Store) -> None:
    write(store, "acme", spans=[span("dup", "t-old", start_ms=0), span("dup", "t-new", start_ms=100)])
    found = store.find_span("acme", "dup")
    assert found is not None and found.trace_id == "t-new"


# -- span reads --------------------------------------------------------------------------------------------------

def test_lite_reads_leave_blobs_out_and_keep_their_order(store: Store) -> None:
    write(store, "acme", spans=[
        span("r", "tA", start_ms=0, task="task-1", session="s1"),
        span("c", "tA", parent="r", start_ms=5, task="task-1", session="s1", model="m"),
        span("x", "tB", start_ms=2, task="task-2", session="s2"),
    ])
    write(store, "globex", spans=[span("g", "tA", task="task-1", session="s1")])
    lite = store.list_spans_lite("acme", SpanQuery(task_id="task-1"))
    assert [s.id for s in lite] == ["c", "r"] and all(s.attributes == {} for s in lite)
    assert [s.id for s in store.spans_of_traces("acme", ["tA", "tB"])] == ["r", "x", "c"]
    assert [s.id for s in store.task_spans("acme", "task-1")] == ["r", "c"]
    assert [s.id for s in store.session_spans("acme", "s1", limit=1)] == ["r"]
    assert [s.id for s in store.list_spans_lite("acme", SpanQuery(model="m"))] == ["c"]
    assert store.spans_of_traces("globex", ["tB"]) == []
    assert [s.id for s in store.task_spans("globex", "task-1")] == ["g"]


def test_exec_spans_newest_first_with_blobs(store: Store) -> None:
    write(store, "acme", spans=[span("e1", name="ailang.exec", start_ms=0), span("e2", name="claude.execute",
                                                                                  start_ms=5),
                                span("o", name="other", start_ms=9)])
    found = store.exec_spans("acme", ["ailang.exec", "claude.execute"], 10)
    assert [s.id for s in found] == ["e2", "e1"] and found[0].attributes == {"k": "v"}
    assert store.exec_spans("globex", ["ailang.exec"], 10) == []


def test_task_span_summary_totals_and_top_names(store: Store) -> None:
    write(store, "acme", spans=[
        span("a", "t1", name="read", start_ms=0, dur_ms=10, task="task-1", tokens=(1, 2), cost=0.1),
        span("b", "t1", name="read", start_ms=20, dur_ms=30, task="task-1", tokens=(3, 4), cost=0.2),
        span("c", "t2", name="write", start_ms=40, dur_ms=5, task="task-1"),
    ])
    summary = store.task_span_summary("acme", "task-1")
    assert summary is not None
    assert (summary.span_count, summary.trace_count, summary.tokens_in, summary.tokens_out) == (3, 2, 4, 6)
    assert abs(summary.cost_usd - 0.3) < 1e-9 and summary.duration_ms == 45
    assert summary.start_time is not None and summary.start_time.timestamp() == T0 / 1e9
    assert summary.end_time is not None and round(summary.end_time.timestamp() * 1000) == T0 // MS + 50
    assert [(n.name, n.count) for n in summary.top_span_names] == [("read", 2), ("write", 1)]
    assert store.task_span_summary("globex", "task-1") is None


def test_task_sessions_from_spans_and_links(store: Store) -> None:
    write(store, "acme", spans=[span("a", session="s-span", task="task-1", assignment="as-1")])
    with store.unit_of_work() as uow:
        uow.link_session_to_task("acme", "s-link", SessionLink("task-1", None))
    assert store.task_sessions("acme", "task-1") == {"s-span": "as-1", "s-link": None}
    assert store.task_sessions("globex", "task-1") == {}


# -- tool calls and sessions -------------------------------------------------------------------------------------

def test_tool_calls_by_span_and_by_time(store: Store) -> None:
    write(store, "acme", tool_calls=[
        ToolCallRecord("tu1", "s1", tool_name="Read", time_ns=T0, tool_input='{"file_path": "/a"}',
                       tool_result="big", trace_id="t1", span_id="sp1"),
        ToolCallRecord("tu2", "s1", tool_name="Read", time_ns=T0 + 60 * 10**9),
        ToolCallRecord("tu3", "s1", tool_name="Bash", time_ns=T0 + 61 * 10**9),
    ])
    found = store.tool_calls_of_spans("acme", [("t1", "sp1"), ("t1", "nope")])
    assert list(found) == [("t1", "sp1")] and found[("t1", "sp1")].tool_response is None
    assert store.tool_calls_of_spans("acme", [("t1", "sp1")], with_result=True)[("t1", "sp1")].tool_response == "big"
    assert store.tool_calls_of_spans("globex", [("t1", "sp1")]) == {}
    near = store.tool_call_near("acme", "s1", "Read", T0 + 50 * 10**9)
    assert near is not None and near.tool_use_id == "tu2"
    assert store.tool_call_near("acme", "s1", "Read", T0 + 10_000 * 10**9) is None
    assert store.tool_call_near("globex", "s1", "Read", T0) is None
    assert [t.tool_use_id for t in store.session_tool_calls_lite("acme", "s1")] == ["tu1", "tu2", "tu3"]
    assert all(t.tool_response is None for t in store.session_tool_calls_lite("acme", "s1"))


def _prompt(session: str, text: str, at: int, org_key: str = "") -> EventRecord:
    return EventRecord(event_key=f"e-{session}-{at}{org_key}", name="claude_code.user_prompt", dialect="claude_code",
                       time_ns=at, session_id=session, prompt_id=None, trace_id=None, span_id=None, severity=None,
                       body=None, attributes_json=json.dumps({"prompt": text}), resource_json="{}")


def _call(key: str, session: str, at: int, *, cost: float = 0.0, reasoning: int = 0, model: str = "m"
          ) -> LlmCallRecord:
    return LlmCallRecord(key, session, at, 100.0, Usage(model=model, provider="claude", tokens_in=10, tokens_out=5,
                                                        reasoning_tokens=reasoning, provided_cost_usd=cost or None))


def test_session_digests(store: Store) -> None:
    write(store, "acme", events=[_prompt("s1", "second", T0 + 2), _prompt("s1", "first", T0 + 1)],
          llm_calls=[_call("c1", "s1", T0 + 3), _call("c2", "s1", T0 + 4, reasoning=7), _call("c3", "s2", T0)])
    digests = store.session_digests("acme", ["s1", "s2", "unknown"])
    assert (digests["s1"].first_prompt, digests["s1"].has_thinking, digests["s1"].turn_count) == ("first", True, 2)
    assert (digests["s2"].first_prompt, digests["s2"].has_thinking, digests["s2"].turn_count) == (None, False, 1)
    assert digests["unknown"].turn_count == 0
    assert store.session_digests("globex", ["s1"])["s1"].turn_count == 0


def test_activity_sessions_filter_and_order(store: Store) -> None:
    def session(sid: str, last: int, source: str, workspace: str | None) -> SessionRecord:
        return SessionRecord(sid, T0, T0 + last, service_name=source.replace("_", "-"), source_type=source,
                             workspace=workspace)

    write(store, "acme", sessions={
        "u1": session("u1", 10, "claude_code", "/home/me/app"),
        "c1": session("c1", 20, "claude_code", "/repo/worktrees/task-0000abcd"),
        "g1": session("g1", 30, "gemini_cli", None),
        "idle": session("idle", 40, "claude_code", "/home/me/app"),  # no LLM call: not an event
    }, llm_calls=[_call("k1", "u1", T0, cost=0.25), _call("k2", "u1", T0 + 5, model="m2"),
                  _call("k3", "c1", T0), _call("k4", "g1", T0)], events=[_prompt("u1", "do it", T0)])
    with store.unit_of_work() as uow:
        uow.link_session_to_task("acme", "c1", SessionLink("task-1", "as-1"))
    every = store.activity_sessions("acme", None, None, 10, 0)
    assert [a.session_id for a in every] == ["g1", "c1", "u1"]
    u1 = every[2]
    assert (u1.turn_count, u1.cost_usd, u1.tokens_in, u1.model, u1.first_prompt) == (2, 0.25, 20, "m2", "do it")
    assert every[1].assignment_id == "as-1" and every[1].task_id == "task-1"
    ids = lambda *args: [a.session_id for a in store.activity_sessions("acme", *args)]  # noqa: E731
    assert ids("coordinator", None, 10, 0) == ["c1"]
    assert ids("user_session", None, 10, 0) == ["g1", "u1"]
    assert ids("gemini_cli", None, 10, 0) == ["g1"]
    assert ids(None, "/home/me/app", 10, 0) == ["u1"]
    assert ids(None, "me/app", 10, 0) == ["u1"]  # contained
    assert ids(None, "unknown", 10, 0) == ["g1"]
    assert ids(None, "coordinator_worktrees", 10, 0) == ["c1"]
    assert ids(None, None, 1, 1) == ["c1"]
    assert store.activity_sessions("globex", None, None, 10, 0) == []


# -- trace pages -------------------------------------------------------------------------------------------------

def test_traces_listed_by_their_first_span_newest_first(store: Store) -> None:
    # tLong starts first but has the newest span: it is listed by its start, after tLate.
    write(store, "acme", spans=[
        span("l1", "tLong", start_ms=0), span("l2", "tLong", parent="l1", start_ms=500, session="s1"),
        span("m1", "tMid", start_ms=100, task="task-1"),
        span("n1", "tLate", start_ms=200), span("n2", "tLate", start_ms=200),  # a tie on the first start
    ])
    write(store, "globex", spans=[span("z", "tZ", start_ms=900)])
    page = store.list_traces("acme", TraceQuery())
    assert [t.trace_id for t in page] == ["tLate", "tMid", "tLong"]
    assert page[2].span_count == 2 and page[2].root_span_name == "op" and page[2].session_id == "s1"
    assert [t.trace_id for t in store.list_traces("acme", TraceQuery(limit=1, offset=1))] == ["tMid"]
    assert [t.trace_id for t in store.list_traces("acme", TraceQuery(session_id="s1"))] == ["tLong"]
    assert [t.trace_id for t in store.list_traces("acme", TraceQuery(task_id="task-1"))] == ["tMid"]
    assert [t.trace_id for t in store.list_traces("acme", TraceQuery(trace_id="tMid"))] == ["tMid"]
    assert store.list_traces("globex", TraceQuery(task_id="task-1")) == []
    assert [t.trace_id for t in store.list_traces("globex", TraceQuery())] == ["tZ"]
