"""Cloud Functions source: exposes every entry point by name, importing only the one a process serves."""

from __future__ import annotations

import importlib
from typing import Any

from core.routes import ROUTES, WORKERS

_ENTRY_POINTS = {route.function for route in ROUTES} | set(WORKERS)


def __getattr__(name: str) -> Any:
    # Lazy: `--entry-point ingest_traces` imports functions/ingest_traces.py and nothing else.
    if name in _ENTRY_POINTS:
        return getattr(importlib.import_module(f"functions.{name}"), name)
    if name == "local_stack":
        return importlib.import_module("emulator.local_server").local_stack
    raise AttributeError(f"module 'main' has no entry point {name!r}")
