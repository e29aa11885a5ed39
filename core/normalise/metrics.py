"""Normalises OTLP metrics into metric points keyed by series identity, start and time."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric, ResourceMetrics

from core.normalise.attributes import TIME_LIMIT_NS, attrs_dict, first, to_str, valid_ns
from core.normalise.resource import ResourceContext, fill_session, resource_context
from core.records import Batch, MetricPointRecord

_TEMPORALITY = ("", "delta", "cumulative")


def normalise_metrics(resource_metrics: list[ResourceMetrics], batch: Batch) -> None:
    for rm in resource_metrics:
        ctx = resource_context(rm.resource)
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                _normalise_metric(metric, ctx, batch)


def _points(metric: Metric) -> tuple[str, str, list[tuple[Any, float]]]:
    kind = metric.WhichOneof("data")
    if kind == "sum":
        temporality = _TEMPORALITY[metric.sum.aggregation_temporality] if metric.sum.aggregation_temporality < 3 else ""
        return "sum", temporality, [(p, _number(p)) for p in metric.sum.data_points]
    if kind == "gauge":
        return "gauge", "", [(p, _number(p)) for p in metric.gauge.data_points]
    if kind == "histogram":
        t = metric.histogram.aggregation_temporality
        return "histogram", _TEMPORALITY[t] if t < 3 else "", [(p, p.sum) for p in metric.histogram.data_points]
    if kind == "exponential_histogram":
        t = metric.exponential_histogram.aggregation_temporality
        return ("histogram", _TEMPORALITY[t] if t < 3 else "",
                [(p, p.sum) for p in metric.exponential_histogram.data_points])
    if kind == "summary":
        return "summary", "cumulative", [(p, p.sum) for p in metric.summary.data_points]
    return "", "", []


def _number(point: Any) -> float:
    return float(point.as_int) if point.WhichOneof("value") == "as_int" else float(point.as_double)


def _normalise_metric(metric: Metric, ctx: ResourceContext, batch: Batch) -> None:
    metric_type, temporality, points = _points(metric)
    if not metric.name:
        for _ in points:
            batch.reject("metric without a name")
        return
    for point, value in points:
        if not point.time_unix_nano:
            batch.reject("missing time_unix_nano")
            continue
        if not valid_ns(point.time_unix_nano) or point.start_time_unix_nano >= TIME_LIMIT_NS:
            batch.reject("time out of range")
            continue
        if math.isnan(value) or math.isinf(value):
            batch.reject("non-finite value")
            continue
        attrs = attrs_dict(point.attributes)
        attrs_json = json.dumps(attrs, sort_keys=True, separators=(",", ":"), default=str)
        series = hashlib.sha1(f"{metric.name}\x00{ctx.digest}\x00{attrs_json}".encode()).hexdigest()
        session_id = to_str(attrs.get("session.id")) or ctx.session_id
        model = to_str(first(attrs, ("model", "gen_ai.request.model", "gen_ai.response.model")))
        batch.metric_points.append(MetricPointRecord(
            series_key=series,
            name=metric.name,
            metric_type=metric_type,
            temporality=temporality,
            start_ns=point.start_time_unix_nano,
            time_ns=point.time_unix_nano,
            value=value,
            session_id=session_id,
            model=model,
            label_type=to_str(first(attrs, ("type", "gen_ai.token.type"))),
            attributes_json=attrs_json,
            resource_json=ctx.json,
        ))
        if session_id:
            seen = batch.see_session(session_id, point.time_unix_nano)
            fill_session(seen, ctx, attrs)
            if model:
                seen.models.add(model)
