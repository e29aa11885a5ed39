"""Normalisers: OTLP resources, spans, log events and metric points of every dialect into core.records."""
