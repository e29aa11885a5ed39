"""A span sent twice in one request: the Store keeps the later one, and so must the history its insights read."""

from __future__ import annotations

from pathlib import Path

from core.adapters.clickhouse.connection import AnalyticsConnection
from core.adapters.clickhouse.history import ClickHouseHistory
from core.adapters.clickhouse.insights import ClickHouseFactInsights
from core.insights import service
from core.insights.models import InsightQuery
from core.insights.split import SplitInsights
from core.records import Batch
from tests.contract.test_insights_parity import NOW, RecordingStore, T, _call, _same, _span

ORG = "twice"


def test_a_session_less_call_takes_its_source_from_the_later_copy_of_its_span(tmp_path: Path,
                                                                               analytics_engine_dir: Path) -> None:
    store = RecordingStore(tmp_path / "store.db")
    conn = AnalyticsConnection(f"chdb://{analytics_engine_dir}?database=parity_twice")
    history = ClickHouseHistory(conn)
    # Found by the generated-payload parity test: one request carrying the span twice (the same key and start), the
    # first from Claude Code, the second from Gemini CLI, neither in a session; the LLM call names the span.
    t = T - 3_600_000_000_000  # an hour before the reads' now
    batch = Batch(ORG,
                  spans=[_span("tw1", "01", t, None, "claude_code"), _span("tw1", "01", t, None, "gemini_cli")],
                  llm_calls=[_call("span:tw1:01", None, t, "gemini-2.5-pro", "google", 0.5, span=("tw1", "01"))])
    with store.unit_of_work() as uow:
        uow.write(batch, "twice-1", [])
    history.export(ORG, batch, version_ns=1)
    split = SplitInsights(ClickHouseFactInsights(conn), store)
    for query in (InsightQuery(), InsightQuery(source_type="gemini_cli"), InsightQuery(source_type="claude_code")):
        for dimension in ("source_type", "workspace"):
            _same(service.breakdown(store, ORG, dimension, query, NOW).model_dump(),
                  service.breakdown(split, ORG, dimension, query, NOW).model_dump(), f"{dimension} {query}")
    assert [i.id for i in service.breakdown(split, ORG, "source_type", InsightQuery(), NOW).items
            if i.calls] == ["gemini_cli"]
    store.close()
