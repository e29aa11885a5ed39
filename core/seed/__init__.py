"""Seed-data generator: realistic workspaces, tasks, agents, messages and agent telemetry, written through
the product's own services (the catalog store port and OTLP ingest)."""

from core.seed.generator import seed_database
from core.seed.profiles import PROFILES, Range, SeedConfig, SeedResult

__all__ = ["PROFILES", "Range", "SeedConfig", "SeedResult", "seed_database"]
