"""The Analytics port when no analytics store is configured: exports are dropped loudly, reads answer 503."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from core.errors import AnalyticsNotConfigured
from core.ports.analytics import Analytics

if TYPE_CHECKING:
    from core.ports.agent_sessions import AgentSessionStore
    from core.ports.fact_insights import FactInsights, TelemetryHistory


def _missing() -> NoReturn:
    raise AnalyticsNotConfigured("analytics is not configured: set OBSERVATORY_CLICKHOUSE_URL")


class NullAnalytics(Analytics):
    @property
    def configured(self) -> bool:
        return False

    @property
    def history(self) -> TelemetryHistory:
        _missing()

    @property
    def facts(self) -> FactInsights:
        _missing()

    @property
    def sessions(self) -> AgentSessionStore:
        _missing()
