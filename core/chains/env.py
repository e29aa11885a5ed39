"""The environment a chain passes to its executors, so the spans they emit carry the chain's ids at write time.

Ingest links a span to a chain, stage, task and message from the resource attributes `observatory.chain_id`,
`observatory.stage_id`, `observatory.task_id` and `observatory.message_id` (core/normalise/resource.py); an
OpenTelemetry SDK reads its resource from OTEL_RESOURCE_ATTRIBUTES. An executor that already sets that variable
appends ours to it after a comma."""

from __future__ import annotations

from urllib.parse import quote, unquote

RESOURCE_KEYS = {
    "chain_id": "observatory.chain_id",
    "stage_id": "observatory.stage_id",
    "task_id": "observatory.task_id",
    "message_id": "observatory.message_id",
}
VARIABLES = {
    "chain_id": "OBSERVATORY_CHAIN_ID",
    "stage_id": "OBSERVATORY_STAGE_ID",
    "task_id": "OBSERVATORY_TASK_ID",
    "message_id": "OBSERVATORY_MESSAGE_ID",
}


def encode_resource_attributes(attributes: dict[str, str]) -> str:
    """`k=v,k=v` as the OpenTelemetry environment-variable spec has it: each value percent-encoded (every
    character but the unreserved ones, so `,` `=` `%` and spaces never break the list)."""
    return ",".join(f"{key}={quote(value, safe='')}" for key, value in attributes.items())


def decode_resource_attributes(text: str) -> dict[str, str]:
    """The inverse of encode_resource_attributes (what an SDK does with the variable)."""
    out: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if sep:
            out[key.strip()] = unquote(value.strip())
    return out


def chain_env(chain_id: str, stage_id: str | None = None, task_id: str | None = None,
              message_id: str | None = None) -> dict[str, str]:
    """OTEL_RESOURCE_ATTRIBUTES plus one OBSERVATORY_* variable per known id."""
    ids = {"chain_id": chain_id, "stage_id": stage_id, "task_id": task_id, "message_id": message_id}
    known = {name: value for name, value in ids.items() if value}
    env = {"OTEL_RESOURCE_ATTRIBUTES": encode_resource_attributes(
        {RESOURCE_KEYS[name]: value for name, value in known.items()})}
    env.update({VARIABLES[name]: value for name, value in known.items()})
    return env
