"""Store port areas the Firestore adapter does not implement yet: each raises NotImplementedError."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from typing import Any

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
    from core.hierarchy.models import TaskSpanSummary
    from core.models import SpanQuery, SpanView, ToolCallView
    from core.ports.chains import ChainDecision, ChainOutcome, StageDecision, StageOutcome
    from core.ports.hooks import HookNotice, HookOutcome, HookRecord, HookSession
    from core.ports.maintenance import DeadLetter, StoreHealth
    from core.ports.span_views import ActivitySource, CreateOutcome, SessionActivity, SessionDigest
    from core.records import SpanRecord


def _not_yet(method: str) -> NotImplementedError:
    return NotImplementedError(f"{method} is not implemented on the Firestore store yet")


class PendingAreas:
    """Span views, chains, hooks and maintenance: not on Firestore yet."""

    def activity_sessions(self, org_id: str, source: ActivitySource | None, workspace: str | None, limit: int,
                          offset: int) -> list[SessionActivity]:
        raise _not_yet("activity_sessions")

    def append_span_event(self, org_id: str, trace_id: str, span_id: str, event: dict[str, Any]) -> int | None:
        raise _not_yet("append_span_event")

    def chain_ids_with_prefix(self, org_id: str, prefix: str, limit: int = 2) -> list[str]:
        raise _not_yet("chain_ids_with_prefix")

    def chain_stats(self, org_id: str, created_after: datetime | None) -> ChainStats:
        raise _not_yet("chain_stats")

    def chain_stats_by_agent(self, org_id: str, created_after: datetime | None) -> list[AgentStatsResult]:
        raise _not_yet("chain_stats_by_agent")

    def chain_status_counts(self, org_id: str, created_after: datetime | None) -> ChainStatusCounts:
        raise _not_yet("chain_status_counts")

    def change_chain(self, org_id: str, chain_id: str, decide: ChainDecision) -> ChainOutcome | None:
        raise _not_yet("change_chain")

    def change_stage(self, org_id: str, stage_id: str, decide: StageDecision) -> StageOutcome | None:
        raise _not_yet("change_stage")

    def create_chain(self, org_id: str, chain: ExecutionChain) -> ExecutionChain:
        raise _not_yet("create_chain")

    def create_span(self, org_id: str, span: SpanRecord) -> CreateOutcome:
        raise _not_yet("create_span")

    def create_stage(self, org_id: str, stage: ChainStage,
                     check: Callable[[ExecutionChain], None] | None = None) -> ChainStage | None:
        raise _not_yet("create_stage")

    def delete_chain(self, org_id: str, chain_id: str) -> bool:
        raise _not_yet("delete_chain")

    def delete_span(self, org_id: str, trace_id: str, span_id: str) -> bool:
        raise _not_yet("delete_span")

    def exec_spans(self, org_id: str, names: list[str], limit: int) -> list[SpanView]:
        raise _not_yet("exec_spans")

    def find_chain(self, org_id: str, *, message_id: str | None = None, task_id: str | None = None,
                   github_repo: str | None = None, github_issue_number: int | None = None
                   ) -> ExecutionChain | None:
        raise _not_yet("find_chain")

    def find_span(self, org_id: str, span_id: str) -> SpanView | None:
        raise _not_yet("find_span")

    def get_chain(self, org_id: str, chain_id: str) -> ExecutionChain | None:
        raise _not_yet("get_chain")

    def get_stage(self, org_id: str, stage_id: str) -> ChainStage | None:
        raise _not_yet("get_stage")

    def hook_session(self, org_id: str, session_id: str) -> HookSession | None:
        raise _not_yet("hook_session")

    def index_span_ids(self, org_id: str, trace_ids: list[str]) -> None:
        raise _not_yet("index_span_ids")

    def link_span(self, org_id: str, trace_id: str, span_id: str, chain_id: str, stage_id: str | None) -> bool:
        raise _not_yet("link_span")

    def list_chains(self, org_id: str, q: ChainQuery) -> list[ChainSummary]:
        raise _not_yet("list_chains")

    def list_spans_lite(self, org_id: str, q: SpanQuery) -> list[SpanView]:
        raise _not_yet("list_spans_lite")

    def list_stages(self, org_id: str, chain_id: str) -> list[ChainStage]:
        raise _not_yet("list_stages")

    def pending_approvals(self, org_id: str, limit: int, offset: int) -> list[PendingApprovalInfo]:
        raise _not_yet("pending_approvals")

    def query_evals(self, org_id: str, q: EvalQuery) -> list[ChainStage]:
        raise _not_yet("query_evals")

    def record_hook(self, org_id: str, hook: HookRecord, notice: HookNotice | None = None) -> HookOutcome:
        raise _not_yet("record_hook")

    def replace_span(self, org_id: str, span: SpanRecord) -> bool:
        raise _not_yet("replace_span")

    def session_digests(self, org_id: str, session_ids: list[str]) -> dict[str, SessionDigest]:
        raise _not_yet("session_digests")

    def session_has_unrecorded_calls(self, org_id: str, session_id: str) -> bool:
        raise _not_yet("session_has_unrecorded_calls")

    def session_spans(self, org_id: str, session_id: str, limit: int = 10_000) -> list[SpanView]:
        raise _not_yet("session_spans")

    def session_tool_calls_lite(self, org_id: str, session_id: str) -> list[ToolCallView]:
        raise _not_yet("session_tool_calls_lite")

    def spans_of_traces(self, org_id: str, trace_ids: list[str]) -> list[SpanView]:
        raise _not_yet("spans_of_traces")

    def stage_spans(self, org_id: str, stage_id: str, limit: int, offset: int) -> tuple[list[SpanView], int]:
        raise _not_yet("stage_spans")

    def task_sessions(self, org_id: str, task_id: str) -> dict[str, str | None]:
        raise _not_yet("task_sessions")

    def task_span_summary(self, org_id: str, task_id: str, top: int = 10) -> TaskSpanSummary | None:
        raise _not_yet("task_span_summary")

    def task_spans(self, org_id: str, task_id: str, limit: int = 10_000) -> list[SpanView]:
        raise _not_yet("task_spans")

    def tool_call_near(self, org_id: str, session_id: str, tool_name: str, time_ns: int,
                       window_ns: int = 300 * 10**9) -> ToolCallView | None:
        raise _not_yet("tool_call_near")

    def tool_calls_of_spans(self, org_id: str, keys: list[tuple[str, str]], with_result: bool = False
                            ) -> dict[tuple[str, str], ToolCallView]:
        raise _not_yet("tool_calls_of_spans")


    # -- maintenance (retention, health, dead letters) ------------------------------------------------------
    def delete_expired(self, kind: str, cutoff_ns: int, chunk: int = 5000) -> int:
        raise _not_yet("delete_expired")

    def health(self) -> StoreHealth:
        raise _not_yet("health")

    def record_outbox_failure(self, ids: list[int], reason: str, max_attempts: int) -> int:
        raise _not_yet("record_outbox_failure")

    def dead_letter_outbox(self, ids: list[int], reason: str) -> int:
        raise _not_yet("dead_letter_outbox")

    def list_dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        raise _not_yet("list_dead_letters")

    def dead_letter_count(self) -> int:
        raise _not_yet("dead_letter_count")

    def replay_dead_letters(self, ids: list[int] | None = None) -> int:
        raise _not_yet("replay_dead_letters")

    def oldest_outbox_ns(self) -> int | None:
        raise _not_yet("oldest_outbox_ns")

    def rejection_counts(self, org_id: str) -> dict[str, int]:
        raise _not_yet("rejection_counts")

