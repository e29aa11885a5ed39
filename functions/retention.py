"""Entry point `retention`: the CloudEvent worker on the `maintenance` topic (Cloud Scheduler) deleting expired rows."""

from __future__ import annotations

from typing import Any

import functions_framework

from functions._workers import workers


@functions_framework.cloud_event
def retention(cloud_event: Any) -> None:
    """Returns (ack) when the run finished; raises (redelivery) when the store is unavailable."""
    workers().retention(cloud_event)
