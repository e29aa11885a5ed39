"""The Analytics port on one ClickHouse database: history, fact insights and agent sessions over one connection."""

from __future__ import annotations

from core.adapters.clickhouse.connection import AnalyticsConnection
from core.adapters.clickhouse.history import ClickHouseHistory
from core.adapters.clickhouse.insights import ClickHouseFactInsights
from core.adapters.clickhouse.session_store import ClickHouseAgentSessions
from core.ports.agent_sessions import AgentSessionStore
from core.ports.analytics import Analytics
from core.ports.fact_insights import FactInsights, TelemetryHistory


class ClickHouseAnalytics(Analytics):
    """Opens the database and applies every migration (idempotent) when built."""

    def __init__(self, dsn: str, ttl_days: int = 400) -> None:
        self.connection = AnalyticsConnection(dsn)
        self._history = ClickHouseHistory(self.connection, ttl_days=ttl_days)
        self._facts = ClickHouseFactInsights(self.connection)
        self._sessions = ClickHouseAgentSessions(self.connection, ttl_days=ttl_days)
        self._sessions.ensure_schema()

    @property
    def configured(self) -> bool:
        return True

    @property
    def history(self) -> TelemetryHistory:
        return self._history

    @property
    def facts(self) -> FactInsights:
        return self._facts

    @property
    def sessions(self) -> AgentSessionStore:
        return self._sessions

    def close(self) -> None:
        self.connection.close()
