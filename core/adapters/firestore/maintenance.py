"""FirestoreMaintenance: retention deletes per kind in chunks, document-count health, outbox dead letters."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from core.adapters.firestore import layout
from core.adapters.firestore.indexes import QueryShape
from core.ports.maintenance import (
    EVENTS,
    HEALTH_OK,
    LLM_CALLS,
    MESSAGES,
    METRIC_POINTS,
    SESSIONS,
    SPANS,
    TOOL_CALLS,
    MaintenanceStore,
    StoreHealth,
)

if TYPE_CHECKING:
    from core.ports.maintenance import DeadLetter

# Top level, like the outbox (which carries no org): {id:020d}.
DEAD_LETTERS = "outbox_dead_letters"
# kind -> (collection, time field). Documents with no time (a tool call only ever seen by its id) are kept:
# a range filter never matches a null.
_TTL_FIELDS: dict[str, tuple[str, str]] = {
    SPANS: (layout.SPANS, "start_ns"),
    METRIC_POINTS: (layout.METRIC_POINTS, "time_ns"),
    EVENTS: (layout.EVENTS, "time_ns"),
    SESSIONS: (layout.SESSIONS, "last_seen_ns"),
    LLM_CALLS: (layout.LLM_CALLS, "time_ns"),
    TOOL_CALLS: (layout.TOOL_CALLS, "time_ns"),
    MESSAGES: ("messages", "created_ns"),
}
_BATCH = 500  # Firestore's writes per batched write
_MOVE_CHUNK = 200  # messages moved per transaction (two writes each)
# Collections health counts: every org's facts and entities, plus the global queues.
_COUNTED = (*layout.FACT_COLLECTIONS, *layout.ENTITY_COLLECTIONS)


def _dead_letter_path(letter_id: int) -> str:
    return f"{DEAD_LETTERS}/{letter_id:020d}"


class FirestoreMaintenance(MaintenanceStore):
    """Retention org by org (a per-org range on one field is served by the automatic single-field index), health
    as document counts (Firestore has no files to measure), dead letters as top-level documents."""

    client: Any

    # -- retention --------------------------------------------------------------------------------
    def delete_expired(self, kind: str, cutoff_ns: int, chunk: int = 5000) -> int:
        from google.cloud.firestore_v1.base_query import FieldFilter

        from core.adapters.firestore import reads

        if kind not in _TTL_FIELDS:
            raise ValueError(f"unknown retention kind {kind!r}")
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        collection, field = _TTL_FIELDS[kind]
        reads.RECORDED_SHAPES.add(QueryShape(collection, (), (field, "ASCENDING")))
        deleted = 0
        for org_ref in self.client.collection("orgs").list_documents():
            q = org_ref.collection(collection).where(filter=FieldFilter(field, "<", cutoff_ns)).order_by(field) \
                .limit(chunk)
            while True:
                snaps = list(q.stream())
                if not snaps:
                    break
                self._delete_refs([s.reference for s in snaps])
                if kind == SESSIONS:
                    # A link of a session that is gone would re-attach a future session of the same id.
                    self._delete_refs([org_ref.collection(layout.SESSION_LINKS).document(s.id) for s in snaps])
                elif kind == SPANS:
                    self._drop_empty_traces(org_ref, {s.to_dict()["trace_id"] for s in snaps})
                deleted += len(snaps)
                if len(snaps) < chunk:
                    break
        return deleted

    def _delete_refs(self, refs: list[Any]) -> None:
        for i in range(0, len(refs), _BATCH):
            batch = self.client.batch()
            for ref in refs[i:i + _BATCH]:
                batch.delete(ref)
            batch.commit()

    def _drop_empty_traces(self, org_ref: Any, trace_ids: set[str]) -> None:
        """A trace document (its start, for the trace list) goes with the last of its spans."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        from core.adapters.firestore import reads

        reads.RECORDED_SHAPES.add(QueryShape(layout.SPANS, ("trace_id",), None))
        empty = [t for t in sorted(trace_ids) if not list(
            org_ref.collection(layout.SPANS).where(filter=FieldFilter("trace_id", "==", t)).limit(1).stream())]
        self._delete_refs([org_ref.collection(layout.TRACES).document(layout.doc_id(t)) for t in empty])

    def health(self) -> StoreHealth:
        """Document counts per collection (aggregation queries: nothing is read or changed)."""
        counts: dict[str, int] = {}
        for collection in _COUNTED:
            counts[collection] = self._count(self.client.collection_group(collection))
        for collection in (layout.OUTBOX, DEAD_LETTERS):
            counts[collection] = self._count(self.client.collection(collection))
        total = sum(counts.values())
        return StoreHealth(backend="firestore", status=HEALTH_OK,
                           message=f"{total} documents; retention runs on schedule and TTL policies",
                           counts=counts)

    @staticmethod
    def _count(q: Any) -> int:
        return int(q.count().get()[0][0].value)

    # -- outbox dead letters ----------------------------------------------------------------------
    def record_outbox_failure(self, ids: list[int], reason: str, max_attempts: int) -> int:
        moved = 0
        for i in range(0, len(ids), _MOVE_CHUNK):
            moved += self._move(ids[i:i + _MOVE_CHUNK], reason, max_attempts)
        return moved

    def dead_letter_outbox(self, ids: list[int], reason: str) -> int:
        moved = 0
        for i in range(0, len(ids), _MOVE_CHUNK):
            moved += self._move(ids[i:i + _MOVE_CHUNK], reason, None)
        return moved

    def _move(self, ids: list[int], reason: str, max_attempts: int | None) -> int:
        """Count a failure on each message (``max_attempts`` given) and move the spent ones, or move them all; one
        transaction, so a message is in exactly one of the outbox and the dead letters."""
        from google.cloud import firestore

        if not ids:
            return 0
        client = self.client
        refs = [client.document(layout.outbox_path(i)) for i in ids]

        @firestore.transactional
        def run(txn: Any) -> int:
            snaps = [s for s in txn.get_all(refs) if s.exists]
            now = time.time_ns()
            moved = 0
            for snap in snaps:
                doc = snap.to_dict()
                attempts = int(doc.get("attempts", 0)) + (1 if max_attempts is not None else 0)
                if max_attempts is not None and attempts < max_attempts:
                    txn.update(snap.reference, {"attempts": attempts})
                    continue
                letter_id = layout.sequence_id()
                txn.set(client.document(_dead_letter_path(letter_id)), {
                    "id": letter_id, "outbox_id": doc["id"], "topic": doc["topic"], "payload": doc["payload"],
                    "enqueued_ns": doc["created_ns"], "attempts": attempts, "reason": reason, "failed_ns": now})
                txn.delete(snap.reference)
                moved += 1
            return moved

        return int(run(client.transaction(max_attempts=10)))

    def list_dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        from core.ports.maintenance import DeadLetter

        snaps = self.client.collection(DEAD_LETTERS).order_by("id").offset(offset).limit(limit).stream()
        return [DeadLetter(d["id"], d["topic"], bytes(d["payload"]), d["reason"], d["attempts"], d["enqueued_ns"],
                           d["failed_ns"]) for d in (s.to_dict() for s in snaps)]

    def dead_letter_count(self) -> int:
        return self._count(self.client.collection(DEAD_LETTERS))

    def replay_dead_letters(self, ids: list[int] | None = None) -> int:
        if ids is not None:
            return sum(self._replay(ids[i:i + _MOVE_CHUNK]) for i in range(0, len(ids), _MOVE_CHUNK))
        replayed = 0
        while True:
            page = [int(s.to_dict()["id"]) for s in
                    self.client.collection(DEAD_LETTERS).order_by("id").limit(_MOVE_CHUNK).stream()]
            if not page:
                return replayed
            replayed += self._replay(page)

    def _replay(self, ids: list[int]) -> int:
        from google.cloud import firestore

        if not ids:
            return 0
        client = self.client
        refs = [client.document(_dead_letter_path(i)) for i in sorted(ids)]

        @firestore.transactional
        def run(txn: Any) -> int:
            snaps = [s for s in txn.get_all(refs) if s.exists]
            # get_all answers in any order: re-enqueue in dead-letter order.
            docs = sorted(((s.reference, s.to_dict()) for s in snaps), key=lambda rd: rd[1]["id"])
            now = time.time_ns()
            for ref, doc in docs:
                message_id = layout.sequence_id()
                txn.set(client.document(layout.outbox_path(message_id)), {
                    "id": message_id, "topic": doc["topic"], "payload": doc["payload"], "created_ns": now})
                txn.delete(ref)
            return len(docs)

        return int(run(client.transaction(max_attempts=10)))

    # -- ops counters -----------------------------------------------------------------------------
    def oldest_outbox_ns(self) -> int | None:
        docs = list(self.client.collection(layout.OUTBOX).order_by("id").limit(1).stream())
        return None if not docs else int(docs[0].to_dict()["created_ns"])

    def rejection_counts(self, org_id: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for snap in self.client.collection(f"orgs/{layout.part(org_id) or '~'}/{layout.REJECTIONS}").stream():
            d = snap.to_dict()
            out[d["key"]] = out.get(d["key"], 0) + int(d["count"])
        return dict(sorted(out.items()))
