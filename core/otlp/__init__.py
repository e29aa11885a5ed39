"""OTLP/HTTP wire handling: bounded body reading, decoding protobuf and JSON, encoding responses."""
