"""HookStore: the Store port's methods for the hooks API area (every method scoped to one org)."""

from __future__ import annotations

from abc import ABC


class HookStore(ABC):  # noqa: B024 - filled by the area's methods
    pass
