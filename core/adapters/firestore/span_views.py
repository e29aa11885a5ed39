"""FirestoreSpanViews: the span_views API area on Firestore (span writes in one transaction each, lite reads)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, cast

from core import events
from core.adapters.firestore import layout
from core.adapters.firestore.indexes import Direction, QueryShape
from core.ports.bus import TELEMETRY_INGESTED
from core.ports.span_views import (
    ActivitySource,
    CreateOutcome,
    SessionActivity,
    SessionDigest,
    SpanViewStore,
    span_change_payload,
    span_record_of,
)

if TYPE_CHECKING:
    from core.hierarchy.models import TaskSpanSummary
    from core.models import SpanQuery, SpanView, ToolCallView
    from core.records import SpanRecord

Doc = dict[str, Any]
# The span-id lookup of find_span: orgs/{org}/span_ids/{span_id}:{trace_id} (erasure deletes these too).
SPAN_IDS = "span_ids"
_IN_LIMIT = 30  # Firestore's cap on the values of one `in` filter
_MAX_WRITES = 500  # writes per batched write
_MAX_LIMIT = 2**31 - 1  # Firestore's limit and offset are 32-bit integers
_PROMPT_EVENTS = ["claude_code.user_prompt", "gemini_cli.user_prompt", "user_prompt"]
# The fields a lite span read selects (the blobs attributes, resource_attributes and events are never read).
_LITE_FIELDS = ["trace_id", "span_id", "parent_span_id", "task_id", "assignment_id", "chain_id", "stage_id",
                "message_id", "session_id", "name", "kind", "status", "status_message", "start_ns", "end_ns",
                "duration_ms", "tokens_in", "tokens_out", "cache_read_tokens", "cache_creation_tokens",
                "reasoning_tokens", "cost_usd", "provided_cost_usd", "computed_cost_usd", "cache_savings_usd",
                "unpriced", "model", "provider", "source_type", "workspace"]
_TOOL_LITE = ["tool_use_id", "session_id", "tool_name", "time_ns", "duration_ms", "success", "error", "decision",
              "decision_source", "approval_wait_ms", "tool_input", "trace_id", "span_id"]


def span_doc(org_id: str, s: SpanRecord, retention: dict[str, int] | None) -> Doc:
    """The stored form of a span (the fields ingest writes)."""
    u, links = s.usage, s.links
    return {"org_id": org_id, "trace_id": s.trace_id, "span_id": s.span_id, "parent_span_id": s.parent_span_id,
            "name": s.name, "kind": s.kind, "status": s.status, "status_message": s.status_message,
            "start_ns": s.start_ns, "end_ns": s.end_ns, "duration_ms": s.duration_ms, "session_id": s.session_id,
            "service_name": s.service_name, "source_type": s.source_type, "workspace": s.workspace or None,
            "model": u.model, "provider": u.provider, "tokens_in": u.tokens_in, "tokens_out": u.tokens_out,
            "cache_read_tokens": u.cache_read_tokens, "cache_creation_tokens": u.cache_creation_tokens,
            "reasoning_tokens": u.reasoning_tokens, "provided_cost_usd": u.provided_cost_usd,
            "computed_cost_usd": u.computed_cost_usd, "cost_usd": u.cost_usd,
            "cache_savings_usd": u.cache_savings_usd, "unpriced": u.unpriced, "task_id": links.task_id,
            "assignment_id": links.assignment_id, "chain_id": links.chain_id, "stage_id": links.stage_id,
            "message_id": links.message_id, "attributes": s.attributes_json, "resource_attributes": s.resource_json,
            "events": s.events_json, "workspace_key": s.workspace or "unknown",
            **layout.span_roles(s.name, u.model, u.tokens_in, u.tokens_out),
            layout.TTL_FIELD: layout.expire_at(layout.SPANS, retention)}


def _same_span(stored: Doc, new: Doc) -> bool:
    """Whether a stored span equals a new one in every stored column (the TTL and derived key aside)."""
    skip = {layout.TTL_FIELD, "workspace_key"}
    return all(stored.get(k) == v for k, v in new.items() if k not in skip)


def _seen_session(old: Doc | None, s: SpanRecord, org_id: str, retention: dict[str, int] | None) -> Doc:
    """An API span of a session makes the session known, merged as ingest merges a session."""
    end = max(s.end_ns, s.start_ns)
    models = [s.usage.model] if s.usage.model else []
    expire = layout.expire_at(layout.SESSIONS, retention)
    if old is None:
        return {"org_id": org_id, "session_id": s.session_id, "first_seen_ns": s.start_ns, "last_seen_ns": end,
                "service_name": s.service_name, "source_type": s.source_type, "workspace": s.workspace or None,
                "user_id": None, "user_email": None, "account_org": None, "app_version": None,
                "terminal_type": None, "models": models, "rollup": None, "rollup_ns": None,
                layout.TTL_FIELD: expire}
    out = dict(old)
    out["first_seen_ns"] = min(old["first_seen_ns"], s.start_ns)
    out["last_seen_ns"] = max(old["last_seen_ns"], end)
    if out.get("service_name") is None:
        out["service_name"] = s.service_name
    if old.get("source_type") == "other":
        out["source_type"] = s.source_type
    if out.get("workspace") is None:
        out["workspace"] = s.workspace or None
    out["models"] = sorted(set(old.get("models") or []) | set(models))
    out[layout.TTL_FIELD] = max(old.get(layout.TTL_FIELD) or expire, expire)
    return out


def _str_prompt(value: Any) -> str:
    """A prompt attribute as SQLite's json_extract renders it (JSON text for objects, 1/0 for booleans)."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _tool_view(r: Doc, with_result: bool) -> ToolCallView:
    from core.adapters.firestore.reads import _dt
    from core.models import ToolCallView

    return ToolCallView(
        tool_use_id=r["tool_use_id"], session_id=r.get("session_id"), tool_name=r.get("tool_name"),
        start_time=_dt(r.get("time_ns")), duration_ms=r.get("duration_ms"), success=r.get("success"),
        error=r.get("error"), decision=r.get("decision"), decision_source=r.get("decision_source"),
        approval_wait_ms=r.get("approval_wait_ms"), tool_input=r.get("tool_input"),
        tool_response=r.get("tool_result") if with_result else None, trace_id=r.get("trace_id"),
        span_id=r.get("span_id"),
    )


def _chunks(items: list[Any], size: int = _IN_LIMIT) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class FirestoreSpanViews(SpanViewStore):
    """Span writes (one transaction each: the span, its trace start, its id lookup, its session, the outbox message
    and the event), span and tool-call reads, session digests and the event queue's sessions."""

    client: Any
    retention: dict[str, int]

    # -- query helper --------------------------------------------------------------------------------------------
    def _sv_query(self, collection: str, org_id: str, eq: dict[str, Any] | None = None,
               in_filter: tuple[str, list[Any]] | None = None, ranges: Iterable[tuple[str, str, Any]] = (),
               order: tuple[str, Direction] | None = None, limit: int | None = None,
               fields: list[str] | None = None) -> Any:
        """One org-scoped query (its shape recorded for the index check); ``fields``: a projection."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        from core.adapters.firestore import reads

        q: Any = self.client.collection(f"orgs/{layout.part(org_id) or '~'}/{collection}")
        eq_fields: list[str] = []
        for field, value in (eq or {}).items():
            q = q.where(filter=FieldFilter(field, "==", value))
            eq_fields.append(field)
        if in_filter is not None:
            q = q.where(filter=FieldFilter(in_filter[0], "in", in_filter[1]))
            eq_fields.append(in_filter[0])
        for field, op, value in ranges:
            q = q.where(filter=FieldFilter(field, op, value))
            if order is None:
                order = (field, "ASCENDING")
        if order is not None:
            q = q.order_by(order[0], direction=order[1])
        if limit is not None:
            q = q.limit(min(limit, _MAX_LIMIT))
        if fields is not None:
            q = q.select(fields)
        reads.RECORDED_SHAPES.add(QueryShape(collection, tuple(sorted(eq_fields)), order))
        return q

    def _sv_docs(self, collection: str, org_id: str, **kwargs: Any) -> list[Doc]:
        return [cast(Doc, s.to_dict()) for s in self._sv_query(collection, org_id, **kwargs).stream()]

    def _sv_span_views(self, docs: Iterable[Doc], lite: bool = True) -> list[SpanView]:
        from core.adapters.sqlite.reads import span_view

        return [span_view(cast(Any, d), lite) for d in docs]

    # -- span writes ---------------------------------------------------------------------------------------------
    def _sv_run(self, org_id: str, body: Any) -> Any:
        """Run ``body(txn)`` in a transaction."""
        from google.cloud import firestore

        return firestore.transactional(body)(self.client.transaction())

    def _sv_task_workspace(self, txn: Any, org_id: str, task_id: str | None) -> str | None:
        if not task_id:
            return None
        snap = self.client.document(layout.org_path(org_id, layout.TASKS, task_id)).get(transaction=txn)
        return cast("str | None", snap.to_dict().get("workspace_id")) if snap.exists else None

    def _sv_trace_rest(self, txn: Any, org_id: str, trace_id: str, span_id: str) -> int | None:
        """The earliest start among the trace's other spans (None: the span is the trace's only one)."""
        q = self._sv_query(layout.SPANS, org_id, {"trace_id": trace_id}, order=("start_ns", "ASCENDING"), limit=2,
                        fields=["span_id", "start_ns"])
        starts = [d["start_ns"] for d in (s.to_dict() for s in txn.get(q)) if d["span_id"] != span_id]
        return min(starts) if starts else None

    def _sv_change(self, txn: Any, org_id: str, spans: list[SpanRecord], before: Doc | None,
                sessions: dict[str, Doc | None]) -> None:
        """The writes every span change makes besides the span itself: the outbox message naming what changed
        (before and after), and the sessions the new spans make known."""
        payload = span_change_payload(
            org_id, [s.trace_id for s in spans] + ([before["trace_id"]] if before else []),
            [s.session_id for s in spans] + ([before["session_id"]] if before else []),
            [s.links.task_id for s in spans] + ([before["task_id"]] if before else []), max(len(spans), 1),
            [(s.trace_id, s.span_id) for s in spans] + ([(before["trace_id"], before["span_id"])] if before else []))
        message_id = layout.sequence_id()
        txn.set(self.client.document(layout.outbox_path(message_id)),
                {"id": message_id, "topic": TELEMETRY_INGESTED, "payload": payload, "created_ns": time.time_ns()})
        for s in spans:
            if s.session_id:
                path = layout.org_path(org_id, layout.SESSIONS, s.session_id)
                sessions[path] = _seen_session(sessions.get(path), s, org_id, self.retention)
                txn.set(self.client.document(path), sessions[path])

    def _sv_read_sessions(self, txn: Any, org_id: str, spans: list[SpanRecord]) -> dict[str, Doc | None]:
        paths = sorted({layout.org_path(org_id, layout.SESSIONS, s.session_id) for s in spans if s.session_id})
        found = {s.reference.path: s.to_dict() for s in txn.get_all([self.client.document(p) for p in paths])
                 if s.exists} if paths else {}
        return {p: found.get(p) for p in paths}

    def _sv_id_doc(self, org_id: str, trace_id: str, span_id: str) -> tuple[Any, Doc]:
        ref = self.client.document(layout.org_path(org_id, SPAN_IDS, span_id, trace_id))
        return ref, {"org_id": org_id, "span_id": span_id, "trace_id": trace_id,
                     layout.TTL_FIELD: layout.expire_at(layout.SPANS, self.retention)}

    def create_span(self, org_id: str, span: SpanRecord) -> CreateOutcome:
        from core.adapters.firestore.event_log import append_in_transaction, write_appended

        client = self.client
        new = span_doc(org_id, span, self.retention)
        span_ref = client.document(layout.org_path(org_id, layout.SPANS, span.trace_id, span.span_id))
        trace_ref = client.document(layout.org_path(org_id, layout.TRACES, span.trace_id))

        def body(txn: Any) -> CreateOutcome:
            stored = span_ref.get(transaction=txn)
            if stored.exists:
                return "replayed" if _same_span(stored.to_dict(), new) else "conflict"
            trace = trace_ref.get(transaction=txn)
            sessions = self._sv_read_sessions(txn, org_id, [span])
            workspace = self._sv_task_workspace(txn, org_id, span.links.task_id)
            planned = append_in_transaction(client, txn, org_id, events.span_created(span, workspace),
                                            retention=self.retention)
            txn.set(span_ref, new)
            start = min(trace.to_dict()["start_ns"], span.start_ns) if trace.exists else span.start_ns
            txn.set(trace_ref, {"org_id": org_id, "trace_id": span.trace_id, "start_ns": start,
                                layout.TTL_FIELD: layout.expire_at(layout.TRACES, self.retention)})
            # An API span is findable by id at once (the aggregate worker would index it moments later).
            txn.set(*self._sv_id_doc(org_id, span.trace_id, span.span_id))
            self._sv_change(txn, org_id, [span], None, sessions)
            write_appended(txn, planned)
            return "created"

        return cast(CreateOutcome, self._sv_run(org_id, body))

    def span_records(self, org_id: str, keys: list[tuple[str, str]]) -> list[SpanRecord]:
        if not keys:
            return []
        refs = [self.client.document(layout.org_path(org_id, layout.SPANS, t, s)) for t, s in keys]
        found = {d.reference.path: d.to_dict() for d in self.client.get_all(refs) if d.exists}
        return [span_record_of(found[r.path]) for r in refs if r.path in found]

    def replace_span(self, org_id: str, span: SpanRecord) -> bool:
        from core.adapters.firestore.event_log import append_in_transaction, write_appended

        client = self.client
        new = span_doc(org_id, span, self.retention)
        span_ref = client.document(layout.org_path(org_id, layout.SPANS, span.trace_id, span.span_id))
        trace_ref = client.document(layout.org_path(org_id, layout.TRACES, span.trace_id))

        def body(txn: Any) -> bool:
            stored = span_ref.get(transaction=txn)
            if not stored.exists:
                return False
            rest = self._sv_trace_rest(txn, org_id, span.trace_id, span.span_id)
            sessions = self._sv_read_sessions(txn, org_id, [span])
            workspace = self._sv_task_workspace(txn, org_id, span.links.task_id)
            planned = append_in_transaction(client, txn, org_id, events.span_updated(span, workspace, "updated"),
                                            retention=self.retention)
            txn.set(span_ref, new)
            start = span.start_ns if rest is None else min(rest, span.start_ns)
            txn.set(trace_ref, {"org_id": org_id, "trace_id": span.trace_id, "start_ns": start,
                                layout.TTL_FIELD: layout.expire_at(layout.TRACES, self.retention)})
            self._sv_change(txn, org_id, [span], stored.to_dict(), sessions)
            write_appended(txn, planned)
            return True

        return bool(self._sv_run(org_id, body))

    def delete_span(self, org_id: str, trace_id: str, span_id: str) -> bool:
        from core.adapters.firestore.event_log import append_in_transaction, write_appended

        client = self.client
        span_ref = client.document(layout.org_path(org_id, layout.SPANS, trace_id, span_id))
        trace_ref = client.document(layout.org_path(org_id, layout.TRACES, trace_id))

        def body(txn: Any) -> bool:
            stored = span_ref.get(transaction=txn)
            if not stored.exists:
                return False
            before = stored.to_dict()
            rest = self._sv_trace_rest(txn, org_id, trace_id, span_id)
            trace = trace_ref.get(transaction=txn)
            workspace = self._sv_task_workspace(txn, org_id, before.get("task_id"))
            planned = append_in_transaction(client, txn, org_id,
                                            events.span_row_updated(before, workspace, "deleted"),
                                            retention=self.retention)
            txn.delete(span_ref)
            txn.delete(self._sv_id_doc(org_id, trace_id, span_id)[0])
            if rest is None:
                txn.delete(trace_ref)
            elif trace.exists and trace.to_dict()["start_ns"] != rest:
                txn.update(trace_ref, {"start_ns": rest})
            self._sv_change(txn, org_id, [], before, {})
            write_appended(txn, planned)
            return True

        return bool(self._sv_run(org_id, body))

    def append_span_event(self, org_id: str, trace_id: str, span_id: str, event: dict[str, Any]) -> int | None:
        from core.adapters.firestore.event_log import append_in_transaction, write_appended

        client = self.client
        span_ref = client.document(layout.org_path(org_id, layout.SPANS, trace_id, span_id))

        def body(txn: Any) -> int | None:
            stored = span_ref.get(transaction=txn)
            if not stored.exists:
                return None
            before = stored.to_dict()
            kept = json.loads(before["events"]) if before.get("events") else []
            kept.append(event)
            workspace = self._sv_task_workspace(txn, org_id, before.get("task_id"))
            planned = append_in_transaction(client, txn, org_id,
                                            events.span_row_updated(before, workspace, "event_added"),
                                            retention=self.retention)
            txn.update(span_ref, {"events": json.dumps(kept, separators=(",", ":"))})
            self._sv_change(txn, org_id, [], before, {})
            write_appended(txn, planned)
            return len(kept)

        return cast("int | None", self._sv_run(org_id, body))

    # -- span reads ----------------------------------------------------------------------------------------------
    def find_span(self, org_id: str, span_id: str) -> SpanView | None:
        from core.adapters.firestore.reads import get_docs

        ids = self._sv_docs(SPAN_IDS, org_id, eq={"span_id": span_id}, fields=["trace_id"])
        paths = [layout.org_path(org_id, layout.SPANS, d["trace_id"], span_id) for d in ids]
        found = get_docs(self.client, paths)
        if not found:
            return None
        latest = max(found.values(), key=lambda d: (d["start_ns"], d["trace_id"]))
        return self._sv_span_views([latest], lite=False)[0]

    def index_span_ids(self, org_id: str, trace_ids: list[str]) -> None:
        from core.adapters.firestore.reads import get_docs

        for chunk in _chunks(sorted(set(trace_ids))):
            spans = self._sv_docs(layout.SPANS, org_id, in_filter=("trace_id", chunk), fields=["trace_id", "span_id"])
            wanted = {layout.org_path(org_id, SPAN_IDS, d["span_id"], d["trace_id"]): d for d in spans}
            existing = get_docs(self.client, list(wanted))
            missing = [d for p, d in wanted.items() if p not in existing]  # indexing again writes nothing
            for part in _chunks(missing, _MAX_WRITES):
                batch = self.client.batch()
                for d in part:
                    batch.set(*self._sv_id_doc(org_id, d["trace_id"], d["span_id"]))
                batch.commit()

    def list_spans_lite(self, org_id: str, q: SpanQuery) -> list[SpanView]:
        from core.adapters.firestore.reads import _MAX_OFFSET, _ns
        from core.hierarchy.names import path_span_id

        if q.offset > _MAX_OFFSET:
            return []
        eq = {"task_id": q.task_id, "trace_id": path_span_id(q.trace_id) if q.trace_id else None,
              "assignment_id": q.agent_assignment_id, "session_id": q.session_id, "provider": q.provider,
              "model": q.model, "status": q.status, "workspace_key": q.workspace}
        ranges = [(f, op, v) for f, op, v in (("start_ns", ">=", _ns(q.start_after)),
                                              ("start_ns", "<=", _ns(q.start_before))) if v is not None]
        query = self._sv_query(layout.SPANS, org_id, {k: v for k, v in eq.items() if v is not None}, ranges=ranges,
                            order=("start_ns", "DESCENDING"), limit=q.limit, fields=_LITE_FIELDS)
        if q.offset:
            query = query.offset(q.offset)
        return self._sv_span_views(s.to_dict() for s in query.stream())

    def spans_of_traces(self, org_id: str, trace_ids: list[str]) -> list[SpanView]:
        out: list[SpanView] = []
        for chunk in _chunks(sorted(set(trace_ids))):
            out += self._sv_span_views(self._sv_docs(layout.SPANS, org_id, in_filter=("trace_id", chunk),
                                               fields=_LITE_FIELDS))
        out.sort(key=lambda s: (s.start_time, s.id))
        return out

    def task_spans(self, org_id: str, task_id: str, limit: int = 10_000) -> list[SpanView]:
        if limit <= 0:
            return []
        return self._sv_span_views(self._sv_docs(layout.SPANS, org_id, eq={"task_id": task_id},
                                           order=("start_ns", "ASCENDING"), limit=limit, fields=_LITE_FIELDS))

    def session_spans(self, org_id: str, session_id: str, limit: int = 10_000) -> list[SpanView]:
        if limit <= 0:
            return []
        return self._sv_span_views(self._sv_docs(layout.SPANS, org_id, eq={"session_id": session_id},
                                           order=("start_ns", "ASCENDING"), limit=limit, fields=_LITE_FIELDS))

    def exec_spans(self, org_id: str, names: list[str], limit: int) -> list[SpanView]:
        if not names or limit <= 0:
            return []
        docs: list[Doc] = []
        for chunk in _chunks(sorted(set(names))):
            docs += self._sv_docs(layout.SPANS, org_id, in_filter=("name", chunk), order=("start_ns", "DESCENDING"),
                               limit=limit)
        docs.sort(key=lambda d: d["start_ns"], reverse=True)
        return self._sv_span_views(docs[:limit], lite=False)

    def task_span_summary(self, org_id: str, task_id: str, top: int = 10) -> TaskSpanSummary | None:
        from core.adapters.firestore.reads import _dt
        from core.hierarchy.models import SpanNameCount, TaskSpanSummary

        docs = self._sv_docs(layout.SPANS, org_id, eq={"task_id": task_id},
                          fields=["trace_id", "name", "tokens_in", "tokens_out", "cost_usd", "duration_ms",
                                  "start_ns", "end_ns"])
        if not docs:
            return None

        def total(field: str) -> Any:
            return sum(d[field] for d in docs if d.get(field) is not None)

        names = Counter(d["name"] for d in docs)
        ranked = sorted(names.items(), key=lambda kv: (-kv[1], kv[0]))[:max(top, 0)]
        return TaskSpanSummary(
            task_id=task_id, span_count=len(docs), trace_count=len({d["trace_id"] for d in docs}),
            tokens_in=total("tokens_in") or 0, tokens_out=total("tokens_out") or 0,
            cost_usd=total("cost_usd") or 0.0, duration_ms=round(total("duration_ms") or 0),
            start_time=_dt(min(d["start_ns"] for d in docs)),
            end_time=_dt(max(max(d["end_ns"], d["start_ns"]) for d in docs)),
            top_span_names=[SpanNameCount(name=n, count=c) for n, c in ranked],
        )

    def task_sessions(self, org_id: str, task_id: str) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for d in self._sv_docs(layout.SPANS, org_id, eq={"task_id": task_id}, order=("start_ns", "ASCENDING"),
                            fields=["session_id", "assignment_id"]):
            sid = d.get("session_id")
            if sid is not None:
                out[sid] = out.get(sid) or d.get("assignment_id")
        for d in self._sv_docs(layout.SESSION_LINKS, org_id, eq={"task_id": task_id},
                            fields=["session_id", "assignment_id"]):
            out[d["session_id"]] = out.get(d["session_id"]) or d.get("assignment_id")
        return out

    # -- tool calls and sessions ---------------------------------------------------------------------------------
    def tool_calls_of_spans(self, org_id: str, keys: list[tuple[str, str]], with_result: bool = False
                            ) -> dict[tuple[str, str], ToolCallView]:
        wanted = set(keys)
        fields = _TOOL_LITE + (["tool_result"] if with_result else [])
        out: dict[tuple[str, str], ToolCallView] = {}
        for chunk in _chunks(sorted({t for t, _ in wanted})):
            for d in self._sv_docs(layout.TOOL_CALLS, org_id, in_filter=("trace_id", chunk), fields=fields):
                key = (d.get("trace_id"), d.get("span_id"))
                if key[1] is not None and key in wanted:
                    out[key] = _tool_view(d, with_result)
        return out

    def session_has_unrecorded_calls(self, org_id: str, session_id: str) -> bool:
        return any(
            list(self._sv_query(collection, org_id, {"session_id": session_id, "span_id": None}, limit=1,
                             fields=["session_id"]).stream())
            for collection in (layout.LLM_CALLS, layout.TOOL_CALLS))

    def session_tool_calls_lite(self, org_id: str, session_id: str) -> list[ToolCallView]:
        return [_tool_view(d, False) for d in self._sv_docs(layout.TOOL_CALLS, org_id, eq={"session_id": session_id},
                                                         order=("time_ns", "ASCENDING"), fields=_TOOL_LITE)]

    def tool_call_near(self, org_id: str, session_id: str, tool_name: str, time_ns: int,
                       window_ns: int = 300 * 10**9) -> ToolCallView | None:
        int64 = 2**63 - 1
        docs = self._sv_docs(layout.TOOL_CALLS, org_id, eq={"session_id": session_id, "tool_name": tool_name},
                          ranges=[("time_ns", ">=", max(time_ns - window_ns, -int64)),
                                  ("time_ns", "<=", min(time_ns + window_ns, int64))],
                          order=("time_ns", "ASCENDING"))
        if not docs:
            return None
        return _tool_view(min(docs, key=lambda d: abs(d["time_ns"] - time_ns)), True)

    def _sv_first_prompt(self, org_id: str, session_id: str) -> str | None:
        docs = self._sv_docs(layout.EVENTS, org_id, eq={"session_id": session_id}, in_filter=("name", _PROMPT_EVENTS),
                          order=("time_ns", "ASCENDING"), limit=1, fields=["attributes", "body"])
        if not docs:
            return None
        try:
            prompt = json.loads(docs[0].get("attributes") or "{}").get("prompt")
        except (ValueError, AttributeError):
            prompt = None
        if prompt is None:
            prompt = docs[0].get("body")
        return None if prompt is None else _str_prompt(prompt)

    def session_digests(self, org_id: str, session_ids: list[str]) -> dict[str, SessionDigest]:
        out: dict[str, SessionDigest] = {}
        for sid in sorted(set(session_ids)):
            calls = self._sv_docs(layout.LLM_CALLS, org_id, eq={"session_id": sid}, fields=["reasoning_tokens"])
            thinking = any((d.get("reasoning_tokens") or 0) > 0 for d in calls)
            out[sid] = SessionDigest(self._sv_first_prompt(org_id, sid), thinking, len(calls))
        return out

    def activity_sessions(self, org_id: str, source: ActivitySource | None, workspace: str | None, limit: int,
                          offset: int) -> list[SessionActivity]:
        from core.adapters.firestore.reads import get_docs

        if limit <= 0:
            return []

        def matches(s: Doc, link: Doc | None) -> bool:
            linked = link is not None and (link.get("task_id") is not None or link.get("assignment_id") is not None)
            if source == "coordinator" and not linked:
                return False
            if source == "user_session" and linked:
                return False
            if source not in (None, "coordinator", "user_session") and s.get("source_type") != source:
                return False
            ws = s.get("workspace")
            if workspace:
                if workspace in ("unknown", "No Workspace"):
                    return (ws or "") in ("", "unknown")
                if workspace == "coordinator_worktrees":
                    return ws is not None and "/worktrees/" in ws.lower()  # SQLite LIKE: ASCII case-insensitive
                return ws is not None and workspace in ws
            return True

        def has_calls(session_id: str) -> bool:
            return bool(list(self._sv_query(layout.LLM_CALLS, org_id, {"session_id": session_id}, limit=1,
                                         fields=["session_id"]).stream()))

        picked: list[tuple[Doc, Doc | None]] = []
        wanted = offset + limit

        def take(group: list[Doc]) -> None:
            group.sort(key=lambda d: d["session_id"])  # ties on last activity: by session id
            paths = [layout.org_path(org_id, layout.SESSION_LINKS, d["session_id"]) for d in group]
            links = get_docs(self.client, paths)
            for d, p in zip(group, paths, strict=True):
                if len(picked) < wanted and matches(d, links.get(p)) and has_calls(d["session_id"]):
                    picked.append((d, links.get(p)))

        group: list[Doc] = []
        sessions = self._sv_query(layout.SESSIONS, org_id, order=("last_seen_ns", "DESCENDING"),
                               fields=["session_id", "source_type", "service_name", "workspace", "first_seen_ns",
                                       "last_seen_ns", "models"])
        for snap in sessions.stream():
            d = snap.to_dict()
            if group and d["last_seen_ns"] != group[0]["last_seen_ns"]:
                take(group)
                group = []
                if len(picked) >= wanted:
                    break
            group.append(d)
        if group and len(picked) < wanted:
            take(group)

        out = []
        for s, link in picked[offset:]:
            a = SessionActivity(session_id=s["session_id"], source_type=s["source_type"],
                                service_name=s.get("service_name"), workspace=s.get("workspace"),
                                first_seen_ns=s["first_seen_ns"], last_seen_ns=s["last_seen_ns"],
                                task_id=link.get("task_id") if link else None,
                                assignment_id=link.get("assignment_id") if link else None,
                                models=list(s.get("models") or []))
            calls = self._sv_docs(layout.LLM_CALLS, org_id, eq={"session_id": a.session_id},
                               fields=["cost_usd", "tokens_in", "tokens_out", "duration_ms", "model", "provider",
                                       "time_ns"])

            def total(field: str, calls: list[Doc] = calls) -> Any:
                return sum(c[field] for c in calls if c.get(field) is not None)

            a.turn_count = len(calls)
            a.cost_usd, a.tokens_in, a.tokens_out = total("cost_usd") or 0.0, total("tokens_in"), total("tokens_out")
            a.llm_duration_ms = total("duration_ms") or 0.0
            modelled = [c for c in calls if c.get("model") is not None]
            if modelled:
                latest = max(modelled, key=lambda c: c["time_ns"])
                a.model, a.provider = latest["model"], latest.get("provider")
            a.first_prompt = self._sv_first_prompt(org_id, a.session_id)
            out.append(a)
        return out
