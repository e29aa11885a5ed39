"""Entry point `aggregate`: the CloudEvent worker recomputing aggregates of each `telemetry-ingested` batch."""

from __future__ import annotations

from typing import Any

import functions_framework

from functions._workers import workers


@functions_framework.cloud_event
def aggregate(cloud_event: Any) -> None:
    """Returns (ack) when done or dead-lettered; raises (redelivery) when the store is unavailable."""
    workers().aggregate(cloud_event)
