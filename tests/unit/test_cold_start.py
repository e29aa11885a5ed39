"""An ingest function's cold start loads what ingest uses and nothing of the other areas (bench/ingest.py times it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Loaded by the routes and workers that use them, never by an ingest function's import.
NOT_ON_INGEST = (
    "core.aggregate", "core.sessions", "core.session_facts", "core.metric_math",  # the aggregate worker
    "core.models",  # the read API's pydantic models
)
# Dataclasses of other areas (creating one costs about a millisecond of the cold start).
OTHER_AREAS_RECORDS = ("HookRecord", "HookEffects", "HookSession", "ToolStart", "ToolEnd", "MetricEntry",
                       "StageChange", "ChainChange", "StageOutcome", "ChainOutcome")
_PROBE = """
import dataclasses, json, sys
import functions.{module}
loaded = sorted(m for m in sys.modules if m.startswith(("core", "functions")))
records = sorted(name for m in loaded for name, v in vars(sys.modules[m]).items()
                 if isinstance(v, type) and dataclasses.is_dataclass(v) and v.__module__ == m)
print(json.dumps({{"modules": loaded, "dataclasses": records}}))
"""


@pytest.mark.parametrize("module", ["ingest_traces", "ingest_logs", "ingest_metrics", "ingest_otlp"])
def test_an_ingest_function_loads_no_other_areas_records(module: str, tmp_path: Path) -> None:
    code = _PROBE.format(module=module)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBSERVATORY_")}
    env["OBSERVATORY_DATA_DIR"] = str(tmp_path / "data")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout
    found = json.loads(out.strip().splitlines()[-1])
    loaded, records = set(found["modules"]), set(found["dataclasses"])
    assert "core.ingest" in loaded and "SpanRecord" in records  # the probe saw the ingest path
    assert loaded.isdisjoint(NOT_ON_INGEST), sorted(loaded & set(NOT_ON_INGEST))
    assert records.isdisjoint(OTHER_AREAS_RECORDS), sorted(records & set(OTHER_AREAS_RECORDS))
