"""The Analytics port when no analytics store is configured: every export is dropped, loudly."""

from __future__ import annotations

import json
import logging

from core.ports.analytics import Analytics

log = logging.getLogger(__name__)


class NullAnalytics(Analytics):
    """Drops exports, logging one line per message so a missing configuration is never silent."""

    @property
    def configured(self) -> bool:
        return False

    def export_batch(self, org_id: str, payload: bytes) -> None:
        log.warning("analytics not configured: dropped export of %s for org %s (set OBSERVATORY_CLICKHOUSE_URL)",
                    _describe(payload), org_id)


def _describe(payload: bytes) -> str:
    """`<n> spans, <n> events, ...` from the message's counts when it has them, else its size."""
    try:
        counts = json.loads(payload).get("counts")
    except (ValueError, AttributeError):
        counts = None
    if isinstance(counts, dict) and counts:
        return ", ".join(f"{n} {kind}" for kind, n in counts.items())
    return f"a {len(payload)}-byte message"
