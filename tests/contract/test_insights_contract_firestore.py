"""The InsightStore contract (tests/contract/test_insights_contract.py, unchanged) run on Firestore, and the Firestore
adapter's answers checked against the SQLite adapter's on a mixed world."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.adapters.firestore import reads
from core.adapters.firestore.indexes import QueryShape, covered
from core.adapters.sqlite import SqliteStore
from core.catalog.models import AgentAssignment, Task, Workspace
from core.ports.insights import DIMENSIONS
from core.ports.store import Store
from tests.contract.firestore_store import firestore_emulator_host, firestore_store
from tests.contract.test_insights_contract import (
    DAY,
    NOW,
    H,
    T,
    api_error,
    call,
    session,
    span,
    test_a_catalog_workspace_id_covers_its_path_and_paths_under_it,
    test_activity_sums_the_session_aggregates_of_sessions_in_the_window,
    test_an_empty_org_has_zero_totals,
    test_catalog_counts_follow_the_window_and_the_filter,
    test_day_buckets_split_at_their_bounds,
    test_every_aggregate_stays_inside_its_org,
    test_groups_by_each_dimension,
    test_heatmap_buckets_by_local_day_across_midnight,
    test_local_days_follow_daylight_saving_changes,
    test_one_call_reported_by_event_span_and_metrics_counts_once,
    test_provider_and_model_match_calls_and_reach_other_facts_through_their_sessions,
    test_replaying_writes_changes_no_aggregate,
    test_source_type_and_workspace_match_through_the_session,
    test_summary_success_rate_and_errors_follow_the_session_rule,
    test_the_default_window_is_the_last_30_days,
    test_the_window_is_half_open,
    test_totals_sum_calls_spans_tools_and_errors,
    tool,
    window,
    write,
)

__all__ = [
    "firestore_emulator_host",
    "test_a_catalog_workspace_id_covers_its_path_and_paths_under_it",
    "test_activity_sums_the_session_aggregates_of_sessions_in_the_window",
    "test_an_empty_org_has_zero_totals",
    "test_catalog_counts_follow_the_window_and_the_filter",
    "test_day_buckets_split_at_their_bounds",
    "test_every_aggregate_stays_inside_its_org",
    "test_groups_by_each_dimension",
    "test_heatmap_buckets_by_local_day_across_midnight",
    "test_local_days_follow_daylight_saving_changes",
    "test_one_call_reported_by_event_span_and_metrics_counts_once",
    "test_provider_and_model_match_calls_and_reach_other_facts_through_their_sessions",
    "test_replaying_writes_changes_no_aggregate",
    "test_source_type_and_workspace_match_through_the_session",
    "test_summary_success_rate_and_errors_follow_the_session_rule",
    "test_the_default_window_is_the_last_30_days",
    "test_the_window_is_half_open",
    "test_totals_sum_calls_spans_tools_and_errors",
]


@pytest.fixture
def store(firestore_emulator_host: str) -> Iterator[Store]:
    s = firestore_store(firestore_emulator_host)
    yield s
    s.close()


# -- Firestore only: the same answers as the SQLite adapter, and every query served by a declared index ------------

FILTERS: list[dict[str, str]] = [
    {}, {"source_type": "claude_code"}, {"source_type": "eval"}, {"workspace": "ws-a"}, {"workspace": "unknown"},
    {"provider": "claude"}, {"model": "gpt-5", "source_type": "eval"}, {"provider": "gemini", "workspace": "/src/b"},
]


def _mixed_world(store: Store) -> None:
    """Sessions in and around the window (one far outside the slack, one never recorded), records with and without
    sessions, spans, outcomes and durations, catalog workspaces, tasks and assignments."""
    rng = random.Random(7)
    t0 = T - 3 * DAY
    for ws_id, path in (("ws-a", "/src/a"), ("ws-b", "/src/b")):
        store.create_workspace("acme", Workspace(id=ws_id, name=ws_id.upper(), path=path, created_at=NOW,
                                                 updated_at=NOW))
    for i, ws_id in enumerate(("ws-a", "ws-b", "ws-a")):
        store.create_task("acme", Task(id=f"task-{i}", workspace_id=ws_id, title="t", created_at=NOW - timedelta(
            days=i + 1)))
        store.create_assignment("acme", AgentAssignment(id=f"as-{i}", task_id=f"task-{i}", agent_id=f"agent-{i % 2}",
                                                        provider=("claude", "gemini")[i % 2], assigned_at=NOW))
    sessions = {
        "s1": session("s1", t0, t0 + DAY, "claude_code", "/src/a"),
        "s2": session("s2", t0, t0 + 2 * DAY, "gemini_cli", "/src/b/x"),
        "s3": session("s3", t0 + DAY, t0 + DAY + H, "claude_code", None),
        "far": session("far", T - 60 * DAY, T - 50 * DAY, "codex", "/src/a/wt"),
    }
    models = [("claude-sonnet-4-5", "claude"), ("gemini-2.5-pro", "gemini"), ("gpt-5", "openai"), (None, None)]
    spans, calls, tools, errors = [], [], [], []
    for i in range(24):
        sid = rng.choice(["s1", "s2", "s3", "far", "ghost", None, None])
        t = t0 + rng.randrange(3 * DAY)
        model, provider = rng.choice(models)
        sp = f"{i:02d}"
        spans.append(span("tr", sp, t, sid, source=rng.choice(["eval", "other", "claude_code"]),
                          workspace=rng.choice(["", "/src/a/y", "/src/c"]), task=rng.choice([None, "task-0", "task-1"]),
                          model=model, provider=provider))
        if i % 2 == 0:
            c = call(f"c{i}", sid, t + 5, model=model, provider=provider, success=rng.random() > 0.2,
                     span=("tr", sp) if rng.random() > 0.4 else None, cost=rng.choice([0.0, 0.5, 1.25]))
            calls.append(c)
        if i % 3 == 0:
            tools.append(tool(f"t{i}", sid, t + 7, success=rng.choice([True, False, None]), span_ref=("tr", sp)))
        if i % 5 == 0:
            errors.append(api_error(f"e{i}", sid, t + 9))
    write(store, sessions=sessions, spans=spans, llm_calls=calls, tool_calls=tools, events=errors)


def _answers(store: Store) -> list[Any]:
    out: list[Any] = []
    days = [(T - 4 * DAY + i * DAY, T - 3 * DAY + i * DAY) for i in range(4)]
    for facets in FILTERS:
        f = window(**facets)  # type: ignore[arg-type]
        out.append(store.insight_totals("acme", f))
        for dimension in DIMENSIONS:
            out.append(sorted(store.insight_groups("acme", f, dimension), key=lambda g: g.key))
        out.append(store.insight_days("acme", f, days))
    out.append(store.workspace_labels("acme", ["ws-a", "ws-b", "/src/c", "nope"]))
    return out


def _rounded(value: Any) -> Any:
    """Float sums differ in their last bits with the order they were added in."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _rounded(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def test_answers_match_the_sqlite_adapter(store: Store, tmp_path: Path) -> None:
    reference = SqliteStore(tmp_path / "reference.db")
    try:
        _mixed_world(reference)
        _mixed_world(store)
        reads.RECORDED_SHAPES.clear()
        got = _rounded(_answers(store))
        assert got == _rounded(_answers(reference))
        assert all(totals["calls"]["calls"] for totals in got[:-1:6][:3])  # the world has calls to compare
    finally:
        reference.close()
    missing = sorted((s for s in reads.RECORDED_SHAPES if not covered(s)), key=repr)
    assert missing == []
    assert QueryShape("events", ("name",), ("time_ns", "ASCENDING")) in reads.RECORDED_SHAPES
