"""FirestoreEventLog: the event log on Firestore (orgs/{org}/event_log), its per-org sequence, reads and retention."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.adapters.firestore import layout
from core.adapters.firestore.indexes import QueryShape
from core.normalise.jsontext import compact_json
from core.ports.event_log import EventLogStore

if TYPE_CHECKING:
    from core.event_feed import ChangeEventView
    from core.events import ChangeEvent

# Event numbers without a shared counter: each event gets a time-ordered id (layout.sequence_id: microseconds x
# 1000 + random digits, strictly increasing within a process) inside the transaction attempt that writes it, so
# no document is written by every appender of an org (a counter document caps an org at about one commit per
# second). Numbers then follow the clock, not the commit order: an append that takes longer to commit can
# land below a number a reader has already passed. Readers therefore stop at a settle horizon, `settle_s`
# behind now (default 2 s, far above the time one attempt takes to commit; a retried attempt draws fresh
# numbers), so every event at or below the horizon is committed before a cursor passes it. Live readers see
# an event `settle_s` after it happened. A number is never reused after retention drops old events.
DEFAULT_SETTLE_S = 2.0
_IN_LIMIT = 30  # Firestore's cap on the values of one `in` filter
_INT64 = 2**63 - 1
_DROP_CHUNK = 500  # deletes per batched write


def settle_horizon(settle_s: float) -> int:
    """The highest event number a reader may pass now (the number space of layout.sequence_id)."""
    return ((time.time_ns() - int(settle_s * 1e9)) // 1000) * 1000 + 999


def event_doc(org_id: str, seq: int, e: ChangeEvent, created_ns: int, dedup_key: str | None,
              retention: dict[str, int] | None) -> dict[str, Any]:
    """The stored form of one event (the same fields the ingest path writes)."""
    return {"org_id": org_id, "seq": seq, "type": e.type, "subject_id": e.subject_id,
            "workspace_id": e.workspace_id, "task_id": e.task_id, "data": compact_json(e.data),
            "created_ns": created_ns, "dedup_key": dedup_key,
            layout.TTL_FIELD: layout.expire_at(layout.EVENT_LOG, retention)}


Planned = list[tuple[Any, dict[str, Any]]]


def append_in_transaction(client: Any, txn: Any, org_id: str, events: list[ChangeEvent],
                          dedup_key: str | None = None, retention: dict[str, int] | None = None) -> Planned:
    """The read half of an append inside the caller's transaction: reads the dedup documents (an event already
    stored under its key is not appended again) and returns the writes to make (event refs and documents),
    numbered now. Call it before the transaction's own writes (Firestore: every read precedes every write),
    then pass the result to ``write_appended``."""
    keys = [f"{dedup_key}#{i}" if dedup_key else None for i in range(len(events))]
    existing: set[str] = set()
    if dedup_key:
        refs = [client.document(layout.org_path(org_id, layout.EVENT_LOG, k)) for k in keys]
        existing = {s.reference.path for s in txn.get_all(refs) if s.exists}
    now = time.time_ns()
    out: Planned = []
    for e, key in zip(events, keys, strict=True):
        seq = layout.sequence_id()
        path = layout.org_path(org_id, layout.EVENT_LOG, key if key else str(seq))
        if path in existing:
            continue
        out.append((client.document(path), event_doc(org_id, seq, e, now, key, retention)))
    return out


def write_appended(txn: Any, planned: Planned) -> int:
    """The write half of ``append_in_transaction``: the events; how many were appended."""
    for ref, doc in planned:
        txn.set(ref, doc)
    return len(planned)


class FirestoreEventLog(EventLogStore):
    """Appends (one transaction each, time-ordered numbers), cursor reads up to the settle horizon, retention."""

    client: Any
    retention: dict[str, int]
    event_settle_s: float

    def _org_col(self, org_id: str, collection: str) -> Any:
        return self.client.collection(f"orgs/{layout.part(org_id) or '~'}/{collection}")

    def append_events(self, org_id: str, events: list[ChangeEvent], dedup_key: str | None = None) -> int:
        from google.cloud import firestore

        if not events:
            return 0
        client = self.client

        @firestore.transactional
        def run(txn: Any) -> int:
            return write_appended(txn, append_in_transaction(client, txn, org_id, events, dedup_key,
                                                             self.retention))

        return int(run(client.transaction()))

    def list_events(self, org_id: str, since: int, limit: int, types: Sequence[str] = (),
                    workspace_id: str | None = None, task_id: str | None = None) -> list[ChangeEventView]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        from core.adapters.firestore import reads

        if limit <= 0:
            return []
        wanted = sorted(set(types))
        q: Any = self._org_col(org_id, layout.EVENT_LOG)
        eq: list[str] = []
        for field, value in (("workspace_id", workspace_id), ("task_id", task_id)):
            if value is not None:
                q = q.where(filter=FieldFilter(field, "==", value))
                eq.append(field)
        local_types = len(wanted) > _IN_LIMIT  # too many for one `in` filter: filtered here instead
        if wanted and not local_types:
            q = q.where(filter=FieldFilter("type", "in", wanted))
            eq.append("type")
        horizon = settle_horizon(self.event_settle_s)
        if since >= horizon:
            return []
        q = q.where(filter=FieldFilter("seq", ">", max(min(since, _INT64), -_INT64))) \
            .where(filter=FieldFilter("seq", "<=", horizon)).order_by("seq")
        reads.RECORDED_SHAPES.add(QueryShape(layout.EVENT_LOG, tuple(sorted(eq)), ("seq", "ASCENDING")))
        if not local_types:
            return [_view(s.to_dict()) for s in q.limit(limit).stream()]
        keep = set(wanted)
        out: list[ChangeEventView] = []
        cursor = since
        while len(out) < limit:
            page = [s.to_dict() for s in q.where(filter=FieldFilter("seq", ">", cursor)).limit(500).stream()]
            out += [_view(d) for d in page if d["type"] in keep]
            if len(page) < 500:
                break
            cursor = page[-1]["seq"]
        return out[:limit]

    def last_event_seq(self, org_id: str) -> int:
        from core.adapters.firestore import reads

        reads.RECORDED_SHAPES.add(QueryShape(layout.EVENT_LOG, (), ("seq", "DESCENDING")))
        horizon = settle_horizon(self.event_settle_s)
        docs = list(self._org_col(org_id, layout.EVENT_LOG).order_by("seq", direction="DESCENDING").limit(1)
                    .stream())
        # Past the horizon an event with a lower number may still commit: a cursor never starts beyond it.
        return min(int(docs[0].to_dict()["seq"]), horizon) if docs else 0

    def drop_events_before(self, cutoff_ns: int) -> int:
        from google.cloud.firestore_v1.base_query import FieldFilter

        from core.adapters.firestore import reads

        # Org by org (the org documents are implicit parents, listed with their sub-collections): a per-org range
        # on created_ns is served by the automatic single-field index, where a collection-group query is not.
        reads.RECORDED_SHAPES.add(QueryShape(layout.EVENT_LOG, (), ("created_ns", "ASCENDING")))
        dropped = 0
        for org_ref in self.client.collection("orgs").list_documents():
            q = org_ref.collection(layout.EVENT_LOG).where(filter=FieldFilter("created_ns", "<", cutoff_ns)) \
                .order_by("created_ns").limit(_DROP_CHUNK)
            while True:
                refs = [s.reference for s in q.stream()]
                if not refs:
                    break
                batch = self.client.batch()
                for ref in refs:
                    batch.delete(ref)
                batch.commit()
                dropped += len(refs)
                if len(refs) < _DROP_CHUNK:
                    break
        return dropped


def _view(d: dict[str, Any]) -> ChangeEventView:
    from core.adapters.sqlite.times import from_ns
    from core.event_feed import ChangeEventView

    return ChangeEventView(seq=d["seq"], type=d["type"], subject_id=d.get("subject_id"),
                           workspace_id=d.get("workspace_id"), task_id=d.get("task_id"),
                           data=json.loads(d["data"]), created_at=from_ns(d["created_ns"]))
