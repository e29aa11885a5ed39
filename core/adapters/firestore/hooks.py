"""FirestoreHooks: the hooks API area on Firestore (sessions, tool calls, links, session events, notices)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from core.adapters.firestore import layout
from core.adapters.firestore.indexes import QueryShape
from core.ports.hooks import HookStore

if TYPE_CHECKING:  # the records load with the first hook (local imports below), not with the Store
    from core.ports.hook_records import HookNotice, HookOutcome, HookRecord, HookSession, ToolEnd, ToolStart

Doc = dict[str, Any]
_MAX_WRITES = 500  # Firestore's writes per commit
# Hooks add to the telemetry documents (sessions, tool_calls, events) rather than keeping their own, so erasing
# a session erases what hooks told. The chain, stage and message a session was started for are `linked_*`.
_SESSION_FILL = ("service_name", "user_id", "user_email", "account_org", "app_version", "terminal_type")
_TOOL_FIELDS = ("session_id", "tool_name", "time_ns", "duration_ms", "success", "error", "decision",
                "decision_source", "approval_wait_ms", "tool_input", "tool_result", "trace_id", "span_id", "end_ns")


def _merge_session(old: Doc | None, hook: HookRecord, org_id: str, retention: dict[str, int]) -> Doc:
    """The session as the hook leaves it (the SQLite adapter's upsert, field by field)."""
    at, links = hook.time_ns, hook.links
    models = [hook.model] if hook.model else []
    if old is None:
        doc: Doc = {"org_id": org_id, "session_id": hook.session_id, "first_seen_ns": at, "last_seen_ns": at,
                    "source_type": "claude_code", "workspace": hook.workspace or None, "models": models,
                    **dict.fromkeys(_SESSION_FILL), "rollup": None, "rollup_ns": None,
                    "transcript_path": hook.transcript_path, "start_source": hook.start_source,
                    "linked_chain_id": links.chain_id, "linked_stage_id": links.stage_id,
                    "linked_message_id": links.message_id, "ended_ns": None, "end_reason": None,
                    layout.TTL_FIELD: layout.expire_at(layout.SESSIONS, retention)}
    else:
        doc = dict(old)
        doc["first_seen_ns"] = min(old["first_seen_ns"], at)
        doc["last_seen_ns"] = max(old["last_seen_ns"], at)
        if old.get("source_type") == "other":
            doc["source_type"] = "claude_code"
        # The first workspace, transcript path and start source stay (a later `cwd` is wherever the agent went).
        doc["workspace"] = old.get("workspace") or hook.workspace or None
        doc["transcript_path"] = old.get("transcript_path") or hook.transcript_path
        doc["start_source"] = old.get("start_source") or hook.start_source
        # The latest correlation ids win; a chain comes with its stage, or none.
        doc["linked_chain_id"] = links.chain_id or old.get("linked_chain_id")
        doc["linked_stage_id"] = links.stage_id if links.chain_id is not None else (
            links.stage_id or old.get("linked_stage_id"))
        doc["linked_message_id"] = links.message_id or old.get("linked_message_id")
        if models:
            doc["models"] = sorted(set(old.get("models") or []) | set(models))
        fresh = layout.expire_at(layout.SESSIONS, retention)
        doc[layout.TTL_FIELD] = max(old.get(layout.TTL_FIELD) or fresh, fresh)
    ended = doc.get("ended_ns")
    if hook.starts_session and ended is not None and ended < at:  # a resumed session is open again
        doc["ended_ns"], doc["end_reason"] = None, None
    if hook.ends_session:
        ended = doc.get("ended_ns")
        if ended is None or ended <= at:
            doc["end_reason"] = hook.end_reason
        doc["ended_ns"] = max(ended or 0, at)
    return doc


def _new_tool(org_id: str, tool_use_id: str, retention: dict[str, int], **fields: Any) -> Doc:
    return {"org_id": org_id, "tool_use_id": tool_use_id, **dict.fromkeys(_TOOL_FIELDS), **fields,
            layout.TTL_FIELD: layout.expire_at(layout.TOOL_CALLS, retention)}


def _start_tool(old: Doc | None, org_id: str, hook: HookRecord, tool: ToolStart, retention: dict[str, int]) -> Doc:
    """The earliest start wins; a start never clears what an end filled; the duration once both are known."""
    at = hook.time_ns
    if old is None:
        return _new_tool(org_id, tool.tool_use_id, retention, session_id=hook.session_id,
                         tool_name=tool.tool_name, time_ns=at, tool_input=tool.tool_input)
    doc = dict(old)
    doc["session_id"] = old.get("session_id") or hook.session_id
    doc["tool_name"] = old.get("tool_name") or tool.tool_name
    if old.get("time_ns") is None or at < old["time_ns"]:
        doc["time_ns"] = at
    doc["tool_input"] = tool.tool_input if tool.tool_input is not None else old.get("tool_input")
    end_ns = old.get("end_ns")
    if old.get("duration_ms") is None and end_ns is not None and end_ns >= at:
        doc["duration_ms"] = (end_ns - at) / 1e6
    return doc


def _end_tool(old: Doc | None, org_id: str, tool_use_id: str, hook: HookRecord, tool: ToolEnd,
              retention: dict[str, int]) -> Doc:
    """An end without a known start takes the end as its start time; a duration another source measured stays."""
    at = hook.time_ns
    if old is None:
        return _new_tool(org_id, tool_use_id, retention, session_id=hook.session_id, tool_name=tool.tool_name,
                         time_ns=at, tool_input=tool.tool_input, tool_result=tool.tool_result,
                         success=tool.success, error=tool.error, end_ns=at)
    doc = dict(old)
    doc["session_id"] = old.get("session_id") or hook.session_id
    doc["tool_name"] = old.get("tool_name") or tool.tool_name
    doc["time_ns"] = old["time_ns"] if old.get("time_ns") is not None else at
    doc["tool_input"] = old["tool_input"] if old.get("tool_input") is not None else tool.tool_input
    doc["tool_result"] = tool.tool_result if tool.tool_result is not None else old.get("tool_result")
    doc["success"] = tool.success
    doc["error"] = tool.error if tool.error is not None else old.get("error")
    doc["end_ns"] = at
    if old.get("duration_ms") is None and old.get("time_ns") is not None and old["time_ns"] <= at:
        doc["duration_ms"] = (at - old["time_ns"]) / 1e6
    return doc


def _span_changes(spans: list[Doc], hook: HookRecord, before: Doc | None, after: Doc,
                  link_task: bool) -> tuple[dict[str, Doc], list[str], int]:
    """Per span document path, the fields the hook gives it (only fields it has none of); the tasks linked; the
    span updates counted as the SQLite adapter counts them (one per span per kind of link)."""
    changes: dict[str, Doc] = {}
    tasks: list[str] = []
    updates = [0]

    def give(span: Doc, fields: Doc) -> None:
        changes.setdefault(span["_path"], {}).update(fields)
        updates[0] += 1

    def current(span: Doc, field: str) -> Any:
        return changes.get(span["_path"], {}).get(field, span.get(field))

    task_id = hook.links.task_id
    if link_task and task_id:
        linked = [s for s in spans if current(s, "task_id") is None]
        for s in linked:
            give(s, {"task_id": task_id})
        if linked:
            tasks.append(task_id)
    chain, stage, message = after.get("linked_chain_id"), after.get("linked_stage_id"), after.get(
        "linked_message_id")
    old = (None, None, None) if before is None else (
        before.get("linked_chain_id"), before.get("linked_stage_id"), before.get("linked_message_id"))
    if (chain or stage) and (chain, stage) != old[:2]:
        # A chain and its stage go together: only spans linked to neither take the pair.
        for s in spans:
            if current(s, "chain_id") is None and current(s, "stage_id") is None:
                give(s, {"chain_id": chain, "stage_id": stage})
    if message and message != old[2]:
        for s in spans:
            if current(s, "message_id") is None:
                give(s, {"message_id": message})
    # Spans stored before the workspace was known get it now (an end re-checks, for spans that raced the first
    # hook); later ones get it at ingest, which looks the session up.
    workspace = after.get("workspace")
    if workspace and (before is None or not before.get("workspace") or hook.ends_session):
        for s in spans:
            if not current(s, "workspace"):
                give(s, {"workspace": workspace, "workspace_key": workspace})
    return changes, tasks, updates[0]


class FirestoreHooks(HookStore):
    """One transaction per hook: the replay check (the hook's session event, keyed by the hook's key), the
    session, the tool call, the link and the spans' back-fill are read first, then every write is made."""

    client: Any
    retention: dict[str, int]

    def record_hook(self, org_id: str, hook: HookRecord, notice: HookNotice | None = None) -> HookOutcome:
        from google.cloud import firestore

        from core.ports.hook_records import HookEffects, HookOutcome

        client = self.client
        sid = hook.session_id
        event_ref = client.document(layout.org_path(org_id, layout.EVENTS, hook.key))
        session_ref = client.document(layout.org_path(org_id, layout.SESSIONS, sid))
        link_ref = client.document(layout.org_path(org_id, layout.SESSION_LINKS, sid))
        overflow: dict[str, Doc] = {}

        @firestore.transactional
        def run(txn: Any) -> HookOutcome:
            overflow.clear()
            seen = event_ref.get(transaction=txn)
            if seen.exists:  # a replay: the hook's facts are all stored already
                seen_id = json.loads(seen.to_dict().get("attributes") or "{}").get("tool_use_id")
                return HookOutcome(True, seen_id if isinstance(seen_id, str) else None)
            snap = session_ref.get(transaction=txn)
            before = snap.to_dict() if snap.exists else None
            after = _merge_session(before, hook, org_id, self.retention)
            tool_use_id: str | None = None
            tool_doc: Doc | None = None
            if hook.tool_start is not None:
                tool_use_id = hook.tool_start.tool_use_id
                tool_doc = _start_tool(self._get(txn, org_id, layout.TOOL_CALLS, tool_use_id), org_id, hook,
                                       hook.tool_start, self.retention)
            if hook.tool_end is not None:
                end = hook.tool_end
                tool_use_id = end.tool_use_id or self._latest_unfinished(txn, org_id, sid, end.tool_name,
                                                                         hook.time_ns) or end.fallback_id
                old = tool_doc if tool_doc is not None and tool_doc["tool_use_id"] == tool_use_id else \
                    self._get(txn, org_id, layout.TOOL_CALLS, tool_use_id)
                tool_doc = _end_tool(old, org_id, tool_use_id, hook, end, self.retention)
            link = link_ref.get(transaction=txn)
            link_doc = link.to_dict() if link.exists else None
            task_id = hook.links.task_id
            link_task = bool(task_id) and (link_doc is None or link_doc.get("task_id") != task_id)
            changes: dict[str, Doc] = {}
            tasks: list[str] = []
            updated = 0
            if link_task or after.get("workspace") or after.get("linked_chain_id") or after.get(
                    "linked_stage_id") or after.get("linked_message_id"):
                spans = self._session_spans(txn, org_id, sid)
                changes, tasks, updated = _span_changes(spans, hook, before, after, link_task)
            # -- writes ---------------------------------------------------------------------------------------
            writes = 0
            txn.set(session_ref, after)
            if tool_doc is not None and tool_use_id is not None:
                txn.set(client.document(layout.org_path(org_id, layout.TOOL_CALLS, tool_use_id)), tool_doc)
            if link_task:
                txn.set(link_ref, {"org_id": org_id, "session_id": sid, "task_id": task_id,
                                   "assignment_id": (link_doc or {}).get("assignment_id"),
                                   layout.TTL_FIELD: layout.expire_at(layout.SESSION_LINKS, self.retention)})
            txn.set(event_ref, {
                "org_id": org_id, "event_key": hook.key, "name": hook.event_name, "dialect": "claude_code",
                "time_ns": hook.time_ns, "session_id": sid, "prompt_id": None, "trace_id": None, "span_id": None,
                "severity": None, "body": hook.event_body, "attributes": hook.stored_attributes(tool_use_id),
                "resource_attributes": "{}", layout.TTL_FIELD: layout.expire_at(layout.EVENTS, self.retention)})
            writes += 4
            for kind, n in sorted(hook.redactions.items()):
                txn.set(client.document(layout.org_path(org_id, layout.REDACTIONS, hook.key, kind)), {
                    "org_id": org_id, "request_digest": hook.key, "key": kind, "count": n,
                    layout.TTL_FIELD: layout.expire_at(layout.REDACTIONS, self.retention)})
                writes += 1
            if notice is not None:
                now = time.time_ns()
                for topic, payload in notice(HookEffects(sid, tasks, tool_use_id, updated)):
                    message_id = layout.sequence_id()
                    txn.set(client.document(layout.outbox_path(message_id)),
                            {"id": message_id, "topic": topic, "payload": payload, "created_ns": now})
                    writes += 1
            for path, fields in sorted(changes.items()):
                if writes < _MAX_WRITES:
                    txn.update(client.document(path), fields)
                    writes += 1
                else:
                    overflow[path] = fields
            return HookOutcome(False, tool_use_id, updated)

        outcome: HookOutcome = run(client.transaction(max_attempts=10))
        if overflow:
            self._fill_spans(overflow)
        return outcome

    def _get(self, txn: Any, org_id: str, collection: str, key: str) -> Doc | None:
        snap = self.client.document(layout.org_path(org_id, collection, key)).get(transaction=txn)
        return snap.to_dict() if snap.exists else None

    def _col(self, org_id: str, collection: str) -> Any:
        return self.client.collection(f"orgs/{layout.part(org_id) or '~'}/{collection}")

    def _latest_unfinished(self, txn: Any, org_id: str, session_id: str, tool_name: str, at: int) -> str | None:
        """The latest unfinished call of the tool in the session started no later than ``at``."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        from core.adapters.firestore import reads

        reads.RECORDED_SHAPES.add(QueryShape(layout.TOOL_CALLS, ("session_id", "tool_name"),
                                             ("time_ns", "ASCENDING")))
        q = self._col(org_id, layout.TOOL_CALLS).where(filter=FieldFilter("session_id", "==", session_id)) \
            .where(filter=FieldFilter("tool_name", "==", tool_name)) \
            .where(filter=FieldFilter("time_ns", "<=", at)).order_by("time_ns")
        open_calls = [d for d in (s.to_dict() for s in q.stream(transaction=txn))
                      if d.get("end_ns") is None and d.get("success") is None]
        if not open_calls:
            return None
        return str(max(open_calls, key=lambda d: (d["time_ns"], d["tool_use_id"]))["tool_use_id"])

    def _session_spans(self, txn: Any, org_id: str, session_id: str) -> list[Doc]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        from core.adapters.firestore import reads

        reads.RECORDED_SHAPES.add(QueryShape(layout.SPANS, ("session_id",), None))
        q = self._col(org_id, layout.SPANS).where(filter=FieldFilter("session_id", "==", session_id))
        return [{**s.to_dict(), "_path": s.reference.path} for s in q.stream(transaction=txn)]

    def _fill_spans(self, fields_by_path: dict[str, Doc]) -> None:
        """Spans beyond one commit's writes: filled in further transactions, each field only where still empty
        (so a concurrent link is never overwritten)."""
        from core.adapters.firestore.store import Writes

        writes = Writes(self.client)
        for path, fields in fields_by_path.items():
            writes.add(path, _fill_empty(fields))
        writes.commit()

    def hook_session(self, org_id: str, session_id: str) -> HookSession | None:
        from core.adapters.firestore.reads import get_docs
        from core.ports.hook_records import HookLinks, HookSession

        session_path = layout.org_path(org_id, layout.SESSIONS, session_id)
        link_path = layout.org_path(org_id, layout.SESSION_LINKS, session_id)
        docs = get_docs(self.client, [session_path, link_path])
        d = docs.get(session_path)
        if d is None:
            return None
        link = docs.get(link_path) or {}
        return HookSession(
            session_id=d["session_id"], first_seen_ns=d["first_seen_ns"], last_seen_ns=d["last_seen_ns"],
            workspace=d.get("workspace") or None, transcript_path=d.get("transcript_path"),
            start_source=d.get("start_source"), ended_ns=d.get("ended_ns"), end_reason=d.get("end_reason"),
            links=HookLinks(link.get("task_id"), d.get("linked_chain_id"), d.get("linked_stage_id"),
                            d.get("linked_message_id")),
        )


def _fill_empty(fields: Doc) -> Any:
    def merge(old: Doc | None) -> Doc | None:
        if old is None:
            return None
        out = dict(old)
        for f, v in fields.items():
            if f == "workspace_key":
                continue
            if not out.get(f):
                out[f] = v
                if f == "workspace":
                    out["workspace_key"] = v
        return out
    return merge
