"""Analytics benchmark: the telemetry history (10,000,000 span/event rows) and the agent-session store
(1,000,000 messages) on embedded ClickHouse; insert rows/s and p50/p95 of every analytics route and of search.

Each half runs in its own process (embedded ClickHouse opens one data directory per process), one after the
other so they never share the two cores: bench/analytics_history.py, then bench/analytics_sessions.py. Targets
(issue): >= 200,000 rows/s inserted; every analytics route < 300 ms p95; search < 500 ms p95.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="300,000 history rows and 50,000 messages")
    ap.add_argument("--rows", type=int, default=10_000_000, help="span/event rows of the history")
    ap.add_argument("--messages", type=int, default=1_000_000, help="messages of the agent-session store")
    args = ap.parse_args(argv)
    history = [sys.executable, str(HERE / "analytics_history.py")]
    sessions = [sys.executable, str(HERE / "analytics_sessions.py")]
    if args.quick:
        history.append("--quick")
        sessions.append("--quick")
    else:
        history += ["--rows", str(args.rows)]
        sessions += ["--messages", str(args.messages)]
    status = 0
    for title, command in (("telemetry history and insights", history), ("agent-session store", sessions)):
        print(f"== {title}: {' '.join(Path(c).name if c.endswith('.py') else c for c in command[1:])}", flush=True)
        status |= subprocess.call(command)
    return status


if __name__ == "__main__":
    sys.exit(main())
