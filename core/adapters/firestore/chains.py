"""FirestoreChains: execution chains, their stages, metric entries and errors on Firestore (orgs/{org}/{collection})."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.adapters.firestore import layout
from core.adapters.firestore.catalog import ORDER_KEY, newest_first_key
from core.adapters.firestore.event_log import append_in_transaction, write_appended
from core.adapters.firestore.indexes import QueryShape
from core.adapters.sqlite.times import from_ns, to_ns
from core.ports.catalog import DuplicateId
from core.ports.chains import ChainStore, IdempotencyConflict

if TYPE_CHECKING:  # the records load with the first change (local imports below), not with the Store
    from core.chains.models import (
        AgentStatsResult,
        ChainQuery,
        ChainStage,
        ChainStats,
        ChainStatusCounts,
        ChainSummary,
        EvalQuery,
        ExecutionChain,
        PendingApprovalInfo,
    )
    from core.events import ChangeEvent
    from core.models import SpanView
    from core.ports.chain_records import ChainDecision, ChainOutcome, MetricEntry, StageDecision, StageOutcome

Doc = dict[str, Any]

# Entity collections (no TTL: a chain's amounts are recomputed from its entries, so they live as long as it).
# Document ids: chains and stages by id; entries by (chain, stage or '' for the chain, key); errors by (stage, key).
CHAINS = "execution_chains"
STAGES = "chain_stages"
ENTRIES = "chain_metric_entries"
ERRORS = "chain_stage_errors"
COLLECTIONS = (CHAINS, STAGES, ENTRIES, ERRORS)

# Derived fields kept on the chain document (recomputed from its stages in every transaction that writes it) so
# that listings and stats read chains only; stage documents carry their chain's created_ns (immutable) for the
# per-agent stats window, the eval filter fields, `eval_order` (newest first; absent without an assessment, so an
# order on it skips those stages) and `pending_key` (oldest first).
_CHAIN_HIDDEN = ("org_id", ORDER_KEY, "stage_count", "agent_flow", "pending_count")
EVAL_ORDER = "eval_order"
PENDING_KEY = "pending_key"
_EVAL_FIELDS = ("eval_benchmark_id", "eval_model", "eval_language", "eval_condition", "eval_mode",
                "eval_stdout_ok")
_STAGE_HIDDEN = ("org_id", "chain_created_ns", EVAL_ORDER, PENDING_KEY, *_EVAL_FIELDS)
_AWAITING = "awaiting_approval"
_TOP = "\U0010ffff"  # sorts after every character: [prefix, prefix + _TOP) holds every id starting with prefix
_MAX_WRITES = 500
_MAX_OFFSET = 2**31 - 1

_CHAIN_FIELDS = frozenset({"status", "completed_ns", "updated_ns"})
_STAGE_FIELDS = frozenset({
    "status", "approval_status", "approval_type", "human_feedback", "session_id", "started_ns", "completed_ns",
    "error_message", "eval_assessment",
})

# Writers of one org in one process take turns instead of aborting each other's transactions on a chain document
# (retries back off); across processes the transactions still serialise them.
_org_locks: dict[str, threading.Lock] = {}
_org_locks_guard = threading.Lock()


def _org_lock(org_id: str) -> threading.Lock:
    with _org_locks_guard:
        return _org_locks.setdefault(org_id, threading.Lock())


def _pending_key(created_ns: int, stage_id: str) -> str:
    return f"{created_ns + 2**63:020d}:{stage_id}"


def _to_doc(fields: Mapping[str, Any]) -> Doc:
    """Model fields -> stored fields: `*_at` as integer ns in `*_ns`; an assessment as JSON plus its filter fields."""
    out: Doc = {}
    for name, value in fields.items():
        if name.endswith("_at"):
            out[name[:-3] + "_ns"] = to_ns(value)
        elif name == "eval_assessment":
            a = value
            out.update(
                eval_assessment=a.model_dump_json() if a is not None else None,
                eval_benchmark_id=a.benchmark_id if a is not None else None,
                eval_model=a.model if a is not None else None,
                eval_language=a.language if a is not None else None,
                eval_condition=a.condition if a is not None else None,
                eval_mode=a.eval_mode if a is not None else None,
                eval_stdout_ok=a.stdout_ok if a is not None else None,
            )
        else:
            out[name] = value
    return out


def _fields(doc: Mapping[str, Any], hidden: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in hidden:
            continue
        if key.endswith("_ns"):
            out[key[:-3] + "_at"] = from_ns(value)
        elif key == "eval_assessment":
            out[key] = json.loads(value) if value else None
        else:
            out[key] = value
    return out


def _stage(doc: Mapping[str, Any]) -> ChainStage:
    from core.chains.models import ChainStage

    return ChainStage.model_validate(_fields(doc, _STAGE_HIDDEN))


def _chain(doc: Mapping[str, Any]) -> ExecutionChain:
    from core.chains.models import ExecutionChain

    return ExecutionChain.model_validate(_fields(doc, _CHAIN_HIDDEN))


def _stage_keys(doc: Doc) -> Doc:
    """The stage's order fields, as its current state has them."""
    out = dict(doc)
    out.pop(EVAL_ORDER, None)
    out.pop(PENDING_KEY, None)
    if out.get("eval_assessment"):
        out[EVAL_ORDER] = newest_first_key(out["created_ns"], out["id"])
    if out.get("status") == _AWAITING:
        out[PENDING_KEY] = _pending_key(out["created_ns"], out["id"])
    return out


def _entry_amounts(d: Mapping[str, Any]) -> tuple[float, int, int, int, int, int, int]:
    return (d["cost"], d["tokens_in"], d["tokens_out"], d["tokens"], d["turns"], d["tool_calls"], d["duration_ms"])


def _entry_doc(org_id: str, chain_id: str, stage_id: str, e: MetricEntry) -> Doc:
    return {"org_id": org_id, "chain_id": chain_id, "stage_id": stage_id, "entry_key": e.key, "cost": e.cost,
            "tokens_in": e.tokens_in, "tokens_out": e.tokens_out, "tokens": e.tokens, "turns": e.turns,
            "tool_calls": e.tool_calls, "duration_ms": e.duration_ms, "created_ns": time.time_ns()}


def _stage_totals(doc: Doc, entries: list[Doc], error_count: int) -> Doc:
    return {**doc, "cost": sum(e["cost"] for e in entries), "tokens_in": sum(e["tokens_in"] for e in entries),
            "tokens_out": sum(e["tokens_out"] for e in entries), "turns": sum(e["turns"] for e in entries),
            "tool_calls": sum(e["tool_calls"] for e in entries),
            "duration_ms": sum(e["duration_ms"] for e in entries), "error_count": error_count}


def _chain_totals(doc: Doc, stages: list[Doc], chain_entries: list[Doc], now_ns: int) -> Doc:
    """The chain's derived values from its stages and chain-level entries (never incremented)."""
    stages = sorted(stages, key=lambda s: s["stage_number"])
    return {
        **doc, "current_stage": max((s["stage_number"] for s in stages), default=0),
        "stages_completed": sum(s["status"] == "completed" for s in stages),
        "total_cost": sum(s["cost"] for s in stages) + sum(e["cost"] for e in chain_entries),
        "total_tokens": sum(s["tokens_in"] + s["tokens_out"] for s in stages) + sum(e["tokens"] for e in chain_entries),
        "total_turns": sum(s["turns"] for s in stages) + sum(e["turns"] for e in chain_entries),
        "stage_count": len(stages), "agent_flow": " -> ".join(s["agent_id"] for s in stages),
        "pending_count": sum(s["status"] == _AWAITING for s in stages), "updated_ns": now_ns,
    }


def _changed(doc: Doc, allowed: frozenset[str], changes: Mapping[str, Any], what: str) -> Doc:
    values = _to_doc(changes)
    unknown = {k for k in values if k not in _EVAL_FIELDS} - allowed
    if unknown:
        raise ValueError(f"not changeable on {what}: {sorted(unknown)}")
    return {**doc, **values}


class FirestoreChains(ChainStore):
    """The ChainStore port on Firestore. Every change runs in one transaction that reads the chain document (so
    writers of one chain serialise on it, and stage numbers are the chain's highest plus one), recomputes the
    stage and chain amounts from their entries and appends its events."""

    client: Any
    retention: dict[str, int]

    # -- helpers ----------------------------------------------------------------------------------------------
    def _cref(self, org_id: str, collection: str, *key: object) -> Any:
        return self.client.document(layout.org_path(org_id, collection, *key))

    def _col_query(self, org_id: str, collection: str, eq: Mapping[str, Any]) -> Any:
        from google.cloud.firestore_v1.base_query import FieldFilter

        from core.adapters.firestore.reads import RECORDED_SHAPES

        q: Any = self.client.collection(f"orgs/{layout.part(org_id) or '~'}/{collection}")
        for field, value in eq.items():
            q = q.where(filter=FieldFilter(field, "==", value))
        RECORDED_SHAPES.add(QueryShape(collection, tuple(sorted(eq)), None))
        return q

    def _in_txn(self, org_id: str, collection: str, eq: Mapping[str, Any], txn: Any) -> list[Doc]:
        return [s.to_dict() for s in self._col_query(org_id, collection, eq).stream(transaction=txn)]

    def _doc(self, org_id: str, collection: str, *key: object, txn: Any = None) -> Doc | None:
        snap = self._cref(org_id, collection, *key).get(transaction=txn)
        return snap.to_dict() if snap.exists else None

    def _run(self, org_id: str, fn: Callable[[Any], Any]) -> Any:
        from google.cloud import firestore

        with _org_lock(org_id):
            return firestore.transactional(fn)(self.client.transaction(max_attempts=20))

    def _plan_events(self, txn: Any, org_id: str, change_events: list[ChangeEvent]) -> Any:
        return append_in_transaction(self.client, txn, org_id, change_events, None, self.retention) \
            if change_events else None

    # -- chains ---------------------------------------------------------------------------------------------
    def create_chain(self, org_id: str, chain: ExecutionChain) -> ExecutionChain:
        doc: Doc = {"org_id": org_id, **_to_doc(chain.model_dump(exclude={"stages"})), "stage_count": 0,
                    "agent_flow": "", "pending_count": 0}
        doc[ORDER_KEY] = newest_first_key(doc["created_ns"], chain.id)

        def run(txn: Any) -> None:
            if self._doc(org_id, CHAINS, chain.id, txn=txn) is not None:
                raise DuplicateId(f"chain {chain.id!r} already exists")
            txn.set(self._cref(org_id, CHAINS, chain.id), doc)

        self._run(org_id, run)
        return _chain(doc)

    def get_chain(self, org_id: str, chain_id: str) -> ExecutionChain | None:
        doc = self._doc(org_id, CHAINS, chain_id)
        return _chain(doc) if doc is not None else None

    def chain_ids_with_prefix(self, org_id: str, prefix: str, limit: int = 2) -> list[str]:
        from core.adapters.firestore.reads import query

        docs = query(self.client, org_id, CHAINS, ranges=[("id", ">=", prefix), ("id", "<", prefix + _TOP)],
                     order=("id", "ASCENDING"), limit=limit)
        return [d["id"] for d in docs if d["id"].startswith(prefix)]

    def find_chain(self, org_id: str, *, message_id: str | None = None, task_id: str | None = None,
                   github_repo: str | None = None, github_issue_number: int | None = None
                   ) -> ExecutionChain | None:
        from core.adapters.firestore.reads import get_docs, query

        if message_id is not None:
            ids = {d["chain_id"] for d in query(self.client, org_id, STAGES, {"message_id": message_id})}
            ids |= {d["id"] for d in query(self.client, org_id, CHAINS,
                                           {"source_type": "message", "source_ref": message_id})}
        elif task_id is not None:
            ids = {d["chain_id"] for d in query(self.client, org_id, STAGES, {"task_id": task_id})}
        elif github_repo is not None and github_issue_number is not None:
            ids = {d["id"] for d in query(self.client, org_id, CHAINS, {
                "github_repo": github_repo, "github_issue_number": github_issue_number})}
        else:
            return None
        docs = get_docs(self.client, [layout.org_path(org_id, CHAINS, i) for i in sorted(ids)]).values()
        best = min(docs, key=lambda d: d[ORDER_KEY], default=None)
        return _chain(best) if best is not None else None

    def list_chains(self, org_id: str, q: ChainQuery) -> list[ChainSummary]:
        from core.adapters.firestore.reads import get_docs, query
        from core.chains.models import ChainSummary

        eq = {"status": q.status, "source_type": q.source_type, "workspace_id": q.workspace_id,
              "github_repo": q.github_repo}
        # created_ns >= t  <=>  order_key < "{MAX - t};" (';' sorts right after the ':' that ends the time part).
        since = to_ns(q.created_after)
        upper = f"{2**63 - 1 - since:019d};" if since is not None else None
        if q.agent_id is None:
            docs = query(self.client, org_id, CHAINS, eq, ranges=[(ORDER_KEY, "<", upper)],
                         order=(ORDER_KEY, "ASCENDING"), limit=q.limit, offset=q.offset)
        else:
            ids = {d["chain_id"] for d in query(self.client, org_id, STAGES, {"agent_id": q.agent_id})}
            found = get_docs(self.client, [layout.org_path(org_id, CHAINS, i) for i in sorted(ids)]).values()
            docs = sorted((d for d in found
                           if all(v is None or d.get(k) == v for k, v in eq.items())
                           and (upper is None or d[ORDER_KEY] < upper)), key=lambda d: d[ORDER_KEY])
            docs = docs[q.offset:q.offset + q.limit]
        return [ChainSummary.model_validate({
            **_fields(d, _CHAIN_HIDDEN), "stage_count": d["stage_count"], "max_stage": d["current_stage"],
            "agent_flow": d["agent_flow"]}) for d in docs]

    def delete_chain(self, org_id: str, chain_id: str) -> bool:
        """Stages, entries and errors go in chunks of at most _MAX_WRITES; the chain with the last chunk."""
        while True:
            def run(txn: Any) -> bool | None:
                if self._doc(org_id, CHAINS, chain_id, txn=txn) is None:
                    return False
                dependents = [s.reference for c in (ERRORS, ENTRIES, STAGES)
                              for s in self._col_query(org_id, c, {"chain_id": chain_id}).stream(transaction=txn)]
                for ref in dependents[:_MAX_WRITES - 1]:
                    txn.delete(ref)
                if len(dependents) >= _MAX_WRITES:
                    return None  # more to delete: the next round continues
                txn.delete(self._cref(org_id, CHAINS, chain_id))
                return True

            done = self._run(org_id, run)
            if done is not None:
                return bool(done)

    def _check_entry(self, txn: Any, org_id: str, chain_id: str, stage_id: str, entry: MetricEntry) -> bool:
        """False when the key was applied before with the same amounts; IdempotencyConflict when not the same."""
        stored = self._doc(org_id, ENTRIES, chain_id, stage_id, entry.key, txn=txn)
        if stored is None:
            return True
        if _entry_amounts(stored) != entry.amounts():
            raise IdempotencyConflict("this Idempotency-Key was already used for different amounts: use a new key")
        return False

    def change_chain(self, org_id: str, chain_id: str, decide: ChainDecision) -> ChainOutcome | None:
        from core.ports.chain_records import ChainOutcome

        def run(txn: Any) -> ChainOutcome | None:
            doc = self._doc(org_id, CHAINS, chain_id, txn=txn)
            if doc is None:
                return None
            chain = _chain(doc)
            change = decide(chain)
            if change.empty:
                return ChainOutcome(chain, False)
            if change.metric is not None and not self._check_entry(txn, org_id, chain_id, "", change.metric):
                return ChainOutcome(chain, False)
            stages = self._in_txn(org_id, STAGES, {"chain_id": chain_id}, txn)
            entries = self._in_txn(org_id, ENTRIES, {"chain_id": chain_id, "stage_id": ""}, txn)
            planned = self._plan_events(txn, org_id, change.events)
            new = _changed(doc, _CHAIN_FIELDS, change.fields, CHAINS)
            if change.metric is not None:
                entry = _entry_doc(org_id, chain_id, "", change.metric)
                entries.append(entry)
                txn.set(self._cref(org_id, ENTRIES, chain_id, "", change.metric.key), entry)
            new = _chain_totals(new, stages, entries, time.time_ns())
            txn.set(self._cref(org_id, CHAINS, chain_id), new)
            if planned is not None:
                write_appended(txn, planned)
            return ChainOutcome(_chain(new), True)

        out: ChainOutcome | None = self._run(org_id, run)
        return out

    def _window(self, org_id: str, collection: str, field: str, created_after: datetime | None) -> list[Doc]:
        from core.adapters.firestore.reads import query

        since = to_ns(created_after) if created_after is not None else None
        return query(self.client, org_id, collection, ranges=[(field, ">=", since)])

    def chain_stats(self, org_id: str, created_after: datetime | None) -> ChainStats:
        from core.chains.models import ChainStats

        docs = self._window(org_id, CHAINS, "created_ns", created_after)
        n = len(docs)
        durations = [(d["completed_ns"] - d["created_ns"]) / 1e6 for d in docs if d.get("completed_ns") is not None]
        return ChainStats(
            total_chains=n, active_chains=sum(d["status"] == "active" for d in docs),
            pending_approvals=sum(d["pending_count"] for d in docs),
            completed_chains=sum(d["status"] == "completed" for d in docs),
            failed_chains=sum(d["status"] == "failed" for d in docs),
            total_cost=sum(d["total_cost"] for d in docs), total_tokens=sum(d["total_tokens"] for d in docs),
            average_stages_count=sum(d["stage_count"] for d in docs) / n if n else 0,
            average_duration_ms=sum(durations) / len(durations) if durations else 0,
        )

    def chain_status_counts(self, org_id: str, created_after: datetime | None) -> ChainStatusCounts:
        from core.chains.models import ChainStatusCounts

        docs = self._window(org_id, CHAINS, "created_ns", created_after)
        return ChainStatusCounts(
            total_chains=len(docs), completed=sum(d["status"] == "completed" for d in docs),
            active=sum(d["status"] == "active" for d in docs),
            pending_approval=sum(d["status"] == "pending_approval" for d in docs),
            failed=sum(d["status"] == "failed" for d in docs), total_cost=sum(d["total_cost"] for d in docs),
            total_tokens=sum(d["total_tokens"] for d in docs),
        )

    def chain_stats_by_agent(self, org_id: str, created_after: datetime | None) -> list[AgentStatsResult]:
        from core.chains.models import AgentStatsResult

        by: dict[str, dict[str, Any]] = {}
        for s in self._window(org_id, STAGES, "chain_created_ns", created_after):
            a = by.setdefault(s["agent_id"], {"agent_id": s["agent_id"], "stages": 0, "completed": 0, "failed": 0,
                                              "total_cost": 0.0, "total_tokens_in": 0, "total_tokens_out": 0})
            a["stages"] += 1
            a["completed"] += s["status"] == "completed"
            a["failed"] += s["status"] == "failed"
            a["total_cost"] += s["cost"]
            a["total_tokens_in"] += s["tokens_in"]
            a["total_tokens_out"] += s["tokens_out"]
        rows = sorted(by.values(), key=lambda a: (-a["stages"], a["agent_id"]))
        return [AgentStatsResult.model_validate(a) for a in rows]

    # -- stages ----------------------------------------------------------------------------------------------
    def create_stage(self, org_id: str, stage: ChainStage,
                     check: Callable[[ExecutionChain], None] | None = None) -> ChainStage | None:
        values = _to_doc(stage.model_dump(exclude={"stage_number", "session", "spans"}))

        def run(txn: Any) -> Doc | None:
            chain_doc = self._doc(org_id, CHAINS, stage.chain_id, txn=txn)
            if chain_doc is None:
                return None
            if check is not None:
                check(_chain(chain_doc))
            if self._doc(org_id, STAGES, stage.id, txn=txn) is not None:
                raise DuplicateId(f"stage {stage.id!r} already exists")
            stages = self._in_txn(org_id, STAGES, {"chain_id": stage.chain_id}, txn)
            entries = self._in_txn(org_id, ENTRIES, {"chain_id": stage.chain_id, "stage_id": ""}, txn)
            # The chain document is read and written here: concurrent creates conflict on it and retry, so the
            # highest number read is the chain's highest at commit.
            number = max((s["stage_number"] for s in stages), default=0) + 1
            doc = _stage_keys({"org_id": org_id, **values, "stage_number": number,
                               "chain_created_ns": chain_doc["created_ns"]})
            txn.set(self._cref(org_id, STAGES, stage.id), doc)
            txn.set(self._cref(org_id, CHAINS, stage.chain_id),
                    _chain_totals(chain_doc, [*stages, doc], entries, time.time_ns()))
            return doc

        created = self._run(org_id, run)
        return _stage(created) if created is not None else None

    def get_stage(self, org_id: str, stage_id: str) -> ChainStage | None:
        doc = self._doc(org_id, STAGES, stage_id)
        return _stage(doc) if doc is not None else None

    def list_stages(self, org_id: str, chain_id: str) -> list[ChainStage]:
        from core.adapters.firestore.reads import query

        docs = query(self.client, org_id, STAGES, {"chain_id": chain_id})
        return [_stage(d) for d in sorted(docs, key=lambda d: d["stage_number"])]

    def change_stage(self, org_id: str, stage_id: str, decide: StageDecision) -> StageOutcome | None:
        from core.ports.chain_records import StageOutcome

        def run(txn: Any) -> StageOutcome | None:
            doc = self._doc(org_id, STAGES, stage_id, txn=txn)
            if doc is None:
                return None
            stage = _stage(doc)
            chain_doc = self._doc(org_id, CHAINS, stage.chain_id, txn=txn)
            assert chain_doc is not None  # a stage's chain exists (deleted with it)
            chain = _chain(chain_doc)
            change = decide(stage, chain)
            if change.empty:
                return StageOutcome(stage, chain, False)
            chain_id = stage.chain_id
            if change.metric is not None and not self._check_entry(txn, org_id, chain_id, stage_id, change.metric):
                return StageOutcome(stage, chain, False)
            if change.error is not None:
                stored = self._doc(org_id, ERRORS, stage_id, change.error.key, txn=txn)
                if stored is not None:
                    if stored["message"] != change.error.message:
                        raise IdempotencyConflict(
                            "this Idempotency-Key was already used for another error: use a new key")
                    return StageOutcome(stage, chain, False)
            stages = {s["id"]: s for s in self._in_txn(org_id, STAGES, {"chain_id": chain_id}, txn)}
            chain_entries = self._in_txn(org_id, ENTRIES, {"chain_id": chain_id, "stage_id": ""}, txn)
            entries = self._in_txn(org_id, ENTRIES, {"chain_id": chain_id, "stage_id": stage_id}, txn)
            error_count = len(self._in_txn(org_id, ERRORS, {"stage_id": stage_id, "chain_id": chain_id}, txn))
            planned = self._plan_events(txn, org_id, change.events)
            # every read is done: the writes follow
            new = _changed(doc, _STAGE_FIELDS, change.fields, STAGES)
            if change.metric is not None:
                entry = _entry_doc(org_id, chain_id, stage_id, change.metric)
                entries.append(entry)
                txn.set(self._cref(org_id, ENTRIES, chain_id, stage_id, change.metric.key), entry)
            if change.error is not None:
                error_count += 1
                txn.set(self._cref(org_id, ERRORS, stage_id, change.error.key), {
                    "org_id": org_id, "chain_id": chain_id, "stage_id": stage_id, "entry_key": change.error.key,
                    "message": change.error.message, "created_ns": time.time_ns()})
            if change.metric is not None or change.error is not None:
                new = _stage_totals(new, entries, error_count)
            new = _stage_keys(new)
            stages[stage_id] = new
            chain_new = _chain_totals(chain_doc, list(stages.values()), chain_entries, time.time_ns())
            # The chain's status follows its stages' approvals (a final chain keeps its status).
            if "status" in change.fields and chain_new["status"] in ("active", "pending_approval"):
                chain_new["status"] = "pending_approval" if chain_new["pending_count"] else "active"
            txn.set(self._cref(org_id, STAGES, stage_id), new)
            txn.set(self._cref(org_id, CHAINS, chain_id), chain_new)
            if planned is not None:
                write_appended(txn, planned)
            return StageOutcome(_stage(new), _chain(chain_new), True)

        out: StageOutcome | None = self._run(org_id, run)
        return out

    def pending_approvals(self, org_id: str, limit: int, offset: int) -> list[PendingApprovalInfo]:
        from core.adapters.firestore.reads import get_docs, query
        from core.chains.models import PendingApprovalInfo

        docs = query(self.client, org_id, STAGES, {"status": _AWAITING}, order=(PENDING_KEY, "ASCENDING"),
                     limit=limit, offset=min(offset, _MAX_OFFSET + 1))
        chains = get_docs(self.client, sorted({layout.org_path(org_id, CHAINS, d["chain_id"]) for d in docs}))
        out = []
        for s in docs:
            c = chains.get(layout.org_path(org_id, CHAINS, s["chain_id"]))
            if c is None:
                continue
            out.append(PendingApprovalInfo.model_validate({
                "chain_id": s["chain_id"], "source_type": c["source_type"], "source_ref": c.get("source_ref"),
                "stage_id": s["id"], "stage_number": s["stage_number"], "agent_id": s["agent_id"],
                "approval_status": s.get("approval_status"), "approval_type": s.get("approval_type"),
                "task_id": s.get("task_id"), "session_id": s.get("session_id"), "cost": s["cost"],
                "turns": s["turns"], "stage_created": from_ns(s["created_ns"])}))
        return out

    def query_evals(self, org_id: str, q: EvalQuery) -> list[ChainStage]:
        from core.adapters.firestore.reads import query

        eq: dict[str, Any] = {"chain_id": q.chain_id, "eval_model": q.model, "eval_language": q.language,
                              "eval_benchmark_id": q.benchmark_id, "eval_condition": q.condition,
                              "eval_mode": q.eval_mode}
        if q.success_only:
            eq["eval_stdout_ok"] = True
        elif q.failure_only:
            eq["eval_stdout_ok"] = False
        if q.success_only and q.failure_only:
            return []
        docs = query(self.client, org_id, STAGES, eq, order=(EVAL_ORDER, "ASCENDING"), limit=q.limit,
                     offset=min(q.offset, _MAX_OFFSET + 1))
        return [_stage(d) for d in docs]

    # -- spans -----------------------------------------------------------------------------------------------
    def stage_spans(self, org_id: str, stage_id: str, limit: int, offset: int) -> tuple[list[SpanView], int]:
        from typing import cast

        from core.adapters.firestore.reads import query
        from core.adapters.sqlite.reads import span_view

        total = int(self._col_query(org_id, layout.SPANS, {"stage_id": stage_id}).count().get()[0][0].value)
        docs = query(self.client, org_id, layout.SPANS, {"stage_id": stage_id}, order=("start_ns", "ASCENDING"),
                     limit=limit, offset=min(offset, _MAX_OFFSET + 1))
        return [span_view(cast(Any, d), lite=True) for d in docs], total

    def link_span(self, org_id: str, trace_id: str, span_id: str, chain_id: str, stage_id: str | None) -> bool:
        ref = self._cref(org_id, layout.SPANS, trace_id, span_id)

        def run(txn: Any) -> bool:
            if not ref.get(transaction=txn).exists:
                return False
            txn.update(ref, {"chain_id": chain_id, "stage_id": stage_id})
            return True

        return bool(self._run(org_id, run))
