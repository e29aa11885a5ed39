"""The EventLogStore contract: append, cursor paging, filters, dedup, concurrent writers, retention, org isolation,
and the change events every write path appends (catalog, spans, ingest, the aggregate worker)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from core import event_feed, events
from core.aggregate import handle_ingested
from core.catalog import service as catalog
from core.catalog.models import AssignmentCreate, AssignmentUpdate, MessageCreate, MessageUpdate, TaskCreate, TaskUpdate
from core.event_feed import ChangeEventView, EventQuery
from core.events import ChangeEvent
from core.hierarchy.models import SpanCreate, SpanEventCreate, SpanUpdate
from core.ports.store import Store
from core.pricing import PriceTable
from core.records import Batch
from core.spans_api import add_span_event, create_span, delete_span, update_span
from tests.contract import test_store_contract as _contract
from tests.payloads import trace_request

store = _contract.store  # the adapter-parametrised fixture: every adapter runs this suite
service = _contract.service


def ev(type_: str = events.TASK_CREATED, subject: str | None = "s", workspace: str | None = None,
       task: str | None = None, **data: Any) -> ChangeEvent:
    return ChangeEvent(type_, subject, workspace, task, dict(data))


def all_events(store: Store, org: str, **filters: Any) -> list[ChangeEventView]:
    return store.list_events(org, 0, 1000, **filters)


def types_of(store: Store, org: str = "acme") -> list[str]:
    return [e.type for e in all_events(store, org)]


# -- the log itself -------------------------------------------------------------------------------------------------

def test_append_and_list_in_sequence_order(store: Store) -> None:
    before = time.time_ns()
    assert store.append_events("acme", [ev(subject="t1", workspace="w1", task="t1", status="running", n=2),
                                        ev(events.MESSAGE_CREATED, "m1")]) == 2
    assert store.append_events("acme", [ev(events.SPAN_CREATED, None, counts={"spans": 3})]) == 1
    got = all_events(store, "acme")
    assert [e.type for e in got] == [events.TASK_CREATED, events.MESSAGE_CREATED, events.SPAN_CREATED]
    assert [e.seq for e in got] == sorted(e.seq for e in got) and len({e.seq for e in got}) == 3
    first = got[0]
    assert (first.subject_id, first.workspace_id, first.task_id) == ("t1", "w1", "t1")
    assert first.data == {"status": "running", "n": 2}
    assert got[2].subject_id is None and got[2].data == {"counts": {"spans": 3}}
    assert all(before // 1000 <= e.created_at.timestamp() * 1e6 <= time.time_ns() // 1000 + 1 for e in got)
    assert store.last_event_seq("acme") == got[-1].seq
    assert store.append_events("acme", []) == 0


def test_paging_by_cursor_neither_skips_nor_repeats(store: Store) -> None:
    store.append_events("acme", [ev(subject=f"t{i}") for i in range(7)])
    seen: list[str | None] = []
    since = 0
    while True:
        page = store.list_events("acme", since, 3)
        if not page:
            break
        seen += [e.subject_id for e in page]
        since = page[-1].seq
    assert seen == [f"t{i}" for i in range(7)]
    assert store.list_events("acme", since, 3) == []
    # the service: next_since is the last seq of the page, or the cursor itself when nothing is new
    page = event_feed.list_events(store, "acme", EventQuery(limit=5))
    assert page.count == 5 and page.next_since == page.events[-1].seq
    rest = event_feed.list_events(store, "acme", EventQuery(since=page.next_since, limit=5))
    assert rest.count == 2 and [e.subject_id for e in rest.events] == ["t5", "t6"]
    empty = event_feed.list_events(store, "acme", EventQuery(since=rest.next_since))
    assert (empty.count, empty.next_since) == (0, rest.next_since)


def test_filters_by_type_workspace_and_task(store: Store) -> None:
    store.append_events("acme", [
        ev(events.TASK_CREATED, "t1", "w1", "t1"), ev(events.TASK_UPDATED, "t1", "w1", "t1"),
        ev(events.TASK_CREATED, "t2", "w2", "t2"), ev(events.MESSAGE_CREATED, "m1", "w1", "t1"),
        ev(events.SPAN_CREATED, None, None, None),
    ])
    assert [e.subject_id for e in all_events(store, "acme", types=[events.TASK_CREATED])] == ["t1", "t2"]
    assert len(all_events(store, "acme", types=[events.TASK_CREATED, events.SPAN_CREATED])) == 3
    assert [e.type for e in all_events(store, "acme", workspace_id="w1")] == [
        events.TASK_CREATED, events.TASK_UPDATED, events.MESSAGE_CREATED]
    assert [e.subject_id for e in all_events(store, "acme", task_id="t2")] == ["t2"]
    assert [e.type for e in all_events(store, "acme", task_id="t1", types=[events.MESSAGE_CREATED])] == [
        events.MESSAGE_CREATED]
    assert all_events(store, "acme", workspace_id="w2", task_id="t1") == []
    # a filtered page's cursor still moves past what it skipped
    first = store.list_events("acme", 0, 1, types=[events.MESSAGE_CREATED])
    assert store.list_events("acme", first[0].seq, 10, types=[events.MESSAGE_CREATED]) == []


def test_a_dedup_key_appends_once(store: Store) -> None:
    batch = [ev(events.SPAN_CREATED, None), ev(events.METRICS_UPDATED, "s1")]
    assert store.append_events("acme", batch, dedup_key="digest-1") == 2
    assert store.append_events("acme", batch, dedup_key="digest-1") == 0
    assert store.append_events("acme", batch[:1], dedup_key="digest-2") == 1
    assert store.append_events("acme", batch[:1]) == 1  # no key: no dedup
    assert store.append_events("acme", batch[:1]) == 1
    assert len(all_events(store, "acme")) == 5
    assert store.append_events("globex", batch, dedup_key="digest-1") == 2  # keys are per org


def read_while_writing(store: Store, list_page: Callable[[int], list[ChangeEventView]],
                       writers: list[threading.Thread]) -> list[ChangeEventView]:
    """Page by cursor (`list_page(since)`) while the writer threads run, until they finished and their last write
    settled (a store whose numbers follow the clock, Firestore, shows events only behind its settle horizon);
    returns every event read."""
    done = threading.Event()
    done_at = [0.0]
    seen: list[ChangeEventView] = []
    errors: list[BaseException] = []
    settle_s = float(getattr(store, "event_settle_s", 0.0))

    def read() -> None:
        since = 0
        try:
            while True:
                settled = done.is_set() and time.monotonic() - done_at[0] > settle_s  # then one more read
                page = list_page(since)
                seen.extend(page)
                if page:
                    since = page[-1].seq
                elif settled:
                    return
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    done_at[0] = time.monotonic()
    done.set()
    reader.join(timeout=60)
    assert not errors
    return seen


def test_concurrent_appends_never_skip_a_reader_paging_by_since(store: Store) -> None:
    writers, per_writer = 4, 40
    errors: list[BaseException] = []

    def write(w: int) -> None:
        try:
            for i in range(per_writer):
                store.append_events("acme", [ev(subject=f"w{w}-{i}"), ev(subject=f"w{w}-{i}b")])
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    seen = read_while_writing(store, lambda since: store.list_events("acme", since, 7),
                              [threading.Thread(target=write, args=(w,)) for w in range(writers)])
    assert not errors
    seqs = [e.seq for e in seen]
    assert seqs == sorted(set(seqs)), "repeated or out of order"
    assert len(seen) == writers * per_writer * 2, "skipped events"
    assert {e.subject_id for e in seen} == {f"w{w}-{i}{s}" for w in range(writers) for i in range(per_writer)
                                            for s in ("", "b")}
    # the events of one append keep their order (SQLite numbers them consecutively; Firestore by the clock)
    by_subject = {e.subject_id: e.seq for e in seen}
    assert all(by_subject[f"w{w}-{i}b"] > by_subject[f"w{w}-{i}"] for w in range(writers)
               for i in range(per_writer))


def test_drop_events_before_a_cutoff(store: Store) -> None:
    store.append_events("acme", [ev(subject="old1"), ev(subject="old2")])
    store.append_events("globex", [ev(subject="old3")])
    time.sleep(0.01)
    cutoff = time.time_ns()
    time.sleep(0.01)
    store.append_events("acme", [ev(subject="new")])
    last = store.last_event_seq("acme")
    assert store.drop_events_before(cutoff) == 3  # every org: retention is global
    assert [e.subject_id for e in all_events(store, "acme")] == ["new"]
    assert all_events(store, "globex") == []
    assert store.drop_events_before(cutoff) == 0
    assert store.drop_events_before(time.time_ns() + 1) == 1
    store.append_events("acme", [ev(subject="after")])
    assert all_events(store, "acme")[0].seq > last  # numbers are never reused: a cursor stays valid


def test_every_read_stays_inside_its_org(store: Store) -> None:
    store.append_events("acme", [ev(events.TASK_CREATED, "t1", "w1", "t1")])
    assert all_events(store, "globex") == []
    assert all_events(store, "globex", task_id="t1") == []
    assert store.last_event_seq("globex") == 0
    store.append_events("globex", [ev(events.TASK_CREATED, "t9")])
    assert [e.subject_id for e in all_events(store, "globex")] == ["t9"]
    assert [e.subject_id for e in all_events(store, "acme")] == ["t1"]


# -- the stream (over the store port) -------------------------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_stream_sends_new_events_heartbeats_and_ends_on_time(store: Store) -> None:
    store.append_events("acme", [ev(subject="before")])
    clock = FakeClock()
    appended = False

    def sleep(seconds: float) -> None:
        nonlocal appended
        clock.sleep(seconds)
        if clock.now >= 12 and not appended:  # written while the stream is open
            store.append_events("acme", [ev(events.TASK_UPDATED, "live", task="t1"), ev(subject="other")])
            appended = True

    chunks = list(event_feed.open_stream(store, "acme", EventQuery(timeout=20, types="task.updated"),
                                         clock=clock, sleep=sleep))
    assert chunks[0].startswith("retry: ")
    frames = [c for c in chunks if c.startswith("id: ")]
    assert len(frames) == 1  # starts at the newest event: "before" is history; "other" is filtered out
    seq, kind, data = frames[0].rstrip("\n").split("\n")
    assert kind == "event: task.updated" and data.startswith("data: {")
    assert ChangeEventView.model_validate_json(data[6:]).seq == int(seq[4:])
    assert chunks.count(": heartbeat\n\n") == 1  # idle from 12 s to 20 s: one heartbeat at 10 s
    assert 20 <= clock.now < 20.6


def test_a_stream_resumes_after_its_cursor(store: Store) -> None:
    store.append_events("acme", [ev(subject=f"t{i}") for i in range(3)])
    first, second, third = (e.seq for e in all_events(store, "acme"))  # increasing, not necessarily consecutive
    clock = FakeClock()
    chunks = list(event_feed.open_stream(store, "acme", EventQuery(timeout=1), str(first), clock=clock,
                                         sleep=clock.sleep))
    assert [c.split("\n")[0] for c in chunks if c.startswith("id: ")] == [f"id: {second}", f"id: {third}"]
    chunks = list(event_feed.open_stream(store, "acme", EventQuery(timeout=1, since=0), clock=clock,
                                         sleep=clock.sleep))
    assert len([c for c in chunks if c.startswith("id: ")]) == 3


# -- what the write paths append ----------------------------------------------------------------------------------

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_catalog_changes_append_their_events(store: Store) -> None:
    ws = catalog.create_workspace(store, "acme", _ws())
    t = catalog.create_task(store, "acme", TaskCreate(id="t1", title="Fix it", workspace_id=ws.id,
                                                      description="secret plan"))
    catalog.update_task(store, "acme", "t1", TaskUpdate(priority="high"))
    catalog.update_task(store, "acme", "t1", TaskUpdate(status="completed"))
    catalog.update_task(store, "acme", "t1", TaskUpdate(status="completed"))  # already finished
    a = catalog.create_assignment(store, "acme", AssignmentCreate(id="a1", task_id="t1", agent_id="claude-1"))
    catalog.update_assignment(store, "acme", "a1", AssignmentUpdate(status="running"))
    catalog.update_assignment(store, "acme", "a1", AssignmentUpdate(status="completed"))
    m = catalog.create_message(store, "acme", MessageCreate(id="m1", inbox="coder", title="Top secret",
                                                            content="prompt text", task_id="t1"))
    catalog.set_message_status(store, "acme", "m1", "read")
    catalog.set_message_status(store, "acme", "m1", "read")  # re-reading appends nothing
    catalog.update_message(store, "acme", "m1", MessageUpdate(status="unread"))
    catalog.update_message(store, "acme", "m1", MessageUpdate(status="read"))
    catalog.delete_task(store, "acme", "t1")
    got = all_events(store, "acme")
    assert [e.type for e in got] == [
        events.TASK_CREATED, events.TASK_UPDATED, events.TASK_UPDATED, events.TASK_COMPLETED, events.TASK_UPDATED,
        events.AGENT_ASSIGNED, events.AGENT_COMPLETED, events.MESSAGE_CREATED, events.MESSAGE_READ,
        events.MESSAGE_READ, events.TASK_UPDATED]
    assert all(e.workspace_id == ws.id and e.task_id == t.id for e in got)
    assert got[0].subject_id == "t1" and got[0].data["title"] == "Fix it" and got[0].data["status"] == "pending"
    assert got[3].data["status"] == "completed" and got[3].data["previous_status"] == "pending"
    assert got[5].subject_id == a.id and got[5].data["agent_id"] == "claude-1"
    assert got[6].data["previous_status"] == "running"
    assert got[7].subject_id == m.id and got[7].data["inbox"] == "coder"
    assert got[-1].data == {"deleted": True}
    text = " ".join(e.model_dump_json() for e in got)
    assert "secret" not in text.lower() and "prompt text" not in text  # never content


def test_a_failed_change_appends_nothing(store: Store) -> None:
    from core.errors import BadParameter, Conflict, NotFound

    catalog.create_task(store, "acme", TaskCreate(id="t1", title="x"))
    n = len(all_events(store, "acme"))
    with pytest.raises(Conflict):
        catalog.create_task(store, "acme", TaskCreate(id="t1", title="again"))
    with pytest.raises(BadParameter):
        catalog.update_task(store, "acme", "t1", TaskUpdate(workspace_id="missing"))
    with pytest.raises(NotFound):
        catalog.update_task(store, "globex", "t1", TaskUpdate(status="completed"))
    assert len(all_events(store, "acme")) == n and all_events(store, "globex") == []


def _ws() -> Any:
    from core.catalog.models import WorkspaceCreate

    return WorkspaceCreate(name="obs", path="/src/obs")


def test_an_ingested_batch_appends_one_span_created_with_counts_and_a_replay_none(store: Store) -> None:
    catalog.create_task(store, "acme", TaskCreate(id="t1", title="x", workspace_id=None))
    svc = service(store)
    req = trace_request(4, attrs={"session.id": "s1", "observatory.task_id": "t1"})
    spans = req.resource_spans[0].scope_spans[0].spans
    spans[1].status.code = 2
    svc.ingest("acme", "traces", req, "digest-1")
    got = all_events(store, "acme", types=[events.SPAN_CREATED])
    assert len(got) == 1
    e = got[0]
    assert e.task_id == "t1" and e.subject_id == "digest-1"
    assert e.data["counts"]["spans"] == 4 and e.data["counts"]["errors"] == 1 and e.data["counts"]["traces"] == 1
    assert e.data["trace_ids"] == [spans[0].trace_id.hex()] and e.data["session_ids"] == ["s1"]
    for _ in range(2):
        svc.ingest("acme", "traces", req, "digest-1")
    assert len(all_events(store, "acme", types=[events.SPAN_CREATED])) == 1
    svc.ingest("acme", "traces", trace_request(2), "digest-2")  # another batch: its own event, no task
    second = all_events(store, "acme", types=[events.SPAN_CREATED])[1]
    assert second.data["counts"]["spans"] == 2 and second.task_id is None
    empty = Batch(org_id="acme")
    assert svc.store_batch(empty, "traces", "digest-3") == 0
    assert len(all_events(store, "acme", types=[events.SPAN_CREATED])) == 2


def test_the_aggregate_worker_appends_metrics_updated_once_per_entity_and_not_on_redelivery(store: Store) -> None:
    ws = catalog.create_workspace(store, "acme", _ws())
    catalog.create_task(store, "acme", TaskCreate(id="t1", title="x", workspace_id=ws.id))
    svc = service(store)
    attrs = {"session.id": "s1", "observatory.task_id": "t1", "gen_ai.request.model": "claude-haiku-4-5",
             "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5}
    svc.ingest("acme", "traces", trace_request(2, attrs=attrs), "d1")
    svc.ingest("acme", "traces", trace_request(1, attrs=attrs), "d2")
    payloads = [m.payload for m in store.claim_outbox(100)]
    assert len(payloads) == 2
    handle_ingested(store, PriceTable.load(), payloads)
    metrics = all_events(store, "acme", types=[events.METRICS_UPDATED])
    assert sorted((e.data["scope"], e.subject_id) for e in metrics) == [("session", "s1"), ("task", "t1")]
    task_event = next(e for e in metrics if e.data["scope"] == "task")
    assert task_event.task_id == "t1" and task_event.workspace_id == ws.id
    assert task_event.data["span_count"] == 3 and task_event.data["total_tokens_in"] == 30
    session_event = next(e for e in metrics if e.data["scope"] == "session")
    assert session_event.data["span_count"] == 3
    handle_ingested(store, PriceTable.load(), payloads)  # redelivery: the same totals, nothing new
    handle_ingested(store, PriceTable.load(), payloads[:1])
    assert len(all_events(store, "acme", types=[events.METRICS_UPDATED])) == 2
    svc.ingest("acme", "traces", trace_request(1, attrs=attrs), "d3")
    handle_ingested(store, PriceTable.load(), [m.payload for m in store.claim_outbox(100)][2:])
    assert len(all_events(store, "acme", types=[events.METRICS_UPDATED])) == 4


def test_api_span_writes_append_span_events(store: Store) -> None:
    prices = PriceTable.load()
    catalog.create_task(store, "acme", TaskCreate(id="t1", title="x"))
    body = SpanCreate.model_validate({"id": "a1b2c3d4e5f60718", "trace_id": "0af7651916cd43dd8448eb211c80319c",
                                      "name": "claude_code.tool.Bash", "start_time": "2026-03-01T12:00:00Z",
                                      "duration_ms": 5, "task_id": "t1", "status": "ok",
                                      "attributes": {"tool_input": "rm -rf secret"}})
    create_span(store, prices, "acme", body)
    create_span(store, prices, "acme", body)  # a replayed create changes nothing
    update_span(store, prices, "acme", "a1b2c3d4e5f60718", SpanUpdate.model_validate({"status": "error"}))
    add_span_event(store, "acme", "a1b2c3d4e5f60718", SpanEventCreate.model_validate({"name": "retry"}))
    delete_span(store, "acme", "a1b2c3d4e5f60718")
    got = all_events(store, "acme", types=[events.SPAN_CREATED, events.SPAN_UPDATED])
    assert [(e.type, e.data.get("change")) for e in got] == [
        (events.SPAN_CREATED, None), (events.SPAN_UPDATED, "updated"), (events.SPAN_UPDATED, "event_added"),
        (events.SPAN_UPDATED, "deleted")]
    assert all(e.subject_id == "a1b2c3d4e5f60718" and e.task_id == "t1" for e in got)
    assert got[0].data["counts"] == {"spans": 1, "errors": 0} and got[1].data["status"] == "error"
    assert "secret" not in " ".join(e.model_dump_json() for e in got)
