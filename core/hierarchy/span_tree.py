"""Span trees: traces as SpanNode trees (task and session hierarchies) and the typed parent-span hierarchy."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from core.hierarchy import sessions
from core.hierarchy.enriched import build_tree, label, span_tools
from core.hierarchy.models import (
    HierarchyTraceSummary,
    SpanHierarchyNode,
    SpanHierarchyQuery,
    SpanHierarchyResult,
    SpanHierarchyStats,
    SpanNode,
    TimeRange,
    TokenTotals,
    TraceHierarchy,
)
from core.hierarchy.names import node_type
from core.models import SpanQuery, SpanView
from core.ports.store import Store


def _key(span: SpanView) -> str:
    return f"{span.trace_id}/{span.id}"


def _parent_key(span: SpanView) -> str | None:
    return f"{span.trace_id}/{span.parent_span_id}" if span.parent_span_id else None


def trace_summary(spans: list[SpanView]) -> HierarchyTraceSummary:
    start = min(s.start_time for s in spans)
    end = max(s.end_time or s.start_time for s in spans)
    return HierarchyTraceSummary(
        span_count=len(spans), total_tokens=sum(s.tokens_in + s.tokens_out for s in spans),
        total_cost_usd=sum(s.cost_usd for s in spans), duration_ms=round((end - start).total_seconds() * 1000),
        error_count=sum(1 for s in spans if s.status == "error"),
    )


def trace_hierarchies(spans: list[SpanView], depth: int = 0, include_spans: bool = True) -> list[TraceHierarchy]:
    """One TraceHierarchy per trace (by first start): the tree under its first root, cut at ``depth`` levels
    (0 = all), and the flat list of spans within that depth; only summaries without ``include_spans``."""
    by_trace: dict[str, list[SpanView]] = defaultdict(list)
    for span in sorted(spans, key=lambda s: (s.start_time, s.id)):
        by_trace[span.trace_id].append(span)
    out = []
    for trace_id, members in by_trace.items():
        summary = trace_summary(members)
        if not include_spans:
            out.append(TraceHierarchy(trace_id=trace_id, root_span=None, spans=[], summary=summary))
            continue
        nodes = [SpanNode(span=s) for s in members]
        roots = build_tree(nodes, lambda n: _key(n.span), lambda n: _parent_key(n.span),
                           lambda p, c: p.children.append(c))
        kept: set[str] = set()
        for root in roots:
            _prune(root, 1, depth, kept)
        flat = [SpanNode(span=n.span) for n in nodes if _key(n.span) in kept]
        out.append(TraceHierarchy(trace_id=trace_id, root_span=roots[0] if roots else None, spans=flat,
                                  summary=summary))
    return out


def _prune(node: SpanNode, level: int, depth: int, kept: set[str]) -> None:
    kept.add(_key(node.span))
    if depth and level >= depth:
        node.children = []
        return
    for child in node.children:
        _prune(child, level + 1, depth, kept)


# -- the typed parent-span hierarchy ---------------------------------------------------------------------------

def _node(span: SpanView, shown: str, tool_name: str | None) -> SpanHierarchyNode:
    kind = node_type(span.name, span.model)
    return SpanHierarchyNode(
        id=span.id, trace_id=span.trace_id, name=span.name, display_name=shown, parent_id=span.parent_span_id,
        depth=0, start_time=span.start_time, duration_ms=round(span.duration_ms), tokens_in=span.tokens_in,
        tokens_out=span.tokens_out, cache_read_tokens=span.cache_read_tokens,
        cache_creation_tokens=span.cache_creation_tokens, cost_usd=span.cost_usd,
        tool_name=tool_name if kind == "tool" else None, node_type=kind,
        session_id=span.session_id, status=span.status, provider=span.provider, model=span.model,
    )


def _depths(node: SpanHierarchyNode, depth: int) -> int:
    node.depth = depth
    return max([depth] + [_depths(c, depth + 1) for c in node.children])


def span_hierarchy(store: Store, org_id: str, q: SpanHierarchyQuery) -> SpanHierarchyResult:
    """The ``limit`` newest spans under the filters as parent-span trees with node types; for one session, also
    its turns and tools that no span recorded. ``sessions`` maps each session to its LLM-call count; turns
    are numbered per session by start time within the result."""
    spans = store.list_spans_lite(org_id, SpanQuery(
        limit=q.limit, offset=q.offset, session_id=q.session_id, trace_id=q.trace_id, task_id=q.task_id,
        workspace=q.workspace, start_after=q.start_after, start_before=q.start_before))
    if q.session_id and not (q.trace_id or q.task_id) and q.offset == 0:
        spans += sessions.synthetic_items(sessions.load(store, org_id, q.session_id))[: q.limit]
    tools = span_tools(store, org_id, spans)
    nodes = []
    for span in sorted(spans, key=lambda s: (s.start_time, s.id)):
        shown, tool_name = label(span, tools.get((span.trace_id, span.id)))
        nodes.append(_node(span, span.display_name or shown, tool_name))
    turn_counter: dict[str, int] = defaultdict(int)
    for node in nodes:
        if node.node_type == "turn" and node.session_id:
            turn_counter[node.session_id] += 1
            node.turn_number = turn_counter[node.session_id]
    roots = build_tree(nodes, lambda n: f"{n.trace_id}/{n.id}",
                       lambda n: f"{n.trace_id}/{n.parent_id}" if n.parent_id else None,
                       lambda p, c: p.children.append(c))
    max_depth = max([_depths(r, 0) for r in roots], default=0)
    roots.sort(key=lambda n: (n.start_time, n.id), reverse=True)
    digests = store.session_digests(org_id, sorted({s.session_id for s in spans if s.session_id}))
    ends: list[datetime] = [s.end_time or s.start_time for s in spans]
    return SpanHierarchyResult(
        roots=roots,
        sessions={sid: d.turn_count for sid, d in digests.items()},
        stats=SpanHierarchyStats(
            total_spans=len(spans), total_cost=sum(s.cost_usd for s in spans),
            total_tokens=TokenTotals.model_validate({
                "in": sum(s.tokens_in for s in spans), "out": sum(s.tokens_out for s in spans),
                "cache_read": sum(s.cache_read_tokens for s in spans),
                "cache_creation": sum(s.cache_creation_tokens for s in spans)}),
            cache_savings_usd=sum(s.cache_savings_usd for s in spans),
            time_range=TimeRange(start=min((s.start_time for s in spans), default=None),
                                 end=max(ends, default=None)),
            max_depth=max_depth,
        ),
    )
