"""The exec hierarchy: exec / run / check spans by triggering message, each with its session's turns and tools."""

from __future__ import annotations

from typing import Any

from core.hierarchy import sessions
from core.hierarchy.enriched import build_tree
from core.hierarchy.models import ExecHierarchyQuery, ExecHierarchyWithMessages, ExecTaskNode, MessageNode
from core.hierarchy.names import EXEC_COMMANDS, EXEC_SPAN_NAMES, display_name
from core.models import SpanView
from core.ports.store import Store

MAX_TURNS = 200  # turns shown under one exec
_TEXT = 500  # tool input / output previews


def _attr(attrs: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = attrs.get(key)
        if value not in (None, ""):
            return str(value)
    return ""


def _cut(text: str | None) -> str | None:
    return text if text is None or len(text) <= _TEXT else text[:_TEXT - 1] + "…"


def _turns(st: sessions.SessionTurns, span: SpanView, task_id: str) -> list[ExecTaskNode]:
    """The session's turns within the exec's time (its whole session when the exec has not ended)."""
    end = span.end_time
    out = []
    for turn in st.turns:
        started = sessions.call_start(turn.call)
        if started < span.start_time or (end is not None and sessions.call_end(turn.call) > end):
            continue
        call = turn.call
        tools = [ExecTaskNode(
            task_id=t.tool_use_id, parent_task_id=turn.id, command="tool_use", status=sessions.tool_status(t),
            start_time=sessions.tool_start(t), duration_ms=round(t.duration_ms or 0), tool_name=t.tool_name,
            tool_input=_cut(t.tool_input), tool_output=_cut(t.tool_response),
            display_name=display_name(t.tool_name, t.tool_input, t.tool_name or "tool"),
        ) for t in turn.tools]
        out.append(ExecTaskNode(
            task_id=turn.id, parent_task_id=task_id, command="turn", provider=call.provider or "",
            status="ok" if call.success else "error", start_time=started, duration_ms=round(call.duration_ms or 0),
            turn_number=turn.number, display_name=f"Turn {turn.number}" + (f" ({call.model})" if call.model else ""),
            children=tools,
        ))
        if len(out) >= MAX_TURNS:
            break
    return out


def _exec_node(span: SpanView) -> ExecTaskNode:
    attrs = span.attributes
    return ExecTaskNode(
        task_id=span.task_id or span.id,
        parent_task_id=_attr(attrs, "exec.parent_task_id", "parent_task_id", "ailang.parent_task_id"),
        command=EXEC_COMMANDS.get(span.name, "exec"),
        provider=span.provider or _attr(attrs, "provider", "ailang.provider", "agent.provider", "exec.provider"),
        workspace=_attr(attrs, "task.workspace", "workspace", "exec.workspace")
        or ("" if span.workspace == "unknown" else span.workspace),
        file_path=_attr(attrs, "file_path", "ailang.file", "file", "exec.file"),
        status=span.status, start_time=span.start_time, duration_ms=round(span.duration_ms),
        display_name=span.name,
    )


def exec_hierarchy(store: Store, org_id: str, q: ExecHierarchyQuery) -> ExecHierarchyWithMessages:
    """The ``limit`` newest execs (nested by parent task id), grouped by triggering message; ``count`` = execs."""
    spans = store.exec_spans(org_id, list(EXEC_SPAN_NAMES), q.limit + q.offset)[q.offset:]
    loaded: dict[str, sessions.SessionTurns] = {}
    nodes: list[tuple[ExecTaskNode, SpanView]] = []
    for span in reversed(spans):  # oldest first: children under their parent in time order
        node = _exec_node(span)
        if span.session_id:
            st = loaded.get(span.session_id)
            if st is None:
                st = loaded[span.session_id] = sessions.load(store, org_id, span.session_id, with_results=True)
            node.children = _turns(st, span, node.task_id)
        nodes.append((node, span))
    by_node = {id(n): s for n, s in nodes}
    # Nest execs by parent task id: an exec whose parent task is another listed exec's task goes under it.
    roots = build_tree([n for n, _ in nodes], lambda n: n.task_id, lambda n: n.parent_task_id or None,
                       lambda p, c: p.children.append(c))
    roots.reverse()  # newest first
    messages: dict[str, MessageNode] = {}
    orphan: list[ExecTaskNode] = []
    for root in roots:
        message_id = by_node[id(root)].message_id
        if not message_id:
            orphan.append(root)
            continue
        group = messages.get(message_id)
        if group is None:
            found = store.get_message(org_id, message_id)
            group = messages[message_id] = MessageNode(message_id=message_id) if found is None else MessageNode(
                message_id=message_id, title=found.title, from_agent=found.from_agent, to_inbox=found.inbox,
                message_type=found.message_type, status=found.status, created_at=found.created_at)
        group.execs.append(root)
    return ExecHierarchyWithMessages(messages=list(messages.values()), orphan=orphan, count=len(nodes))
