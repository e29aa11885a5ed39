# One Cloud Functions (gen2) function per entry point of main.py: the HTTP functions of core/routes.py ROUTES and
# the CloudEvent workers of WORKERS, each with its own service account.

locals {
  # Sizing of the HTTP functions. `publishes`: the function runs IngestService, whose outbox relay publishes each
  # stored batch to `telemetry-ingested` before it answers.
  http_functions = {
    healthz        = { memory = "256Mi", cpu = "0.167", concurrency = 1, timeout = 10, publishes = false }
    ingest_traces  = { memory = "1Gi", cpu = "1", concurrency = 4, timeout = 60, publishes = true }
    ingest_logs    = { memory = "1Gi", cpu = "1", concurrency = 4, timeout = 60, publishes = true }
    ingest_metrics = { memory = "1Gi", cpu = "1", concurrency = 4, timeout = 60, publishes = true }
    ingest_otlp    = { memory = "1Gi", cpu = "1", concurrency = 4, timeout = 60, publishes = true }
    legacy_ingest  = { memory = "512Mi", cpu = "1", concurrency = 4, timeout = 60, publishes = true }
    hooks          = { memory = "512Mi", cpu = "1", concurrency = 8, timeout = 30, publishes = false }
    query          = { memory = "512Mi", cpu = "1", concurrency = 8, timeout = 60, publishes = false }
    sessions       = { memory = "512Mi", cpu = "1", concurrency = 4, timeout = 300, publishes = false }
    spans          = { memory = "512Mi", cpu = "1", concurrency = 8, timeout = 60, publishes = false }
    workspaces     = { memory = "512Mi", cpu = "1", concurrency = 8, timeout = 60, publishes = false }
    tasks          = { memory = "512Mi", cpu = "1", concurrency = 8, timeout = 120, publishes = false }
    agents         = { memory = "512Mi", cpu = "1", concurrency = 8, timeout = 120, publishes = false }
    messages       = { memory = "512Mi", cpu = "1", concurrency = 8, timeout = 60, publishes = false }
    hierarchy      = { memory = "1Gi", cpu = "1", concurrency = 4, timeout = 120, publishes = false }
    insights       = { memory = "1Gi", cpu = "1", concurrency = 4, timeout = 120, publishes = false }
    chains         = { memory = "512Mi", cpu = "1", concurrency = 8, timeout = 60, publishes = false }
    # An event stream holds a request for up to 60 s: room for many streams per instance.
    events         = { memory = "512Mi", cpu = "1", concurrency = 40, timeout = 90, publishes = false }
    ops            = { memory = "256Mi", cpu = "1", concurrency = 4, timeout = 60, publishes = false }
    agent_sessions = { memory = "1Gi", cpu = "1", concurrency = 8, timeout = 120, publishes = false }
    # The dashboard's static files (functions/ui_static): small and fast.
    ui = { memory = "256Mi", cpu = "0.167", concurrency = 1, timeout = 10, publishes = false }
  }

  # CloudEvent workers, each fed by its own push subscription on `topic` (pubsub.tf). The ack deadline covers the
  # function's timeout, so Pub/Sub does not redeliver a message a worker is still processing.
  worker_functions = {
    aggregate         = { topic = "telemetry-ingested", memory = "1Gi", cpu = "1", concurrency = 4, timeout = 300, ack_deadline = 300 }
    export_clickhouse = { topic = "telemetry-ingested", memory = "1Gi", cpu = "1", concurrency = 4, timeout = 300, ack_deadline = 300 }
    retention         = { topic = "maintenance", memory = "1Gi", cpu = "1", concurrency = 1, timeout = 540, ack_deadline = 600 }
  }

  functions = merge(local.http_functions, local.worker_functions)

  # Where the API keys secret is mounted in the HTTP functions (OBSERVATORY_API_KEYS_FILE reads it there).
  api_keys_mount = "/etc/observatory/api-keys"
  api_keys_file  = "keys.json"

  # Every function: the cloud adapters (core/config.py). OBSERVATORY_CLICKHOUSE_URL comes from Secret Manager.
  common_env = {
    OBSERVATORY_STORE              = "firestore"
    OBSERVATORY_BUS                = "pubsub"
    OBSERVATORY_GCP_PROJECT        = var.project_id
    OBSERVATORY_FIRESTORE_DATABASE = var.firestore_database
    OBSERVATORY_ANALYTICS_TTL_DAYS = tostring(var.analytics_ttl_days)
  }
  http_env = {
    OBSERVATORY_API_KEYS_FILE  = "${local.api_keys_mount}/${local.api_keys_file}"
    OBSERVATORY_CORS_ORIGINS   = join(",", var.cors_origins)
    OBSERVATORY_TRACE_ARCHIVES = jsonencode(var.trace_archives)
    OBSERVATORY_TRACE_CACHE_S  = tostring(var.trace_cache_seconds)
  }
  # Projects whose Cloud Trace the query function reads (trace archives of kind gcp).
  trace_projects = toset([for a in var.trace_archives : a["project"] if a["kind"] == "gcp"])
}

resource "google_service_account" "function" {
  for_each = local.functions

  account_id   = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  display_name = "Observatory function ${each.key}"
  description  = "Runs only the ${each.key} function; holds exactly the roles that function needs."

  depends_on = [google_project_service.api]
}

resource "google_cloudfunctions2_function" "function" {
  for_each = local.functions

  name        = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  location    = var.region
  description = contains(keys(local.worker_functions), each.key) ? "Observatory worker ${each.key} (Pub/Sub push)" : "Observatory HTTP function ${each.key}"
  labels      = merge(var.labels, { app = "observatory", function = replace(each.key, "_", "-") })

  build_config {
    runtime     = var.runtime
    entry_point = each.key
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    max_instance_request_concurrency = each.value.concurrency
    timeout_seconds                  = each.value.timeout
    min_instance_count               = startswith(each.key, "ingest_") ? var.ingest_min_instances : 0
    max_instance_count               = var.max_instances
    # Reachable from the internet; HTTP functions check API keys, workers accept only Pub/Sub's OIDC token.
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.function[each.key].email

    environment_variables = contains(keys(local.worker_functions), each.key) ? local.common_env : merge(local.common_env, local.http_env)

    secret_environment_variables {
      key        = "OBSERVATORY_CLICKHOUSE_URL"
      project_id = var.project_id
      secret     = google_secret_manager_secret.clickhouse_url.secret_id
      version    = "latest"
    }

    dynamic "secret_volumes" {
      for_each = contains(keys(local.http_functions), each.key) ? [google_secret_manager_secret.api_keys.secret_id] : []
      content {
        mount_path = local.api_keys_mount
        project_id = var.project_id
        secret     = secret_volumes.value
        versions {
          version = "latest"
          path    = local.api_keys_file
        }
      }
    }
  }

  # A function starts only once it can read its secrets and reach Firestore.
  depends_on = [
    google_secret_manager_secret_version.api_keys,
    google_secret_manager_secret_version.clickhouse_url,
    google_secret_manager_secret_iam_member.api_keys,
    google_secret_manager_secret_iam_member.clickhouse_url,
    google_project_iam_member.firestore,
    google_firestore_database.this,
  ]
}

# -- IAM ---------------------------------------------------------------------------------------------------

# Firestore has no per-collection IAM: every function reads and writes the store.
resource "google_project_iam_member" "firestore" {
  for_each = local.functions

  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.function[each.key].member
}

# The trace reads of the query function merge Cloud Trace archives: read access to those projects' traces.
resource "google_project_iam_member" "cloud_trace_reader" {
  for_each = local.trace_projects

  project = each.key
  role    = "roles/cloudtrace.user"
  member  = google_service_account.function["query"].member
}

# Public invocation of the HTTP functions only: OTLP exporters and agents cannot mint Google identity tokens, so
# the API keys (core/auth.py, mounted from Secret Manager) are their gate. Workers are never public.
resource "google_cloud_run_v2_service_iam_member" "public" {
  for_each = local.http_functions

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.function[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}
