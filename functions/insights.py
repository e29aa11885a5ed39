"""Entry point `insights`: aggregates under /api/observatory (metrics summary, providers, breakdowns, heatmap)."""

from __future__ import annotations

import flask

from core.insights import service
from core.insights.models import Breakdown, Heatmap, InsightQuery, MetricsSummary, ProviderComparisonList
from functions._api import Operation, serve

OPERATIONS: dict[str, Operation] = {
    "metrics_summary": Operation(
        lambda c: service.metrics_summary(c.services.insights, c.org_id, c.params), MetricsSummary, InsightQuery),
    "provider_comparison": Operation(
        lambda c: service.provider_comparison(c.services.insights, c.org_id, c.params), ProviderComparisonList,
        InsightQuery),
    "breakdown": Operation(
        lambda c: service.breakdown(c.services.insights, c.org_id, c.path["dimension"], c.params), Breakdown,
        InsightQuery),
    "heatmap": Operation(lambda c: service.heatmap(c.services.insights, c.org_id, c.params), Heatmap, InsightQuery),
}


def insights(request: flask.Request) -> flask.Response:
    return serve(request, "insights", OPERATIONS)
