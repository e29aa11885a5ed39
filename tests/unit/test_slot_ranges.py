"""Slot arithmetic of the insights' slot sums: slot starts, merged time ranges and which part of a window the sums
serve."""

from __future__ import annotations

from core.adapters.clickhouse import slot_sums
from core.adapters.clickhouse.slot_sums import SLOT_NS, Ranges

DB = "db"


def test_a_time_belongs_to_the_slot_starting_at_or_before_it() -> None:
    assert slot_sums.slot_of(5 * SLOT_NS) == 5 * SLOT_NS
    assert slot_sums.slot_of(5 * SLOT_NS + 1) == 5 * SLOT_NS
    assert slot_sums.slot_of(6 * SLOT_NS - 1) == 5 * SLOT_NS


def test_ranges_merge_overlapping_and_touching_spans_and_drop_empty_ones() -> None:
    r = Ranges.of((10, 20), (15, 30), (30, 40), (50, 50), (60, 70))
    assert r.spans == ((10, 40), (60, 70))
    assert Ranges.of_slots([3 * SLOT_NS, 4 * SLOT_NS, 9 * SLOT_NS]).spans == (
        (3 * SLOT_NS, 5 * SLOT_NS), (9 * SLOT_NS, 10 * SLOT_NS))
    assert r.widened(5).spans == ((5, 45), (55, 75))
    assert Ranges.of().sql("t") == "0"
    assert r.sql("t") == "((t >= 10 AND t < 40) OR (t >= 60 AND t < 70))"


def test_a_window_reads_the_sums_of_whole_clean_slots_and_the_records_of_the_rest() -> None:
    lo, hi = 2 * SLOT_NS + 7, 10 * SLOT_NS - 3
    sql = slot_sums.source(DB, slot_sums.CALLS, lo, hi, slotted=True, dirty=[5 * SLOT_NS, 12 * SLOT_NS])
    sums, records = sql.split(" UNION ALL ")
    assert f"s.slot_ns >= {3 * SLOT_NS} AND s.slot_ns < {9 * SLOT_NS}" in sums
    assert f"NOT IN ({5 * SLOT_NS})" in sums  # the dirty slot inside; the one outside the window is ignored
    for span in ((lo, 3 * SLOT_NS), (5 * SLOT_NS, 6 * SLOT_NS), (9 * SLOT_NS, hi)):
        assert f"at_ns >= {span[0]} AND at_ns < {span[1]}" in records
    assert " UNION ALL " not in slot_sums.source(DB, slot_sums.CALLS, 2 * SLOT_NS, 9 * SLOT_NS, slotted=True)
    assert "FINAL" in slot_sums.source(DB, slot_sums.CALLS, lo, hi, slotted=False)  # from the table itself
    assert "telemetry_call_slots" not in slot_sums.source(DB, slot_sums.CALLS, lo, lo + SLOT_NS, slotted=True)
