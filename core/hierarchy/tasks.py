"""Task views: task -> agent assignments -> traces -> span trees (or a session read as a task), span summary."""

from __future__ import annotations

from collections import Counter

from core.errors import NotFound
from core.hierarchy import sessions
from core.hierarchy.enriched import PROMPT_PREVIEW, attach_chat, label, span_tools
from core.hierarchy.models import (
    AgentHierarchy,
    HierarchyAgent,
    HierarchyTask,
    SpanNameCount,
    TaskHierarchy,
    TaskHierarchyQuery,
    TaskSpanSummary,
)
from core.hierarchy.span_tree import trace_hierarchies
from core.models import SpanView
from core.ports.store import Store

MAX_TASK_SESSIONS = 50  # sessions of one task whose unrecorded turns join its hierarchy
MAX_SPANS = 10_000


def in_workspace(span: SpanView, workspace: str) -> bool:
    """Spans of an unknown workspace stay; a known one must be the workspace or lie under it."""
    ws = workspace.rstrip("/") or workspace
    return span.workspace in ("", "unknown") or span.workspace == ws or span.workspace.startswith(ws + "/")


def decorate(store: Store, org_id: str, spans: list[SpanView], include_chat: bool) -> None:
    """Display names from the tool calls spans ran (synthetic spans have theirs); chat contexts on request."""
    pending = [s for s in spans if s.display_name is None]
    tools = span_tools(store, org_id, pending)
    for span in pending:
        span.display_name = label(span, tools.get((span.trace_id, span.id)))[0]
    if include_chat:
        attach_chat(store, org_id, spans)
        turns: Counter[str] = Counter()
        for span in sorted(spans, key=lambda s: (s.start_time, s.id)):
            if span.chat_context is not None and span.model and span.session_id:
                turns[span.session_id] += 1
                span.chat_context.turn_number = turns[span.session_id]


def task_hierarchy(store: Store, org_id: str, task_id: str, q: TaskHierarchyQuery) -> TaskHierarchy:
    """The task's assignments (oldest first, then one group for spans naming no known assignment), each with
    its traces as span trees. Turns and tools of the task's sessions that no span recorded join as synthetic
    spans. When no task has the id it is read as a session id; 404 when it is neither."""
    task = store.get_task(org_id, task_id)
    if task is None:
        return session_as_task(store, org_id, task_id, q)
    spans = store.task_spans(org_id, task_id, MAX_SPANS)
    for session_id, assignment_id in sorted(store.task_sessions(org_id, task_id).items())[:MAX_TASK_SESSIONS]:
        # The task's spans of the session stand for its spans (an LLM or tool record that names a span was
        # recorded by that span), so the session's spans are not read again.
        if not store.session_has_unrecorded_calls(org_id, session_id):
            continue
        own = [s for s in spans if s.session_id == session_id]
        st = sessions.load(store, org_id, session_id, spans=own)
        for item in sessions.synthetic_items(st, spans_complete=False):
            item.task_id = task_id
            item.agent_assignment_id = assignment_id
            spans.append(item)
    if q.workspace:
        spans = [s for s in spans if in_workspace(s, q.workspace)]
    decorate(store, org_id, spans, q.include_chat)
    assignments = store.list_task_assignments(org_id, task_id)
    known = {a.id for a in assignments}
    agents = [
        AgentHierarchy(agent=HierarchyAgent.model_validate(a.model_dump()), traces=trace_hierarchies(
            [s for s in spans if s.agent_assignment_id == a.id], q.depth, q.include_spans))
        for a in assignments
    ]
    rest = [s for s in spans if s.agent_assignment_id not in known]
    if rest:
        agents.append(AgentHierarchy(agent=None, traces=trace_hierarchies(rest, q.depth, q.include_spans)))
    return TaskHierarchy(task=HierarchyTask.model_validate(task.model_dump()), agents=agents, source="task")


def session_as_task(store: Store, org_id: str, session_id: str, q: TaskHierarchyQuery) -> TaskHierarchy:
    """A session as a task with one agent: its spans' traces and one trace per turn no span recorded (the
    turn's tools under it, matched by parent span or by time)."""
    st = sessions.load(store, org_id, session_id)
    if not st.exists:
        raise NotFound(f"no task or session {session_id}")
    items = sessions.session_items(st)
    if q.workspace:
        items = [s for s in items if in_workspace(s, q.workspace)]
    decorate(store, org_id, items, q.include_chat)
    prompt = store.session_digests(org_id, [session_id]).get(session_id)
    start, end = st.started, st.ended
    tokens_in, tokens_out = sum(s.tokens_in for s in items), sum(s.tokens_out for s in items)
    cost, errors = sum(s.cost_usd for s in items), sum(1 for s in items if s.status == "error")
    latest = max(st.calls, key=lambda c: c.time) if st.calls else None
    name = f"{st.label} session {session_id[:8]}"
    task = HierarchyTask(
        id=session_id, title=name, description=prompt.first_prompt[:PROMPT_PREVIEW]
        if prompt and prompt.first_prompt else None, source_type=st.source_type, status="completed",
        workspace_id=None, created_at=start, started_at=start, completed_at=end, total_duration_ms=st.duration_ms,
        total_tokens_in=tokens_in, total_tokens_out=tokens_out, total_cost_usd=cost, agent_count=1,
        span_count=len(items), error_count=errors,
    )
    service = st.session.service_name if st.session else None
    agent = HierarchyAgent(
        id=session_id, task_id=session_id, agent_id=service or st.source_type.replace("_", "-"),
        provider=(latest.provider if latest else None) or "", status="completed", assigned_at=start,
        started_at=start, completed_at=end, duration_ms=st.duration_ms, tokens_in=tokens_in, tokens_out=tokens_out,
        cost_usd=cost, tool_calls=len(st.tools), turns=len(st.turns),
    )
    return TaskHierarchy(task=task, agents=[AgentHierarchy(
        agent=agent, traces=trace_hierarchies(items, q.depth, q.include_spans))], source="session")


def task_or_session_spans(store: Store, org_id: str, task_id: str) -> tuple[str, list[SpanView]]:
    """(title, spans by start time) of a task, or of the session with that id; 404 when neither exists."""
    task = store.get_task(org_id, task_id)
    spans = store.task_spans(org_id, task_id, MAX_SPANS)
    if task is not None or spans:
        return (task.title if task else ""), spans
    st = sessions.load(store, org_id, task_id)
    if not st.exists:
        raise NotFound(f"no task or session {task_id}")
    return f"{st.label} session {task_id[:8]}", sessions.session_items(st)[:MAX_SPANS]


def summarise(task_id: str, spans: list[SpanView], top: int = 10) -> TaskSpanSummary:
    names = Counter(s.name for s in spans)
    return TaskSpanSummary(
        task_id=task_id, span_count=len(spans), trace_count=len({s.trace_id for s in spans}),
        tokens_in=sum(s.tokens_in for s in spans), tokens_out=sum(s.tokens_out for s in spans),
        cost_usd=sum(s.cost_usd for s in spans), duration_ms=round(sum(s.duration_ms for s in spans)),
        start_time=min((s.start_time for s in spans), default=None),
        end_time=max((s.end_time or s.start_time for s in spans), default=None),
        top_span_names=[SpanNameCount(name=n, count=c)
                        for n, c in sorted(names.items(), key=lambda kv: (-kv[1], kv[0]))[:top]],
    )


def task_span_summary(store: Store, org_id: str, task_id: str) -> TaskSpanSummary:
    """Span totals of a task (an empty summary for a task without spans); for a session id, of the session's
    spans, turns and tools. 404 when the id names neither."""
    summary = store.task_span_summary(org_id, task_id)
    if summary is not None:
        return summary
    if store.get_task(org_id, task_id) is not None:
        return summarise(task_id, [])
    st = sessions.load(store, org_id, task_id)
    if not st.exists:
        raise NotFound(f"no task or session {task_id}")
    return summarise(task_id, sessions.session_items(st))
