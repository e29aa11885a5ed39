"""Turns stored metric points (delta or cumulative) into per-interval increments."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Increment:
    name: str
    model: str | None
    label_type: str | None
    start_ns: int
    end_ns: int
    value: float


@dataclass(frozen=True, slots=True)
class PointIn:
    series_key: str
    name: str
    temporality: str
    start_ns: int
    time_ns: int
    value: float
    model: str | None
    label_type: str | None


def increments(points: Iterable[PointIn]) -> list[Increment]:
    """Delta points are increments as they are. Cumulative points of one series and start time are
    sorted by time and differenced (the first covers [start, t0]); a drop means a reset, whose value
    is the new increment. Order of arrival therefore does not matter, and a replayed point changes nothing."""
    out: list[Increment] = []
    cumulative: dict[tuple[str, int], list[PointIn]] = defaultdict(list)
    for p in points:
        if p.temporality == "cumulative":
            cumulative[(p.series_key, p.start_ns)].append(p)
        elif p.temporality == "delta":
            out.append(Increment(p.name, p.model, p.label_type, p.start_ns, p.time_ns, p.value))
    for (_, start), series in cumulative.items():
        series.sort(key=lambda p: p.time_ns)
        prev_value, prev_time = 0.0, start
        for p in series:
            delta = p.value - prev_value
            out.append(Increment(p.name, p.model, p.label_type, prev_time, p.time_ns, delta if delta >= 0 else p.value))
            prev_value, prev_time = p.value, p.time_ns
    return out
