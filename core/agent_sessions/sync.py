"""The agent-session write paths: a client's sync batch and an ingested OTLP batch, masked, linked and stored.

Secrets are masked here, the one place every source passes (the transcript importer sends raw text), and git
links are extracted from the masked tool calls (masking never hides a commit id or a PR URL)."""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence

from core.agent_sessions.from_telemetry import SessionRows, merge_session, sessions_from_batch
from core.agent_sessions.gitlinks import extract_git_links
from core.agent_sessions.models import MAX_ID_LENGTH, AgentSession, AgentToolCall, GitLink, SyncBatch, SyncResult
from core.ports.agent_sessions import AgentSessionStore
from core.records import Batch
from core.redact import mask_secrets

log = logging.getLogger(__name__)

# OTLP's message ordinals are Unix seconds (above 10^9 since 2001); a transcript's are its line numbers.
TRANSCRIPT_ORDINALS_BELOW = 10**9


class _Masker:
    def __init__(self) -> None:
        self.count = 0

    def text(self, value: str) -> str:
        masked, found = mask_secrets(value)
        self.count += sum(found.values())
        return masked

    def optional(self, value: str | None) -> str | None:
        return None if value is None else self.text(value)


def _masked(rows: SessionRows | SyncBatch, masker: _Masker) -> SessionRows:
    return SessionRows(
        sessions=[s.model_copy(update={"first_message": masker.text(s.first_message)}) for s in rows.sessions],
        messages=[m.model_copy(update={"content": masker.text(m.content)}) for m in rows.messages],
        tool_calls=[t.model_copy(update={"input_json": masker.text(t.input_json),
                                         "result_content": masker.optional(t.result_content)})
                    for t in rows.tool_calls])


def _git_links(sessions: Sequence[AgentSession], tool_calls: Sequence[AgentToolCall],
               users: dict[str, str]) -> list[GitLink]:
    by_session: dict[str, list[AgentToolCall]] = defaultdict(list)
    for t in tool_calls:
        by_session[t.session_id].append(t)
    known = {s.id: s.user_id for s in sessions} | users
    links: list[GitLink] = []
    for session_id, calls in by_session.items():
        links += extract_git_links(session_id, known.get(session_id, ""), calls)
    return links


def sync(store: AgentSessionStore, org_id: str, batch: SyncBatch) -> SyncResult:
    """Store a client's batch: sessions replace their stored row, messages and tool calls are upserted by key.
    A retried request (same content) is a no-op at insert time; a replayed one later still changes nothing."""
    masker = _Masker()
    rows = _masked(batch, masker)
    links = _git_links(rows.sessions, rows.tool_calls, {})
    batch_id = hashlib.sha256(f"{org_id}\n{batch.model_dump_json()}".encode()).hexdigest()
    store.write_batch(org_id, rows.sessions, rows.messages, rows.tool_calls, links, batch_id=batch_id)
    return SyncResult(sessions=len(rows.sessions), messages=len(rows.messages), tool_calls=len(rows.tool_calls),
                      git_links=len(links), masked=masker.count)


def _keep_transcript_ordinals(store: AgentSessionStore, org_id: str, rows: SessionRows) -> None:
    """A message (by uuid) or tool call (by id) a transcript already stored keeps the transcript's ordinal: OTLP's
    are Unix seconds, which would move the message to the end of its conversation and unhook the tool call from
    its message. A transcript's ordinals are line numbers, below TRANSCRIPT_ORDINALS_BELOW, so one read finds the
    sessions that have a transcript (usually none) and only their rows are looked up; a row OTLP stored is written
    again with its own ordinal (the newest sighting's, as before). A later sync writes the transcript's ordinals
    whatever OTLP stored."""
    candidates = {m.session_id for m in rows.messages if m.uuid} | {t.session_id for t in rows.tool_calls}
    synced = store.sessions_with_ordinals_below(org_id, sorted(candidates), TRANSCRIPT_ORDINALS_BELOW) \
        if candidates else set()
    if not synced:
        return
    keys = [(m.session_id, m.uuid) for m in rows.messages if m.uuid and m.session_id in synced]
    kept = {k: o for k, o in (store.message_ordinals(org_id, keys) if keys else {}).items()
            if o < TRANSCRIPT_ORDINALS_BELOW}
    if kept:
        rows.messages = [m.model_copy(update={"ordinal": kept[(m.session_id, m.uuid)]})
                         if (m.session_id, m.uuid) in kept else m for m in rows.messages]
    tool_keys = [(t.session_id, t.tool_use_id) for t in rows.tool_calls if t.session_id in synced]
    kept = {k: o for k, o in (store.tool_call_ordinals(org_id, tool_keys) if tool_keys else {}).items()
            if o < TRANSCRIPT_ORDINALS_BELOW}
    if kept:
        rows.tool_calls = [t.model_copy(update={"message_ordinal": kept[(t.session_id, t.tool_use_id)]})
                           if (t.session_id, t.tool_use_id) in kept else t for t in rows.tool_calls]


def export_telemetry_sessions(store: AgentSessionStore, batch: Batch) -> int:
    """The agent-session rows of an ingested OTLP batch (Claude Code / Gemini CLI events and tool calls):
    each session merged with its stored row (a batch sees part of a session), then stored. Returns the rows
    written. Redelivery writes the same rows."""
    # Not masked again: ingest masked every prompt, response and tool input/result before storage, and these rows
    # come from those records (tests/unit/test_sessions_from_telemetry.py shows it).
    rows = sessions_from_batch(batch)
    if rows.skipped:
        log.warning("org %s: %d session or tool-call record(s) with an id over %d characters get no agent-session "
                    "row", batch.org_id, rows.skipped, MAX_ID_LENGTH)
    if not (rows.sessions or rows.messages or rows.tool_calls):
        return 0
    _keep_transcript_ordinals(store, batch.org_id, rows)
    stored = store.get_session_rows(batch.org_id, [seen.id for seen in rows.sessions])
    sessions = [merge_session(stored.get(seen.id), seen) for seen in rows.sessions]
    users = {s.id: s.user_id for s in sessions}
    links = _git_links(sessions, rows.tool_calls, users)
    store.write_batch(batch.org_id, sessions, rows.messages, rows.tool_calls, links)
    store.recount_sessions(batch.org_id, [s.id for s in sessions])
    return len(sessions) + len(rows.messages) + len(rows.tool_calls)

