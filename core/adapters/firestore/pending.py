"""Store port areas the Firestore adapter does not implement yet: each raises NotImplementedError."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime
    from typing import Any

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
    from core.event_feed import ChangeEventView
    from core.events import ChangeEvent
    from core.hierarchy.models import TaskSpanSummary
    from core.models import SpanQuery, SpanView, ToolCallView
    from core.ports.chains import ChainDecision, ChainOutcome, StageDecision, StageOutcome
    from core.ports.erasure import PurgeNotice
    from core.ports.hooks import HookNotice, HookOutcome, HookRecord, HookSession
    from core.ports.insights import DayTotals, Dimension, GroupTotals, InsightFilter, InsightTotals
    from core.ports.maintenance import DeadLetter, StoreHealth
    from core.ports.span_views import ActivitySource, CreateOutcome, SessionActivity, SessionDigest
    from core.records import SpanRecord


def _not_yet(method: str) -> NotImplementedError:
    return NotImplementedError(f"{method} is not implemented on the Firestore store yet")


class PendingAreas:
    """Catalog, insights, span views, erasure, chains, hooks and event log: later rounds."""

    def activity_sessions(self, org_id: str, source: ActivitySource | None, workspace: str | None, limit: int,
                          offset: int) -> list[SessionActivity]:
        raise _not_yet("activity_sessions")

    def agent_stats(self, org_id: str, agent_id: str) -> AgentStats | None:
        raise _not_yet("agent_stats")

    def append_events(self, org_id: str, events: list[ChangeEvent], dedup_key: str | None = None) -> int:
        raise _not_yet("append_events")

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

    def create_assignment(self, org_id: str, a: AgentAssignment) -> AgentAssignment:
        raise _not_yet("create_assignment")

    def create_chain(self, org_id: str, chain: ExecutionChain) -> ExecutionChain:
        raise _not_yet("create_chain")

    def create_message(self, org_id: str, m: Message) -> Message:
        raise _not_yet("create_message")

    def create_span(self, org_id: str, span: SpanRecord) -> CreateOutcome:
        raise _not_yet("create_span")

    def create_stage(self, org_id: str, stage: ChainStage,
                     check: Callable[[ExecutionChain], None] | None = None) -> ChainStage | None:
        raise _not_yet("create_stage")

    def create_task(self, org_id: str, task: Task) -> Task:
        raise _not_yet("create_task")

    def create_workspace(self, org_id: str, ws: Workspace) -> Workspace:
        raise _not_yet("create_workspace")

    def delete_assignment(self, org_id: str, assignment_id: str) -> bool:
        raise _not_yet("delete_assignment")

    def delete_chain(self, org_id: str, chain_id: str) -> bool:
        raise _not_yet("delete_chain")

    def delete_message(self, org_id: str, message_id: str) -> bool:
        raise _not_yet("delete_message")

    def delete_span(self, org_id: str, trace_id: str, span_id: str) -> bool:
        raise _not_yet("delete_span")

    def delete_task(self, org_id: str, task_id: str) -> bool:
        raise _not_yet("delete_task")

    def delete_workspace(self, org_id: str, workspace_id: str) -> bool:
        raise _not_yet("delete_workspace")

    def drop_events_before(self, cutoff_ns: int) -> int:
        raise _not_yet("drop_events_before")

    def exec_spans(self, org_id: str, names: list[str], limit: int) -> list[SpanView]:
        raise _not_yet("exec_spans")

    def find_chain(self, org_id: str, *, message_id: str | None = None, task_id: str | None = None,
                   github_repo: str | None = None, github_issue_number: int | None = None
                   ) -> ExecutionChain | None:
        raise _not_yet("find_chain")

    def find_span(self, org_id: str, span_id: str) -> SpanView | None:
        raise _not_yet("find_span")

    def get_assignment(self, org_id: str, assignment_id: str) -> AgentAssignment | None:
        raise _not_yet("get_assignment")

    def get_chain(self, org_id: str, chain_id: str) -> ExecutionChain | None:
        raise _not_yet("get_chain")

    def get_message(self, org_id: str, message_id: str) -> Message | None:
        raise _not_yet("get_message")

    def get_stage(self, org_id: str, stage_id: str) -> ChainStage | None:
        raise _not_yet("get_stage")

    def get_task(self, org_id: str, task_id: str) -> Task | None:
        raise _not_yet("get_task")

    def get_workspace(self, org_id: str, workspace_id: str) -> Workspace | None:
        raise _not_yet("get_workspace")

    def hook_session(self, org_id: str, session_id: str) -> HookSession | None:
        raise _not_yet("hook_session")

    def index_span_ids(self, org_id: str, trace_ids: list[str]) -> None:
        raise _not_yet("index_span_ids")

    def insight_days(self, org_id: str, f: InsightFilter, days: list[tuple[int, int]]) -> list[DayTotals]:
        raise _not_yet("insight_days")

    def insight_groups(self, org_id: str, f: InsightFilter, dimension: Dimension) -> list[GroupTotals]:
        raise _not_yet("insight_groups")

    def insight_totals(self, org_id: str, f: InsightFilter) -> InsightTotals:
        raise _not_yet("insight_totals")

    def last_event_seq(self, org_id: str) -> int:
        raise _not_yet("last_event_seq")

    def link_span(self, org_id: str, trace_id: str, span_id: str, chain_id: str, stage_id: str | None) -> bool:
        raise _not_yet("link_span")

    def list_chains(self, org_id: str, q: ChainQuery) -> list[ChainSummary]:
        raise _not_yet("list_chains")

    def list_events(self, org_id: str, since: int, limit: int, types: Sequence[str] = (),
                    workspace_id: str | None = None, task_id: str | None = None) -> list[ChangeEventView]:
        raise _not_yet("list_events")

    def list_messages(self, org_id: str, q: MessageQuery) -> list[Message]:
        raise _not_yet("list_messages")

    def list_spans_lite(self, org_id: str, q: SpanQuery) -> list[SpanView]:
        raise _not_yet("list_spans_lite")

    def list_stages(self, org_id: str, chain_id: str) -> list[ChainStage]:
        raise _not_yet("list_stages")

    def list_task_assignments(self, org_id: str, task_id: str) -> list[AgentAssignment]:
        raise _not_yet("list_task_assignments")

    def list_tasks(self, org_id: str, q: TaskQuery) -> list[Task]:
        raise _not_yet("list_tasks")

    def list_workspaces(self, org_id: str, q: WorkspaceQuery) -> list[Workspace]:
        raise _not_yet("list_workspaces")

    def pending_approvals(self, org_id: str, limit: int, offset: int) -> list[PendingApprovalInfo]:
        raise _not_yet("pending_approvals")

    def purge_session(self, org_id: str, session_id: str, notice: PurgeNotice | None = None) -> dict[str, int]:
        raise _not_yet("purge_session")

    def query_evals(self, org_id: str, q: EvalQuery) -> list[ChainStage]:
        raise _not_yet("query_evals")

    def recalculate_assignment(self, org_id: str, assignment_id: str) -> AgentAssignment | None:
        raise _not_yet("recalculate_assignment")

    def recalculate_task(self, org_id: str, task_id: str) -> Task | None:
        raise _not_yet("recalculate_task")

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

    def set_message_status(self, org_id: str, message_id: str, status: MessageStatus, at: datetime
                           ) -> Message | None:
        raise _not_yet("set_message_status")

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

    def task_timeline(self, org_id: str, task_id: str, limit: int = 1000, offset: int = 0
                      ) -> list[TimelineEntry]:
        raise _not_yet("task_timeline")

    def tool_call_near(self, org_id: str, session_id: str, tool_name: str, time_ns: int,
                       window_ns: int = 300 * 10**9) -> ToolCallView | None:
        raise _not_yet("tool_call_near")

    def tool_calls_of_spans(self, org_id: str, keys: list[tuple[str, str]], with_result: bool = False
                            ) -> dict[tuple[str, str], ToolCallView]:
        raise _not_yet("tool_calls_of_spans")

    def update_assignment(self, org_id: str, assignment_id: str, changes: Mapping[str, Any]
                          ) -> AgentAssignment | None:
        raise _not_yet("update_assignment")

    def update_message(self, org_id: str, message_id: str, changes: Mapping[str, Any]) -> Message | None:
        raise _not_yet("update_message")

    def update_task(self, org_id: str, task_id: str, changes: Mapping[str, Any]) -> Task | None:
        raise _not_yet("update_task")

    def update_workspace(self, org_id: str, workspace_id: str, changes: Mapping[str, Any]) -> Workspace | None:
        raise _not_yet("update_workspace")

    def workspace_labels(self, org_id: str, keys: list[str]) -> dict[str, str]:
        raise _not_yet("workspace_labels")

    def workspace_stats(self, org_id: str, workspace_id: str) -> WorkspaceStats | None:
        raise _not_yet("workspace_stats")

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

