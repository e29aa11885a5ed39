"""FirestoreErasure: purge_session on Firestore, read and deleted in a transaction with its outbox notice."""

from __future__ import annotations

import time
from typing import Any

from core.adapters.firestore import layout
from core.adapters.firestore.indexes import QueryShape
from core.ports.erasure import PURGED_TABLES, ErasureStore, PurgeNotice

_MAX_WRITES = 500  # writes per commit
_IN_LIMIT = 30  # Firestore's cap on the values of one `in` filter
# Span-id lookup documents (the span views area's find_span index) named by the erased spans, if that area keeps
# any: orgs/{org}/span_ids/{span_id}:{trace_id}. Deleting a missing document is a no-op.
SPAN_IDS = "span_ids"


class FirestoreErasure(ErasureStore):
    client: Any

    def purge_session(self, org_id: str, session_id: str, notice: PurgeNotice | None = None) -> dict[str, int]:
        """Everything is read and deleted in one transaction when it fits one commit (the usual case); a larger
        session is erased over several, each re-reading what is left, and the notice goes with the last one, so a
        crash part way leaves facts a retried purge finishes erasing."""
        from google.cloud import firestore

        client = self.client
        counts = dict.fromkeys(PURGED_TABLES, 0)
        traces: set[str] = set()
        tasks: set[str] = set()
        while True:
            result: dict[str, Any] = {}

            @firestore.transactional
            def run(txn: Any, result: dict[str, Any] = result) -> None:
                found = _session_docs(client, txn, org_id, session_id)
                result.clear()
                result["found"] = found
                span_docs = found["spans"]
                all_traces = traces | {d["trace_id"] for _, d in span_docs}
                all_tasks = tasks | {d["task_id"] for _, d in span_docs if d.get("task_id")}
                total = sum(len(v) for v in found.values())
                if total == 0:
                    result["done"] = True
                    return
                # Calls and tool calls go before the spans they were found through (a later pass finds the
                # rest); the session and its link last.
                ordered = [(t, ref, d) for t in ("llm_calls", "tool_calls", "events", "metric_points", "spans",
                                                  "sessions", "session_links") for ref, d in found[t]]
                final = total + 2 * len(span_docs) <= _MAX_WRITES - 10  # room left for the notice's messages
                chunk = ordered if final else ordered[:_MAX_WRITES // 2]
                taken = dict.fromkeys(PURGED_TABLES, 0)
                for table, ref, d in chunk:
                    txn.delete(ref)
                    taken[table] += 1
                    if table == "spans":
                        txn.delete(client.document(layout.org_path(org_id, SPAN_IDS, d["span_id"], d["trace_id"])))
                result["taken"] = taken
                result["done"] = final
                if final and notice is not None:
                    totals = {t: counts[t] + taken[t] for t in PURGED_TABLES}
                    now = time.time_ns()
                    for topic, payload in notice(sorted(all_traces), sorted(all_tasks), totals):
                        message_id = layout.sequence_id()
                        txn.set(client.document(layout.outbox_path(message_id)),
                                {"id": message_id, "topic": topic, "payload": payload, "created_ns": now})

            run(client.transaction(max_attempts=10))
            for _, d in result["found"]["spans"]:
                traces.add(d["trace_id"])
                if d.get("task_id"):
                    tasks.add(d["task_id"])
            for t, n in result.get("taken", {}).items():
                counts[t] += n
            if result["done"]:
                return counts


def _session_docs(client: Any, txn: Any, org_id: str, session_id: str) -> dict[str, list[tuple[Any, Any]]]:
    """The session's documents per table, read in the transaction: by session id, and the calls and tool calls
    recorded by the session's spans (stored before their session id was known)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    from core.adapters.firestore import reads

    def col(collection: str) -> Any:
        return client.collection(f"orgs/{layout.part(org_id) or '~'}/{collection}")

    def by_session(collection: str) -> list[tuple[Any, Any]]:
        reads.RECORDED_SHAPES.add(QueryShape(collection, ("session_id",), None))
        q = col(collection).where(filter=FieldFilter("session_id", "==", session_id))
        return [(s.reference, s.to_dict()) for s in txn.get(q)]

    out: dict[str, list[tuple[Any, Any]]] = {}
    for table in ("spans", "llm_calls", "tool_calls", "events", "metric_points"):
        out[table] = by_session(table)
    span_keys = {(d["trace_id"], d["span_id"]) for _, d in out["spans"]}
    trace_ids = sorted({t for t, _ in span_keys})
    for table in ("llm_calls", "tool_calls"):
        seen = {ref.path for ref, _ in out[table]}
        for i in range(0, len(trace_ids), _IN_LIMIT):
            reads.RECORDED_SHAPES.add(QueryShape(table, ("trace_id",), None))
            q = col(table).where(filter=FieldFilter("trace_id", "in", trace_ids[i:i + _IN_LIMIT]))
            for s in txn.get(q):
                d = s.to_dict()
                if (d.get("trace_id"), d.get("span_id")) in span_keys and s.reference.path not in seen:
                    seen.add(s.reference.path)
                    out[table].append((s.reference, d))
    for table in ("sessions", "session_links"):
        ref = client.document(layout.org_path(org_id, table, session_id))
        snap = ref.get(transaction=txn)
        out[table] = [(ref, snap.to_dict())] if snap.exists else []
    return out
