"""ChainStore: the Store port's methods for the chains API area (every method scoped to one org)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydantic models and the records stay out of the ingest cold start
    from collections.abc import Callable

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
    from core.models import SpanView
    from core.ports.chain_records import ChainDecision, ChainOutcome, StageDecision, StageOutcome


class IdempotencyConflict(Exception):
    """An idempotency key already applied with different amounts (or a different error message)."""


class ChainStore(ABC):
    """Execution chains and their stages.

    State changes are decided by the caller and applied atomically: ``change_stage`` / ``change_chain`` read
    the current entity inside one write transaction, call the decision with it (a decision may raise to abort:
    nothing changes), apply the change and append its events in that same transaction. Derived values are
    recomputed there from facts, never incremented: a stage's amounts are the sums of its metric entries and its
    error_count the number of its error entries; a chain's current_stage is its highest stage number,
    stages_completed the number of completed stages, and its totals the sums over its stages plus its own
    chain-level entries (total_tokens = tokens_in + tokens_out of the stages + the entries' tokens). When a
    change sets a stage's status, a chain that is active or pending_approval becomes pending_approval if any
    of its stages awaits approval and active otherwise (completed and failed chains keep their status).
    Every applied change stamps the chain's updated_at. Deleting a chain deletes its stages and entries; spans
    keep their chain_id / stage_id as recorded."""

    # -- chains ----------------------------------------------------------------------------------------------
    @abstractmethod
    def create_chain(self, org_id: str, chain: ExecutionChain) -> ExecutionChain:
        """Raises core.ports.catalog.DuplicateId when the id is taken in the org."""

    @abstractmethod
    def get_chain(self, org_id: str, chain_id: str) -> ExecutionChain | None:
        """The chain without its stages."""

    @abstractmethod
    def chain_ids_with_prefix(self, org_id: str, prefix: str, limit: int = 2) -> list[str]:
        """Ids of the org's chains starting with ``prefix``, in id order, at most ``limit``."""

    @abstractmethod
    def find_chain(self, org_id: str, *, message_id: str | None = None, task_id: str | None = None,
                   github_repo: str | None = None, github_issue_number: int | None = None
                   ) -> ExecutionChain | None:
        """The newest chain matching the one criterion given: a stage with the message (or a chain whose
        source is that message: source_type message, source_ref = id), a stage with the task, or the GitHub
        repo and issue number."""

    @abstractmethod
    def list_chains(self, org_id: str, q: ChainQuery) -> list[ChainSummary]:
        """Newest first; ``agent_id``: chains with a stage of that agent; ``created_after`` inclusive."""

    @abstractmethod
    def delete_chain(self, org_id: str, chain_id: str) -> bool: ...

    @abstractmethod
    def change_chain(self, org_id: str, chain_id: str, decide: ChainDecision) -> ChainOutcome | None:
        """Apply ``decide(chain)`` (see the class docstring); None when the chain is unknown. A metric entry
        whose key the chain already has changes nothing (applied False) when its amounts are the same and
        raises IdempotencyConflict otherwise."""

    @abstractmethod
    def chain_stats(self, org_id: str, created_after: datetime | None) -> ChainStats:
        """One query. average_stages_count: stages per chain; average_duration_ms: completed_at - created_at
        over the chains that have completed_at; pending_approvals: stages awaiting approval."""

    @abstractmethod
    def chain_status_counts(self, org_id: str, created_after: datetime | None) -> ChainStatusCounts:
        """One query."""

    @abstractmethod
    def chain_stats_by_agent(self, org_id: str, created_after: datetime | None) -> list[AgentStatsResult]:
        """One query; most stages first, then agent id."""

    # -- stages ----------------------------------------------------------------------------------------------
    @abstractmethod
    def create_stage(self, org_id: str, stage: ChainStage,
                     check: Callable[[ExecutionChain], None] | None = None) -> ChainStage | None:
        """Insert the stage as the next of its chain: its stage_number (ignored on input) is the chain's highest
        plus one, assigned atomically (concurrent creates get distinct numbers); the chain's derived values
        follow. ``check(chain)`` runs first in the transaction and may raise to refuse. None when the chain is
        unknown; DuplicateId when the stage id is taken."""

    @abstractmethod
    def get_stage(self, org_id: str, stage_id: str) -> ChainStage | None: ...

    @abstractmethod
    def list_stages(self, org_id: str, chain_id: str) -> list[ChainStage]:
        """By stage number."""

    @abstractmethod
    def change_stage(self, org_id: str, stage_id: str, decide: StageDecision) -> StageOutcome | None:
        """Apply ``decide(stage, chain)`` (see the class docstring); None when the stage is unknown. A metric or
        error entry whose key the stage already has changes nothing (applied False) when it is the same and
        raises IdempotencyConflict otherwise."""

    @abstractmethod
    def pending_approvals(self, org_id: str, limit: int, offset: int) -> list[PendingApprovalInfo]:
        """Stages awaiting approval, oldest stage first."""

    @abstractmethod
    def query_evals(self, org_id: str, q: EvalQuery) -> list[ChainStage]:
        """Stages with an eval assessment matching the filters, newest stage first."""

    # -- spans -----------------------------------------------------------------------------------------------
    @abstractmethod
    def stage_spans(self, org_id: str, stage_id: str, limit: int, offset: int) -> tuple[list[SpanView], int]:
        """One page of the spans linked to the stage (lite, by start time) and how many there are in all."""

    @abstractmethod
    def link_span(self, org_id: str, trace_id: str, span_id: str, chain_id: str, stage_id: str | None) -> bool:
        """Set the span's chain_id and stage_id (None clears the stage); False when there is no such span."""
