"""The Claude Code event queue: each agent session with LLM calls as one item (the seed's ClaudeCodeEvent)."""

from __future__ import annotations

from datetime import UTC, datetime

from core.hierarchy.models import ClaudeCodeEvent, ClaudeCodeEventList, ClaudeCodeEventsQuery
from core.ports.span_views import SessionActivity
from core.ports.store import Store

DIRECTIVE_PREVIEW = 100
_LABELS = {"claude_code": ("Claude Code", "claude-code"), "gemini_cli": ("Gemini CLI", "gemini-cli")}


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat().replace("+00:00", "Z")


def _preview(text: str | None) -> str | None:
    if not text:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= DIRECTIVE_PREVIEW else flat[:DIRECTIVE_PREVIEW - 1] + "…"


def metrics_summary(turns: int, cost: float, duration_ms: int) -> str:
    """``3 turns • $0.42 • 12.5s``."""
    return f"{turns} turn{'' if turns == 1 else 's'} • ${cost:.2f} • {duration_ms / 1000:.1f}s"


def to_event(a: SessionActivity, agent_id: str | None) -> ClaudeCodeEvent:
    """A session as a queue item: from its coordinator agent (or the CLI) to that agent's inbox (or the user)."""
    label, cli = _LABELS.get(a.source_type, ("Agent", a.service_name or "agent"))
    duration_ms = max(round((a.last_seen_ns - a.first_seen_ns) / 1e6), 0)
    return ClaudeCodeEvent(
        id=a.session_id, created_at=_iso(a.first_seen_ns), from_agent=agent_id or cli,
        to_inbox=agent_id or "user", title=f"{label} Session (${a.cost_usd:.2f})", task_id=a.session_id,
        cost_usd=a.cost_usd, tokens_in=a.tokens_in, tokens_out=a.tokens_out, duration_ms=duration_ms,
        workspace=a.workspace or None, model=a.model or (a.models[-1] if a.models else None), provider=a.provider,
        directive=_preview(a.first_prompt), directive_full=a.first_prompt, turn_count=a.turn_count,
        metrics_summary=metrics_summary(a.turn_count, a.cost_usd, duration_ms),
    )


def claude_code_events(store: Store, org_id: str, q: ClaudeCodeEventsQuery) -> ClaudeCodeEventList:
    """Sessions with LLM calls, most recently active first; a session spawned for an agent assignment comes
    from that agent (its agent_id), a user's session from the CLI to "user"."""
    rows = store.activity_sessions(org_id, q.source_type, q.workspace, q.limit, q.offset)
    events = []
    for a in rows:
        assignment = store.get_assignment(org_id, a.assignment_id) if a.assignment_id else None
        events.append(to_event(a, assignment.agent_id if assignment else None))
    return ClaudeCodeEventList(events=events, count=len(events), limit=q.limit, offset=q.offset)
