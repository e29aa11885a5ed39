"""Observatory domain package: OTLP codec, dialect normalisers, pricing, storage ports and services."""
