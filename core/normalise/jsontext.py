"""Compact JSON text of attribute maps for storage: orjson on the hot path, the stdlib for what it cannot encode."""

from __future__ import annotations

import json
from typing import Any

import orjson


def compact_json(value: Any) -> str:
    """UTF-8 JSON without spaces; about ten times faster than `json.dumps` for a span's attributes."""
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:  # e.g. an integer beyond 64 bits: the stdlib encodes it exactly
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
