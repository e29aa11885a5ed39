"""The seed generator: profile counts, determinism, replay, and what the generated telemetry links to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.adapters.sqlite import SqliteStore
from core.catalog.models import MessageQuery, TaskQuery, WorkspaceQuery
from core.ingest import IngestService
from core.models import SpanQuery, TraceQuery
from core.pricing import PriceTable
from core.seed import PROFILES, SeedConfig, seed_database
from core.seed.plan import DAY_NS, make_plan
from core.span_filter import SpanFilter

ANCHOR = 1_772_359_200_000_000_000  # 2026-03-01T10:00:00Z


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[list[SqliteStore]]:
    made = [SqliteStore(tmp_path / f"seed{i}.db") for i in range(3)]
    yield made
    for s in made:
        s.close()


def seed(store: SqliteStore, n: int = 1, profile: str = "minimal", **options: Any) -> Any:
    config: SeedConfig = PROFILES[profile].with_options(**options)
    ingest = IngestService(store, PriceTable.load(), SpanFilter.from_env({}))
    return seed_database(store, ingest, config, org_id="acme", seed=n, anchor_ns=ANCHOR)


def everything(store: SqliteStore) -> dict[str, Any]:
    spans = store.list_spans("acme", SpanQuery(limit=1000))
    return {
        "spans": sorted((s.model_dump() for s in spans), key=lambda s: (s["trace_id"], s["id"])),
        "traces": store.list_traces("acme", TraceQuery(limit=1000)),
        "sessions": store.list_sessions("acme", 1000, 0),
        "workspaces": store.list_workspaces("acme", WorkspaceQuery(limit=1000)),
        "tasks": store.list_tasks("acme", TaskQuery(limit=1000)),
        "messages": store.list_messages("acme", MessageQuery(limit=1000)),
    }


def test_minimal_profile_counts(stores: list[SqliteStore]) -> None:
    result = seed(stores[0])
    got = (result.workspaces_created, result.tasks_created, result.assignments_created, result.messages_created,
           result.spans_created, result.traces_created, result.sessions_created, result.rejected)
    assert got == (1, 3, 3, 3, 60, 6, 3, 0)
    assert 0 < result.events_created <= 6  # one prompt event per trace of Claude Code / Gemini CLI sessions
    assert result.llm_calls_created > 0 and result.tool_calls_created > 0
    stored = everything(stores[0])
    assert len(stored["spans"]) == 60 and len(stored["traces"]) == 6 and len(stored["sessions"]) == 3
    assert len(stored["workspaces"]) == 1 and len(stored["tasks"]) == 3 and len(stored["messages"]) == 3
    tasks = {t.id for t in stored["tasks"]}
    [ws] = stored["workspaces"]
    for span in stored["spans"]:
        assert span["task_id"] in tasks and span["agent_assignment_id"] and span["session_id"]
        assert span["workspace"] == ws.path
        assert span["resource_attributes"]["service.name"] in ("claude-code", "gemini-cli", "eval", "coordinator")
        assert ANCHOR - 30 * DAY_NS <= span["start_time"].timestamp() * 1e9 <= ANCHOR
    for task in stored["tasks"]:
        assignments = stores[0].list_task_assignments("acme", task.id)
        assert len(assignments) == 1 and assignments[0].task_id == task.id


def test_same_seed_same_data_other_seed_other_data(stores: list[SqliteStore]) -> None:
    seed(stores[0], 5)
    seed(stores[1], 5)
    seed(stores[2], 6)
    assert everything(stores[0]) == everything(stores[1])
    assert everything(stores[0])["spans"] != everything(stores[2])["spans"]


def test_replaying_a_seed_creates_nothing_twice(stores: list[SqliteStore]) -> None:
    seed(stores[0])
    before = everything(stores[0])
    again = seed(stores[0])
    assert (again.workspaces_created, again.tasks_created, again.assignments_created, again.messages_created) == (
        0, 0, 0, 0)
    assert everything(stores[0]) == before


def test_stress_profile_plans_a_million_spans_in_10k_traces_and_2k_sessions() -> None:
    plan = make_plan(PROFILES["stress"], 1, ANCHOR)
    sessions = [s for ws in plan for t in ws.tasks for s in t.sessions]
    traces = [tr for s in sessions for tr in s.traces]
    assert (len(sessions), len(traces), sum(tr.spans for tr in traces)) == (2000, 10_000, 1_000_000)
    assert {tr.spans for tr in traces} == {50, 100, 200}  # the read benchmark needs whole traces of 200 spans
    assert len({s.session_id for s in sessions}) == 2000


def test_default_profile_spreads_agents_models_and_time() -> None:
    config = PROFILES["default"]
    plan = make_plan(config, 3, ANCHOR)
    tasks = [t for ws in plan for t in ws.tasks]
    assert len(plan) == config.num_workspaces
    assert all(config.tasks_per_workspace.min <= len(ws.tasks) <= config.tasks_per_workspace.max for ws in plan)
    for task in tasks:
        spans = sum(tr.spans for s in task.sessions for tr in s.traces)
        assert config.spans_per_task.min <= spans <= config.spans_per_task.max
        assert ANCHOR - 30 * DAY_NS <= task.start_ns < task.end_ns <= ANCHOR
    models = {m for t in tasks for s in t.sessions for m, _ in s.model_weights}
    assert {m.split("-")[0] for m in models} == {"claude", "gemini", "gpt"}
    assert {s.agent.service for t in tasks for s in t.sessions} >= {"claude-code", "gemini-cli"}
    days = {(t.start_ns - (ANCHOR - 30 * DAY_NS)) // DAY_NS for t in tasks}
    assert len(days) > 10


def test_models_of_every_provider_are_priced(stores: list[SqliteStore]) -> None:
    seed(stores[0], 3, "default", num_workspaces=1, spans_per_task=PROFILES["minimal"].spans_per_task)
    spans = stores[0].list_spans("acme", SpanQuery(limit=1000))
    priced = [s for s in spans if s.model]
    assert priced and all(not s.unpriced and s.cost_usd > 0 for s in priced)


def test_seed_command(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from emulator.cli import main

    # Analytics off: embedded ClickHouse opens one data directory per process, and the suite's is shared.
    monkeypatch.setenv("OBSERVATORY_CLICKHOUSE_URL", "off")

    data = tmp_path / "cli-data"
    args = ["seed", "--profile", "minimal", "--data-dir", str(data), "--seed", "9", "--org", "acme",
            "--until", "2026-03-01T10:00:00Z"]
    assert main(args) == 0
    out = capsys.readouterr().out
    result = json.loads(out[out.index("\n{") + 1:])
    assert (result["spans_created"], result["tasks_created"], result["sessions_created"]) == (60, 3, 3)
    assert main(args) == 0  # a replay creates no catalog entity twice
    again = capsys.readouterr().out
    assert json.loads(again[again.index("\n{") + 1:])["tasks_created"] == 0
    assert main([*args, "--clean"]) == 0  # a clean start creates them again
    cleaned = capsys.readouterr().out
    assert json.loads(cleaned[cleaned.index("\n{") + 1:])["tasks_created"] == 3
    store = SqliteStore(data / "observatory.db")
    try:
        assert len(store.list_spans("acme", SpanQuery(limit=1000))) == 60
        tasks = store.list_tasks("acme", TaskQuery(limit=1000))
        # The command drains the bus: task totals are computed from the spans before it returns.
        assert sum(t.span_count for t in tasks) == 60 and all(t.total_tokens_in > 0 for t in tasks)
        assert all(s.summary for s in store.list_sessions("acme", 1000, 0))
        assert max(s.end_time for s in store.list_spans("acme", SpanQuery(limit=1000))
                   if s.end_time).timestamp() * 1e9 <= ANCHOR
    finally:
        store.close()
    assert main(["seed", "--data-dir", str(data), "--until", "noon"]) == 2
