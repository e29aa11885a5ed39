"""Insight services: the metrics summary, provider comparison, breakdowns and the daily heatmap of one org."""

from __future__ import annotations

from datetime import UTC, datetime

from core.errors import BadParameter
from core.insights.models import (
    Breakdown,
    BreakdownItem,
    Heatmap,
    HeatmapDataPoint,
    InsightQuery,
    MetricsSummary,
    ProviderComparison,
    ProviderComparisonList,
)
from core.insights.window import MAX_DAY_BUCKETS, Window, resolve
from core.ports.insights import DIMENSIONS, UNKNOWN, CallTotals, Dimension, InsightFilter, InsightStore

_SOURCE_LABELS = {
    "claude_code": "Claude Code",
    "gemini_cli": "Gemini CLI",
    "eval": "Eval",
    "coordinator": "Coordinator",
    "other": "Other",
}


def _filter(q: InsightQuery, window: Window) -> InsightFilter:
    return InsightFilter(start_ns=window.start_ns, end_ns=window.end_ns, source_type=q.source_type,
                         provider=q.provider, model=q.model, workspace=q.workspace)


def _window(q: InsightQuery, now: datetime | None) -> Window:
    return resolve(q.start_date, q.end_date, q.tz, now or datetime.now(UTC))


def _rate(good: int, total: int) -> float:
    return round(good / total, 4) if total else 0.0


def _success_rate(calls: CallTotals, tools: int, failed_tools: int, api_errors: int) -> tuple[float, int]:
    """(success rate, error count) as core.sessions defines them: operations are LLM calls, tool calls and API
    errors; errors are failed calls, failed tool calls and API errors."""
    errors = calls.failed_calls + failed_tools + api_errors
    operations = calls.calls + tools + api_errors
    return _rate(operations - errors, operations), errors


def _money(value: float) -> float:
    return round(value, 10)


def metrics_summary(store: InsightStore, org_id: str, q: InsightQuery, now: datetime | None = None) -> MetricsSummary:
    window = _window(q, now)
    t = store.insight_totals(org_id, _filter(q, window))
    c = t.calls
    rate, errors = _success_rate(c, t.tool_calls, t.failed_tool_calls, t.api_errors)
    return MetricsSummary(
        start_date=window.start, end_date=window.end, tz=q.tz,
        total_workspaces=t.workspaces, total_tasks=t.tasks, total_spans=t.spans, total_agents=t.agents,
        total_tokens_in=c.tokens_in, total_tokens_out=c.tokens_out, total_cost_usd=_money(c.cost_usd),
        success_rate=rate, total_cache_read_tokens=c.cache_read_tokens,
        total_cache_creation_tokens=c.cache_creation_tokens, cache_savings_usd=_money(c.cache_savings_usd),
        lines_added=t.lines_added, lines_removed=t.lines_removed, commit_count=t.commits,
        pull_request_count=t.pull_requests, active_time_ms=t.active_time_ms, turn_count=c.calls,
        tool_calls=t.tool_calls, error_count=errors, total_sessions=c.sessions,
        total_reasoning_tokens=c.reasoning_tokens, unpriced_calls=c.unpriced_calls,
        failed_llm_calls=c.failed_calls, failed_tool_calls=t.failed_tool_calls, api_errors=t.api_errors,
    )


def _share(part: float, total: float) -> float:
    return round(part / total, 4) if total > 0 else 0.0


def provider_comparison(
    store: InsightStore, org_id: str, q: InsightQuery, now: datetime | None = None
) -> ProviderComparisonList:
    window = _window(q, now)
    groups = store.insight_groups(org_id, _filter(q, window), "provider")
    total_cost = sum(g.calls.cost_usd for g in groups)
    providers = []
    for g in groups:
        c = g.calls
        providers.append(ProviderComparison(
            provider=g.key, total_executions=c.calls, total_tokens_in=c.tokens_in, total_tokens_out=c.tokens_out,
            total_cost=_money(c.cost_usd),
            avg_duration_ms=round(c.duration_ms / c.timed_calls, 3) if c.timed_calls else 0.0,
            success_rate=_rate(c.calls - c.failed_calls, c.calls), failed_executions=c.failed_calls,
            total_cache_read_tokens=c.cache_read_tokens, total_cache_creation_tokens=c.cache_creation_tokens,
            total_reasoning_tokens=c.reasoning_tokens, cache_savings_usd=_money(c.cache_savings_usd),
            avg_cost_usd=_money(c.cost_usd / c.calls) if c.calls else 0.0, cost_share=_share(c.cost_usd, total_cost),
            session_count=c.sessions, span_count=g.spans,
        ))
    providers.sort(key=lambda p: (-p.total_cost, -p.total_executions, p.provider))
    return ProviderComparisonList(start_date=window.start, end_date=window.end, tz=q.tz, providers=providers,
                                  count=len(providers))


def dimension_of(value: str) -> Dimension:
    if value not in DIMENSIONS:
        raise BadParameter(f"invalid parameter 'dimension': {value[:64]!r} is not one of {', '.join(DIMENSIONS)}")
    return value


def _label(dimension: Dimension, key: str, workspace_names: dict[str, str]) -> str:
    if dimension == "source_type":
        return _SOURCE_LABELS.get(key, key)
    if dimension == "workspace":
        return workspace_names.get(key, key)
    return key


def breakdown(
    store: InsightStore, org_id: str, dimension: str, q: InsightQuery, now: datetime | None = None
) -> Breakdown:
    dim = dimension_of(dimension)
    window = _window(q, now)
    groups = store.insight_groups(org_id, _filter(q, window), dim)
    names = store.workspace_labels(org_id, [g.key for g in groups if g.key != UNKNOWN]) if dim == "workspace" else {}
    total_cost = sum(g.calls.cost_usd for g in groups)
    items = []
    for g in groups:
        c = g.calls
        items.append(BreakdownItem(
            id=g.key, label=_label(dim, g.key, names), span_count=g.spans, tokens_in=c.tokens_in,
            tokens_out=c.tokens_out, cost_usd=_money(c.cost_usd), duration_ms=round(c.duration_ms),
            cache_read_tokens=c.cache_read_tokens, cache_creation_tokens=c.cache_creation_tokens,
            cache_savings_usd=_money(c.cache_savings_usd), reasoning_tokens=c.reasoning_tokens, calls=c.calls,
            failed_calls=c.failed_calls, session_count=c.sessions, cost_share=_share(c.cost_usd, total_cost),
        ))
    items.sort(key=lambda i: (-i.cost_usd, -i.calls, -i.span_count, i.id))
    return Breakdown(start_date=window.start, end_date=window.end, tz=q.tz, dimension=dim, items=items,
                     count=len(items), total_cost_usd=_money(total_cost))


def heatmap(store: InsightStore, org_id: str, q: InsightQuery, now: datetime | None = None) -> Heatmap:
    window = _window(q, now)
    days = window.days()
    if len(days) > MAX_DAY_BUCKETS:
        raise BadParameter(f"invalid parameter 'start_date': the heatmap covers at most {MAX_DAY_BUCKETS} days "
                           f"(this window touches {len(days)})")
    totals = store.insight_days(org_id, _filter(q, window), [(lo, hi) for _, lo, hi in days])
    points = []
    for (day, _, _), t in zip(days, totals, strict=True):
        c = t.calls
        rate, errors = _success_rate(c, t.tool_calls, t.failed_tool_calls, t.api_errors)
        points.append(HeatmapDataPoint(
            date=day, span_count=t.spans, task_count=t.tasks, cost=_money(c.cost_usd), success_rate=rate,
            tokens_in=c.tokens_in, tokens_out=c.tokens_out, calls=c.calls, session_count=c.sessions,
            cache_read_tokens=c.cache_read_tokens, cache_creation_tokens=c.cache_creation_tokens,
            tool_calls=t.tool_calls, error_count=errors,
        ))
    return Heatmap(start_date=window.start, end_date=window.end, tz=q.tz, days=points, count=len(points))
