"""Firestore emulator fixture (one per test session) and a FirestoreStore factory for the contract suites."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.adapters.firestore.store import FirestoreStore

EMULATOR_JAR = Path("/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar")
EMULATOR_MAIN = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"
_START_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - local emulator
            return bool(resp.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="session")
def firestore_emulator_host() -> Iterator[str]:
    """host:port of a Firestore emulator started for this test session; skips when Java or the emulator is not
    installed. An already running emulator named by FIRESTORE_EMULATOR_HOST is used as is."""
    existing = os.environ.get("FIRESTORE_EMULATOR_HOST")
    if existing:
        yield existing
        return
    pytest.importorskip("google.cloud.firestore")
    java = shutil.which("java")
    if java is None or not EMULATOR_JAR.exists():
        pytest.skip("the Firestore emulator (Java + cloud-firestore-emulator.jar) is not installed")
    host = f"127.0.0.1:{_free_port()}"
    proc = subprocess.Popen(  # noqa: S603 - fixed arguments
        [java, "-Duser.language=en", "-cp", str(EMULATOR_JAR), EMULATOR_MAIN, "--host=127.0.0.1",
         f"--port={host.rsplit(':', 1)[1]}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not _answers(f"http://{host}/"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Firestore emulator did not start on {host}")
            time.sleep(0.2)
        yield host
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def firestore_store(emulator_host: str) -> FirestoreStore:
    """A store on a fresh project of the emulator: every test sees an empty database, with no reset call."""
    from google.cloud import firestore

    project = f"test-{uuid.uuid4().hex[:12]}"
    # The client reads FIRESTORE_EMULATOR_HOST once, when built: set it only for that moment, so no other test
    # of the session sees an emulator it did not ask for.
    before = os.environ.get("FIRESTORE_EMULATOR_HOST")
    os.environ["FIRESTORE_EMULATOR_HOST"] = emulator_host
    try:
        client = firestore.Client(project=project)
    finally:
        if before is None:
            os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = before
    # Readers see events at once here (a test appends, then reads); test_event_settle covers the horizon.
    return FirestoreStore(project=project, client=client, event_settle_s=0.0)
