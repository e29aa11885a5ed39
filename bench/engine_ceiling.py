"""Benchmark baseline: the fastest the embedded engine alone could store the rows a load just wrote, on this machine
now (an upper bound for any client's insert rate, measured in the same run as the rate it bounds)."""

from __future__ import annotations

import os
import time

from core.adapters.clickhouse.connection import AnalyticsConnection

_ONE_THREAD = {"max_threads": 1, "max_insert_threads": 1}


def engine_ceiling(conn: AnalyticsConnection, rows: int, unit: str, target: float, repeats: int = 3,
                   without: tuple[str, ...] = ()) -> float:
    """Copy every MergeTree table of the connection's database once more, inside the engine, into an empty table of
    the same definition (engine, sorting key, skip indexes, TTL): `INSERT .. SELECT`, so no client encoding, no
    parsing, no masking, no transfer, and no view or derived-table work either. Each table is copied on its own, one
    thread, timed by CPU, the least of ``repeats`` copies (a shared machine only ever adds); the CPU of reading the
    source (`SELECT .. FORMAT Null`, measured apart) is subtracted. ``rows`` (the load's count, in ``unit``) over
    that CPU spread across the machine's cores is the ceiling: it assumes perfect parallelism and no other work, so
    no load reaches it. ``without``: skip indexes dropped from the copies first, to show what they cost. Prints
    the ceiling and the target's share of it; returns the ceiling in rows/s."""
    client, src = conn.client, conn.database
    dst = f"{src}_ceiling"
    tables = [str(r[0]) for r in client.query(
        "SELECT name FROM system.tables WHERE database = {db:String} AND engine LIKE '%MergeTree' "
        "AND name != 'schema_version' AND total_rows > 0 ORDER BY name", parameters={"db": src}).result_rows]

    def cpu(sql: str) -> float:
        started = time.process_time()  # every thread of the process: the embedded engine's included
        client.command(sql, settings=_ONE_THREAD)
        return time.process_time() - started

    write_cpu: dict[str, float] = {}
    client.command(f"CREATE DATABASE IF NOT EXISTS {dst}")
    try:
        for table in tables:
            client.command(f"CREATE TABLE {dst}.{table} AS {src}.{table}")
            for index in without:
                client.command(f"ALTER TABLE {dst}.{table} DROP INDEX IF EXISTS {index}")
            read = min(cpu(f"SELECT * FROM {src}.{table} FORMAT Null") for _ in range(repeats))
            copies = []
            for _ in range(repeats):
                client.command(f"TRUNCATE TABLE {dst}.{table}")
                copies.append(cpu(f"INSERT INTO {dst}.{table} SELECT * FROM {src}.{table}"))
            write_cpu[table] = max(0.0, min(copies) - read)
    finally:
        client.command(f"DROP DATABASE IF EXISTS {dst}")
    total, cores = sum(write_cpu.values()), os.cpu_count() or 1
    ceiling = rows / (total / cores) if total else float("inf")
    biggest = ", ".join(f"{t} {s:.2f}" for t, s in sorted(write_cpu.items(), key=lambda x: -x[1])[:6])
    definition = f"the same definition without {', '.join(without)}" if without else "the same definition"
    print(f"baseline (engine ceiling): the engine alone stores the same rows again, into tables of {definition}, in "
          f"{total:.2f} CPU-s ({biggest}); on {cores} cores at best {ceiling:,.0f} {unit}/s with no client work at "
          f"all; the target is {target / ceiling:.2f} of it")
    return ceiling
