"""Pydantic models of the chains area: chains, stages, approvals, evals (the seed's JSON field names)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core.catalog.models import Id, Timestamp
from core.models import Instant, PageQuery, SessionView

ChainSourceType = Literal["github_issue", "message", "manual", "eval_suite"]
ChainStatus = Literal["active", "pending_approval", "completed", "failed"]
StageStatus = Literal["pending", "running", "awaiting_approval", "completed", "failed"]
ApprovalStatus = Literal["pending", "approved", "rejected"]
ApprovalType = Literal["merge", "handoff", "merge_handoff"]

Short = Annotated[str, StringConstraints(max_length=200)]
Long = Annotated[str, StringConstraints(max_length=10_000)]
Output = Annotated[str, StringConstraints(max_length=100_000)]  # eval code and outputs (kept, not truncated)
Issue = Annotated[int, Field(ge=0, le=2**31 - 1)]
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]
# Amounts a metrics POST adds: bounded so that sums over many entries stay inside SQLite's 64-bit integers.
Amount = Annotated[int, Field(ge=0, le=10**12)]
Cost = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]


# -- entities ------------------------------------------------------------------------------------------------

class EvalAssessment(BaseModel):
    """The seed's EvalAssessment: structured results of a benchmark stage (stored whole, filtered by GET /evals)."""

    model_config = ConfigDict(extra="ignore")

    benchmark_id: Short = ""
    model: Short = ""
    language: Short = ""
    condition: Short | None = None
    eval_mode: Short = ""
    executor: Short | None = None
    seed: Int64 = 0
    compile_ok: bool = False
    runtime_ok: bool = False
    stdout_ok: bool = False
    error_category: Short = ""
    first_attempt_ok: bool = False
    repair_used: bool = False
    repair_ok: bool = False
    err_code: Short | None = None
    verify_ok: bool = False
    verify_verified: Count = 0
    verify_counterexample: Count = 0
    verify_skipped: Count = 0
    verify_errors: Count = 0
    prompt_version: Short | None = None
    code_hash: Short | None = None
    code: Output | None = None
    stdout: Output | None = None
    expected_stdout: Output | None = None
    stderr: Output | None = None


class SpanLite(BaseModel):
    """The seed's SpanLite: a span without its attribute blobs (trees, timelines, stage span pages)."""

    id: str
    trace_id: str
    parent_span_id: str | None = None
    chain_id: str | None = None
    stage_id: str | None = None
    name: str
    kind: str
    status: str
    status_message: str | None = None
    start_time: datetime
    end_time: datetime | None = None
    duration_ms: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0
    model: str | None = None
    provider: str | None = None


class ChainStage(BaseModel):
    """One agent execution within a chain. Amounts (cost .. duration_ms) are the sums of the metrics POSTed to
    the stage; error_count is the number of errors recorded on it. ``session`` and ``spans`` are filled only on
    a chain read that asks for them."""

    id: str
    chain_id: str
    stage_number: int
    agent_id: str
    provider: str = ""
    message_id: str | None = None
    task_id: str | None = None
    session_id: str | None = None
    status: StageStatus = "pending"
    approval_status: ApprovalStatus | None = None
    approval_type: ApprovalType | None = None
    handoff_to: str | None = None
    iteration: int = 1
    human_feedback: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    cost: float = 0
    tokens_in: int = 0
    tokens_out: int = 0
    turns: int = 0
    tool_calls: int = 0
    duration_ms: int = 0
    error_message: str | None = None
    error_count: int = 0
    eval_assessment: EvalAssessment | None = None
    session: SessionView | None = None
    spans: list[SpanLite] | None = None


class ExecutionChain(BaseModel):
    """A complete execution flow from its source (issue, message, eval suite) to completion. current_stage,
    stages_completed and the totals are derived from the stages (plus chain-level metrics POSTs)."""

    id: str
    source_type: ChainSourceType
    source_ref: str | None = None
    github_repo: str | None = None
    github_issue_number: int | None = None
    status: ChainStatus = "active"
    current_stage: int = 0
    workspace_id: str | None = None
    workspace_path: str | None = None
    created_at: datetime
    updated_at: datetime | None = None
    completed_at: datetime | None = None
    total_cost: float = 0
    total_tokens: int = 0
    total_turns: int = 0
    stages_completed: int = 0
    stages: list[ChainStage] | None = None


class ChainSummary(BaseModel):
    """A chain for list views, with its stage count, highest stage number and agent flow ("a -> b -> c")."""

    id: str
    source_type: ChainSourceType
    source_ref: str | None = None
    github_repo: str | None = None
    github_issue_number: int | None = None
    status: ChainStatus
    current_stage: int = 0
    total_cost: float = 0
    total_tokens: int = 0
    total_turns: int = 0
    stages_completed: int = 0
    created_at: datetime
    completed_at: datetime | None = None
    stage_count: int = 0
    max_stage: int = 0
    agent_flow: str = ""


class ChainStats(BaseModel):
    """Totals over the chains (created since a date, if given); pending_approvals counts awaiting stages."""

    total_chains: int = 0
    active_chains: int = 0
    pending_approvals: int = 0
    completed_chains: int = 0
    failed_chains: int = 0
    total_cost: float = 0
    total_tokens: int = 0
    average_stages_count: float = 0
    average_duration_ms: float = 0


class ChainStatusCounts(BaseModel):
    """Chains per status (created since a date, if given)."""

    total_chains: int = 0
    completed: int = 0
    active: int = 0
    pending_approval: int = 0
    failed: int = 0
    total_cost: float = 0
    total_tokens: int = 0


class AgentStatsResult(BaseModel):
    """One agent's stages over the chains (created since a date, if given)."""

    agent_id: str
    stages: int = 0
    completed: int = 0
    failed: int = 0
    total_cost: float = 0
    total_tokens_in: int = 0
    total_tokens_out: int = 0


class PendingApprovalInfo(BaseModel):
    """A stage awaiting approval with its chain's source (the approvals dashboard row)."""

    chain_id: str
    source_type: ChainSourceType
    source_ref: str | None = None
    stage_id: str
    stage_number: int
    agent_id: str
    approval_status: ApprovalStatus | None = None
    approval_type: ApprovalType | None = None
    task_id: str | None = None
    session_id: str | None = None
    cost: float = 0
    turns: int = 0
    stage_created: datetime


class JourneyStep(BaseModel):
    """One stage of the journey narrative."""

    stage_number: int
    agent_id: str
    action: str
    status: StageStatus
    approval_status: ApprovalStatus | None = None
    iteration: int = 1
    feedback: str | None = None
    error_excerpt: str | None = None
    cost: float = 0
    duration_ms: int = 0


class JourneyResponse(BaseModel):
    """A chain's narrative: one step per stage and a one-line summary ("Design doc approved -> Sprint planned")."""

    chain_id: str
    steps: list[JourneyStep]
    summary: str


class ChainEnv(BaseModel):
    """What an executor of a chain stage runs with so its telemetry links to the chain at write time.

    ``env``: OTEL_RESOURCE_ATTRIBUTES (observatory.chain_id, .stage_id, .task_id, .message_id; values
    percent-encoded) and the same ids as OBSERVATORY_CHAIN_ID, OBSERVATORY_STAGE_ID, OBSERVATORY_TASK_ID,
    OBSERVATORY_MESSAGE_ID (only those known)."""

    chain_id: str
    stage_id: str | None = None
    task_id: str | None = None
    message_id: str | None = None
    env: dict[str, str]


class StageEvalAssessment(BaseModel):
    """A stage's eval assessment; null when none was stored."""

    stage_id: str
    chain_id: str
    eval_assessment: EvalAssessment | None = None


# -- request bodies ------------------------------------------------------------------------------------------

class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ChainCreate(_Body):
    """The seed's ChainCreateRequest (plus an optional client id and creation time)."""

    id: Id | None = None
    source_type: ChainSourceType
    source_ref: Annotated[str, StringConstraints(max_length=1000)] | None = None
    github_repo: Short | None = None
    github_issue_number: Issue | None = None
    workspace_id: Id | None = None
    workspace_path: Annotated[str, StringConstraints(max_length=4096)] | None = None
    created_at: Timestamp | None = None


class ChainStatusUpdate(_Body):
    status: ChainStatus


class ChainMetricsAdd(_Body):
    """Amounts to add to the chain itself (work not attributable to one stage); stage amounts add up on their own."""

    cost: Cost = 0
    tokens: Amount = 0
    turns: Amount = 0


class StageCreate(_Body):
    """The seed's StageCreateRequest; ``chain_id`` (optional) must name the chain of the path."""

    id: Id | None = None
    chain_id: Id | None = None
    agent_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    provider: Short = ""
    message_id: Id | None = None
    task_id: Id | None = None
    handoff_to: Short | None = None
    iteration: Annotated[int, Field(ge=1, le=10**6)] = 1


class StageStatusUpdate(_Body):
    status: StageStatus


class StageSessionLink(_Body):
    session_id: Id


class StageApproval(_Body):
    """Request (pending) or decide (approved / rejected) a stage's approval; ``feedback`` is accepted for
    ``human_feedback``."""

    approval_status: ApprovalStatus
    approval_type: ApprovalType | None = None
    human_feedback: Long | None = None
    feedback: Long | None = None


class StageMetricsAdd(_Body):
    cost: Cost = 0
    tokens_in: Amount = 0
    tokens_out: Amount = 0
    turns: Amount = 0
    tool_calls: Amount = 0
    duration_ms: Amount = 0


class StageError(_Body):
    error_message: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class SpanLink(_Body):
    chain_id: Id
    stage_id: Id | None = None


# -- queries -------------------------------------------------------------------------------------------------

class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ChainQuery(PageQuery):
    """The seed's ChainListOptions: newest first."""

    status: ChainStatus | None = None
    source_type: ChainSourceType | None = None
    workspace_id: str | None = None
    github_repo: str | None = None
    agent_id: str | None = None
    created_after: Instant | None = None


class ChainRead(_Query):
    """The seed's ChainReadOptions; stages are included unless ``include_stages=false`` (spans and sessions
    imply stages). Spans are the stage's first 1000, light: page with GET /stages/{id}/spans."""

    include_stages: bool = True
    include_spans: bool = False
    include_sessions: bool = False


class ChainLookup(ChainRead):
    """Exactly one criterion: ``message_id``, ``task_id``, or ``github_repo`` with ``github_issue_number``."""

    message_id: str | None = None
    task_id: str | None = None
    github_repo: str | None = None
    github_issue_number: Issue | None = None


class StatsQuery(_Query):
    """Only chains created at or after ``created_after`` (``since`` is the same filter)."""

    created_after: Instant | None = None
    since: Instant | None = None


class EnvQuery(_Query):
    """``stage_id``: a stage of the chain (its task and message are used unless given)."""

    stage_id: Id | None = None
    task_id: Id | None = None
    message_id: Id | None = None


class EvalQuery(PageQuery):
    """The seed's EvalQueryOptions: newest stage first; success_only = stdout_ok, failure_only = not stdout_ok."""

    chain_id: str | None = None
    model: str | None = None
    language: str | None = None
    benchmark_id: str | None = None
    condition: str | None = None
    eval_mode: str | None = None
    success_only: bool = False
    failure_only: bool = False


# -- list envelopes ------------------------------------------------------------------------------------------

class ChainList(BaseModel):
    chains: list[ChainSummary]
    count: int
    limit: int
    offset: int


class AgentStatsList(BaseModel):
    agents: list[AgentStatsResult]
    count: int


class PendingApprovalList(BaseModel):
    approvals: list[PendingApprovalInfo]
    count: int
    limit: int
    offset: int


class SpanLitePage(BaseModel):
    """The seed's SpanLitePage: ``total`` counts every span of the stage, ``spans`` is one page."""

    spans: list[SpanLite]
    total: int
    limit: int
    offset: int


class EvalResultList(BaseModel):
    stages: list[ChainStage]
    count: int
    limit: int
    offset: int
