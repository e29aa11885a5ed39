"""The seed's analytics on ClickHouse: usage per user/agent/project, the day-of-week x hour heatmap, the top tools,
daily activity and tokens per model, over browsable sessions started in the range (days and hours in the filter's
IANA zone)."""

from __future__ import annotations

from core.adapters.clickhouse.session_reads import COMMIT_COUNTS
from core.adapters.clickhouse.session_sql import SessionSql
from core.agent_sessions.views import (
    AnalyticsFilter,
    DailyActivity,
    HeatmapCell,
    TokenUsageByModel,
    ToolUsageStat,
    UserUsage,
)

TOP_TOOLS = 20


class SessionAnalytics(SessionSql):
    """Tool calls and messages are narrowed by (session_month, session_id) IN the filtered sessions: the primary key
    then skips the granules of every other session (a date range or a project reads a fraction of the table)."""
    def usage(self, org_id: str, query: AnalyticsFilter) -> list[UserUsage]:
        where, params = self._browsable(org_id, query)
        rows = self._rows(
            "SELECT s.user_id, s.user_name, s.agent_type, s.project_name, count() AS sessions, sum(s.message_count), "
            "sum(ifNull(g.commit_count, 0)), sum(s.total_output_tokens), max(s.peak_context_tokens) "
            f"FROM {{db}}.sessions AS s FINAL LEFT JOIN ({COMMIT_COUNTS} GROUP BY session_id) AS g "
            f"ON g.session_id = s.id WHERE {where} "
            "GROUP BY s.user_id, s.user_name, s.agent_type, s.project_name "
            "ORDER BY sessions DESC, s.user_id, s.user_name, s.agent_type, s.project_name", params)
        return [UserUsage(user_id=r[0], user_name=r[1], agent_type=r[2], project_name=r[3], session_count=r[4],
                          message_count=r[5], commit_count=r[6], total_output_tokens=r[7], peak_context_tokens=r[8])
                for r in rows]

    def heatmap(self, org_id: str, query: AnalyticsFilter) -> list[HeatmapCell]:
        where, params = self._browsable(org_id, query)
        rows = self._rows(
            "SELECT toDayOfWeek(assumeNotNull(s.started_at), 0, {tz:String}) AS dow, "
            "toHour(assumeNotNull(s.started_at), {tz:String}) AS hour, count() "
            f"FROM {{db}}.sessions AS s FINAL WHERE {where} AND s.started_at IS NOT NULL "
            "GROUP BY dow, hour ORDER BY dow, hour", {**params, "tz": query.tz})
        return [HeatmapCell(day_of_week=r[0], hour=r[1], session_count=r[2]) for r in rows]

    def tools(self, org_id: str, query: AnalyticsFilter) -> list[ToolUsageStat]:
        where, params = self._browsable(org_id, query)
        rows = self._rows(
            "SELECT t.tool_name, t.tool_category, count() AS uses FROM {db}.tool_calls AS t FINAL "
            "WHERE t.org_id = {org:String} AND (t.session_month, t.session_id) IN "
            f"(SELECT s.session_month, s.id FROM {{db}}.sessions AS s FINAL WHERE {where}) "
            "GROUP BY t.tool_name, t.tool_category ORDER BY uses DESC, t.tool_name, t.tool_category "
            "LIMIT {top:UInt32}", {**params, "top": TOP_TOOLS})
        return [ToolUsageStat(tool_name=r[0], category=r[1], usage_count=r[2]) for r in rows]

    def daily(self, org_id: str, query: AnalyticsFilter) -> list[DailyActivity]:
        where, params = self._browsable(org_id, query)
        rows = self._rows(
            "SELECT toDate(assumeNotNull(s.started_at), {tz:String}) AS day, count(), sum(s.message_count), "
            f"sum(s.total_output_tokens) FROM {{db}}.sessions AS s FINAL WHERE {where} AND s.started_at IS NOT NULL "
            "GROUP BY day ORDER BY day", {**params, "tz": query.tz})
        return [DailyActivity(date=r[0].isoformat(), session_count=r[1], message_count=r[2],
                              total_output_tokens=r[3]) for r in rows]

    def tokens_by_model(self, org_id: str, query: AnalyticsFilter) -> list[TokenUsageByModel]:
        where, params = self._browsable(org_id, query)
        rows = self._rows(
            "SELECT m.model, sum(m.output_tokens) AS output, sum(m.context_tokens), count() "
            "FROM {db}.messages AS m FINAL WHERE m.org_id = {org:String} AND m.model != '' AND m.output_tokens > 0 "
            f"AND (m.session_month, m.session_id) IN (SELECT s.session_month, s.id FROM {{db}}.sessions AS s FINAL "
            f"WHERE {where}) "
            "GROUP BY m.model ORDER BY output DESC, m.model", params)
        return [TokenUsageByModel(model=r[0], output_tokens=r[1], context_tokens=r[2], message_count=r[3])
                for r in rows]
