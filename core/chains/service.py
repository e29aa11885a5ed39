"""Chain services: execution chains, stages, approvals, metrics, evals and span links over the Store port."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from core.chains import rules
from core.chains.env import chain_env
from core.chains.journey import journey
from core.chains.models import (
    AgentStatsList,
    ChainCreate,
    ChainEnv,
    ChainList,
    ChainLookup,
    ChainMetricsAdd,
    ChainQuery,
    ChainRead,
    ChainStage,
    ChainStats,
    ChainStatusCounts,
    ChainStatusUpdate,
    EnvQuery,
    EvalAssessment,
    EvalQuery,
    EvalResultList,
    ExecutionChain,
    JourneyResponse,
    PendingApprovalList,
    SpanLink,
    SpanLite,
    SpanLitePage,
    StageApproval,
    StageCreate,
    StageError,
    StageEvalAssessment,
    StageMetricsAdd,
    StageSessionLink,
    StageStatusUpdate,
    StatsQuery,
)
from core.errors import BadParameter, Conflict, NotFound
from core.hierarchy.names import path_span_id
from core.models import MAX_LIMIT, PageQuery, SpanView
from core.ports.catalog import DuplicateId
from core.ports.chain_records import ChainDecision, StageDecision
from core.ports.chains import IdempotencyConflict
from core.ports.store import Store

T = TypeVar("T")
IDEMPOTENCY_KEY_CHARS = 200


def _now() -> datetime:
    return datetime.now(UTC)


def _applied(write: Callable[[], T]) -> T:
    """Run a store write, turning its domain exceptions into HTTP-mapped errors."""
    try:
        return write()
    except DuplicateId as exc:
        raise Conflict(str(exc)) from None
    except IdempotencyConflict as exc:
        raise Conflict(str(exc)) from None


def idempotency_key(header: str | None) -> str:
    """The client's Idempotency-Key (the same key applies once), or a fresh one: a keyless POST always applies."""
    if header is None or not header.strip():
        return f"auto:{uuid.uuid4()}"
    key = header.strip()
    if len(key) > IDEMPOTENCY_KEY_CHARS:
        raise BadParameter(f"invalid header 'Idempotency-Key': at most {IDEMPOTENCY_KEY_CHARS} characters")
    return f"client:{key}"


# -- chains ----------------------------------------------------------------------------------------------------

def create_chain(store: Store, org_id: str, body: ChainCreate) -> ExecutionChain:
    at = body.created_at or _now()
    chain = ExecutionChain(id=body.id or str(uuid.uuid4()), created_at=at, updated_at=at,
                           **body.model_dump(exclude={"id", "created_at"}))
    return _applied(lambda: store.create_chain(org_id, chain))


def resolve_chain(store: Store, org_id: str, chain_id: str) -> ExecutionChain:
    """The chain with this id, or the one chain whose id starts with it."""
    chain = store.get_chain(org_id, chain_id)
    if chain is not None:
        return chain
    ids = store.chain_ids_with_prefix(org_id, chain_id, 2)
    if len(ids) > 1:
        raise BadParameter(f"chain id prefix {chain_id!r} matches several chains: give more of the id")
    chain = store.get_chain(org_id, ids[0]) if ids else None
    if chain is None:
        raise NotFound(f"chain {chain_id} not found")
    return chain


def _exact_chain(store: Store, org_id: str, chain_id: str) -> ExecutionChain:
    chain = store.get_chain(org_id, chain_id)
    if chain is None:
        raise NotFound(f"chain {chain_id} not found")
    return chain


def _with_stages(store: Store, org_id: str, chain: ExecutionChain, opts: ChainRead) -> ExecutionChain:
    if not (opts.include_stages or opts.include_spans or opts.include_sessions):
        return chain
    stages = store.list_stages(org_id, chain.id)
    filled = []
    for stage in stages:
        extra: dict[str, object] = {}
        if opts.include_spans:
            spans, _ = store.stage_spans(org_id, stage.id, MAX_LIMIT, 0)
            extra["spans"] = [span_lite(s) for s in spans]
        if opts.include_sessions and stage.session_id:
            extra["session"] = store.get_session(org_id, stage.session_id)
        filled.append(stage.model_copy(update=extra) if extra else stage)
    return chain.model_copy(update={"stages": filled})


def get_chain(store: Store, org_id: str, chain_id: str, opts: ChainRead) -> ExecutionChain:
    return _with_stages(store, org_id, resolve_chain(store, org_id, chain_id), opts)


def lookup_chain(store: Store, org_id: str, q: ChainLookup) -> ExecutionChain:
    given = [name for name in ("message_id", "task_id") if getattr(q, name)]
    github = q.github_repo is not None or q.github_issue_number is not None
    if len(given) + github != 1:
        raise BadParameter("give exactly one of the parameters 'message_id', 'task_id', or 'github_repo' with "
                           "'github_issue_number'")
    if github and (not q.github_repo or q.github_issue_number is None):
        missing = "github_issue_number" if q.github_repo else "github_repo"
        raise BadParameter(f"invalid parameter '{missing}': a GitHub lookup needs github_repo and "
                           "github_issue_number")
    chain = store.find_chain(org_id, message_id=q.message_id or None, task_id=q.task_id or None,
                             github_repo=q.github_repo, github_issue_number=q.github_issue_number)
    if chain is None:
        raise NotFound("no chain matches the lookup")
    return _with_stages(store, org_id, chain, q)


def list_chains(store: Store, org_id: str, q: ChainQuery) -> ChainList:
    items = store.list_chains(org_id, q)
    return ChainList(chains=items, count=len(items), limit=q.limit, offset=q.offset)


def list_eval_chains(store: Store, org_id: str, q: PageQuery) -> ChainList:
    return list_chains(store, org_id, ChainQuery(source_type="eval_suite", limit=q.limit, offset=q.offset))


def delete_chain(store: Store, org_id: str, chain_id: str) -> None:
    if not store.delete_chain(org_id, chain_id):
        raise NotFound(f"chain {chain_id} not found")


def _change_chain(store: Store, org_id: str, chain_id: str, decide: ChainDecision) -> ExecutionChain:
    outcome = _applied(lambda: store.change_chain(org_id, chain_id, decide))
    if outcome is None:
        raise NotFound(f"chain {chain_id} not found")
    return outcome.chain


def update_chain_status(store: Store, org_id: str, chain_id: str, body: ChainStatusUpdate) -> ExecutionChain:
    now = _now()
    return _change_chain(store, org_id, chain_id, lambda chain: rules.chain_status(chain, body.status, now))


def add_chain_metrics(store: Store, org_id: str, chain_id: str, body: ChainMetricsAdd, key: str
                      ) -> ExecutionChain:
    return _change_chain(store, org_id, chain_id, lambda chain: rules.chain_metrics(chain, body, key))


def chain_journey(store: Store, org_id: str, chain_id: str) -> JourneyResponse:
    chain = resolve_chain(store, org_id, chain_id)
    return journey(chain.id, store.list_stages(org_id, chain.id))


def env_for(store: Store, org_id: str, chain_id: str, q: EnvQuery) -> ChainEnv:
    chain = resolve_chain(store, org_id, chain_id)
    task_id, message_id = q.task_id, q.message_id
    if q.stage_id is not None:
        stage = store.get_stage(org_id, q.stage_id)
        if stage is None:
            raise NotFound(f"stage {q.stage_id} not found")
        if stage.chain_id != chain.id:
            raise BadParameter(f"invalid parameter 'stage_id': stage {q.stage_id} belongs to another chain")
        task_id = task_id or stage.task_id
        message_id = message_id or stage.message_id
    return ChainEnv(chain_id=chain.id, stage_id=q.stage_id, task_id=task_id, message_id=message_id,
                    env=chain_env(chain.id, q.stage_id, task_id, message_id))


def _since(q: StatsQuery) -> datetime | None:
    given = [t for t in (q.created_after, q.since) if t is not None]
    return max(given) if given else None


def chain_stats(store: Store, org_id: str, q: StatsQuery) -> ChainStats:
    return store.chain_stats(org_id, _since(q))


def chain_status_counts(store: Store, org_id: str, q: StatsQuery) -> ChainStatusCounts:
    return store.chain_status_counts(org_id, _since(q))


def chain_stats_by_agent(store: Store, org_id: str, q: StatsQuery) -> AgentStatsList:
    agents = store.chain_stats_by_agent(org_id, _since(q))
    return AgentStatsList(agents=agents, count=len(agents))


# -- stages ----------------------------------------------------------------------------------------------------

def create_stage(store: Store, org_id: str, chain_id: str, body: StageCreate) -> ChainStage:
    if body.chain_id is not None and body.chain_id != chain_id:
        raise BadParameter(f"invalid field 'chain_id': the stage is created on chain {chain_id}")
    stage = ChainStage(id=body.id or str(uuid.uuid4()), chain_id=chain_id, stage_number=0, created_at=_now(),
                       **body.model_dump(exclude={"id", "chain_id"}))
    created = _applied(lambda: store.create_stage(org_id, stage, rules.check_chain_open))
    if created is None:
        raise NotFound(f"chain {chain_id} not found")
    return created


def get_stage(store: Store, org_id: str, stage_id: str) -> ChainStage:
    stage = store.get_stage(org_id, stage_id)
    if stage is None:
        raise NotFound(f"stage {stage_id} not found")
    return stage


def _change_stage(store: Store, org_id: str, stage_id: str, decide: StageDecision) -> ChainStage:
    outcome = _applied(lambda: store.change_stage(org_id, stage_id, decide))
    if outcome is None:
        raise NotFound(f"stage {stage_id} not found")
    return outcome.stage


def update_stage_status(store: Store, org_id: str, stage_id: str, body: StageStatusUpdate) -> ChainStage:
    now = _now()
    return _change_stage(store, org_id, stage_id, lambda stage, _: rules.stage_status(stage, body.status, now))


def link_stage_session(store: Store, org_id: str, stage_id: str, body: StageSessionLink) -> ChainStage:
    return _change_stage(store, org_id, stage_id, lambda stage, _: rules.stage_session(stage, body.session_id))


def stage_approval(store: Store, org_id: str, stage_id: str, body: StageApproval) -> ChainStage:
    now = _now()
    return _change_stage(store, org_id, stage_id, lambda stage, chain: rules.approval(stage, chain, body, now))


def add_stage_metrics(store: Store, org_id: str, stage_id: str, body: StageMetricsAdd, key: str) -> ChainStage:
    return _change_stage(store, org_id, stage_id, lambda stage, chain: rules.stage_metrics(stage, chain, body, key))


def stage_error(store: Store, org_id: str, stage_id: str, body: StageError, key: str) -> ChainStage:
    now = _now()
    return _change_stage(store, org_id, stage_id,
                         lambda stage, _: rules.stage_error(stage, body.error_message, key, now))


def span_lite(span: SpanView) -> SpanLite:
    return SpanLite(id=span.id, trace_id=span.trace_id, parent_span_id=span.parent_span_id, chain_id=span.chain_id,
                    stage_id=span.stage_id, name=span.name, kind=span.kind, status=span.status,
                    status_message=span.status_message, start_time=span.start_time, end_time=span.end_time,
                    duration_ms=round(span.duration_ms), tokens_in=span.tokens_in, tokens_out=span.tokens_out,
                    cost_usd=span.cost_usd, model=span.model, provider=span.provider)


def stage_spans(store: Store, org_id: str, stage_id: str, q: PageQuery) -> SpanLitePage:
    get_stage(store, org_id, stage_id)
    spans, total = store.stage_spans(org_id, stage_id, q.limit, q.offset)
    return SpanLitePage(spans=[span_lite(s) for s in spans], total=total, limit=q.limit, offset=q.offset)


def get_eval_assessment(store: Store, org_id: str, stage_id: str) -> StageEvalAssessment:
    stage = get_stage(store, org_id, stage_id)
    return StageEvalAssessment(stage_id=stage.id, chain_id=stage.chain_id, eval_assessment=stage.eval_assessment)


def put_eval_assessment(store: Store, org_id: str, stage_id: str, body: EvalAssessment) -> StageEvalAssessment:
    stage = _change_stage(store, org_id, stage_id, lambda stage, _: rules.eval_assessment(stage, body))
    return StageEvalAssessment(stage_id=stage.id, chain_id=stage.chain_id, eval_assessment=stage.eval_assessment)


def query_evals(store: Store, org_id: str, q: EvalQuery) -> EvalResultList:
    if q.success_only and q.failure_only:
        raise BadParameter("invalid parameter 'failure_only': success_only and failure_only exclude each other")
    stages = store.query_evals(org_id, q)
    return EvalResultList(stages=stages, count=len(stages), limit=q.limit, offset=q.offset)


def pending_approvals(store: Store, org_id: str, q: PageQuery) -> PendingApprovalList:
    items = store.pending_approvals(org_id, q.limit, q.offset)
    return PendingApprovalList(approvals=items, count=len(items), limit=q.limit, offset=q.offset)


# -- spans -----------------------------------------------------------------------------------------------------

def link_span(store: Store, org_id: str, span_id: str, body: SpanLink) -> SpanView:
    """Set a span's chain and stage; the stage must belong to the chain."""
    span = store.find_span(org_id, path_span_id(span_id))
    if span is None:
        raise NotFound(f"span {span_id} not found")
    _exact_chain(store, org_id, body.chain_id)
    if body.stage_id is not None:
        stage = get_stage(store, org_id, body.stage_id)
        if stage.chain_id != body.chain_id:
            raise BadParameter(f"invalid field 'stage_id': stage {body.stage_id} belongs to chain {stage.chain_id}, "
                               f"not {body.chain_id}")
    if not store.link_span(org_id, span.trace_id, span.id, body.chain_id, body.stage_id):
        raise NotFound(f"span {span_id} not found")
    linked = store.find_span(org_id, span.id)
    if linked is None:  # deleted between the link and this read
        raise NotFound(f"span {span_id} not found")
    return linked
