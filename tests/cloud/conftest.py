"""Google's Firestore and Pub/Sub emulators, each started once per test session; a project id per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from emulator import gcloud, pubsub_setup
from emulator.gcloud import Emulator


def _start(kind: str) -> Iterator[Emulator]:
    reason = gcloud.missing_prerequisites(kind)
    if reason:
        pytest.skip(f"{kind} emulator unavailable: {reason}")
    emulator = gcloud.start_pubsub() if kind == "pubsub" else gcloud.start_firestore()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def pubsub_emulator() -> Iterator[Emulator]:
    yield from _start("pubsub")


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[Emulator]:
    yield from _start("firestore")


def project_id() -> str:
    """A fresh project per test: the emulators keep projects apart, so no test sees another's state."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def pubsub_project(pubsub_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """A project with the pipeline's topics, dead-letter topics and inspection subscriptions; clients built in
    the test talk to the emulator."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.address)
    project = project_id()
    monkeypatch.setenv("OBSERVATORY_GCP_PROJECT", project)
    pubsub_setup.setup(project)
    return project


@pytest.fixture
def firestore_project(firestore_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.address)
    project = project_id()
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", project)
    yield project
    gcloud.reset_firestore(firestore_emulator, project)


def pull(project: str, subscription: str, want: int, timeout_s: float = 10.0) -> list[Any]:
    """Pull (and acknowledge) at least `want` messages, or whatever arrived within `timeout_s`."""
    import os
    import time

    import grpc
    from google.api_core.exceptions import DeadlineExceeded
    from google.cloud import pubsub_v1
    from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

    # A pull answer may hold several near-10 MB messages: lift gRPC's 4 MiB default for this client.
    channel = grpc.insecure_channel(os.environ["PUBSUB_EMULATOR_HOST"],
                                    options=[("grpc.max_receive_message_length", -1)])
    subscriber = pubsub_v1.SubscriberClient(transport=SubscriberGrpcTransport(channel=channel))
    path = subscriber.subscription_path(project, subscription)
    got: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(got) < want and time.monotonic() < deadline:
            try:
                # The emulator holds an empty pull open until its deadline: bound it by what is left.
                response = subscriber.pull(request={"subscription": path, "max_messages": 100}, retry=None,
                                           timeout=max(0.2, deadline - time.monotonic()))
            except DeadlineExceeded:
                break
            if response.received_messages:
                got += [m.message for m in response.received_messages]
                subscriber.acknowledge(request={"subscription": path,
                                                "ack_ids": [m.ack_id for m in response.received_messages]})
            else:
                time.sleep(0.05)
    finally:
        subscriber.close()
    return got
