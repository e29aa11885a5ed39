"""FirestoreStore: the Store port on Cloud Firestore (telemetry facts, reads, outbox); client imported lazily."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from core import events
from core.adapters.firestore import layout
from core.adapters.firestore.catalog import FirestoreCatalog
from core.adapters.firestore.chains import FirestoreChains
from core.adapters.firestore.erasure import FirestoreErasure
from core.adapters.firestore.event_log import DEFAULT_SETTLE_S, FirestoreEventLog
from core.adapters.firestore.hooks import FirestoreHooks
from core.adapters.firestore.insights import FirestoreInsights
from core.adapters.firestore.maintenance import FirestoreMaintenance
from core.adapters.firestore.span_views import FirestoreSpanViews
from core.ports.store import IngestUnitOfWork, OutboxMessage, SessionLink, Store
from core.records import Batch, Links, LlmCallRecord, Usage

if TYPE_CHECKING:
    from core.events import ChangeEvent
    from core.models import (
        EventView,
        LlmCallView,
        MetricPointView,
        MetricQuery,
        SessionView,
        SpanQuery,
        SpanView,
        ToolCallView,
        TraceQuery,
        TraceSummary,
    )

Doc = dict[str, Any]
# A merge rule: the document as it should be, given the stored one (None: absent); returning None deletes it.
Op = Callable[[Doc | None], Doc | None]
MAX_WRITES = 500  # Firestore's writes per batched write / transaction commit

_SPAN_KEEP_LINKS = ("task_id", "assignment_id", "chain_id", "stage_id", "message_id", "workspace")
_TOOL_FIELDS = ("session_id", "tool_name", "time_ns", "duration_ms", "success", "error", "decision",
                "decision_source", "approval_wait_ms", "tool_input", "tool_result", "trace_id", "span_id")
_SESSION_FILL = ("service_name", "workspace", "user_id", "user_email", "account_org", "app_version",
                 "terminal_type")


def _usage(u: Usage) -> Doc:
    return {"model": u.model, "provider": u.provider, "tokens_in": u.tokens_in, "tokens_out": u.tokens_out,
            "cache_read_tokens": u.cache_read_tokens, "cache_creation_tokens": u.cache_creation_tokens,
            "reasoning_tokens": u.reasoning_tokens, "provided_cost_usd": u.provided_cost_usd,
            "computed_cost_usd": u.computed_cost_usd, "cost_usd": u.cost_usd,
            "cache_savings_usd": u.cache_savings_usd, "unpriced": u.unpriced}


def _links(links: Links) -> Doc:
    return {"task_id": links.task_id, "assignment_id": links.assignment_id, "chain_id": links.chain_id,
            "stage_id": links.stage_id}


def _call_from_doc(r: Doc) -> LlmCallRecord:
    return LlmCallRecord(
        call_key=r["call_key"], session_id=r["session_id"], time_ns=r["time_ns"], duration_ms=r["duration_ms"],
        usage=Usage(
            model=r["model"], provider=r["provider"], tokens_in=r["tokens_in"], tokens_out=r["tokens_out"],
            cache_read_tokens=r["cache_read_tokens"], cache_creation_tokens=r["cache_creation_tokens"],
            reasoning_tokens=r["reasoning_tokens"], provided_cost_usd=r["provided_cost_usd"],
            computed_cost_usd=r["computed_cost_usd"], cache_savings_usd=r["cache_savings_usd"],
            unpriced=bool(r["unpriced"]),
        ),
        request_id=r["request_id"], response_id=r["response_id"], trace_id=r["trace_id"], span_id=r["span_id"],
        event_key=r["event_key"], prompt_id=r["prompt_id"], success=bool(r["success"]), source=r["source"],
        links=Links(task_id=r["task_id"], assignment_id=r["assignment_id"], chain_id=r["chain_id"],
                    stage_id=r["stage_id"]),
    )


def _fill(new: Doc) -> Op:
    """Tool-call rule: a field is only ever filled, never cleared; the start time is the earliest seen."""
    def merge(old: Doc | None) -> Doc:
        if old is None:
            return new
        out = dict(old)
        for f in _TOOL_FIELDS:
            if f == "time_ns":
                times = [t for t in (old.get(f), new.get(f)) if t is not None]
                out[f] = min(times) if times else None
            elif new.get(f) is not None:
                out[f] = new[f]
        out[layout.TTL_FIELD] = new[layout.TTL_FIELD]
        return out
    return merge


def _keep_links(new: Doc) -> Op:
    """Span rule: every field replaced, except links (and workspace) which a replay without them keeps."""
    def merge(old: Doc | None) -> Doc:
        out = dict(new)
        if old is not None:
            for f in _SPAN_KEEP_LINKS:
                if out.get(f) is None:
                    out[f] = old.get(f)
        out["workspace_key"] = out.get("workspace") or "unknown"
        return out
    return merge


def _merge_session(new: Doc) -> Op:
    def merge(old: Doc | None) -> Doc:
        if old is None:
            return new
        out = dict(old)
        out["first_seen_ns"] = min(old["first_seen_ns"], new["first_seen_ns"])
        out["last_seen_ns"] = max(old["last_seen_ns"], new["last_seen_ns"])
        if old["source_type"] == "other":
            out["source_type"] = new["source_type"]
        for f in _SESSION_FILL:
            if out.get(f) is None:
                out[f] = new[f]
        out["models"] = sorted(set(old["models"]) | set(new["models"]))
        out[layout.TTL_FIELD] = max(old.get(layout.TTL_FIELD) or new[layout.TTL_FIELD], new[layout.TTL_FIELD])
        return out
    return merge


def _trace_start(new: Doc) -> Op:
    def merge(old: Doc | None) -> Doc:
        if old is None:
            return new
        return {**old, "start_ns": min(old["start_ns"], new["start_ns"]), layout.TTL_FIELD: new[layout.TTL_FIELD]}
    return merge


def _keep_first(new: Doc) -> Op:
    return lambda old: old if old is not None else new


def _replace(new: Doc) -> Op:
    return lambda old: new


def _delete(old: Doc | None) -> None:
    return None


def _update_existing(fields: Doc) -> Op:
    return lambda old: None if old is None else {**old, **fields}


def _metric_value(new: Doc) -> Op:
    return lambda old: new if old is None else {**old, "value": new["value"]}


def _workspace_of(resource_json: str) -> str | None:
    try:
        value = json.loads(resource_json).get("process.cwd")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


# An event-log append queued in a unit of work: org, events, dedup key, retention.
_Append = tuple[str, list["ChangeEvent"], str | None, dict[str, int]]


def _plan_appends(client: Any, txn: Any, appends: list[_Append], plan: Callable[..., Any]) -> list[Any]:
    """The read half of the queued appends (each numbered as it is planned: numbers increase in this process)."""
    return [plan(client, txn, org, change_events, dedup_key, retention)
            for org, change_events, dedup_key, retention in appends]


class Writes:
    """Merge rules queued per document; committed in transactions that re-read each document, so concurrent
    writers merge instead of overwriting one another. Documents are committed in chunks of MAX_WRITES, facts
    before the outbox and event log: a crash between chunks leaves facts a replay rewrites, never a message or
    event without its facts."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.ops: dict[str, list[Op]] = {}
        self._tail: set[str] = set()
        self._base: dict[str, Doc | None] = {}
        self.appends: list[_Append] = []

    def add(self, path: str, op: Op, tail: bool = False) -> None:
        self.ops.setdefault(path, []).append(op)
        if tail:
            self._tail.add(path)

    def view(self, paths: list[str]) -> dict[str, Doc | None]:
        """The documents as this unit of work will leave them (stored state plus queued merges)."""
        from core.adapters.firestore.reads import get_docs

        missing = [p for p in paths if p not in self._base]
        found = get_docs(self._client, missing)
        for p in missing:
            self._base[p] = found.get(p)
        out: dict[str, Doc | None] = {}
        for p in paths:
            doc = self._base[p]
            for op in self.ops.get(p, ()):
                doc = op(doc)
            out[p] = doc
        return out

    def append(self, org_id: str, change_events: list[ChangeEvent], dedup_key: str | None,
               retention: dict[str, int]) -> None:
        """Queue events for the org's event log: numbered from its sequence document inside the last commit's
        transaction, so numbers follow commit order and a reader paging by ``since`` never skips one."""
        if change_events:
            self.appends.append((org_id, change_events, dedup_key, retention))

    def commit(self) -> None:
        paths = sorted(self.ops, key=lambda p: p in self._tail)  # stable: facts first, in queue order
        chunks = [paths[i:i + MAX_WRITES] for i in range(0, len(paths), MAX_WRITES)] or [[]]
        # The events (and one sequence document per org) ride with the last chunk when they fit, else alone.
        reserve = sum(len(a[1]) for a in self.appends) + len({a[0] for a in self.appends})
        if self.appends and len(chunks[-1]) + reserve > MAX_WRITES:
            chunks.append([])
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            if chunk or (last and self.appends):
                self._commit_chunk(chunk, self.appends if last else [])

    def _commit_chunk(self, paths: list[str], appends: list[_Append]) -> None:
        from google.cloud import firestore

        from core.adapters.firestore.event_log import append_in_transaction, write_appended

        client = self._client
        refs = {p: client.document(p) for p in paths}

        @firestore.transactional
        def run(txn: Any) -> None:
            stored = {s.reference.path: s.to_dict() for s in txn.get_all(list(refs.values())) if s.exists} \
                if refs else {}
            # Every read precedes every write: the event log's dedup documents are read here.
            planned = _plan_appends(client, txn, appends, append_in_transaction)
            for p in paths:
                doc = stored.get(p)
                before = doc
                for op in self.ops[p]:
                    doc = op(doc)
                if doc is None:
                    if before is not None:
                        txn.delete(refs[p])
                elif doc != before:
                    txn.set(refs[p], doc)
            for plan in planned:
                write_appended(txn, plan)

        run(client.transaction())


class _FirestoreUnitOfWork(IngestUnitOfWork):
    def __init__(self, store: FirestoreStore) -> None:
        self._store = store
        self._client = store.client
        self.writes = Writes(store.client)

    def _expire(self, collection: str) -> Any:
        return layout.expire_at(collection, self._store.retention)

    def llm_calls_by_ids(self, org_id: str, ids: list[str]) -> list[LlmCallRecord]:
        from core.adapters.firestore.reads import query_in

        if not ids:
            return []
        docs = {d["call_key"]: d for field in ("request_id", "response_id")
                for d in query_in(self._client, org_id, layout.LLM_CALLS, field, ids)}
        return [_call_from_doc(d) for _, d in sorted(docs.items())]

    def llm_call_candidates(
        self, org_id: str, session_id: str, t_from: int, t_to: int, tokens_out: list[int]
    ) -> list[LlmCallRecord]:
        from core.adapters.firestore.reads import session_llm_call_docs

        outs = set(tokens_out)
        return [_call_from_doc(d) for d in session_llm_call_docs(self._client, org_id, session_id, t_from, t_to)
                if d["tokens_out"] in outs]

    def session_links(self, org_id: str, session_ids: list[str]) -> dict[str, SessionLink]:
        paths = {layout.org_path(org_id, layout.SESSION_LINKS, s): s for s in session_ids}
        return {paths[p]: SessionLink(d["task_id"], d["assignment_id"])
                for p, d in self.writes.view(list(paths)).items() if d is not None}

    def session_workspaces(self, org_id: str, session_ids: list[str]) -> dict[str, str]:
        paths = {layout.org_path(org_id, layout.SESSIONS, s): s for s in session_ids}
        return {paths[p]: d["workspace"] for p, d in self.writes.view(list(paths)).items()
                if d is not None and d.get("workspace") is not None}

    def tool_use_ids_for_spans(self, org_id: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        from core.adapters.firestore.reads import query

        out: dict[tuple[str, str], str] = {}
        for trace_id, span_id in keys:
            for d in query(self._client, org_id, layout.TOOL_CALLS, {"trace_id": trace_id, "span_id": span_id}):
                if not d["tool_use_id"].startswith("span:"):
                    out[(trace_id, span_id)] = d["tool_use_id"]
        return out

    def adopt_tool_placeholders(self, org_id: str, real_ids: dict[str, str]) -> None:
        paths = {layout.org_path(org_id, layout.TOOL_CALLS, p): p for p in real_ids}
        for path, doc in self.writes.view(list(paths)).items():
            if doc is None:
                continue
            real = real_ids[paths[path]]
            self.writes.add(layout.org_path(org_id, layout.TOOL_CALLS, real), _fill({**doc, "tool_use_id": real}))
            self.writes.add(path, _delete)

    def link_session_to_task(self, org_id: str, session_id: str, link: SessionLink) -> int:
        from core.adapters.firestore.reads import query

        link_path = layout.org_path(org_id, layout.SESSION_LINKS, session_id)
        base = {"org_id": org_id, "session_id": session_id, "task_id": link.task_id,
                "assignment_id": link.assignment_id, layout.TTL_FIELD: self._expire(layout.SESSION_LINKS)}

        def merge_link(old: Doc | None) -> Doc:
            keep = old.get("assignment_id") if old else None
            return {**base, "assignment_id": link.assignment_id or keep}

        self.writes.add(link_path, merge_link)
        # The session's spans, filtered on task_id below (over stored and queued state alike).
        stored = {layout.org_path(org_id, layout.SPANS, d["trace_id"], d["span_id"])
                  for d in query(self._client, org_id, layout.SPANS, {"session_id": session_id})}
        prefix = layout.org_path(org_id, layout.SPANS, "x").rsplit("/", 1)[0] + "/"
        queued = {p for p in self.writes.ops if p.startswith(prefix)}
        linked = [p for p, d in self.writes.view(sorted(stored | queued)).items()
                  if d is not None and d.get("session_id") == session_id and d.get("task_id") is None]

        def attach(old: Doc | None) -> Doc | None:
            if old is None or old.get("task_id") is not None:
                return old
            return {**old, "task_id": link.task_id, "assignment_id": old.get("assignment_id") or link.assignment_id}

        for p in linked:
            self.writes.add(p, attach)
        return len(linked)

    def write(self, batch: Batch, request_digest: str, outbox: list[tuple[str, bytes]]) -> None:
        org = batch.org_id
        add = self.writes.add
        ex = self._expire
        for s in batch.spans:
            doc = {"org_id": org, "trace_id": s.trace_id, "span_id": s.span_id, "parent_span_id": s.parent_span_id,
                   "name": s.name, "kind": s.kind, "status": s.status, "status_message": s.status_message,
                   "start_ns": s.start_ns, "end_ns": s.end_ns, "duration_ms": s.duration_ms,
                   "session_id": s.session_id, "service_name": s.service_name, "source_type": s.source_type,
                   "workspace": s.workspace or None, **_usage(s.usage), **_links(s.links),
                   "message_id": s.links.message_id, "attributes": s.attributes_json,
                   "resource_attributes": s.resource_json, "events": s.events_json,
                   **layout.span_roles(s.name, s.usage.model, s.usage.tokens_in, s.usage.tokens_out),
                   layout.TTL_FIELD: ex(layout.SPANS)}
            add(layout.org_path(org, layout.SPANS, s.trace_id, s.span_id), _keep_links(doc))
            add(layout.org_path(org, layout.TRACES, s.trace_id),
                _trace_start({"org_id": org, "trace_id": s.trace_id, "start_ns": s.start_ns,
                              layout.TTL_FIELD: ex(layout.TRACES)}))
        for c in batch.llm_calls:
            add(layout.org_path(org, layout.LLM_CALLS, c.call_key), _replace({
                "org_id": org, "call_key": c.call_key, "session_id": c.session_id, "time_ns": c.time_ns,
                "duration_ms": c.duration_ms, **_usage(c.usage), "request_id": c.request_id,
                "response_id": c.response_id, "trace_id": c.trace_id, "span_id": c.span_id,
                "event_key": c.event_key, "prompt_id": c.prompt_id, "success": c.success, "source": c.source,
                **_links(c.links), layout.TTL_FIELD: ex(layout.LLM_CALLS)}))
        for t in batch.tool_calls:
            add(layout.org_path(org, layout.TOOL_CALLS, t.tool_use_id), _fill({
                "org_id": org, "tool_use_id": t.tool_use_id, "session_id": t.session_id, "tool_name": t.tool_name,
                "time_ns": t.time_ns, "duration_ms": t.duration_ms, "success": t.success, "error": t.error,
                "decision": t.decision, "decision_source": t.decision_source,
                "approval_wait_ms": t.approval_wait_ms, "tool_input": t.tool_input, "tool_result": t.tool_result,
                "trace_id": t.trace_id, "span_id": t.span_id, layout.TTL_FIELD: ex(layout.TOOL_CALLS)}))
        for e in batch.events:
            add(layout.org_path(org, layout.EVENTS, e.event_key), _keep_first({
                "org_id": org, "event_key": e.event_key, "name": e.name, "dialect": e.dialect,
                "time_ns": e.time_ns, "session_id": e.session_id, "prompt_id": e.prompt_id,
                "trace_id": e.trace_id, "span_id": e.span_id, "severity": e.severity, "body": e.body,
                "attributes": e.attributes_json, "resource_attributes": e.resource_json,
                layout.TTL_FIELD: ex(layout.EVENTS)}))
        for p in batch.metric_points:
            add(layout.org_path(org, layout.METRIC_POINTS, p.series_key, p.start_ns, p.time_ns), _metric_value({
                "org_id": org, "series_key": p.series_key, "start_ns": p.start_ns, "time_ns": p.time_ns,
                "name": p.name, "metric_type": p.metric_type, "temporality": p.temporality, "value": p.value,
                "session_id": p.session_id, "model": p.model, "label_type": p.label_type,
                "attributes": p.attributes_json, "resource_attributes": p.resource_json,
                "workspace": _workspace_of(p.resource_json), layout.TTL_FIELD: ex(layout.METRIC_POINTS)}))
        for r in batch.sessions.values():
            add(layout.org_path(org, layout.SESSIONS, r.session_id), _merge_session({
                "org_id": org, "session_id": r.session_id, "first_seen_ns": r.first_seen_ns,
                "last_seen_ns": r.last_seen_ns, "service_name": r.service_name, "source_type": r.source_type,
                "workspace": r.workspace, "user_id": r.user_id, "user_email": r.user_email,
                "account_org": r.account_org, "app_version": r.app_version, "terminal_type": r.terminal_type,
                "models": sorted(r.models), "rollup": None, "rollup_ns": None,
                layout.TTL_FIELD: ex(layout.SESSIONS)}))
        for collection, counts in ((layout.REDACTIONS, batch.redactions), (layout.REJECTIONS, batch.reject_reasons)):
            for key, n in counts.items():
                add(layout.org_path(org, collection, request_digest, key), _replace({
                    "org_id": org, "request_digest": request_digest, "key": key, "count": n,
                    layout.TTL_FIELD: ex(collection)}))
        for topic, payload in outbox:
            self._store.queue_outbox(self.writes, topic, payload)
        if batch.spans:  # one event per batch; a replayed request (same digest) appends nothing
            task_id = events.batch_task(batch)
            self._store.queue_events(
                self.writes, org, events.batch_spans_created(batch, request_digest, task_id,
                                                             self._store.task_workspace(org, task_id)),
                dedup_key=f"{events.SPAN_CREATED}:{request_digest}")


class FirestoreStore(FirestoreCatalog, FirestoreChains, FirestoreEventLog, FirestoreErasure, FirestoreInsights,
                     FirestoreHooks, FirestoreMaintenance, FirestoreSpanViews, Store):
    """The Store port on Firestore. Layout in layout.py (orgs/{org}/{collection}/{natural key}); the composite
    indexes its queries need in indexes.py."""

    def __init__(self, project: str, database: str = "(default)", client: Any = None,
                 retention: dict[str, int] | None = None, event_settle_s: float = DEFAULT_SETTLE_S) -> None:
        """``retention``: days a fact document lives per collection (layout.RETENTION_DAYS by default);
        ``event_settle_s``: how far behind now event-log readers stop (core/adapters/firestore/event_log.py)."""
        if client is None:
            from google.cloud import firestore

            client = firestore.Client(project=project, database=database)
        self.client: Any = client
        self.retention = {**layout.RETENTION_DAYS, **(retention or {})}
        self.event_settle_s = event_settle_s

    # -- writes ------------------------------------------------------------------------------------
    @contextmanager
    def unit_of_work(self) -> Iterator[IngestUnitOfWork]:
        uow = _FirestoreUnitOfWork(self)
        yield uow  # an exception raised in the block skips the commit: nothing is written
        uow.writes.commit()

    def queue_outbox(self, writes: Writes, topic: str, payload: bytes) -> None:
        message_id = layout.sequence_id()
        writes.add(layout.outbox_path(message_id), _replace(
            {"id": message_id, "topic": topic, "payload": payload, "created_ns": time.time_ns()}), tail=True)

    def queue_events(self, writes: Writes, org_id: str, change_events: list[ChangeEvent],
                     dedup_key: str | None = None) -> None:
        writes.append(org_id, change_events, dedup_key, self.retention)

    def task_workspace(self, org_id: str, task_id: str | None) -> str | None:
        from core.adapters.firestore.reads import get_docs

        if not task_id:
            return None
        path = layout.org_path(org_id, layout.TASKS, task_id)
        doc = get_docs(self.client, [path]).get(path)
        return cast("str | None", doc.get("workspace_id")) if doc else None

    # -- reads -------------------------------------------------------------------------------------
    def list_traces(self, org_id: str, query: TraceQuery) -> list[TraceSummary]:
        from core.adapters.firestore import reads

        return reads.list_traces(self.client, org_id, query)

    def get_trace(self, org_id: str, trace_id: str) -> list[SpanView]:
        from core.adapters.firestore import reads

        return reads.get_trace(self.client, org_id, trace_id)

    def list_spans(self, org_id: str, query: SpanQuery) -> list[SpanView]:
        from core.adapters.firestore import reads

        return reads.list_spans(self.client, org_id, query)

    def list_sessions(self, org_id: str, limit: int, offset: int) -> list[SessionView]:
        from core.adapters.firestore import reads

        return reads.list_sessions(self.client, org_id, limit, offset)

    def get_session(self, org_id: str, session_id: str) -> SessionView | None:
        from core.adapters.firestore import reads

        return reads.get_session(self.client, org_id, session_id)

    def session_tool_calls(self, org_id: str, session_id: str) -> list[ToolCallView]:
        from core.adapters.firestore import reads

        return reads.session_tool_calls(self.client, org_id, session_id)

    def session_llm_calls(self, org_id: str, session_id: str) -> list[LlmCallView]:
        from core.adapters.firestore import reads

        return reads.session_llm_calls(self.client, org_id, session_id)

    def session_events(self, org_id: str, session_id: str, names: list[str] | None = None) -> list[EventView]:
        from core.adapters.firestore import reads

        return reads.session_events(self.client, org_id, session_id, names)

    def session_span_count(self, org_id: str, session_id: str) -> int:
        from google.cloud.firestore_v1.base_query import FieldFilter

        from core.adapters.firestore import reads
        from core.adapters.firestore.indexes import QueryShape

        reads.RECORDED_SHAPES.add(QueryShape(layout.SPANS, ("session_id",), None))
        q = self.client.collection(f"orgs/{layout.part(org_id) or '~'}/{layout.SPANS}").where(
            filter=FieldFilter("session_id", "==", session_id))
        return int(q.count().get()[0][0].value)

    def list_metric_points(self, org_id: str, query: MetricQuery) -> list[MetricPointView]:
        from core.adapters.firestore import reads

        return reads.list_metric_points(self.client, org_id, query)

    def save_session_rollup(self, org_id: str, session_id: str, rollup_json: str, computed_ns: int) -> None:
        from google.cloud import firestore

        from core.adapters.firestore.event_log import append_in_transaction, write_appended

        client = self.client
        session_ref = client.document(layout.org_path(org_id, layout.SESSIONS, session_id))
        link_ref = client.document(layout.org_path(org_id, layout.SESSION_LINKS, session_id))

        @firestore.transactional
        def run(txn: Any) -> None:
            session = session_ref.get(transaction=txn)
            if not session.exists:
                return
            doc = session.to_dict()
            # A recompute never overwrites a newer result with an older one.
            if doc.get("rollup_ns") is not None and doc["rollup_ns"] > computed_ns:
                return
            link = link_ref.get(transaction=txn)
            task_id = link.to_dict().get("task_id") if link.exists else None
            workspace = None
            if task_id:
                task = client.document(layout.org_path(org_id, layout.TASKS, task_id)).get(transaction=txn)
                workspace = task.to_dict().get("workspace_id") if task.exists else None
            planned = None
            # metrics.updated only when the totals moved: a redelivered batch recomputes the same rollup.
            if doc.get("rollup") != rollup_json:
                change = events.session_metrics_updated(session_id, task_id, workspace, json.loads(rollup_json))
                # Planned (its dedup reads) before any write of the transaction.
                planned = append_in_transaction(client, txn, org_id, change, retention=self.retention)
            txn.update(session_ref, {"rollup": rollup_json, "rollup_ns": computed_ns})
            if planned is not None:
                write_appended(txn, planned)

        run(client.transaction())

    # -- pricing -----------------------------------------------------------------------------------
    def iter_priced(self) -> Iterator[tuple[str, str, str, LlmCallRecord]]:
        for table in (layout.LLM_CALLS, layout.SPANS):
            # Whole collection group, filtered here: a filter on `model` would need a collection-group index.
            for snap in self.client.collection_group(table).stream():
                r = snap.to_dict()
                if r.get("model") is None:
                    continue
                key = r["call_key"] if table == layout.LLM_CALLS else f"{r['trace_id']}:{r['span_id']}"
                usage = Usage(model=r["model"], tokens_in=r["tokens_in"], tokens_out=r["tokens_out"],
                              cache_read_tokens=r["cache_read_tokens"],
                              cache_creation_tokens=r["cache_creation_tokens"],
                              reasoning_tokens=r["reasoning_tokens"], provided_cost_usd=r["provided_cost_usd"])
                yield table, r["org_id"], key, LlmCallRecord(call_key=key, session_id=None, time_ns=0,
                                                             duration_ms=None, usage=usage)

    def update_computed_costs(self, table: str, rows: list[tuple[str, str, LlmCallRecord]]) -> None:
        writes = Writes(self.client)
        for org, key, c in rows:
            parts = key.split(":", 1) if table == layout.SPANS else [key]
            fields = {"computed_cost_usd": c.usage.computed_cost_usd, "cost_usd": c.usage.cost_usd,
                      "cache_savings_usd": c.usage.cache_savings_usd, "unpriced": c.usage.unpriced}
            writes.add(layout.org_path(org, table, *parts), _update_existing(fields))
        writes.commit()

    # -- outbox ------------------------------------------------------------------------------------
    def enqueue_outbox(self, messages: list[tuple[str, bytes]]) -> None:
        writes = Writes(self.client)
        for topic, payload in messages:
            self.queue_outbox(writes, topic, payload)
        writes.commit()

    def claim_outbox(self, limit: int) -> list[OutboxMessage]:
        docs = self.client.collection(layout.OUTBOX).order_by("id").limit(limit).stream()
        return [OutboxMessage(d["id"], d["topic"], bytes(d["payload"])) for d in (s.to_dict() for s in docs)]

    def ack_outbox(self, ids: list[int]) -> None:
        for i in range(0, len(ids), MAX_WRITES):
            batch = self.client.batch()
            for message_id in ids[i:i + MAX_WRITES]:
                batch.delete(self.client.document(layout.outbox_path(message_id)))
            batch.commit()

    def outbox_backlog(self) -> int:
        return int(self.client.collection(layout.OUTBOX).count().get()[0][0].value)

    def close(self) -> None:
        self.client.close()
