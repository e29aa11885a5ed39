"""Seed configurations (the seed's SeedConfig with its minimal / default / stress profiles) and SeedResult."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Range:
    """An inclusive min/max range a count is drawn from."""

    min: int
    max: int

    def __post_init__(self) -> None:
        if not 0 <= self.min <= self.max:
            raise ValueError(f"invalid range {self.min}..{self.max}")


@dataclass(frozen=True)
class SeedConfig:
    """What to generate. Every task gets agent assignments, each assignment one agent session, and the task's
    spans are split over its sessions into traces of ``spans_per_trace`` spans (the last one may be shorter),
    or of the sizes ``trace_sizes`` names, in turn."""

    num_workspaces: int
    tasks_per_workspace: Range
    spans_per_task: Range
    include_messages: bool = True
    clean_first: bool = False  # `observatory seed` deletes the database file before seeding
    assignments_per_task: Range = field(default_factory=lambda: Range(1, 1))
    messages_per_task: Range = field(default_factory=lambda: Range(1, 3))
    spans_per_trace: int = 100
    trace_sizes: tuple[int, ...] = ()
    days: int = 30  # timestamps spread over this many days before the anchor
    spans_per_request: int = 500  # spans per ingest call (several traces per request)
    log_events: bool = True  # a user-prompt log event per trace of Claude Code and Gemini CLI sessions

    def with_options(self, **changes: Any) -> SeedConfig:
        return replace(self, **changes)


# Minimal: fixed counts, quick to check by hand (1 workspace, 3 tasks, 3 sessions, 6 traces, 60 spans).
MINIMAL = SeedConfig(num_workspaces=1, tasks_per_workspace=Range(3, 3), spans_per_task=Range(20, 20),
                     messages_per_task=Range(1, 1), spans_per_trace=10)
# Default: a realistic small team's month.
DEFAULT = SeedConfig(num_workspaces=3, tasks_per_workspace=Range(5, 10), spans_per_task=Range(20, 200),
                     assignments_per_task=Range(1, 3), spans_per_trace=40)
# Stress: exactly 1,000,000 spans in 10,000 traces (100 spans on average: 50 to 200), 2,000 sessions (one per
# task, 500 spans each).
STRESS = SeedConfig(num_workspaces=20, tasks_per_workspace=Range(100, 100), spans_per_task=Range(500, 500),
                    messages_per_task=Range(1, 1), trace_sizes=(200, 100, 100, 50, 50))

PROFILES: dict[str, SeedConfig] = {"minimal": MINIMAL, "default": DEFAULT, "stress": STRESS}


@dataclass
class SeedResult:
    """What one seed run wrote (the seed's SeedResult, plus the telemetry breakdown)."""

    workspaces_created: int = 0
    tasks_created: int = 0
    assignments_created: int = 0
    spans_created: int = 0
    events_created: int = 0
    messages_created: int = 0
    traces_created: int = 0
    sessions_created: int = 0
    llm_calls_created: int = 0
    tool_calls_created: int = 0
    rejected: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
