"""The `observatory hook` command: forward the Claude Code hook payload on stdin to the hooks route.

A hook must never stall Claude Code: whatever happens (server down, slow or failing, bad stdin, stdin never
closed) the command exits 0 within its deadline (OBSERVATORY_HOOK_TIMEOUT_S, default 1.5 s, at most 1.8 s),
prints nothing to stdout (Claude Code may read a hook's stdout as instructions) and at most one short line to
stderr. Standard library only, and no `core` import: it runs once per hook, so it starts fast.

Environment: OBSERVATORY_URL (default http://127.0.0.1:8080), OBSERVATORY_API_KEY (sent as a bearer token),
OBSERVATORY_TASK_ID / _CHAIN_ID / _STAGE_ID / _MESSAGE_ID (sent as X-Observatory-Task-ID, ... headers).
Options (override the environment): --url URL, --timeout SECONDS.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping

DEFAULT_URL = "http://127.0.0.1:8080"
HOOKS_PATH = "/api/observatory/hooks"
DEFAULT_TIMEOUT_S = 1.5
MAX_TIMEOUT_S = 1.8  # the whole command, interpreter start included, stays under two seconds
MAX_PAYLOAD_BYTES = 32 * 1024 * 1024
LINK_ENV = {
    "OBSERVATORY_TASK_ID": "X-Observatory-Task-ID",
    "OBSERVATORY_CHAIN_ID": "X-Observatory-Chain-ID",
    "OBSERVATORY_STAGE_ID": "X-Observatory-Stage-ID",
    "OBSERVATORY_MESSAGE_ID": "X-Observatory-Message-ID",
}


def endpoint(env: Mapping[str, str], url: str | None = None) -> str:
    base = (url or env.get("OBSERVATORY_URL") or DEFAULT_URL).strip().rstrip("/")
    if base.endswith(HOOKS_PATH):
        return base
    if base.endswith("/api/observatory"):
        return base + "/hooks"
    return base + HOOKS_PATH


def headers(env: Mapping[str, str], hook_time_ns: int) -> dict[str, str]:
    """The request headers: JSON, the key, the correlation ids of the environment and when the hook ran."""
    out = {"Content-Type": "application/json", "User-Agent": "observatory-hook/1",
           "X-Observatory-Hook-Time": str(hook_time_ns)}
    key = (env.get("OBSERVATORY_API_KEY") or "").strip()
    if key:
        out["Authorization"] = f"Bearer {key}"
    for name, header in LINK_ENV.items():
        value = (env.get(name) or "").strip()
        if value:
            out[header] = value
    return out


def timeout_s(env: Mapping[str, str], given: str | None = None) -> float:
    try:
        value = float(given or env.get("OBSERVATORY_HOOK_TIMEOUT_S") or DEFAULT_TIMEOUT_S)
    except ValueError:
        value = DEFAULT_TIMEOUT_S
    if value != value:  # NaN
        value = DEFAULT_TIMEOUT_S
    return min(max(value, 0.05), MAX_TIMEOUT_S)


def forward(payload: bytes, env: Mapping[str, str], hook_time_ns: int, timeout: float,
            url: str | None = None) -> str | None:
    """POST one payload; returns a short problem description, or None when the server took it."""
    if not payload.strip():
        return "no hook payload on stdin"
    try:
        json.loads(payload)
    except ValueError:
        return "stdin is not a JSON hook payload"
    request = urllib.request.Request(endpoint(env, url), data=payload, method="POST",
                                     headers=headers(env, hook_time_ns))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(4096)
    except urllib.error.HTTPError as exc:
        return f"server answered {exc.code}"
    except (OSError, ValueError) as exc:  # refused, unreachable, timed out, bad URL
        reason = getattr(exc, "reason", None) or exc
        return f"server unreachable ({reason})"
    return None


def _options(argv: list[str]) -> dict[str, str]:
    """`--url X`, `--url=X`, `--timeout S`; anything else is ignored (a hook never fails on its arguments)."""
    found: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        for name in ("url", "timeout"):
            flag = f"--{name}"
            if arg == flag and i + 1 < len(argv):
                found[name] = argv[i + 1]
                i += 1
            elif arg.startswith(flag + "="):
                found[name] = arg[len(flag) + 1:]
        i += 1
    return found


def _read_stdin() -> bytes:
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        return b""
    data: bytes = stream.read(MAX_PAYLOAD_BYTES + 1)
    return data


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Forward stdin and return 0; if stdin or the network is still blocking at the deadline, end the process
    at once with status 0 (a thread blocked there would otherwise hold the interpreter's exit up)."""
    hook_time_ns = time.time_ns()
    started = time.monotonic()
    env = os.environ if env is None else env
    options = _options(list(sys.argv[1:] if argv is None else argv))
    budget = timeout_s(env, options.get("timeout"))
    problem: list[str] = []

    def run() -> None:
        try:
            payload = _read_stdin()
            if len(payload) > MAX_PAYLOAD_BYTES:
                problem.append("hook payload too large")
                return
            remaining = max(budget - (time.monotonic() - started), 0.05)
            found = forward(payload, env, hook_time_ns, remaining, options.get("url"))
            if found:
                problem.append(found)
        except Exception as exc:  # a hook reports a problem, it never fails
            problem.append(f"{type(exc).__name__}: {exc}")

    worker = threading.Thread(target=run, name="observatory-hook", daemon=True)
    worker.start()
    worker.join(max(budget - (time.monotonic() - started), 0.0))
    if worker.is_alive():
        _warn(f"no answer within {budget:g} s; hook not recorded")
        os._exit(0)
    if problem:
        _warn(problem[0])
    return 0


def _warn(message: str) -> None:
    try:
        sys.stderr.write(f"observatory hook: {message[:300]}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
