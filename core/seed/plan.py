"""The seed's plan: which workspaces, tasks, agent sessions and traces exist and when (deterministic per seed)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from core.seed.profiles import SeedConfig

NS = 1_000_000_000
HOUR_NS = 3600 * NS
DAY_NS = 24 * HOUR_NS


@dataclass(frozen=True)
class Agent:
    """One kind of agent: the service its telemetry names and the models it calls (weighted)."""

    service: str
    agent_id: str
    provider: str
    version: str
    models: tuple[tuple[str, int], ...]
    tools: tuple[str, ...]
    weight: int


AGENTS: tuple[Agent, ...] = (
    Agent("claude-code", "claude-code", "claude", "2.1.3",
          (("claude-sonnet-4-5", 6), ("claude-haiku-4-5", 3), ("claude-opus-4-5", 1)),
          ("Read", "Edit", "Bash", "Grep", "Glob", "Write", "TodoWrite"), 5),
    Agent("gemini-cli", "gemini-cli", "gemini", "0.21.0",
          (("gemini-2.5-pro", 3), ("gemini-2.5-flash", 2)),
          ("read_file", "write_file", "run_shell_command", "search_file_content", "glob", "replace"), 3),
    Agent("eval", "eval-harness", "openai", "1.4.0",
          (("gpt-4.1", 3), ("gpt-5", 1), ("gpt-4o-mini", 2)),
          ("python", "shell", "browser"), 1),
    Agent("coordinator", "coordinator", "claude", "0.9.2",
          (("claude-opus-4-5", 2), ("gpt-5-mini", 1)),
          ("dispatch_task", "send_message", "check_status"), 1),
)

_PROJECTS = ("api-gateway", "web-dashboard", "ml-pipeline", "billing-service", "mobile-app", "infra-terraform",
             "docs-site", "search-indexer", "auth-service", "data-warehouse")
_VERBS = ("Fix", "Add", "Refactor", "Speed up", "Document", "Test", "Remove", "Migrate", "Harden", "Investigate")
_OBJECTS = ("flaky retry test", "login rate limit", "CSV export", "cache invalidation", "dark mode toggle",
            "pagination of search results", "webhook signature check", "memory leak in worker",
            "nightly backup job", "error messages in CLI", "dependency upgrades", "metrics dashboard",
            "schema migration", "OpenAPI document", "timezone handling")
_SOURCES = (("github_issue", 5), ("message", 3), ("manual", 2))


@dataclass
class TracePlan:
    index: int  # global, stable: seeds the trace's own random generator
    start_ns: int
    spans: int


@dataclass
class SessionPlan:
    session_id: str
    assignment_id: str
    agent: Agent
    model_weights: tuple[tuple[str, int], ...]
    start_ns: int
    end_ns: int = 0
    failed: bool = False
    traces: list[TracePlan] = field(default_factory=list)


@dataclass
class TaskPlan:
    task_id: str
    title: str
    source_type: str
    source_ref: str | None
    status: str
    created_ns: int
    start_ns: int
    end_ns: int = 0
    sessions: list[SessionPlan] = field(default_factory=list)
    messages: list[tuple[str, int]] = field(default_factory=list)  # (message id, created ns)


@dataclass
class WorkspacePlan:
    workspace_id: str
    name: str
    path: str
    created_ns: int
    tasks: list[TaskPlan] = field(default_factory=list)


def _id(rng: random.Random, prefix: str) -> str:
    return f"{prefix}-{rng.getrandbits(32):08x}"


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([o for o, _ in options], [w for _, w in options])[0]


def make_plan(config: SeedConfig, seed: int, anchor_ns: int) -> list[WorkspacePlan]:
    """Every entity and its times; telemetry of trace ``i`` is then drawn from its own generator, so the plan
    and each trace are reproducible on their own."""
    rng = random.Random(seed)
    window = config.days * DAY_NS
    earliest = anchor_ns - window
    workspaces: list[WorkspacePlan] = []
    trace_index = 0
    agent_weights = tuple((a.agent_id, a.weight) for a in AGENTS)
    by_id = {a.agent_id: a for a in AGENTS}
    for w in range(config.num_workspaces):
        name = _PROJECTS[w % len(_PROJECTS)] + (f"-{w // len(_PROJECTS) + 1}" if w >= len(_PROJECTS) else "")
        ws = WorkspacePlan(_id(rng, "ws"), name, f"/home/dev/src/{name}", earliest - rng.randint(1, 30) * DAY_NS)
        workspaces.append(ws)
        for _ in range(rng.randint(config.tasks_per_workspace.min, config.tasks_per_workspace.max)):
            source = _weighted(rng, _SOURCES)
            start = earliest + rng.randrange(window - 4 * HOUR_NS)  # a task's traces all end before the anchor
            task = TaskPlan(
                task_id=_id(rng, "task"),
                title=f"{rng.choice(_VERBS)} {rng.choice(_OBJECTS)}",
                source_type=source,
                source_ref=f"#{rng.randint(10, 4000)}" if source == "github_issue" else None,
                status=_weighted(rng, (("completed", 87), ("failed", 10), ("running", 3))),
                created_ns=start - rng.randint(1, 3600) * NS,
                start_ns=start,
            )
            ws.tasks.append(task)
            n_sessions = rng.randint(config.assignments_per_task.min, config.assignments_per_task.max)
            total = rng.randint(config.spans_per_task.min, config.spans_per_task.max)
            cursor = start
            for s in range(n_sessions):
                agent = by_id[_weighted(rng, agent_weights)]
                share = total // n_sessions + (1 if s < total % n_sessions else 0)
                session = SessionPlan(_uuid(rng), _id(rng, "asg"), agent, agent.models, cursor,
                                      failed=task.status == "failed" and s == n_sessions - 1)
                task.sessions.append(session)
                sizes = config.trace_sizes or (config.spans_per_trace,)
                while share > 0:
                    n = min(share, sizes[len(session.traces) % len(sizes)])
                    session.traces.append(TracePlan(trace_index, cursor, n))
                    trace_index += 1
                    share -= n
                    # A trace lasts about a second per span; the next prompt comes a little later.
                    cursor += n * NS * rng.randint(2, 6) + rng.randint(30, 600) * NS
                session.end_ns = cursor
            task.end_ns = cursor
            if config.include_messages:
                for _ in range(rng.randint(config.messages_per_task.min, config.messages_per_task.max)):
                    task.messages.append((_id(rng, "msg"), task.created_ns + rng.randint(0, 600) * NS))
    return workspaces
