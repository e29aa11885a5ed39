"""Enriched spans: display names from the tool calls spans ran, chat contexts, and parent-span trees."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from core.errors import NotFound
from core.hierarchy.models import EnrichedSpan, EnrichedSpanDetail, EnrichedSpanList, EnrichedSpanQuery
from core.hierarchy.names import display_name, is_tool_span, parse_json, path_span_id, tool_name_of_span
from core.models import ChatContext, SpanView, ToolCallView
from core.ports.store import Store

PROMPT_PREVIEW = 500
_NEAR_LOOKUPS = 100  # tool spans of one page matched by (session, tool, time) when no call names their span
T = TypeVar("T")


def chat_url(session_id: str) -> str:
    return f"/api/observatory/sessions/{session_id}/events"


def attach_chat(store: Store, org_id: str, spans: Iterable[SpanView]) -> None:
    """Give every span of a session its ChatContext: the session's first prompt (cut), whether it reasoned."""
    spans = list(spans)
    digests = store.session_digests(org_id, sorted({s.session_id for s in spans if s.session_id}))
    for span in spans:
        digest = digests.get(span.session_id or "")
        if digest is not None:
            span.chat_context = ChatContext(
                user_prompt=digest.first_prompt[:PROMPT_PREVIEW] if digest.first_prompt else None,
                has_thinking=digest.has_thinking, full_chat_url=chat_url(span.session_id or ""),
            )


def span_tools(store: Store, org_id: str, spans: list[SpanView], near_lookups: int = _NEAR_LOOKUPS,
               with_result: bool = False) -> dict[tuple[str, str], ToolCallView]:
    """The tool call each tool span ran: recorded by the span itself, else the session's call of the same tool
    closest in time (the seed's match by session, tool name and start time). Results only ``with_result``."""
    tool_spans = [s for s in spans if is_tool_span(s.name)]
    found = store.tool_calls_of_spans(org_id, [(s.trace_id, s.id) for s in tool_spans], with_result)
    for span in tool_spans:
        if near_lookups <= 0:
            break
        name = tool_name_of_span(span.name)
        if (span.trace_id, span.id) in found or not span.session_id or not name:
            continue
        near_lookups -= 1
        call = store.tool_call_near(org_id, span.session_id, name, _ns(span))
        if call is not None:
            found[(span.trace_id, span.id)] = call
    return found


def _ns(span: SpanView) -> int:
    return int(span.start_time.timestamp() * 1e9)


def label(span: SpanView, tool: ToolCallView | None) -> tuple[str, str | None]:
    """(display name, tool name) of a span."""
    name = (tool.tool_name if tool else None) or tool_name_of_span(span.name)
    return display_name(name, tool.tool_input if tool else None, span.name), name


def build_tree(items: list[T], key: Callable[[T], str], parent: Callable[[T], str | None],
               attach: Callable[[T, T], None]) -> list[T]:
    """Roots (items whose parent is not among them) in input order, every other item attached to its parent.
    A parent cycle (corrupt data) leaves its members as roots rather than losing them."""
    by_id = {key(i): i for i in items}
    roots: list[T] = []
    for item in items:
        p = parent(item)
        if p is None or p not in by_id or p == key(item) or _cycles(key(item), p, by_id, parent):
            roots.append(item)
        else:
            attach(by_id[p], item)
    return roots


def _cycles(start: str, p: str | None, by_id: dict[str, T], parent: Callable[[T], str | None]) -> bool:
    seen = {start}
    while p is not None and p in by_id:
        if p in seen:
            return True
        seen.add(p)
        p = parent(by_id[p])
    return False


def _enriched(span: SpanView, tool: ToolCallView | None, with_attributes: bool) -> EnrichedSpan:
    shown, tool_name = label(span, tool)
    return EnrichedSpan(
        id=span.id, trace_id=span.trace_id, parent_span_id=span.parent_span_id, name=span.name, display_name=shown,
        kind=span.kind, start_time=span.start_time, end_time=span.end_time, duration_ms=span.duration_ms,
        status=span.status, status_message=span.status_message, provider=span.provider, model=span.model,
        tokens_in=span.tokens_in, tokens_out=span.tokens_out, cache_read_tokens=span.cache_read_tokens,
        cache_creation_tokens=span.cache_creation_tokens, cost_usd=span.cost_usd, task_id=span.task_id,
        agent_assignment_id=span.agent_assignment_id, session_id=span.session_id, tool_name=tool_name,
        attributes=span.attributes if with_attributes else None, chat_context=span.chat_context,
    )


def list_enriched_spans(store: Store, org_id: str, q: EnrichedSpanQuery) -> EnrichedSpanList:
    """The span list with display names; ``hierarchical``: the page as a tree (children by start time)."""
    spans = store.list_spans(org_id, q) if q.include_attributes else store.list_spans_lite(org_id, q)
    if q.include_chat:
        attach_chat(store, org_id, spans)
    tools = span_tools(store, org_id, spans)
    items = [_enriched(s, tools.get((s.trace_id, s.id)), q.include_attributes) for s in spans]
    result = items
    if q.hierarchical:
        ordered = sorted(items, key=lambda e: (e.start_time, e.id))
        roots = build_tree(ordered, lambda e: f"{e.trace_id}/{e.id}",
                           lambda e: f"{e.trace_id}/{e.parent_span_id}" if e.parent_span_id else None,
                           lambda p, c: p.children.append(c))
        result = sorted(roots, key=lambda e: (e.start_time, e.id), reverse=True)  # newest tree first
    return EnrichedSpanList(spans=result, count=len(items), limit=q.limit, offset=q.offset,
                            hierarchical=q.hierarchical)


def get_enriched_span(store: Store, org_id: str, span_id: str) -> EnrichedSpanDetail:
    """One span with the tool call it ran: display name, tool input, response and success."""
    span = store.find_span(org_id, path_span_id(span_id))
    if span is None:
        raise NotFound(f"span {span_id} not found")
    tool = span_tools(store, org_id, [span], with_result=True).get((span.trace_id, span.id))
    shown, tool_name = label(span, tool)
    return EnrichedSpanDetail(
        **(span.model_dump() | {"display_name": shown}), tool_name=tool_name,
        tool_use_id=tool.tool_use_id if tool else None,
        tool_input=parse_json(tool.tool_input) if tool else None,
        tool_response=parse_json(tool.tool_response) if tool else None,
        tool_success=tool.success if tool else None,
    )
