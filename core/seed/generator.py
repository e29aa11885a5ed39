"""Seed a store: catalog entities through the catalog port, telemetry as OTLP requests through IngestService."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from core.catalog.models import AgentAssignment, Message, Task, Workspace
from core.ingest import IngestService
from core.ports.catalog import DuplicateId
from core.ports.store import Store
from core.seed.plan import HOUR_NS, NS, TaskPlan, WorkspacePlan, make_plan
from core.seed.profiles import SeedConfig, SeedResult
from core.seed.telemetry import add_prompt_event, add_trace, resource_attributes

Progress = Callable[[str], None]
E = TypeVar("E")


def _dt(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


def default_anchor_ns() -> int:
    """The current hour: seeding twice within an hour with one seed writes identical data."""
    return time.time_ns() // HOUR_NS * HOUR_NS


def seed_database(
    store: Store,
    ingest: IngestService,
    config: SeedConfig,
    *,
    org_id: str = "default",
    seed: int = 1,
    anchor_ns: int | None = None,
    progress: Progress | None = None,
) -> SeedResult:
    """Generate ``config``'s data for ``org_id``; deterministic for a (seed, anchor) pair.

    Timestamps fall in the ``config.days`` days before ``anchor_ns`` (default: the current hour). Replaying a
    seed creates nothing twice: catalog ids already taken are skipped and telemetry upserts to the same rows.
    Aggregates (session rollups, task totals) are the workers' job: drain the bus afterwards."""
    say = progress or (lambda _: None)
    started = time.perf_counter()
    plan = make_plan(config, seed, anchor_ns if anchor_ns is not None else default_anchor_ns())
    result = SeedResult()
    _catalog(store, org_id, plan, result)
    say(f"catalog: {result.workspaces_created} workspaces, {result.tasks_created} tasks, "
        f"{result.assignments_created} assignments, {result.messages_created} messages "
        f"({time.perf_counter() - started:.1f} s)")
    _telemetry(ingest, org_id, plan, config, seed, result, say)
    result.seconds = round(time.perf_counter() - started, 2)
    return result


def _create(create: Callable[[str, E], object], org_id: str, entity: E) -> int:
    try:
        create(org_id, entity)
    except DuplicateId:  # a replayed seed: the entity is already there
        return 0
    return 1


def _catalog(store: Store, org_id: str, plan: list[WorkspacePlan], result: SeedResult) -> None:
    for ws in plan:
        created = _dt(ws.created_ns)
        workspace = Workspace(id=ws.workspace_id, name=ws.name, path=ws.path,
                              git_remote=f"https://github.com/example/{ws.name}.git", created_at=created,
                              updated_at=created)
        result.workspaces_created += _create(store.create_workspace, org_id, workspace)
        for task in ws.tasks:
            result.tasks_created += _create(store.create_task, org_id, _task(task, ws))
            done = task.status != "running"
            for session in task.sessions:
                assignment = AgentAssignment.model_validate({
                    "id": session.assignment_id, "task_id": task.task_id, "agent_id": session.agent.agent_id,
                    "provider": session.agent.provider,
                    "status": ("failed" if session.failed else "completed") if done else "running",
                    "assigned_at": _dt(session.start_ns - 5 * NS), "started_at": _dt(session.start_ns),
                    "completed_at": _dt(session.end_ns) if done else None,
                })
                result.assignments_created += _create(store.create_assignment, org_id, assignment)
            for i, (message_id, created_ns) in enumerate(task.messages):
                message = Message(
                    id=message_id, task_id=task.task_id, inbox=task.sessions[0].agent.agent_id,
                    from_agent="coordinator", title=f"{'Task' if i == 0 else 'Update'}: {task.title}",
                    content=f"Please pick up '{task.title}' in {ws.name}." if i == 0 else "Any progress on this?",
                    message_type="task_assignment" if i == 0 else "status_update",
                    status="archived" if done and i == 0 else ("read" if done else "unread"),
                    priority="high" if task.source_type == "github_issue" else "normal",
                    created_at=_dt(created_ns),
                    read_at=_dt(created_ns + 60 * NS) if done else None,
                    archived_at=_dt(task.end_ns) if done and i == 0 else None,
                )
                result.messages_created += _create(store.create_message, org_id, message)


def _task(task: TaskPlan, ws: WorkspacePlan) -> Task:
    done = task.status != "running"
    return Task.model_validate({
        "id": task.task_id, "workspace_id": ws.workspace_id, "title": task.title,
        "description": f"{task.title} in {ws.name}.", "source_type": task.source_type,
        "source_ref": task.source_ref, "status": task.status, "created_at": _dt(task.created_ns),
        "started_at": _dt(task.start_ns), "completed_at": _dt(task.end_ns) if done else None,
    })


def _telemetry(ingest: IngestService, org_id: str, plan: list[WorkspacePlan], config: SeedConfig, seed: int,
               result: SeedResult, say: Progress) -> None:
    total = sum(t.spans for ws in plan for task in ws.tasks for s in task.sessions for t in s.traces)
    started = time.perf_counter()
    next_report = total // 10
    traces = ExportTraceServiceRequest()
    logs = ExportLogsServiceRequest()
    pending = 0
    requests = 0

    def flush() -> None:
        nonlocal traces, logs, pending, requests
        if pending:
            digest = f"seed:{seed}:{org_id}:{requests}"
            outcome = ingest.ingest(org_id, "traces", traces, digest + ":traces")
            result.spans_created += outcome.accepted
            result.rejected += outcome.rejected
        if logs.resource_logs:
            outcome = ingest.ingest(org_id, "logs", logs, f"seed:{seed}:{org_id}:{requests}:logs")
            result.events_created += outcome.accepted
            result.rejected += outcome.rejected
        traces, logs, pending = ExportTraceServiceRequest(), ExportLogsServiceRequest(), 0
        requests += 1

    for ws in plan:
        for task in ws.tasks:
            for session in task.sessions:
                resource = resource_attributes(ws, task, session)
                result.sessions_created += 1
                for trace in session.traces:
                    rs = traces.resource_spans.add()
                    rs.resource.attributes.extend(resource)
                    counts = add_trace(rs, session, trace, seed)
                    if config.log_events:
                        add_prompt_event(logs, resource, session, trace, seed)
                    result.traces_created += 1
                    result.llm_calls_created += counts.llm_calls
                    result.tool_calls_created += counts.tool_calls
                    pending += counts.spans
                    if pending >= config.spans_per_request:
                        flush()
                        if result.spans_created >= next_report and total >= 10_000:
                            elapsed = time.perf_counter() - started
                            say(f"telemetry: {result.spans_created:,}/{total:,} spans in {elapsed:.1f} s "
                                f"({result.spans_created / elapsed:,.0f} spans/s)")
                            next_report += total // 10
    flush()
