"""Entry point `export_clickhouse`: the CloudEvent worker handing each `telemetry-ingested` batch to Analytics."""

from __future__ import annotations

from typing import Any

import functions_framework

from functions._workers import workers


@functions_framework.cloud_event
def export_clickhouse(cloud_event: Any) -> None:
    """Returns (ack) when exported, dropped (analytics not configured) or dead-lettered; raises to be redelivered."""
    workers().export_clickhouse(cloud_event)
