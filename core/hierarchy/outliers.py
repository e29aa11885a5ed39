"""Z-score outliers among a task's spans (the seed's AnalyzeTaskOutliers, exactly)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime

from core.hierarchy.models import (
    CumulativePoint,
    OutlierAnalysis,
    OutlierQuery,
    RateAnalysis,
    SpanOutlier,
    TaskMetricStats,
)
from core.hierarchy.tasks import task_or_session_spans
from core.models import SpanView
from core.ports.store import Store

# option name -> (metric name in results, value of a span)
METRICS: dict[str, tuple[str, Callable[[SpanView], float]]] = {
    "cost": ("cost_usd", lambda s: float(s.cost_usd)),
    "duration": ("duration_ms", lambda s: float(s.duration_ms)),
    "tokens": ("tokens", lambda s: float(s.tokens_in + s.tokens_out)),
}


def metric_stats(metric: str, values: list[float]) -> TaskMetricStats:
    """Count, sum, mean, sample standard deviation (n - 1), min and max of the non-zero values."""
    nz = [v for v in values if v != 0]
    n = len(nz)
    total = math.fsum(nz)
    mean = total / n if n else 0.0
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in nz) / (n - 1)) if n > 1 else 0.0
    return TaskMetricStats(metric=metric, count=n, sum=total, mean=mean, std_dev=std,
                           min=min(nz) if nz else 0.0, max=max(nz) if nz else 0.0)


def cumulative(spans: list[SpanView], value: Callable[[SpanView], float]) -> list[CumulativePoint]:
    """Running total over the spans by start time; each span's share of the final total in percent."""
    values = [value(s) for s in spans]
    final = math.fsum(values)
    running = 0.0
    points = []
    for i, (span, v) in enumerate(zip(spans, values, strict=True)):
        running += v
        points.append(CumulativePoint(span_index=i, span_name=span.name, timestamp=span.start_time, value=v,
                                      cumulative=running, delta_percent=v / final * 100 if final else 0.0))
    return points


def analyse(task_id: str, title: str, spans: list[SpanView], q: OutlierQuery) -> OutlierAnalysis:
    """Per metric, statistics over non-zero values; a span is an outlier when its value is non-zero, the
    standard deviation is non-zero and |z| >= threshold. Outliers by |z| descending, at most ``limit``."""
    spans = sorted(spans, key=lambda s: (s.start_time, s.id))
    chosen = list(METRICS) if q.metric == "all" else [q.metric]
    stats: list[TaskMetricStats] = []
    outliers: list[SpanOutlier] = []
    for option in chosen:
        metric, value = METRICS[option]
        values = [value(s) for s in spans]
        st = metric_stats(metric, values)
        stats.append(st)
        if st.std_dev == 0:
            continue
        for span, v in zip(spans, values, strict=True):
            if v == 0:
                continue
            z = (v - st.mean) / st.std_dev
            if abs(z) >= q.threshold:
                outliers.append(SpanOutlier(span=span, metric=metric, value=v, mean=st.mean, std_dev=st.std_dev,
                                            z_score=z, percent_of_total=v / st.sum * 100 if st.sum else 0.0))
    outliers.sort(key=lambda o: -abs(o.z_score))
    rate = None
    if q.show_rate:
        rate = RateAnalysis(
            cumulative_cost=cumulative(spans, METRICS["cost"][1]) if "cost" in chosen else [],
            cumulative_tokens=cumulative(spans, METRICS["tokens"][1]) if "tokens" in chosen else [],
            cumulative_duration=cumulative(spans, METRICS["duration"][1]) if "duration" in chosen else [],
        )
    return OutlierAnalysis(task_id=task_id, task_title=title, span_count=len(spans), stats=stats,
                           outliers=outliers[:q.limit], rate_of_change=rate, threshold=q.threshold,
                           analyzed_at=datetime.now(UTC))


def task_outliers(store: Store, org_id: str, task_id: str, q: OutlierQuery) -> OutlierAnalysis:
    """Outliers among the task's spans (up to 10,000 by start time), or a session's spans, turns and tools."""
    title, spans = task_or_session_spans(store, org_id, task_id)
    return analyse(task_id, title, spans, q)
