"""FirestoreCatalog: workspaces, tasks, agent assignments and inbox messages on Firestore (orgs/{org}/{collection})."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from core import events
from core.adapters.firestore import layout
from core.adapters.firestore.indexes import Direction, QueryShape
from core.adapters.sqlite.times import from_ns, to_ns
from core.normalise.jsontext import compact_json
from core.ports.catalog import CatalogStore, DuplicateId, MissingReference

if TYPE_CHECKING:
    from core.catalog.models import (
        AgentAssignment,
        AgentStats,
        Message,
        MessageQuery,
        MessageStatus,
        Task,
        TaskQuery,
        TimelineEntry,
        Workspace,
        WorkspaceQuery,
        WorkspaceStats,
    )
    from core.events import ChangeEvent

Doc = dict[str, Any]
R = TypeVar("R")

# Entity collections (not facts: no TTL). Document id: layout.doc_id(entity id).
WORKSPACES = "workspaces"
TASKS = layout.TASKS
ASSIGNMENTS = "agent_assignments"
MESSAGES = "messages"
# `order_key` sorts a listing newest first, ties by id ascending, with one ascending order field (so one
# (filter, order_key) index per filter field serves every filter combination by index merging).
ORDER_KEY = "order_key"
_MAX_NS = 2**63 - 1
MAX_WRITES = 500  # Firestore's writes per transaction commit

# Tool spans per the seed (`claude_code.tool.*`, `gemini.tool.*`, `tool.*`); an LLM span is any other span that
# names a model or carries tokens (the SQLite adapter's rule).


def newest_first_key(created_ns: int, entity_id: str) -> str:
    return f"{_MAX_NS - created_ns:019d}:{entity_id}"


def to_doc(org_id: str, fields: Mapping[str, Any]) -> Doc:
    """An entity's fields as stored: `*_at` datetimes as exact integer nanoseconds in `*_ns`."""
    out: Doc = {"org_id": org_id}
    for key, value in fields.items():
        if key.endswith("_at"):
            out[key[:-3] + "_ns"] = to_ns(value)
        else:
            out[key] = value
    return out


def from_doc(doc: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in ("org_id", ORDER_KEY):
            continue
        if key.endswith("_ns"):
            out[key[:-3] + "_at"] = from_ns(value)
        else:
            out[key] = value
    return out


def changed_doc(doc: Doc, allowed: frozenset[str], changes: Mapping[str, Any], what: str) -> Doc:
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"not updatable on {what}: {sorted(unknown)}")
    return {**doc, **{k: v for k, v in to_doc("", changes).items() if k != "org_id"}}


def sql_round(value: float) -> int:
    """SQLite's ROUND: halves away from zero (Python's round() goes to even)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


class FirestoreCatalog(CatalogStore):
    """The CatalogStore port on Firestore. Every change and its change events commit in one transaction;
    aggregates (task and assignment totals, agent_count) are recomputed from facts, never incremented."""

    client: Any
    retention: dict[str, int]

    # -- helpers ------------------------------------------------------------------------------------------------
    def _ref(self, org_id: str, collection: str, entity_id: str) -> Any:
        return self.client.document(layout.org_path(org_id, collection, entity_id))

    def _query(self, org_id: str, collection: str, eq: Mapping[str, Any] | None = None,
               order: tuple[str, Direction] | None = None, in_filter: tuple[str, list[Any]] | None = None) -> Any:
        """A query on an org's collection (its shape recorded for the index check)."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        from core.adapters.firestore.reads import RECORDED_SHAPES

        q: Any = self.client.collection(f"orgs/{layout.part(org_id) or '~'}/{collection}")
        fields = []
        for field, value in (eq or {}).items():
            if value is not None:
                q = q.where(filter=FieldFilter(field, "==", value))
                fields.append(field)
        if in_filter is not None:
            q = q.where(filter=FieldFilter(in_filter[0], "in", in_filter[1]))
            fields.append(in_filter[0])
        if order is not None:
            q = q.order_by(order[0], direction=order[1])
        RECORDED_SHAPES.add(QueryShape(collection, tuple(sorted(fields)), order))
        return q

    def _page(self, org_id: str, collection: str, eq: Mapping[str, Any], limit: int, offset: int) -> list[Doc]:
        from core.adapters.firestore.reads import query

        return query(self.client, org_id, collection, dict(eq), order=(ORDER_KEY, "ASCENDING"), limit=limit,
                     offset=offset)

    def _get_doc(self, org_id: str, collection: str, entity_id: str, txn: Any = None) -> Doc | None:
        snap = self._ref(org_id, collection, entity_id).get(transaction=txn)
        return snap.to_dict() if snap.exists else None

    def _transact(self, fn: Callable[[Any], R]) -> R:
        from google.cloud import firestore

        return firestore.transactional(fn)(self.client.transaction(max_attempts=10))  # type: ignore[no-any-return]

    def _put_events(self, txn: Any, org_id: str, change_events: list[ChangeEvent]) -> None:
        """Queue the event-log documents in the caller's transaction (an event exists exactly when its change
        does); same document shape as the ingest path's events."""
        now = time.time_ns()
        for e in change_events:
            seq = layout.sequence_id()
            txn.set(self._ref(org_id, layout.EVENT_LOG, str(seq)), {
                "org_id": org_id, "seq": seq, "type": e.type, "subject_id": e.subject_id,
                "workspace_id": e.workspace_id, "task_id": e.task_id, "data": compact_json(e.data),
                "created_ns": now, "dedup_key": None,
                layout.TTL_FIELD: layout.expire_at(layout.EVENT_LOG, self.retention)})

    def _task_workspace(self, org_id: str, task_id: str | None, txn: Any) -> str | None:
        if not task_id:
            return None
        doc = self._get_doc(org_id, TASKS, task_id, txn)
        return doc.get("workspace_id") if doc else None

    def _agent_count(self, org_id: str, task_id: str, txn: Any, override: Mapping[str, Doc | None]
                     ) -> int:
        """Distinct agents over the task's assignments, as stored with ``override`` (id -> doc, None: gone)."""
        docs = {d["id"]: d for d in (s.to_dict() for s in
                                     self._query(org_id, ASSIGNMENTS, {"task_id": task_id}).stream(transaction=txn))}
        for aid, doc in override.items():
            if doc is None:
                docs.pop(aid, None)
            elif doc["task_id"] == task_id:
                docs[aid] = doc
            else:
                docs.pop(aid, None)
        return len({d["agent_id"] for d in docs.values()})

    def _delete_cascade(self, org_id: str, collection: str, entity_id: str,
                        on_delete: Callable[[Any, Doc], None] | None = None) -> bool:
        """Delete an entity and what depends on it (a workspace's tasks, a task's assignments) in transactions
        of at most MAX_WRITES: dependents go first, the entity itself with the last chunk."""
        while True:
            def run(txn: Any) -> bool | None:
                doc = self._get_doc(org_id, collection, entity_id, txn)
                if doc is None:
                    return False
                if collection == WORKSPACES:
                    snaps = list(self._query(org_id, TASKS, {"workspace_id": entity_id}).stream(transaction=txn))
                    tasks = [s.reference for s in snaps]
                    task_ids = [s.to_dict()["id"] for s in snaps]
                else:
                    tasks, task_ids = [], [entity_id]
                assignments = []
                for i in range(0, len(task_ids), 30):
                    assignments += [s.reference for s in self._query(
                        org_id, ASSIGNMENTS, in_filter=("task_id", task_ids[i:i + 30])).stream(transaction=txn)]
                dependents = assignments + tasks  # assignments before their tasks
                for ref in dependents[:MAX_WRITES - 1]:
                    txn.delete(ref)
                if len(dependents) >= MAX_WRITES:
                    return None  # more to delete: the next round continues
                txn.delete(self._ref(org_id, collection, entity_id))
                if on_delete is not None:
                    on_delete(txn, doc)
                return True

            done = self._transact(run)
            if done is not None:
                return done

    # -- workspaces --------------------------------------------------------------------------------------------
    def create_workspace(self, org_id: str, ws: Workspace) -> Workspace:
        from core.catalog.models import Workspace

        doc = to_doc(org_id, ws.model_dump())
        doc[ORDER_KEY] = newest_first_key(doc["created_ns"], ws.id)

        def run(txn: Any) -> None:
            if self._get_doc(org_id, WORKSPACES, ws.id, txn) is not None:
                raise DuplicateId(f"workspace {ws.id!r} already exists")
            txn.set(self._ref(org_id, WORKSPACES, ws.id), doc)

        self._transact(run)
        return Workspace.model_validate(from_doc(doc))

    def get_workspace(self, org_id: str, workspace_id: str) -> Workspace | None:
        from core.catalog.models import Workspace

        doc = self._get_doc(org_id, WORKSPACES, workspace_id)
        return Workspace.model_validate(from_doc(doc)) if doc is not None else None

    def list_workspaces(self, org_id: str, q: WorkspaceQuery) -> list[Workspace]:
        from core.catalog.models import Workspace

        return [Workspace.model_validate(from_doc(d)) for d in self._page(org_id, WORKSPACES, {}, q.limit, q.offset)]

    _WORKSPACE_FIELDS = frozenset({"name", "path", "git_remote", "created_at", "updated_at"})

    def update_workspace(self, org_id: str, workspace_id: str, changes: Mapping[str, Any]) -> Workspace | None:
        from core.catalog.models import Workspace

        def run(txn: Any) -> Doc | None:
            doc = self._get_doc(org_id, WORKSPACES, workspace_id, txn)
            if doc is None:
                return None
            new = changed_doc(doc, self._WORKSPACE_FIELDS, changes, WORKSPACES)
            if "updated_at" not in changes:
                new["updated_ns"] = to_ns(datetime.now(UTC))
            new[ORDER_KEY] = newest_first_key(new["created_ns"], workspace_id)
            txn.set(self._ref(org_id, WORKSPACES, workspace_id), new)
            return new

        found = self._transact(run)
        return Workspace.model_validate(from_doc(found)) if found is not None else None

    def delete_workspace(self, org_id: str, workspace_id: str) -> bool:
        return self._delete_cascade(org_id, WORKSPACES, workspace_id)

    def workspace_stats(self, org_id: str, workspace_id: str) -> WorkspaceStats | None:
        from core.adapters.firestore.reads import query, query_in
        from core.catalog.models import WorkspaceStats

        ws = self._get_doc(org_id, WORKSPACES, workspace_id)
        if ws is None:
            return None
        tasks = query(self.client, org_id, TASKS, {"workspace_id": workspace_id})
        agents = {a["agent_id"] for a in query_in(self.client, org_id, ASSIGNMENTS, "task_id",
                                                  [t["id"] for t in tasks])}
        n = len(tasks)
        return WorkspaceStats(
            id=ws["id"], name=ws["name"], path=ws["path"], task_count=n,
            total_cost=sum(t["total_cost_usd"] for t in tasks),
            total_tokens=sum(t["total_tokens_in"] + t["total_tokens_out"] for t in tasks),
            success_rate=sum(t["status"] == "completed" for t in tasks) / n if n else 0,
            unique_agents=len(agents),
            last_activity=from_ns(max((max(t["created_ns"], t["started_ns"] or 0, t["completed_ns"] or 0)
                                       for t in tasks), default=None)),
        )

    # -- tasks ---------------------------------------------------------------------------------------------
    def _check_task_refs(self, org_id: str, fields: Mapping[str, Any], txn: Any) -> None:
        ws = fields.get("workspace_id")
        if ws is not None and self._get_doc(org_id, WORKSPACES, ws, txn) is None:
            raise MissingReference("workspace_id", ws)
        parent = fields.get("parent_task_id")
        if parent is not None and self._get_doc(org_id, TASKS, parent, txn) is None:
            raise MissingReference("parent_task_id", parent)

    def create_task(self, org_id: str, task: Task) -> Task:
        from core.catalog.models import Task

        fields = task.model_dump()
        doc = to_doc(org_id, fields)
        doc[ORDER_KEY] = newest_first_key(doc["created_ns"], task.id)
        created = Task.model_validate(from_doc(doc))

        def run(txn: Any) -> None:
            self._check_task_refs(org_id, fields, txn)
            if self._get_doc(org_id, TASKS, task.id, txn) is not None:
                raise DuplicateId(f"task {task.id!r} already exists")
            txn.set(self._ref(org_id, TASKS, task.id), doc)
            self._put_events(txn, org_id, events.task_created(created))

        self._transact(run)
        return created

    def get_task(self, org_id: str, task_id: str) -> Task | None:
        from core.catalog.models import Task

        doc = self._get_doc(org_id, TASKS, task_id)
        return Task.model_validate(from_doc(doc)) if doc is not None else None

    def list_tasks(self, org_id: str, q: TaskQuery) -> list[Task]:
        from core.catalog.models import Task

        eq = {"workspace_id": q.workspace_id, "status": q.status, "source_type": q.source_type,
              "parent_task_id": q.parent_task_id}
        return [Task.model_validate(from_doc(d)) for d in self._page(org_id, TASKS, eq, q.limit, q.offset)]

    _TASK_FIELDS = frozenset({
        "workspace_id", "parent_task_id", "title", "description", "source_type", "source_ref", "status",
        "priority", "created_at", "started_at", "completed_at",
    })

    def update_task(self, org_id: str, task_id: str, changes: Mapping[str, Any]) -> Task | None:
        from core.catalog.models import Task

        def run(txn: Any) -> Task | None:
            doc = self._get_doc(org_id, TASKS, task_id, txn)
            if doc is None:
                return None
            self._check_task_refs(org_id, changes, txn)
            new = changed_doc(doc, self._TASK_FIELDS, changes, TASKS)
            new[ORDER_KEY] = newest_first_key(new["created_ns"], task_id)
            updated = Task.model_validate(from_doc(new))
            if changes:
                txn.set(self._ref(org_id, TASKS, task_id), new)
                self._put_events(txn, org_id, events.task_changed(doc["status"], updated))
            return updated

        return self._transact(run)

    def delete_task(self, org_id: str, task_id: str) -> bool:
        def deleted(txn: Any, doc: Doc) -> None:
            self._put_events(txn, org_id, events.task_deleted(task_id, doc.get("workspace_id")))

        return self._delete_cascade(org_id, TASKS, task_id, deleted)

    def task_timeline(self, org_id: str, task_id: str, limit: int = 1000, offset: int = 0
                      ) -> list[TimelineEntry]:
        from core.adapters.firestore.reads import query
        from core.catalog.models import TimelineEntry

        task = self._get_doc(org_id, TASKS, task_id)
        if task is None:
            return []
        head = {"task_id": task_id, "title": task["title"], "status": task["status"]}
        # Ties on start time fall to the document id ({trace_id}:{span_id}), as the SQLite order does.
        spans = query(self.client, org_id, layout.SPANS, {"task_id": task_id}, order=("start_ns", "ASCENDING"),
                      limit=limit, offset=offset)
        if not spans:  # the seed view's left join: one span-less row for a task without spans
            return [TimelineEntry.model_validate(head)] if offset == 0 and limit > 0 else []
        return [TimelineEntry.model_validate({
            **head, "span_id": s["span_id"], "trace_id": s["trace_id"], "span_name": s["name"],
            "start_time": from_ns(s["start_ns"]), "end_time": from_ns(s["end_ns"]),
            "duration_ms": round(s["duration_ms"]) if s["duration_ms"] is not None else None,
            "span_status": s["status"], "tokens_in": s["tokens_in"], "tokens_out": s["tokens_out"],
            "cost_usd": s["cost_usd"], "provider": s["provider"]}) for s in spans]

    def _task_totals(self, org_id: str, task_id: str) -> dict[str, Any]:
        """span_count, error_count and the sums over the task's spans, by aggregation queries."""
        spans = self._query(org_id, layout.SPANS, {"task_id": task_id})
        agg = (spans.count(alias="n").sum("duration_ms", alias="d").sum("tokens_in", alias="ti")
               .sum("tokens_out", alias="to").sum("cost_usd", alias="c"))
        r = {a.alias: a.value for a in agg.get()[0]}
        errors = self._query(org_id, layout.SPANS, {"task_id": task_id, "status": "error"}).count(alias="n")
        return {"span_count": int(r["n"]), "error_count": int(errors.get()[0][0].value),
                "total_duration_ms": sql_round(float(r["d"] or 0)), "total_tokens_in": int(r["ti"] or 0),
                "total_tokens_out": int(r["to"] or 0), "total_cost_usd": float(r["c"] or 0)}

    def _assignment_totals(self, org_id: str, assignment_id: str) -> dict[str, Any]:
        """duration, tokens, cost, tool_calls and turns over an assignment's spans, by aggregation queries on
        the spans' stored fields (layout.span_roles marks tool spans and turns when a span is written)."""
        eq = {"assignment_id": assignment_id}
        agg = (self._query(org_id, layout.SPANS, eq).sum("duration_ms", alias="d").sum("tokens_in", alias="ti")
               .sum("tokens_out", alias="to").sum("cost_usd", alias="c"))
        r = {a.alias: a.value for a in agg.get()[0]}

        def count(role: str) -> int:
            return int(self._query(org_id, layout.SPANS, {**eq, role: True}).count(alias="n").get()[0][0].value)

        return {"duration_ms": sql_round(float(r["d"] or 0)), "tokens_in": int(r["ti"] or 0),
                "tokens_out": int(r["to"] or 0), "cost_usd": float(r["c"] or 0), "tool_calls": count("tool_span"),
                "turns": count("turn_span")}

    def recalculate_task(self, org_id: str, task_id: str) -> Task | None:
        from core.catalog.models import Task

        if self._get_doc(org_id, TASKS, task_id) is None:
            return None
        totals = self._task_totals(org_id, task_id)

        def run(txn: Any) -> Task | None:
            doc = self._get_doc(org_id, TASKS, task_id, txn)
            if doc is None:
                return None
            new = {**doc, **totals, "agent_count": self._agent_count(org_id, task_id, txn, {})}
            if any(new[k] != doc.get(k) for k in events.TASK_TOTALS):
                txn.set(self._ref(org_id, TASKS, task_id), new)
                # a recompute that changed nothing (a redelivery) appends nothing
                self._put_events(txn, org_id, events.task_metrics_updated(
                    task_id, new.get("workspace_id"), {k: new[k] for k in events.TASK_TOTALS}))
            return Task.model_validate(from_doc(new))

        return self._transact(run)

    # -- agent assignments -----------------------------------------------------------------------------------
    def _set_agent_count(self, txn: Any, org_id: str, task_id: str, task: Doc | None, count: int) -> None:
        if task is not None and task.get("agent_count") != count:
            txn.update(self._ref(org_id, TASKS, task_id), {"agent_count": count})

    def create_assignment(self, org_id: str, a: AgentAssignment) -> AgentAssignment:
        from core.catalog.models import AgentAssignment

        doc = to_doc(org_id, a.model_dump())
        created = AgentAssignment.model_validate(from_doc(doc))

        def run(txn: Any) -> None:
            task = self._get_doc(org_id, TASKS, a.task_id, txn)
            if task is None:
                raise MissingReference("task_id", a.task_id)
            if self._get_doc(org_id, ASSIGNMENTS, a.id, txn) is not None:
                raise DuplicateId(f"agent assignment {a.id!r} already exists")
            count = self._agent_count(org_id, a.task_id, txn, {a.id: doc})
            txn.set(self._ref(org_id, ASSIGNMENTS, a.id), doc)
            self._set_agent_count(txn, org_id, a.task_id, task, count)
            self._put_events(txn, org_id, events.agent_assigned(created, task.get("workspace_id")))

        self._transact(run)
        return created

    def get_assignment(self, org_id: str, assignment_id: str) -> AgentAssignment | None:
        from core.catalog.models import AgentAssignment

        doc = self._get_doc(org_id, ASSIGNMENTS, assignment_id)
        return AgentAssignment.model_validate(from_doc(doc)) if doc is not None else None

    def list_task_assignments(self, org_id: str, task_id: str) -> list[AgentAssignment]:
        from core.adapters.firestore.reads import query
        from core.catalog.models import AgentAssignment

        docs = sorted(query(self.client, org_id, ASSIGNMENTS, {"task_id": task_id}),
                      key=lambda d: (d["assigned_ns"], d["id"]))
        return [AgentAssignment.model_validate(from_doc(d)) for d in docs]

    _ASSIGNMENT_FIELDS = frozenset({
        "agent_id", "provider", "status", "assigned_at", "started_at", "completed_at", "parent_assignment_id",
    })

    def update_assignment(self, org_id: str, assignment_id: str, changes: Mapping[str, Any]
                          ) -> AgentAssignment | None:
        from core.catalog.models import AgentAssignment

        def run(txn: Any) -> AgentAssignment | None:
            doc = self._get_doc(org_id, ASSIGNMENTS, assignment_id, txn)
            if doc is None:
                return None
            new = changed_doc(doc, self._ASSIGNMENT_FIELDS, changes, ASSIGNMENTS)
            task = self._get_doc(org_id, TASKS, doc["task_id"], txn)
            count = self._agent_count(org_id, doc["task_id"], txn, {assignment_id: new})
            txn.set(self._ref(org_id, ASSIGNMENTS, assignment_id), new)
            self._set_agent_count(txn, org_id, doc["task_id"], task, count)
            updated = AgentAssignment.model_validate(from_doc(new))
            self._put_events(txn, org_id, events.agent_changed(doc["status"], updated,
                                                               task.get("workspace_id") if task else None))
            return updated

        return self._transact(run)

    def delete_assignment(self, org_id: str, assignment_id: str) -> bool:
        def run(txn: Any) -> bool:
            doc = self._get_doc(org_id, ASSIGNMENTS, assignment_id, txn)
            if doc is None:
                return False
            task = self._get_doc(org_id, TASKS, doc["task_id"], txn)
            count = self._agent_count(org_id, doc["task_id"], txn, {assignment_id: None})
            txn.delete(self._ref(org_id, ASSIGNMENTS, assignment_id))
            self._set_agent_count(txn, org_id, doc["task_id"], task, count)
            return True

        return self._transact(run)

    def agent_stats(self, org_id: str, agent_id: str) -> AgentStats | None:
        from core.adapters.firestore.reads import query
        from core.catalog.models import AgentStats

        docs = query(self.client, org_id, ASSIGNMENTS, {"agent_id": agent_id})
        if not docs:
            return None
        n = len(docs)
        latest = max(docs, key=lambda d: (d["assigned_ns"], d["id"]))
        return AgentStats(
            agent_id=agent_id, provider=latest["provider"], execution_count=n,
            total_duration_ms=sum(d["duration_ms"] for d in docs),
            avg_duration_ms=sum(d["duration_ms"] for d in docs) / n,
            total_tokens_in=sum(d["tokens_in"] for d in docs), total_tokens_out=sum(d["tokens_out"] for d in docs),
            total_cost=sum(d["cost_usd"] for d in docs), total_tool_calls=sum(d["tool_calls"] for d in docs),
            success_rate=sum(d["status"] == "completed" for d in docs) / n,
        )

    def recalculate_assignment(self, org_id: str, assignment_id: str) -> AgentAssignment | None:
        from core.catalog.models import AgentAssignment

        if self._get_doc(org_id, ASSIGNMENTS, assignment_id) is None:
            return None
        totals = self._assignment_totals(org_id, assignment_id)

        def run(txn: Any) -> AgentAssignment | None:
            doc = self._get_doc(org_id, ASSIGNMENTS, assignment_id, txn)
            if doc is None:
                return None
            new = {**doc, **totals}
            if new != doc:
                txn.set(self._ref(org_id, ASSIGNMENTS, assignment_id), new)
            return AgentAssignment.model_validate(from_doc(new))

        return self._transact(run)

    # -- inbox messages --------------------------------------------------------------------------------------
    def create_message(self, org_id: str, m: Message) -> Message:
        from core.catalog.models import Message

        doc = to_doc(org_id, m.model_dump())
        doc[ORDER_KEY] = newest_first_key(doc["created_ns"], m.id)
        created = Message.model_validate(from_doc(doc))

        def run(txn: Any) -> None:
            workspace = self._task_workspace(org_id, m.task_id, txn)
            if self._get_doc(org_id, MESSAGES, m.id, txn) is not None:
                raise DuplicateId(f"message {m.id!r} already exists")
            txn.set(self._ref(org_id, MESSAGES, m.id), doc)
            self._put_events(txn, org_id, events.message_created(created, workspace))

        self._transact(run)
        return created

    def get_message(self, org_id: str, message_id: str) -> Message | None:
        from core.catalog.models import Message

        doc = self._get_doc(org_id, MESSAGES, message_id)
        return Message.model_validate(from_doc(doc)) if doc is not None else None

    def list_messages(self, org_id: str, q: MessageQuery) -> list[Message]:
        from core.catalog.models import Message

        eq = {"inbox": q.inbox, "status": q.status, "from_agent": q.from_agent, "task_id": q.task_id}
        return [Message.model_validate(from_doc(d)) for d in self._page(org_id, MESSAGES, eq, q.limit, q.offset)]

    _MESSAGE_FIELDS = frozenset({
        "task_id", "inbox", "from_agent", "title", "content", "message_type", "status", "priority",
        "github_issue_number", "github_repo", "correlation_id", "reply_to_id", "created_at", "read_at",
        "archived_at", "content_hash",
    })

    def _change_message(self, org_id: str, message_id: str, change: Callable[[Doc], Doc]) -> Message | None:
        from core.catalog.models import Message

        def run(txn: Any) -> Message | None:
            doc = self._get_doc(org_id, MESSAGES, message_id, txn)
            if doc is None:
                return None
            new = change(doc)
            new[ORDER_KEY] = newest_first_key(new["created_ns"], message_id)
            m = Message.model_validate(from_doc(new))
            workspace = self._task_workspace(org_id, m.task_id, txn)
            txn.set(self._ref(org_id, MESSAGES, message_id), new)
            self._put_events(txn, org_id, events.message_changed(doc["status"], m, workspace))
            return m

        return self._transact(run)

    def update_message(self, org_id: str, message_id: str, changes: Mapping[str, Any]) -> Message | None:
        return self._change_message(
            org_id, message_id, lambda doc: changed_doc(doc, self._MESSAGE_FIELDS, changes, MESSAGES))

    def delete_message(self, org_id: str, message_id: str) -> bool:
        def run(txn: Any) -> bool:
            if self._get_doc(org_id, MESSAGES, message_id, txn) is None:
                return False
            txn.delete(self._ref(org_id, MESSAGES, message_id))
            return True

        return self._transact(run)

    def set_message_status(self, org_id: str, message_id: str, status: MessageStatus, at: datetime
                           ) -> Message | None:
        ns = to_ns(at)

        def change(doc: Doc) -> Doc:
            new = {**doc, "status": status}
            if status == "read" and new.get("read_ns") is None:
                new["read_ns"] = ns
            if status == "archived" and new.get("archived_ns") is None:
                new["archived_ns"] = ns
            return new

        return self._change_message(org_id, message_id, change)
