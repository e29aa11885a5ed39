"""Offline checks of infra/: every .tf parses and agrees with the code (entry points, topics, subscriptions,
Firestore indexes and TTLs, environment, secrets, IAM), and `terraform fmt` is clean. No provider is needed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import main
from core.adapters.firestore import layout
from core.adapters.firestore.indexes import INDEXES
from core.auth import KeyResolver
from core.config import Settings
from core.routes import ROUTES, WORKERS
from emulator import pubsub_setup
from emulator.pubsub_setup import MAX_DELIVERY_ATTEMPTS, WORKER_TOPICS
from tests.infra.hcl import INFRA, ROOT, Module, block, dynamic, load, walk

FUNCTION = "google_cloudfunctions2_function"
PROJECT = "test-project"
WORKER_URL = "https://worker.example.run.app"


@pytest.fixture(scope="module")
def tf() -> Module:
    return load()


def _functions(tf: Module) -> dict[str, object]:
    resources = tf.of_type(FUNCTION)
    assert [r.name for r in resources] == ["function"], "every function comes from the one for_each resource"
    return tf.instances(resources[0])


def test_every_tf_file_parses(tf: Module) -> None:
    files = sorted(p.name for p in INFRA.glob("*.tf"))
    assert {"versions.tf", "variables.tf", "outputs.tf"} <= set(files)
    assert sorted(tf.texts) == files
    blocks = [(r.type, r.name) for r in tf.resources]
    assert blocks and len(set(blocks)) == len(blocks)


def test_terraform_fmt_is_clean() -> None:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform binary not installed")
    result = subprocess.run([binary, "fmt", "-check", "-recursive", "-diff", str(INFRA)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_entry_point_has_exactly_one_function(tf: Module) -> None:
    resource = tf.resource(FUNCTION, "function")
    entry_points = Counter(tf.render(block(resource.body, "build_config")["entry_point"], key)
                           for key in _functions(tf))
    expected = {route.function for route in ROUTES} | set(WORKERS)
    assert set(entry_points) == expected
    assert all(count == 1 for count in entry_points.values())
    for name in entry_points:  # main.py exposes each one (the deployed source resolves it by name)
        assert callable(getattr(main, name))


def test_http_functions_and_workers_are_split_as_the_route_table(tf: Module) -> None:
    assert set(tf.value("${local.http_functions}")) == {route.function for route in ROUTES}
    assert set(tf.value("${local.worker_functions}")) == set(WORKERS)


def test_function_names_are_unique_and_valid(tf: Module) -> None:
    resource = tf.resource(FUNCTION, "function")
    account = tf.resource("google_service_account", "function")
    for prefix in ("obs", "abcdefgh"):  # the default and the longest prefix the validation allows
        names = [tf.render(resource.body["name"], k, variables={"name_prefix": prefix}) for k in _functions(tf)]
        accounts = [tf.render(account.body["account_id"], k, variables={"name_prefix": prefix})
                    for k in tf.instances(account)]
        assert len(set(names)) == len(names) and len(set(accounts)) == len(accounts)
        assert all(re.fullmatch(r"[a-z][a-z0-9-]{0,61}[a-z0-9]", n) for n in names)
        assert all(re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", a) for a in accounts), accounts


def test_one_service_account_per_function(tf: Module) -> None:
    account = tf.resource("google_service_account", "function")
    assert set(tf.instances(account)) == set(_functions(tf))
    service = block(tf.resource(FUNCTION, "function").body, "service_config")
    assert service["service_account_email"] == "${google_service_account.function[each.key].email}"


def test_topics_and_dead_letter_topics_exist(tf: Module) -> None:
    topic = tf.resource("google_pubsub_topic", "topic")
    dlq = tf.resource("google_pubsub_topic", "dead_letter")
    names = {tf.render(topic.body["name"], k) for k in tf.instances(topic)}
    dlq_names = {tf.render(dlq.body["name"], k) for k in tf.instances(dlq)}
    used = set(pubsub_setup.TOPICS) | set(WORKER_TOPICS.values())
    assert names == used
    assert dlq_names == {pubsub_setup.dead_letter_topic(t) for t in used}
    inspect = tf.resource("google_pubsub_subscription", "dead_letter_inspect")
    assert {tf.render(inspect.body["name"], k) for k in tf.instances(inspect)} == \
        {pubsub_setup.inspect_subscription_name(t) for t in used}


def test_every_worker_has_a_push_subscription_with_dead_letters_and_oidc(tf: Module) -> None:
    sub = tf.resource("google_pubsub_subscription", "worker")
    workers = tf.instances(sub)
    assert set(workers) == set(WORKERS)
    for worker, spec in workers.items():
        assert isinstance(spec, dict)
        topic = WORKER_TOPICS[worker]
        assert spec["topic"] == topic
        assert tf.render(sub.body["name"], worker, spec) == pubsub_setup.push_subscription_name(worker)
        assert sub.body["topic"] == "${google_pubsub_topic.topic[each.value.topic].id}"
        push = block(sub.body, "push_config")
        url_ref = "${google_cloudfunctions2_function.function[each.key].service_config[0].uri}"
        endpoint = tf.render(push["push_endpoint"].replace(url_ref, WORKER_URL), worker, spec,
                             {"project_id": PROJECT})
        assert endpoint == pubsub_setup.push_endpoint(WORKER_URL, PROJECT, topic)
        oidc = block(push, "oidc_token")
        assert oidc["service_account_email"] == "${google_service_account.pubsub_push.email}"
        assert oidc["audience"] == url_ref
        policy = block(sub.body, "dead_letter_policy")
        assert policy["dead_letter_topic"] == "${google_pubsub_topic.dead_letter[each.value.topic].id}"
        assert block(sub.body, "retry_policy")["minimum_backoff"]
        # Pub/Sub must not redeliver while the worker may still be running.
        assert spec["ack_deadline"] >= min(spec["timeout"], 600)
    attempts = tf.variables["max_delivery_attempts"]
    assert policy["max_delivery_attempts"] == "${var.max_delivery_attempts}"
    assert attempts["default"] >= MAX_DELIVERY_ATTEMPTS >= 5
    assert "var.max_delivery_attempts >= 5" in attempts["validation"][0]["condition"]


def test_push_identity_may_invoke_the_workers_only(tf: Module) -> None:
    invoker = tf.resource("google_cloud_run_v2_service_iam_member", "push_invoker")
    assert set(tf.instances(invoker)) == set(WORKERS)
    assert invoker.body["member"] == "${google_service_account.pubsub_push.member}"
    assert invoker.body["role"] == "roles/run.invoker"


def test_scheduler_publishes_to_maintenance(tf: Module) -> None:
    job = tf.resource("google_cloud_scheduler_job", "retention")
    target = block(job.body, "pubsub_target")
    assert target["topic_name"] == f'${{google_pubsub_topic.topic["{pubsub_setup.MAINTENANCE}"].id}}'
    assert WORKER_TOPICS["retention"] == pubsub_setup.MAINTENANCE


def test_publishers_hold_publish_rights(tf: Module) -> None:
    ingest = tf.resource("google_pubsub_topic_iam_member", "ingest_publisher")
    publishers = set(tf.instances(ingest))
    # Functions that run IngestService (OTLP and the legacy JSON ingest) relay the outbox to the topic.
    assert {r.function for r in ROUTES if r.operation == "ingest" or r.function == "legacy_ingest"} <= publishers
    assert ingest.body["topic"] == '${google_pubsub_topic.topic["telemetry-ingested"].id}'
    dead = tf.resource("google_pubsub_topic_iam_member", "worker_dead_letter")
    assert set(tf.instances(dead)) == set(WORKERS)
    assert dead.body["topic"] == "${google_pubsub_topic.dead_letter[each.value.topic].id}"


def test_firestore_indexes_match_the_adapter(tf: Module) -> None:
    declared = Counter((ix["collection"], tuple((f, d) for f, d in ix["fields"]))
                       for ix in tf.locals["firestore_indexes"])
    assert declared == Counter((ix.collection, ix.fields) for ix in INDEXES)
    index = tf.resource("google_firestore_index", "composite")
    assert index.body["query_scope"] == "COLLECTION"  # the adapter queries each org's sub-collection
    fields = dynamic(index.body, "fields")
    assert fields is not None and fields["for_each"] == "${each.value.fields}"


def test_ttl_policies_on_every_fact_collection(tf: Module) -> None:
    assert set(tf.locals["ttl_collections"]) == set(layout.FACT_COLLECTIONS)
    assert tf.locals["ttl_field"] == layout.TTL_FIELD
    ttl = tf.resource("google_firestore_field", "ttl")
    assert ttl.body["field"] == "${local.ttl_field}" and "ttl_config" in ttl.body


def _environment(tf: Module, name: str, keys_file: Path) -> dict[str, str]:
    """The environment a function starts with: its variables, secrets as env vars, the mounted key file."""
    service = block(tf.resource(FUNCTION, "function").body, "service_config")
    expr = service["environment_variables"]
    cond = re.fullmatch(r"\$\{contains\(keys\(local\.(\w+)\), each\.key\) \? (.+?) : (.+)\}", expr)
    assert cond, expr
    chosen = cond.group(2) if name in tf.locals[cond.group(1)] else cond.group(3)
    variables = tf.value("${" + chosen + "}")
    env = {k: tf.render(str(v), name, variables={"project_id": PROJECT}) for k, v in variables.items()}
    env["OBSERVATORY_ANALYTICS_TTL_DAYS"] = str(tf.variables["analytics_ttl_days"]["default"])
    env["OBSERVATORY_CORS_ORIGINS"] = ""
    for secret in service.get("secret_environment_variables", []):
        env[secret["key"]] = "https://default:pw@clickhouse.example:8443/observatory"
    if "OBSERVATORY_API_KEYS_FILE" in env:
        env["OBSERVATORY_API_KEYS_FILE"] = str(keys_file)
    return env


def test_every_function_gets_the_settings_of_the_cloud(tf: Module, tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": [{"key": "k1", "org": "acme", "scopes": ["ingest"]}]}))
    for name in _functions(tf):
        env = _environment(tf, name, keys)
        settings = Settings.from_env(env)
        assert settings.store == "firestore" and settings.bus == "pubsub", name
        assert settings.gcp_project == PROJECT
        assert settings.firestore_database == tf.variables["firestore_database"]["default"]
        assert settings.clickhouse_url, name  # ingest must know analytics is on to carry the records
        if name in WORKERS:
            continue
        resolver = KeyResolver.from_config(settings.api_keys, settings.api_keys_file)
        assert resolver.enabled and resolver.resolve("k1") is not None, name


def test_api_keys_file_is_the_mounted_secret(tf: Module) -> None:
    service = block(tf.resource(FUNCTION, "function").body, "service_config")
    volume = dynamic(service, "secret_volumes")
    assert volume is not None
    content = volume["content"][0] if isinstance(volume["content"], list) else volume["content"]
    mounted = f"{tf.render(content['mount_path'])}/{tf.render(block(content, 'versions')['path'])}"
    assert tf.render(tf.locals["http_env"]["OBSERVATORY_API_KEYS_FILE"]) == mounted
    assert "local.http_functions" in volume["for_each"]  # only the HTTP functions authenticate


def test_every_variable_set_is_one_the_code_reads(tf: Module) -> None:
    documented = (ROOT / "core" / "config.py").read_text() + (ROOT / "core" / "retention.py").read_text()
    for env in (tf.locals["common_env"], tf.locals["http_env"]):
        for name in env:
            assert name in documented, f"{name} is not a setting of the code"


def test_every_secret_referenced_exists_and_is_readable(tf: Module) -> None:
    declared = {r.name for r in tf.of_type("google_secret_manager_secret")}
    versions = {r.body["secret"] for r in tf.of_type("google_secret_manager_secret_version")}
    referenced = set()
    for text in tf.texts.values():
        referenced |= set(re.findall(r"google_secret_manager_secret\.(\w+)\.", text))
    assert referenced and referenced <= declared
    assert {f"${{google_secret_manager_secret.{n}.id}}" for n in declared} == versions
    service = block(tf.resource(FUNCTION, "function").body, "service_config")
    access = {r.name: tf.instances(r) for r in tf.of_type("google_secret_manager_secret_iam_member")}
    for secret in service["secret_environment_variables"]:
        name = re.fullmatch(r"\$\{google_secret_manager_secret\.(\w+)\.secret_id\}", secret["secret"]).group(1)
        assert set(access[name]) == set(_functions(tf))
    assert set(access["api_keys"]) == {route.function for route in ROUTES}


def test_no_public_access_beyond_the_http_functions(tf: Module) -> None:
    public = [r for r in tf.resources if any(v in ("allUsers", "allAuthenticatedUsers") for v in walk(r.body))]
    assert [(r.type, r.name) for r in public] == [("google_cloud_run_v2_service_iam_member", "public")]
    grant = public[0]
    assert set(tf.instances(grant)) == {route.function for route in ROUTES}
    assert grant.body["role"] == "roles/run.invoker"
    assert not set(tf.instances(grant)) & set(WORKERS)
    # Public HTTP functions require API keys: the variable refuses an empty key list.
    assert "length(jsondecode(var.api_keys_json).keys)" in tf.variables["api_keys_json"]["validation"][0]["condition"]


def test_every_variable_is_described_and_every_reference_declared(tf: Module) -> None:
    assert all(v.get("description") for v in tf.variables.values())
    text = "\n".join(tf.texts.values())
    assert set(re.findall(r"\bvar\.(\w+)", text)) <= set(tf.variables)
    assert set(re.findall(r"\blocal\.(\w+)", text)) <= set(tf.locals)
    declared = {(r.type, r.name) for r in tf.resources}
    for type_, name in re.findall(r"(?<![\w.])((?:google|archive)_\w+)\.(\w+)", text):
        assert (type_, name) in declared, f"{type_}.{name} is referenced but not declared"
    assert all(o.get("description") for o in tf.outputs.values())


def test_outputs_carry_the_agent_configuration(tf: Module) -> None:
    endpoints = tf.locals["otlp_endpoints"]
    for route in ROUTES:
        if route.operation == "ingest" and route.path.startswith("/v1/"):
            signal = route.path.rsplit("/", 1)[1]
            assert endpoints[signal] == f'${{local.urls["{route.function}"]}}{route.path}'
    claude = tf.outputs["claude_code_env"]["value"]
    for needed in ("CLAUDE_CODE_ENABLE_TELEMETRY=1", "OTEL_METRICS_EXPORTER=otlp", "OTEL_LOGS_EXPORTER=otlp",
                   "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=",
                   "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=",
                   "OTEL_EXPORTER_OTLP_HEADERS="):
        assert needed in claude
    gemini = tf.outputs["gemini_cli_settings"]["value"]
    assert 'otlpProtocol = "http"' in gemini and "local.otlp_endpoints.any" in gemini
    assert {"function_urls", "otlp_endpoints"} <= set(tf.outputs)


def test_source_archive_holds_exactly_what_the_functions_import(tf: Module) -> None:
    pattern = re.search(r'fileset\(local\.repo_root, "([^"]+)"\)', tf.texts["source.tf"])
    assert pattern and pattern.group(1) == "{core,functions}/**"
    selected = {p.relative_to(ROOT).as_posix() for d in ("core", "functions") for p in (ROOT / d).rglob("*")
                if p.is_file() and re.search(r"\.(py|json)$", p.name) and "__pycache__" not in p.parts}
    assert "core/pricing/prices.json" in selected and "functions/ingest_traces.py" in selected
    # Deployed code never imports the local stack or the tests (main.py's `local_stack` is local-only).
    for rel in selected:
        if rel.endswith(".py"):
            text = (ROOT / rel).read_text()
            assert not re.search(r"^\s*(from|import) (emulator|tests)\b", text, re.M), rel
    assert '["main.py"]' in tf.texts["source.tf"]
    assert 'filename = "requirements.txt"' in tf.texts["source.tf"]
    assert "source-${local.source_hash}.zip" in tf.texts["source.tf"]


def test_requirements_txt_is_generated_from_pyproject() -> None:
    result = subprocess.run([sys.executable, str(INFRA / "requirements.py"), "--check"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [ln for ln in (INFRA / "requirements.txt").read_text().splitlines() if ln and not ln.startswith("#")]
    names = {re.split(r"[\[=<>]", ln, maxsplit=1)[0] for ln in lines}
    assert {"functions-framework", "google-cloud-firestore", "google-cloud-pubsub", "clickhouse-connect"} <= names
    assert "chdb" not in names and not any("[chdb]" in ln for ln in lines)


def test_cloudbuild_checks_then_applies_with_declared_substitutions() -> None:
    yaml = pytest.importorskip("yaml")
    text = (ROOT / "cloudbuild.yaml").read_text()
    build = yaml.safe_load(text)
    steps = {step["id"]: step for step in build["steps"]}
    checks = " ".join(steps["checks"]["args"])
    assert all(cmd in checks for cmd in ("ruff check", "mypy", "pytest -q tests/unit tests/infra"))
    apply = steps["apply"]
    assert apply["dir"] == "infra" and apply["waitFor"] == ["checks"]
    assert "terraform apply" in " ".join(apply["args"])
    used = set(re.findall(r"\$\{(_[A-Z_]+)\}", text))
    assert used == set(build["substitutions"])
    assert {"_REGION", "_CLICKHOUSE_URL", "_TF_STATE_BUCKET"} <= used
    # Every TF_VAR_ the build sets names a declared variable.
    tf = load()
    names = {e.split("=", 1)[0].removeprefix("TF_VAR_") for e in apply["env"] if e.startswith("TF_VAR_")}
    assert names <= set(tf.variables)
    assert {e["env"] for e in build["availableSecrets"]["secretManager"]} == set(apply["secretEnv"])
