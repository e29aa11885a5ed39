"""The CatalogStore contract: workspaces, tasks, assignments and messages, org isolation, cascades, recomputes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.aggregate import handle_ingested
from core.catalog.models import (
    AgentAssignment,
    Message,
    MessageQuery,
    Task,
    TaskQuery,
    Workspace,
    WorkspaceQuery,
)
from core.models import SpanQuery
from core.ports.catalog import DuplicateId, MissingReference
from core.ports.store import Store
from core.pricing import PriceTable
from tests.contract import test_store_contract as _contract
from tests.payloads import kv, trace_request

store = _contract.store  # the adapter-parametrised fixture: every adapter runs this suite
service = _contract.service

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def ws(wid: str, at: datetime = T0, **kw: Any) -> Workspace:
    return Workspace(id=wid, name=kw.pop("name", wid), path=kw.pop("path", f"/src/{wid}"), created_at=at,
                     updated_at=at, **kw)


def task(tid: str, workspace_id: str | None = "w1", at: datetime = T0, **kw: Any) -> Task:
    return Task(id=tid, workspace_id=workspace_id, title=kw.pop("title", tid), created_at=at, **kw)


def assignment(aid: str, task_id: str, agent: str = "claude-1", at: datetime = T0, **kw: Any) -> AgentAssignment:
    return AgentAssignment(id=aid, task_id=task_id, agent_id=agent, provider=kw.pop("provider", "claude"),
                           assigned_at=at, **kw)


def message(mid: str, inbox: str = "coder", at: datetime = T0, **kw: Any) -> Message:
    return Message(id=mid, inbox=inbox, created_at=at, **kw)


def seed(store: Store, org: str = "acme") -> None:
    store.create_workspace(org, ws("w1"))
    store.create_task(org, task("t1"))
    store.create_assignment(org, assignment("a1", "t1"))
    store.create_message(org, message("m1", task_id="t1"))


def ingest_spans(store: Store, org: str, specs: list[dict[str, Any]], attrs: dict[str, Any]) -> None:
    """One trace whose spans carry ``attrs``; each spec may set a span's name, status code and extra attributes."""
    req = trace_request(len(specs), attrs=attrs)
    spans = req.resource_spans[0].scope_spans[0].spans
    for span, spec in zip(spans, specs, strict=True):
        if "name" in spec:
            span.name = spec["name"]
        if "status" in spec:
            span.status.code = spec["status"]
        for k, v in spec.get("attrs", {}).items():
            span.attributes.append(kv(k, v))
    service(store).ingest(org, "traces", req, f"d-{id(req)}")


# -- workspaces -------------------------------------------------------------------------------------------------

def test_workspace_crud_round_trips_exact_timestamps(store: Store) -> None:
    created = store.create_workspace("acme", ws("w1", git_remote="git@example.com:a/b.git"))
    assert created.created_at == T0 and created.git_remote == "git@example.com:a/b.git"
    assert store.get_workspace("acme", "w1") == created
    with pytest.raises(DuplicateId):
        store.create_workspace("acme", ws("w1"))
    updated = store.update_workspace("acme", "w1", {"name": "renamed", "git_remote": None})
    assert updated is not None and updated.name == "renamed" and updated.git_remote is None
    assert updated.path == "/src/w1" and updated.updated_at > T0
    assert store.update_workspace("acme", "nope", {"name": "x"}) is None
    assert store.delete_workspace("acme", "w1") is True
    assert store.delete_workspace("acme", "w1") is False
    assert store.get_workspace("acme", "w1") is None


def test_workspaces_list_newest_first_and_page(store: Store) -> None:
    for i in range(5):
        store.create_workspace("acme", ws(f"w{i}", T0 + timedelta(minutes=i)))
    ids = [w.id for w in store.list_workspaces("acme", WorkspaceQuery())]
    assert ids == ["w4", "w3", "w2", "w1", "w0"]
    assert [w.id for w in store.list_workspaces("acme", WorkspaceQuery(limit=2, offset=1))] == ["w3", "w2"]


def test_workspace_stats(store: Store) -> None:
    store.create_workspace("acme", ws("w1"))
    store.create_workspace("acme", ws("empty"))
    store.create_task("acme", task("t1", status="completed", completed_at=T0 + timedelta(hours=2)))
    store.create_task("acme", task("t2", status="failed"))
    store.create_task("acme", task("t3", status="running"))
    store.create_task("acme", task("t4", status="completed"))
    store.create_assignment("acme", assignment("a1", "t1", agent="claude-1"))
    store.create_assignment("acme", assignment("a2", "t2", agent="claude-1"))
    store.create_assignment("acme", assignment("a3", "t2", agent="gemini-1"))
    ingest_spans(store, "acme", [{"attrs": {"gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10,
                                            "gen_ai.usage.cost": 0.5}}],
                 {"observatory.task_id": "t1"})
    store.recalculate_task("acme", "t1")
    stats = store.workspace_stats("acme", "w1")
    assert stats is not None
    assert (stats.id, stats.name, stats.task_count, stats.unique_agents) == ("w1", "w1", 4, 2)
    assert stats.total_tokens == 110 and stats.total_cost == pytest.approx(0.5)
    assert stats.success_rate == pytest.approx(0.5)
    assert stats.last_activity == T0 + timedelta(hours=2)
    empty = store.workspace_stats("acme", "empty")
    assert empty is not None and (empty.task_count, empty.success_rate, empty.last_activity) == (0, 0, None)
    assert store.workspace_stats("acme", "nope") is None


# -- tasks --------------------------------------------------------------------------------------------------------

def test_task_crud_and_references(store: Store) -> None:
    store.create_workspace("acme", ws("w1"))
    with pytest.raises(MissingReference) as missing:
        store.create_task("acme", task("t1", workspace_id="nope"))
    assert missing.value.field == "workspace_id"
    with pytest.raises(MissingReference) as missing:
        store.create_task("acme", task("t1", parent_task_id="nope"))
    assert missing.value.field == "parent_task_id"
    created = store.create_task("acme", task("t1", description="d", source_type="github_issue", source_ref="#1"))
    assert store.get_task("acme", "t1") == created
    assert (created.total_tokens_in, created.span_count, created.agent_count) == (0, 0, 0)
    with pytest.raises(DuplicateId):
        store.create_task("acme", task("t1"))
    child = store.create_task("acme", task("t2", parent_task_id="t1"))
    assert child.parent_task_id == "t1"
    loose = store.create_task("acme", task("t3", workspace_id=None))
    assert loose.workspace_id is None
    updated = store.update_task("acme", "t1", {"status": "running", "started_at": T0, "description": None})
    assert updated is not None and updated.status == "running" and updated.started_at == T0
    assert updated.description is None and updated.title == "t1"
    with pytest.raises(MissingReference):
        store.update_task("acme", "t1", {"workspace_id": "nope"})
    assert store.update_task("acme", "nope", {"title": "x"}) is None
    assert store.delete_task("acme", "t2") is True and store.get_task("acme", "t2") is None
    assert store.delete_task("acme", "t2") is False


def test_task_list_filters_order_and_paging(store: Store) -> None:
    store.create_workspace("acme", ws("w1"))
    store.create_workspace("acme", ws("w2"))
    store.create_task("acme", task("t1", at=T0, status="completed"))
    store.create_task("acme", task("t2", at=T0 + timedelta(seconds=1), source_type="email"))
    store.create_task("acme", task("t3", workspace_id="w2", at=T0 + timedelta(seconds=2), parent_task_id="t1"))

    def ids(**kw: Any) -> list[str]:
        return [t.id for t in store.list_tasks("acme", TaskQuery(**kw))]

    assert ids() == ["t3", "t2", "t1"]
    assert ids(workspace_id="w1") == ["t2", "t1"]
    assert ids(status="completed") == ["t1"]
    assert ids(source_type="email") == ["t2"]
    assert ids(parent_task_id="t1") == ["t3"]
    assert ids(workspace_id="w1", status="pending") == ["t2"]
    assert ids(limit=1, offset=1) == ["t2"]


def test_recalculate_task_and_assignment_from_spans(store: Store) -> None:
    seed(store)
    store.create_assignment("acme", assignment("a2", "t1", agent="gemini-1"))
    usage = {"gen_ai.request.model": "claude-haiku-4-5", "gen_ai.usage.input_tokens": 100,
             "gen_ai.usage.output_tokens": 20, "gen_ai.usage.cost": 0.25}
    ingest_spans(store, "acme", [
        {"name": "llm.call", "attrs": usage},
        {"name": "llm.call", "attrs": usage, "status": 2},
        {"name": "claude_code.tool.Read"},
        {"name": "gemini.tool.grep"},
        {"name": "plain"},
    ], {"observatory.task_id": "t1", "observatory.assignment_id": "a1"})
    ingest_spans(store, "acme", [{"name": "other", "attrs": usage}], {"observatory.task_id": "t1"})
    ingest_spans(store, "acme", [{"name": "elsewhere", "attrs": usage}], {"observatory.task_id": "t-other"})
    spans = store.list_spans("acme", SpanQuery(task_id="t1", limit=100))
    assert len(spans) == 6
    t = store.recalculate_task("acme", "t1")
    assert t is not None
    assert (t.span_count, t.error_count, t.agent_count) == (6, 1, 2)
    assert (t.total_tokens_in, t.total_tokens_out) == (300, 60)
    assert t.total_cost_usd == pytest.approx(0.75)
    assert t.total_duration_ms == round(sum(s.duration_ms for s in spans))
    assert store.recalculate_task("acme", "t1") == t  # a recompute, not an increment
    a = store.recalculate_assignment("acme", "a1")
    assert a is not None
    assert (a.tokens_in, a.tokens_out, a.tool_calls, a.turns) == (200, 40, 2, 2)
    assert a.cost_usd == pytest.approx(0.5)
    assert store.recalculate_assignment("acme", "a1") == a
    untouched = store.recalculate_assignment("acme", "a2")
    assert untouched is not None and (untouched.tokens_in, untouched.turns) == (0, 0)
    assert store.recalculate_task("acme", "nope") is None
    assert store.recalculate_assignment("acme", "nope") is None


def test_task_timeline(store: Store) -> None:
    seed(store)
    [only] = store.task_timeline("acme", "t1")
    assert (only.task_id, only.title, only.status, only.span_id, only.start_time) == ("t1", "t1", "pending",
                                                                                     None, None)
    ingest_spans(store, "acme", [{"name": "first"}, {"name": "second", "status": 2}],
                 {"observatory.task_id": "t1"})
    entries = store.task_timeline("acme", "t1")
    assert [e.span_name for e in entries] == ["first", "second"]
    assert entries[1].span_status == "error" and entries[0].start_time is not None
    assert entries[0].start_time <= entries[1].start_time
    assert [e.span_name for e in store.task_timeline("acme", "t1", limit=1, offset=1)] == ["second"]
    assert store.task_timeline("acme", "nope") == []


# -- assignments ---------------------------------------------------------------------------------------------------

def test_assignment_crud_agent_count_and_stats(store: Store) -> None:
    seed(store)
    with pytest.raises(MissingReference) as missing:
        store.create_assignment("acme", assignment("x", "nope"))
    assert missing.value.field == "task_id"
    with pytest.raises(DuplicateId):
        store.create_assignment("acme", assignment("a1", "t1"))
    store.create_assignment("acme", assignment("a2", "t1", agent="claude-1", at=T0 + timedelta(seconds=1),
                                               status="completed"))
    store.create_assignment("acme", assignment("a3", "t1", agent="gemini-1", at=T0 + timedelta(seconds=2),
                                               provider="gemini"))
    assert [a.id for a in store.list_task_assignments("acme", "t1")] == ["a1", "a2", "a3"]
    t = store.get_task("acme", "t1")
    assert t is not None and t.agent_count == 2  # distinct agents
    updated = store.update_assignment("acme", "a1", {"agent_id": "codex-1", "status": "failed"})
    assert updated is not None and (updated.agent_id, updated.status, updated.task_id) == ("codex-1", "failed",
                                                                                            "t1")
    t = store.get_task("acme", "t1")
    assert t is not None and t.agent_count == 3
    assert store.update_assignment("acme", "nope", {"status": "failed"}) is None
    store.create_assignment("acme", assignment("a4", "t1", agent="claude-1", at=T0 + timedelta(seconds=3),
                                               provider="claude-next"))
    stats = store.agent_stats("acme", "claude-1")
    assert stats is not None
    assert (stats.agent_id, stats.provider, stats.execution_count, stats.success_rate) == (
        "claude-1", "claude-next", 2, 0.5)
    assert store.agent_stats("acme", "nobody") is None
    assert store.delete_assignment("acme", "a3") is True and store.delete_assignment("acme", "a3") is False
    t = store.get_task("acme", "t1")
    assert t is not None and t.agent_count == 2


# -- cascades -------------------------------------------------------------------------------------------------------

def test_deleting_a_workspace_cascades_to_tasks_and_assignments_but_spans_stay(store: Store) -> None:
    seed(store)
    store.create_task("acme", task("t2"))
    store.create_assignment("acme", assignment("a2", "t2"))
    ingest_spans(store, "acme", [{}], {"observatory.task_id": "t1", "observatory.assignment_id": "a1"})
    assert store.delete_workspace("acme", "w1")
    assert store.get_task("acme", "t1") is None and store.get_task("acme", "t2") is None
    assert store.get_assignment("acme", "a1") is None and store.get_assignment("acme", "a2") is None
    assert store.get_message("acme", "m1") is not None  # messages only reference tasks loosely
    [span] = store.list_spans("acme", SpanQuery(task_id="t1"))
    assert span.agent_assignment_id == "a1"


def test_deleting_a_task_cascades_to_its_assignments(store: Store) -> None:
    seed(store)
    store.create_task("acme", task("t2"))
    store.create_assignment("acme", assignment("a2", "t2"))
    assert store.delete_task("acme", "t1")
    assert store.get_assignment("acme", "a1") is None
    assert store.get_assignment("acme", "a2") is not None
    assert store.get_workspace("acme", "w1") is not None


# -- messages -------------------------------------------------------------------------------------------------------

def test_message_crud_filters_and_status(store: Store) -> None:
    store.create_message("acme", message("m1", inbox="coder", from_agent="alice", task_id="t1"))
    store.create_message("acme", message("m2", inbox="coder", from_agent="bob", at=T0 + timedelta(seconds=1)))
    store.create_message("acme", message("m3", inbox="reviewer", from_agent="alice", at=T0 + timedelta(seconds=2),
                                         github_issue_number=7, github_repo="a/b"))
    with pytest.raises(DuplicateId):
        store.create_message("acme", message("m1"))

    def ids(**kw: Any) -> list[str]:
        return [m.id for m in store.list_messages("acme", MessageQuery(**kw))]

    assert ids() == ["m3", "m2", "m1"]
    assert ids(inbox="coder") == ["m2", "m1"]
    assert ids(from_agent="alice") == ["m3", "m1"]
    assert ids(task_id="t1") == ["m1"]
    assert ids(limit=1, offset=2) == ["m1"]
    read_at = T0 + timedelta(hours=1)
    read = store.set_message_status("acme", "m1", "read", read_at)
    assert read is not None and read.status == "read" and read.read_at == read_at
    again = store.set_message_status("acme", "m1", "read", read_at + timedelta(hours=1))
    assert again is not None and again.read_at == read_at  # the first read is kept
    archived = store.set_message_status("acme", "m1", "archived", read_at + timedelta(hours=2))
    assert archived is not None and archived.status == "archived" and archived.read_at == read_at
    assert archived.archived_at == read_at + timedelta(hours=2)
    assert ids(status="archived") == ["m1"] and ids(status="unread") == ["m3", "m2"]
    assert store.set_message_status("acme", "nope", "read", read_at) is None
    updated = store.update_message("acme", "m3", {"title": "new", "github_issue_number": None})
    assert updated is not None and updated.title == "new" and updated.github_issue_number is None
    assert updated.github_repo == "a/b"
    assert store.update_message("acme", "nope", {"title": "x"}) is None
    assert store.delete_message("acme", "m3") and not store.delete_message("acme", "m3")
    assert store.get_message("acme", "m3") is None


# -- org isolation --------------------------------------------------------------------------------------------------

def test_another_org_cannot_read_change_or_delete(store: Store) -> None:
    seed(store)
    ingest_spans(store, "acme", [{}], {"observatory.task_id": "t1", "observatory.assignment_id": "a1"})
    other = "globex"
    assert store.get_workspace(other, "w1") is None
    assert store.list_workspaces(other, WorkspaceQuery()) == []
    assert store.workspace_stats(other, "w1") is None
    assert store.update_workspace(other, "w1", {"name": "x"}) is None
    assert store.delete_workspace(other, "w1") is False
    assert store.get_task(other, "t1") is None
    assert store.list_tasks(other, TaskQuery()) == []
    assert store.update_task(other, "t1", {"title": "x"}) is None
    assert store.delete_task(other, "t1") is False
    assert store.task_timeline(other, "t1") == []
    assert store.recalculate_task(other, "t1") is None
    assert store.get_assignment(other, "a1") is None
    assert store.list_task_assignments(other, "t1") == []
    assert store.update_assignment(other, "a1", {"status": "failed"}) is None
    assert store.delete_assignment(other, "a1") is False
    assert store.agent_stats(other, "claude-1") is None
    assert store.recalculate_assignment(other, "a1") is None
    assert store.get_message(other, "m1") is None
    assert store.list_messages(other, MessageQuery()) == []
    assert store.update_message(other, "m1", {"title": "x"}) is None
    assert store.set_message_status(other, "m1", "read", T0) is None
    assert store.delete_message(other, "m1") is False
    # Another org cannot attach to acme's rows either
    with pytest.raises(MissingReference):
        store.create_task(other, task("tx", workspace_id="w1"))
    with pytest.raises(MissingReference):
        store.create_assignment(other, assignment("ax", "t1"))
    # ... but may reuse the same ids for its own rows, and its spans never count for acme
    seed(store, other)
    ingest_spans(store, other, [{}, {}], {"observatory.task_id": "t1"})
    mine = store.recalculate_task("acme", "t1")
    theirs = store.recalculate_task(other, "t1")
    assert mine is not None and theirs is not None and (mine.span_count, theirs.span_count) == (1, 2)
    acme_task = store.get_task("acme", "t1")
    assert acme_task is not None and acme_task.title == "t1"
    assert store.get_workspace("acme", "w1") is not None and store.get_message("acme", "m1") is not None


# -- the aggregate worker -------------------------------------------------------------------------------------------

def test_aggregate_worker_recomputes_touched_tasks_and_their_assignments(store: Store) -> None:
    seed(store)
    ingest_spans(store, "acme", [{"name": "claude_code.tool.Bash"}, {"attrs": {"gen_ai.usage.input_tokens": 5}}],
                 {"observatory.task_id": "t1", "observatory.assignment_id": "a1"})
    ingest_spans(store, "acme", [{}], {"observatory.task_id": "not-in-catalog"})
    messages = store.claim_outbox(100)
    assert messages
    handle_ingested(store, PriceTable.load(), [m.payload for m in messages])
    t = store.get_task("acme", "t1")
    a = store.get_assignment("acme", "a1")
    assert t is not None and (t.span_count, t.total_tokens_in) == (2, 5)
    assert a is not None and (a.tool_calls, a.turns, a.tokens_in) == (1, 1, 5)
