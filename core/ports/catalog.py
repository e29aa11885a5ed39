"""CatalogStore: the Store port's methods for the catalog API area (every method scoped to one org)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pydantic models stay out of the ingest cold start
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


class DuplicateId(Exception):
    """A create found an entity with the same id already in the org."""


class MissingReference(Exception):
    """A create or update names a related entity (``field``) that does not exist in the org."""

    def __init__(self, field: str, value: str) -> None:
        super().__init__(f"{field} {value!r} does not exist")
        self.field = field
        self.value = value


class CatalogStore(ABC):
    """Workspaces, tasks, agent assignments and inbox messages of one org.

    Creates raise DuplicateId for an id already taken, MissingReference for a related id that does not exist
    (a task's workspace, an assignment's task). ``update_*`` take ``changes`` keyed by the entity's field
    names (only those given change) and return None when the id is unknown in the org; ``delete_*`` return
    whether a row was deleted. Deleting a workspace deletes its tasks, and deleting a task its assignments;
    spans keep their facts (their task_id / assignment_id stay as recorded)."""

    # -- workspaces --------------------------------------------------------------------------------------------
    @abstractmethod
    def create_workspace(self, org_id: str, ws: Workspace) -> Workspace: ...

    @abstractmethod
    def get_workspace(self, org_id: str, workspace_id: str) -> Workspace | None: ...

    @abstractmethod
    def list_workspaces(self, org_id: str, q: WorkspaceQuery) -> list[Workspace]:
        """Newest first."""

    @abstractmethod
    def update_workspace(self, org_id: str, workspace_id: str, changes: Mapping[str, Any]) -> Workspace | None: ...

    @abstractmethod
    def delete_workspace(self, org_id: str, workspace_id: str) -> bool: ...

    @abstractmethod
    def workspace_stats(self, org_id: str, workspace_id: str) -> WorkspaceStats | None:
        """task_count, total_cost, total_tokens (in + out), success_rate (completed / all tasks),
        unique_agents (distinct agent_id over the tasks' assignments), last_activity (latest task timestamp)."""

    # -- tasks ---------------------------------------------------------------------------------------------
    @abstractmethod
    def create_task(self, org_id: str, task: Task) -> Task: ...

    @abstractmethod
    def get_task(self, org_id: str, task_id: str) -> Task | None: ...

    @abstractmethod
    def list_tasks(self, org_id: str, q: TaskQuery) -> list[Task]:
        """Newest first, filtered by workspace_id, status, source_type, parent_task_id."""

    @abstractmethod
    def update_task(self, org_id: str, task_id: str, changes: Mapping[str, Any]) -> Task | None: ...

    @abstractmethod
    def delete_task(self, org_id: str, task_id: str) -> bool: ...

    @abstractmethod
    def task_timeline(self, org_id: str, task_id: str, limit: int = 1000, offset: int = 0
                      ) -> list[TimelineEntry]:
        """The task's spans by start time; one span-less entry for a task without spans; [] for no task."""

    @abstractmethod
    def recalculate_task(self, org_id: str, task_id: str) -> Task | None:
        """Recompute the task's totals from its spans (and agent_count from its assignments)."""

    # -- agent assignments -----------------------------------------------------------------------------------
    @abstractmethod
    def create_assignment(self, org_id: str, a: AgentAssignment) -> AgentAssignment: ...

    @abstractmethod
    def get_assignment(self, org_id: str, assignment_id: str) -> AgentAssignment | None: ...

    @abstractmethod
    def list_task_assignments(self, org_id: str, task_id: str) -> list[AgentAssignment]:
        """Oldest first (the order agents were assigned)."""

    @abstractmethod
    def update_assignment(self, org_id: str, assignment_id: str, changes: Mapping[str, Any]
                          ) -> AgentAssignment | None: ...

    @abstractmethod
    def delete_assignment(self, org_id: str, assignment_id: str) -> bool: ...

    @abstractmethod
    def agent_stats(self, org_id: str, agent_id: str) -> AgentStats | None:
        """Totals over every assignment of the agent; None when it has none."""

    @abstractmethod
    def recalculate_assignment(self, org_id: str, assignment_id: str) -> AgentAssignment | None:
        """Recompute duration, tokens, cost, tool_calls (spans named ``*tool.*``) and turns (LLM spans)."""

    # -- inbox messages --------------------------------------------------------------------------------------
    @abstractmethod
    def create_message(self, org_id: str, m: Message) -> Message: ...

    @abstractmethod
    def get_message(self, org_id: str, message_id: str) -> Message | None: ...

    @abstractmethod
    def list_messages(self, org_id: str, q: MessageQuery) -> list[Message]:
        """Newest first, filtered by inbox, status, from_agent, task_id."""

    @abstractmethod
    def update_message(self, org_id: str, message_id: str, changes: Mapping[str, Any]) -> Message | None: ...

    @abstractmethod
    def delete_message(self, org_id: str, message_id: str) -> bool: ...

    @abstractmethod
    def set_message_status(self, org_id: str, message_id: str, status: MessageStatus, at: datetime
                           ) -> Message | None:
        """Set the status; `read` stamps read_at and `archived` archived_at with ``at`` unless already set."""
