"""The Analytics port (DESIGN §2): the telemetry history and its fact aggregations, and the agent-session store."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.ports.agent_sessions import AgentSessionStore
    from core.ports.fact_insights import FactInsights, TelemetryHistory


class Analytics(ABC):
    """One analytics store seen through its three parts. `configured` is False for the placeholder a deployment
    without an analytics store gets: its exports are dropped (loudly) and its parts raise AnalyticsNotConfigured."""

    @property
    @abstractmethod
    def configured(self) -> bool: ...

    @property
    @abstractmethod
    def history(self) -> TelemetryHistory:
        """Where the export worker writes every ingested batch and the aggregate worker the session rollups."""

    @property
    @abstractmethod
    def facts(self) -> FactInsights:
        """Breakdowns, heatmap and summary over the history (the insights API when analytics is configured)."""

    @property
    @abstractmethod
    def sessions(self) -> AgentSessionStore:
        """The agent-session store: sessions, messages, tool calls, git links, search and the /api/v1 analytics."""

    def close(self) -> None:  # noqa: B027 - optional: adapters holding a connection release it
        """Release connections."""
