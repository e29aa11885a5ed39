"""The HookStore contract: hooks recorded once per key, sessions, tool starts and ends, links, workspace back-fill,
session events and outbox notices, each inside its org."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from core.models import SpanQuery
from core.ports.hook_records import HookEffects, HookLinks, HookRecord, ToolEnd, ToolStart
from core.ports.store import Store
from tests.contract import test_store_contract as _contract
from tests.payloads import trace_request

store = _contract.store  # the adapter-parametrised fixture: every adapter runs this suite
service = _contract.service

T0 = 1_767_225_600 * 10**9
S = 10**9


def rec(key: str, event: str = "Stop", at: int = 0, session: str = "s1", **kw: Any) -> HookRecord:
    return HookRecord(key=key, session_id=session, time_ns=T0 + at * S, hook_event_name=event,
                      event_name=f"claude_code.hook.{event.lower()}", **kw)


def start(key: str, tool_use_id: str, at: int, tool: str = "Bash", **kw: Any) -> HookRecord:
    return rec(key, "PreToolUse", at, tool_start=ToolStart(tool_use_id, tool, '{"command":"ls"}'), **kw)


def end(key: str, tool_use_id: str | None, at: int, tool: str = "Bash", success: bool = True,
        **kw: Any) -> HookRecord:
    return rec(key, "PostToolUse", at, tool_end=ToolEnd(tool_use_id, f"hook:{key}", tool, success, '{"command":"ls"}',
                                                       f'{{"stdout":"{key}"}}', None if success else "boom"), **kw)


def calls(store: Store, org: str = "acme", session: str = "s1") -> dict[str, Any]:
    return {t.tool_use_id: t for t in store.session_tool_calls(org, session)}


def ingest(store: Store, n: int, session: str = "s1", org: str = "acme") -> None:
    service(store).ingest(org, "traces", trace_request(n, attrs={"session.id": session}), f"d-{session}-{n}")


def spans(store: Store, session: str = "s1", org: str = "acme") -> list[Any]:
    return store.list_spans(org, SpanQuery(session_id=session, limit=100))


def test_a_key_is_recorded_once(store: Store) -> None:
    first = store.record_hook("acme", start("k1", "t1", 1))
    assert (first.replayed, first.tool_use_id) == (False, "t1")
    store.record_hook("acme", end("k2", "t1", 3))
    before = (store.get_session("acme", "s1"), calls(store), store.session_events("acme", "s1"),
              store.hook_session("acme", "s1"))
    # The same key is a replay even if the record differs (e.g. redelivered with another time): nothing changes.
    again = store.record_hook("acme", start("k1", "t1", 50))
    assert (again.replayed, again.tool_use_id) == (True, "t1")
    assert store.record_hook("acme", end("k2", "t1", 60)).replayed
    assert (store.get_session("acme", "s1"), calls(store), store.session_events("acme", "s1"),
            store.hook_session("acme", "s1")) == before


def test_sessions_widen_and_keep_their_first_workspace(store: Store) -> None:
    assert store.hook_session("acme", "s1") is None
    store.record_hook("acme", rec("a", "SessionStart", 10, workspace="/src/a", transcript_path="/t/a.jsonl",
                                  model="claude-sonnet-4-5", starts_session=True, start_source="startup"))
    store.record_hook("acme", rec("b", "Stop", 5, workspace="/src/elsewhere", transcript_path="/t/b.jsonl"))
    store.record_hook("acme", rec("c", "Stop", 20, model="claude-haiku-4-5"))
    s = store.hook_session("acme", "s1")
    assert s is not None
    assert (s.first_seen_ns, s.last_seen_ns, s.workspace, s.transcript_path, s.start_source, s.ended_ns) == (
        T0 + 5 * S, T0 + 20 * S, "/src/a", "/t/a.jsonl", "startup", None)
    view = store.get_session("acme", "s1")
    assert view is not None
    assert (view.source_type, view.workspace, view.models) == (
        "claude_code", "/src/a", ["claude-haiku-4-5", "claude-sonnet-4-5"])


def test_ends_record_the_latest_end_and_a_later_start_reopens(store: Store) -> None:
    store.record_hook("acme", rec("e1", "SessionEnd", 10, ends_session=True, end_reason="exit"))
    store.record_hook("acme", rec("e0", "SessionEnd", 8, ends_session=True, end_reason="older"))
    s = store.hook_session("acme", "s1")
    assert s is not None and (s.ended_ns, s.end_reason) == (T0 + 10 * S, "exit")
    store.record_hook("acme", rec("r0", "SessionStart", 9, starts_session=True, start_source="resume"))
    s = store.hook_session("acme", "s1")
    assert s is not None and s.ended_ns == T0 + 10 * S  # a start before the end does not reopen
    store.record_hook("acme", rec("r1", "SessionStart", 30, starts_session=True, start_source="resume"))
    s = store.hook_session("acme", "s1")
    assert s is not None and (s.ended_ns, s.end_reason, s.start_source) == (None, None, "resume")


def test_tool_calls_start_and_end_in_any_order(store: Store) -> None:
    store.record_hook("acme", start("p1", "t1", 1))
    store.record_hook("acme", end("q1", "t1", 4))
    store.record_hook("acme", end("q2", "t2", 6, success=False))  # the end first ...
    t2 = calls(store)["t2"]
    assert (t2.duration_ms, t2.success, t2.error, t2.start_time) == (None, False, "boom", t2.start_time)
    store.record_hook("acme", start("p2", "t2", 5))  # ... then its start
    store.record_hook("acme", start("p3", "t1", 7))  # a start re-sent after the end reopens nothing
    got = calls(store)
    assert (got["t1"].duration_ms, got["t1"].success, got["t1"].tool_response) == (3000.0, True, '{"stdout":"q1"}')
    assert int(got["t1"].start_time.timestamp()) == T0 // S + 1
    assert (got["t2"].duration_ms, got["t2"].success, got["t2"].tool_input) == (1000.0, False, '{"command":"ls"}')
    assert int(got["t2"].start_time.timestamp()) == T0 // S + 5


def test_an_end_without_id_takes_the_latest_unfinished_call_of_its_tool(store: Store) -> None:
    store.record_hook("acme", start("a", "x1", 1))
    store.record_hook("acme", start("b", "x2", 2))
    store.record_hook("acme", start("c", "r1", 3, tool="Read"))
    store.record_hook("acme", start("d", "x3", 9))  # started after the end below: not its call
    store.record_hook("acme", start("e", "x9", 2, session="s2"))  # another session
    assert store.record_hook("acme", end("f", None, 5)).tool_use_id == "x2"
    assert store.record_hook("acme", end("g", None, 6)).tool_use_id == "x1"
    assert store.record_hook("acme", end("h", None, 7)).tool_use_id == "hook:h"  # nothing left: a call of its own
    assert store.record_hook("acme", end("i", None, 8, tool="Read")).tool_use_id == "r1"
    got = calls(store)
    assert got["x3"].success is None and got["hook:h"].duration_ms is None
    assert (got["x1"].duration_ms, got["x2"].duration_ms, got["r1"].duration_ms) == (5000.0, 3000.0, 5000.0)
    assert calls(store, session="s2")["x9"].success is None


def test_links_and_workspace_reach_the_sessions_spans(store: Store) -> None:
    ingest(store, 3)
    ingest(store, 2, session="s2")
    links = HookLinks("task-1", "chain-1", "stage-1", "msg-1")
    outcome = store.record_hook("acme", rec("l1", workspace="/src/w", links=links))
    assert outcome.spans_updated >= 3
    for s in spans(store):
        assert (s.workspace, s.task_id, s.chain_id, s.stage_id, s.message_id) == (
            "/src/w", "task-1", "chain-1", "stage-1", "msg-1")
    assert {(s.workspace, s.task_id) for s in spans(store, "s2")} == {("unknown", None)}
    state = store.hook_session("acme", "s1")
    assert state is not None and state.links == links
    # A new link goes to the session and to spans that have none; spans keep the links they have. A chain
    # comes with its stage (here none); a stage alone stays in its chain.
    ingest(store, 1)
    assert {s.task_id for s in spans(store)} == {"task-1"}  # ingest follows the session's task link
    store.record_hook("acme", rec("l2", links=HookLinks("task-2", "chain-2")))
    state = store.hook_session("acme", "s1")
    assert state is not None and state.links == HookLinks("task-2", "chain-2", None, "msg-1")
    assert sorted((s.task_id, s.chain_id, s.stage_id) for s in spans(store)) == [
        ("task-1", "chain-1", "stage-1")] * 3 + [("task-1", "chain-2", None)]
    store.record_hook("acme", rec("l3", links=HookLinks(stage_id="stage-2")))
    state = store.hook_session("acme", "s1")
    assert state is not None and state.links == HookLinks("task-2", "chain-2", "stage-2", "msg-1")


def test_hooks_are_session_events_with_outbox_notices(store: Store) -> None:
    ingest(store, 2)
    store.claim_outbox(1000)
    store.ack_outbox([m.id for m in store.claim_outbox(1000)])
    seen: list[tuple[str, list[str]]] = []

    def notice(effects: HookEffects) -> list[tuple[str, bytes]]:
        seen.append((effects.session_id, effects.tasks))
        return [("hooks-test", json.dumps([effects.session_id, effects.tasks]).encode())]

    store.record_hook("acme", rec("n1", "UserPromptSubmit", 1, event_attributes={"prompt": "[REDACTED:jwt] hi"},
                                  redactions={"jwt": 1}, links=HookLinks("task-9")), notice)
    store.record_hook("acme", start("n2", "t1", 2), notice)
    store.record_hook("acme", start("n2", "t1", 2), notice)  # a replay: no notice
    assert seen == [("s1", ["task-9"]), ("s1", [])]
    assert [(m.topic, json.loads(m.payload)) for m in store.claim_outbox(1000)] == [
        ("hooks-test", ["s1", ["task-9"]]), ("hooks-test", ["s1", []])]
    events = store.session_events("acme", "s1")
    assert [(e.event_key, e.name) for e in events] == [
        ("n1", "claude_code.hook.userpromptsubmit"), ("n2", "claude_code.hook.pretooluse")]
    assert events[0].attributes == {"prompt": "[REDACTED:jwt] hi"}
    assert events[1].attributes == {"tool_use_id": "t1"}


def test_every_org_keeps_its_own_hooks(store: Store) -> None:
    store.record_hook("acme", start("k1", "t1", 1, workspace="/acme"))
    store.record_hook("acme", end("k2", "t1", 2))
    assert store.hook_session("globex", "s1") is None
    assert store.session_tool_calls("globex", "s1") == []
    outcome = store.record_hook("globex", replace(start("k1", "t1", 5), workspace="/globex"))
    assert outcome.replayed is False
    acme, globex = store.hook_session("acme", "s1"), store.hook_session("globex", "s1")
    assert acme is not None and globex is not None
    assert (acme.workspace, globex.workspace) == ("/acme", "/globex")
    assert calls(store)["t1"].success is True and calls(store, "globex")["t1"].success is None
    assert len(store.session_events("acme", "s1")) == 2 and len(store.session_events("globex", "s1")) == 1
