"""SplitInsights: the InsightStore port answered from the analytics facts (FactInsights) plus the Store's catalog, so
the insight services aggregate telemetry in the analytics store and only read the catalog from the Store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from core.insights.window import to_ns
from core.ports.fact_insights import CatalogWorkspace, FactInsights
from core.ports.insights import DayTotals, Dimension, GroupTotals, InsightFilter, InsightStore, InsightTotals

if TYPE_CHECKING:
    from core.catalog.models import AgentAssignment, Task, TaskQuery, Workspace, WorkspaceQuery

_PAGE = 1000  # PageQuery's cap


def _ns(value: datetime) -> int:
    """Exact nanoseconds of a catalog timestamp (a naive one is UTC, as the Store keeps them)."""
    return to_ns(value if value.tzinfo is not None else value.replace(tzinfo=UTC))


class CatalogReads(Protocol):
    """The Store methods SplitInsights reads (the catalog area, and the labels of the insights area)."""

    def list_workspaces(self, org_id: str, q: WorkspaceQuery) -> list[Workspace]: ...

    def list_tasks(self, org_id: str, q: TaskQuery) -> list[Task]: ...

    def list_task_assignments(self, org_id: str, task_id: str) -> list[AgentAssignment]: ...

    def workspace_labels(self, org_id: str, keys: list[str]) -> dict[str, str]: ...


class SplitInsights(InsightStore):
    """Facts (calls, spans, tools, errors, session activity) from ``facts``; the catalog counts of the summary
    (workspaces, tasks created in the window, their agents) and workspace labels from ``store``, with the Store's
    rules: a workspace filter names a catalog workspace by id or path, and source_type / provider / model reach a
    task through its spans (FactInsights.task_ids)."""

    def __init__(self, facts: FactInsights, store: CatalogReads) -> None:
        self._facts = facts
        self._store = store

    def _workspaces(self, org_id: str) -> list[Workspace]:
        from core.catalog.models import WorkspaceQuery

        out: list[Workspace] = []
        while True:
            page = self._store.list_workspaces(org_id, WorkspaceQuery(limit=_PAGE, offset=len(out)))
            out += page
            if len(page) < _PAGE:
                return out

    def _catalog_workspaces(self, org_id: str) -> list[CatalogWorkspace]:
        return [CatalogWorkspace(w.id, w.path) for w in self._workspaces(org_id)]

    def _window_tasks(self, org_id: str, lo: int, hi: int, workspace_ids: list[str] | None) -> set[str]:
        """Ids of the tasks created in ``[lo, hi)`` (of the given workspaces when not None)."""
        from core.catalog.models import TaskQuery

        out: set[str] = set()
        for ws_id in workspace_ids if workspace_ids is not None else [None]:
            offset = 0
            while True:
                page = self._store.list_tasks(org_id, TaskQuery(workspace_id=ws_id, limit=_PAGE, offset=offset))
                offset += len(page)
                out.update(t.id for t in page if lo <= _ns(t.created_at) < hi)
                if len(page) < _PAGE:
                    break
        return out

    def insight_totals(self, org_id: str, f: InsightFilter) -> InsightTotals:
        workspaces = self._workspaces(org_id)
        catalog = [CatalogWorkspace(w.id, w.path) for w in workspaces]
        t = self._facts.insight_totals(org_id, f, catalog)
        if f.workspace is not None:  # the filter names a catalog workspace by id, or by its path
            workspaces = [w for w in workspaces if w.id == f.workspace or (w.path != "" and w.path == f.workspace)]
        t.workspaces = len(workspaces)
        tasks = self._window_tasks(org_id, f.start_ns, f.end_ns,
                                   [w.id for w in workspaces] if f.workspace is not None else None)
        if f.source_type is not None or f.by_call:
            tasks &= self._facts.task_ids(org_id, f, catalog)
        t.tasks = len(tasks)
        agents: set[str] = set()
        for task_id in sorted(tasks):
            for a in self._store.list_task_assignments(org_id, task_id):
                if f.provider is None or a.provider == f.provider:
                    agents.add(a.agent_id)
        t.agents = len(agents)
        return t

    def insight_groups(self, org_id: str, f: InsightFilter, dimension: Dimension) -> list[GroupTotals]:
        catalog = self._catalog_workspaces(org_id) if dimension == "workspace" or f.workspace is not None else []
        return self._facts.insight_groups(org_id, f, dimension, catalog)

    def insight_days(self, org_id: str, f: InsightFilter, days: list[tuple[int, int]]) -> list[DayTotals]:
        catalog = self._catalog_workspaces(org_id) if f.workspace is not None else []
        return self._facts.insight_days(org_id, f, days, catalog)

    def workspace_labels(self, org_id: str, keys: list[str]) -> dict[str, str]:
        return self._store.workspace_labels(org_id, keys)
