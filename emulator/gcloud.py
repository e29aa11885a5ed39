"""Google's Firestore and Pub/Sub emulators, started from the google-cloud-cli jars with `java` on 127.0.0.1."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

SDK_PLATFORM = Path(os.environ.get("CLOUDSDK_PLATFORM_DIR", "/usr/lib/google-cloud-sdk/platform"))
FIRESTORE_JAR = SDK_PLATFORM / "cloud-firestore-emulator" / "cloud-firestore-emulator.jar"
FIRESTORE_MAIN = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"
PUBSUB_JAR_DIR = SDK_PLATFORM / "pubsub-emulator" / "lib"

# The emulators are short-lived test/dev processes: a client-class JIT and a serial GC start faster and take
# less CPU from the functions they serve.
_JVM_FLAGS = ("-Duser.language=en", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss1m")


class EmulatorUnavailable(RuntimeError):
    """java or an emulator jar is not installed here."""


def pubsub_jar() -> Path | None:
    jars = sorted(PUBSUB_JAR_DIR.glob("cloud-pubsub-emulator-*-all.jar"))
    return jars[-1] if jars else None


def missing_prerequisites(kind: str) -> str | None:
    """Why the `kind` ("firestore" | "pubsub") emulator cannot start here, or None when it can."""
    if shutil.which("java") is None:
        return "java is not on PATH"
    jar = FIRESTORE_JAR if kind == "firestore" else pubsub_jar()
    if jar is None or not jar.is_file():
        where = FIRESTORE_JAR if kind == "firestore" else PUBSUB_JAR_DIR / "cloud-pubsub-emulator-*-all.jar"
        return f"the {kind} emulator jar is missing ({where})"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Emulator:
    """One running emulator process; stop() ends it (and only it) by PID."""

    kind: str
    host: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    env_var: str
    _log_file: object = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def env(self) -> dict[str, str]:
        """What a Google client needs to talk to this emulator instead of the cloud."""
        return {self.env_var: self.address}

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout_s)
        close = getattr(self._log_file, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _start(kind: str, command: list[str], port: int, env_var: str, timeout_s: float, log_dir: Path | None) -> Emulator:
    directory = log_dir or Path(tempfile.mkdtemp(prefix=f"{kind}-emulator-"))
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / f"{kind}-emulator.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 - owned by the Emulator, closed on stop()
    # A new session: a Ctrl-C in the parent's terminal does not kill the JVM half-way through a test.
    proc = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            cwd=directory, start_new_session=True)
    emulator = Emulator(kind, "127.0.0.1", port, proc, log_path, env_var, log_file)
    try:
        _wait_ready(emulator, timeout_s)
    except BaseException:
        emulator.stop()
        raise
    log.info("%s emulator ready on %s (pid %d)", kind, emulator.address, proc.pid)
    return emulator


def _wait_ready(emulator: Emulator, timeout_s: float) -> None:
    """Both emulators answer `GET /` with 200 "Ok" once they serve requests."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not emulator.running():
            raise RuntimeError(f"{emulator.kind} emulator exited ({emulator.proc.returncode}): {emulator.log_tail()}")
        try:
            with urllib.request.urlopen(emulator.url + "/", timeout=1) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{emulator.kind} emulator not ready after {timeout_s:.0f} s: {emulator.log_tail()}")


def start_pubsub(port: int | None = None, timeout_s: float = 60.0, log_dir: Path | None = None) -> Emulator:
    """Start the Pub/Sub emulator; its state lives in memory and dies with the process."""
    reason = missing_prerequisites("pubsub")
    if reason:
        raise EmulatorUnavailable(reason)
    jar = pubsub_jar()
    assert jar is not None
    port = port or free_port()
    command = ["java", *_JVM_FLAGS, "-jar", str(jar), "--host=127.0.0.1", f"--port={port}"]
    return _start("pubsub", command, port, "PUBSUB_EMULATOR_HOST", timeout_s, log_dir)


def start_firestore(port: int | None = None, timeout_s: float = 60.0, log_dir: Path | None = None) -> Emulator:
    """Start the Firestore emulator (native mode, every project id accepted)."""
    reason = missing_prerequisites("firestore")
    if reason:
        raise EmulatorUnavailable(reason)
    port = port or free_port()
    command = ["java", *_JVM_FLAGS, "-cp", str(FIRESTORE_JAR), FIRESTORE_MAIN, "--host", "127.0.0.1",
               "--port", str(port)]
    return _start("firestore", command, port, "FIRESTORE_EMULATOR_HOST", timeout_s, log_dir)


def reset_firestore(emulator: Emulator, project: str) -> None:
    """Delete every document of `project`'s default database (the emulator's own reset endpoint)."""
    url = f"{emulator.url}/emulator/v1/projects/{project}/databases/(default)/documents"
    request = urllib.request.Request(url, method="DELETE")
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status != 200:
            raise RuntimeError(f"firestore reset answered {response.status}")


@contextmanager
def emulators(firestore: bool = True, pubsub: bool = True) -> Iterator[dict[str, Emulator]]:
    """Start the requested emulators and stop them (by PID) on exit."""
    started: dict[str, Emulator] = {}
    try:
        if pubsub:
            started["pubsub"] = start_pubsub()
        if firestore:
            started["firestore"] = start_firestore()
        yield started
    finally:
        for emulator in started.values():
            emulator.stop()
