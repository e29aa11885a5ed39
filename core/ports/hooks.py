"""HookStore: the Store port's methods for the hooks API area (every method scoped to one org)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the records load with the hooks API, not with every Store
    from core.ports.hook_records import HookNotice, HookOutcome, HookRecord, HookSession


class HookStore(ABC):
    @abstractmethod
    def record_hook(self, org_id: str, hook: HookRecord, notice: HookNotice | None = None) -> HookOutcome:
        """Apply one hook in one transaction, or nothing when a hook with the same key was recorded before:

        - the session is upserted (first/last seen widen to the hook's time; the first workspace, transcript
          path and start source stay; a start after an end reopens the session; an end records the latest end);
        - a tool start upserts its call (the earliest start wins; a finished call stays finished);
        - a tool end fills the result, success, error and end; the duration is end - start once both are known;
        - a task id links the session (the session_links row, its spans without a task); chain, stage and
          message ids are kept on the session and given to its spans that have none;
        - when the session's workspace becomes known (or the session ends) spans of the session without one
          get it;
        - the hook is appended to the session's events, and ``notice`` messages to the outbox."""

    @abstractmethod
    def hook_session(self, org_id: str, session_id: str) -> HookSession | None:
        """The session as hooks see it; None when the org has no such session."""
