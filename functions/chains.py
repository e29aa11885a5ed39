"""Entry point `chains`: execution chains, their stages, human approvals, eval results and span links."""

from __future__ import annotations

import flask

from core.chains import service
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
from core.models import PageQuery, SpanView
from functions._api import Call, Operation, serve


def _key(c: Call) -> str:
    return service.idempotency_key(c.headers.get("Idempotency-Key"))


def _delete(c: Call) -> None:
    service.delete_chain(c.services.store, c.org_id, c.path["chain_id"])


OPERATIONS: dict[str, Operation] = {
    # -- chains
    "list_chains": Operation(lambda c: service.list_chains(c.services.store, c.org_id, c.params), ChainList,
                             ChainQuery),
    "create_chain": Operation(lambda c: service.create_chain(c.services.store, c.org_id, c.body), ExecutionChain,
                              body=ChainCreate, status=201),
    "lookup_chain": Operation(lambda c: service.lookup_chain(c.services.store, c.org_id, c.params), ExecutionChain,
                              ChainLookup),
    "chain_stats": Operation(lambda c: service.chain_stats(c.services.store, c.org_id, c.params), ChainStats,
                             StatsQuery),
    "chain_stats_by_agent": Operation(
        lambda c: service.chain_stats_by_agent(c.services.store, c.org_id, c.params), AgentStatsList, StatsQuery),
    "chain_status_counts": Operation(
        lambda c: service.chain_status_counts(c.services.store, c.org_id, c.params), ChainStatusCounts, StatsQuery),
    "list_eval_chains": Operation(
        lambda c: service.list_eval_chains(c.services.store, c.org_id, c.params), ChainList, PageQuery),
    "get_chain": Operation(
        lambda c: service.get_chain(c.services.store, c.org_id, c.path["chain_id"], c.params), ExecutionChain,
        ChainRead),
    "delete_chain": Operation(_delete, None, status=204),
    "update_chain_status": Operation(
        lambda c: service.update_chain_status(c.services.store, c.org_id, c.path["chain_id"], c.body),
        ExecutionChain, body=ChainStatusUpdate),
    "add_chain_metrics": Operation(
        lambda c: service.add_chain_metrics(c.services.store, c.org_id, c.path["chain_id"], c.body, _key(c)),
        ExecutionChain, body=ChainMetricsAdd),
    "chain_journey": Operation(
        lambda c: service.chain_journey(c.services.store, c.org_id, c.path["chain_id"]), JourneyResponse),
    "chain_env": Operation(
        lambda c: service.env_for(c.services.store, c.org_id, c.path["chain_id"], c.params), ChainEnv, EnvQuery),
    # -- stages
    "create_stage": Operation(
        lambda c: service.create_stage(c.services.store, c.org_id, c.path["chain_id"], c.body), ChainStage,
        body=StageCreate, status=201),
    "get_stage": Operation(lambda c: service.get_stage(c.services.store, c.org_id, c.path["stage_id"]), ChainStage),
    "update_stage_status": Operation(
        lambda c: service.update_stage_status(c.services.store, c.org_id, c.path["stage_id"], c.body), ChainStage,
        body=StageStatusUpdate),
    "link_stage_session": Operation(
        lambda c: service.link_stage_session(c.services.store, c.org_id, c.path["stage_id"], c.body), ChainStage,
        body=StageSessionLink),
    "stage_approval": Operation(
        lambda c: service.stage_approval(c.services.store, c.org_id, c.path["stage_id"], c.body), ChainStage,
        body=StageApproval),
    "add_stage_metrics": Operation(
        lambda c: service.add_stage_metrics(c.services.store, c.org_id, c.path["stage_id"], c.body, _key(c)),
        ChainStage, body=StageMetricsAdd),
    "stage_error": Operation(
        lambda c: service.stage_error(c.services.store, c.org_id, c.path["stage_id"], c.body, _key(c)), ChainStage,
        body=StageError),
    "stage_spans": Operation(
        lambda c: service.stage_spans(c.services.store, c.org_id, c.path["stage_id"], c.params), SpanLitePage,
        PageQuery),
    "get_eval_assessment": Operation(
        lambda c: service.get_eval_assessment(c.services.store, c.org_id, c.path["stage_id"]), StageEvalAssessment),
    "put_eval_assessment": Operation(
        lambda c: service.put_eval_assessment(c.services.store, c.org_id, c.path["stage_id"], c.body),
        StageEvalAssessment, body=EvalAssessment),
    "query_evals": Operation(lambda c: service.query_evals(c.services.store, c.org_id, c.params), EvalResultList,
                             EvalQuery),
    "pending_approvals": Operation(
        lambda c: service.pending_approvals(c.services.store, c.org_id, c.params), PendingApprovalList, PageQuery),
    # -- spans
    "link_span": Operation(
        lambda c: service.link_span(c.services.store, c.org_id, c.path["span_id"], c.body), SpanView,
        body=SpanLink),
}


def chains(request: flask.Request) -> flask.Response:
    return serve(request, "chains", OPERATIONS)
