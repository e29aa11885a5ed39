# Firestore: the database, the composite indexes the adapter declares (core/adapters/firestore/indexes.py
# INDEXES; a test keeps this list equal to it) and TTL policies on `expire_at` of the fact collections
# (core/adapters/firestore/layout.py FACT_COLLECTIONS).

locals {
  firestore_indexes = [
    { collection = "spans", fields = [["task_id", "ASCENDING"], ["start_ns", "DESCENDING"]] },
    { collection = "spans", fields = [["trace_id", "ASCENDING"], ["start_ns", "DESCENDING"]] },
    { collection = "spans", fields = [["assignment_id", "ASCENDING"], ["start_ns", "DESCENDING"]] },
    { collection = "spans", fields = [["session_id", "ASCENDING"], ["start_ns", "DESCENDING"]] },
    { collection = "spans", fields = [["provider", "ASCENDING"], ["start_ns", "DESCENDING"]] },
    { collection = "spans", fields = [["model", "ASCENDING"], ["start_ns", "DESCENDING"]] },
    { collection = "spans", fields = [["status", "ASCENDING"], ["start_ns", "DESCENDING"]] },
    { collection = "spans", fields = [["workspace_key", "ASCENDING"], ["start_ns", "DESCENDING"]] },
    { collection = "spans", fields = [["trace_id", "ASCENDING"], ["start_ns", "ASCENDING"]] },
    { collection = "llm_calls", fields = [["session_id", "ASCENDING"], ["time_ns", "ASCENDING"]] },
    { collection = "tool_calls", fields = [["session_id", "ASCENDING"], ["time_ns", "ASCENDING"]] },
    { collection = "events", fields = [["session_id", "ASCENDING"], ["time_ns", "ASCENDING"]] },
    { collection = "events", fields = [["session_id", "ASCENDING"], ["name", "ASCENDING"], ["time_ns", "ASCENDING"]] },
    { collection = "metric_points", fields = [["session_id", "ASCENDING"], ["time_ns", "DESCENDING"]] },
    { collection = "metric_points", fields = [["name", "ASCENDING"], ["time_ns", "DESCENDING"]] },
    { collection = "metric_points", fields = [["workspace", "ASCENDING"], ["time_ns", "DESCENDING"]] },
    { collection = "event_log", fields = [["type", "ASCENDING"], ["seq", "ASCENDING"]] },
    { collection = "event_log", fields = [["workspace_id", "ASCENDING"], ["seq", "ASCENDING"]] },
    { collection = "event_log", fields = [["task_id", "ASCENDING"], ["seq", "ASCENDING"]] },
    { collection = "tasks", fields = [["workspace_id", "ASCENDING"], ["order_key", "ASCENDING"]] },
    { collection = "tasks", fields = [["status", "ASCENDING"], ["order_key", "ASCENDING"]] },
    { collection = "tasks", fields = [["source_type", "ASCENDING"], ["order_key", "ASCENDING"]] },
    { collection = "tasks", fields = [["parent_task_id", "ASCENDING"], ["order_key", "ASCENDING"]] },
    { collection = "messages", fields = [["inbox", "ASCENDING"], ["order_key", "ASCENDING"]] },
    { collection = "messages", fields = [["status", "ASCENDING"], ["order_key", "ASCENDING"]] },
    { collection = "messages", fields = [["from_agent", "ASCENDING"], ["order_key", "ASCENDING"]] },
    { collection = "messages", fields = [["task_id", "ASCENDING"], ["order_key", "ASCENDING"]] },
    { collection = "spans", fields = [["task_id", "ASCENDING"], ["start_ns", "ASCENDING"]] },
    { collection = "events", fields = [["name", "ASCENDING"], ["time_ns", "ASCENDING"]] },
    { collection = "execution_chains", fields = [["status", "ASCENDING"], ["order_key", "ASCENDING"]] },
    { collection = "execution_chains", fields = [["source_type", "ASCENDING"], ["order_key", "ASCENDING"]] },
    { collection = "execution_chains", fields = [["workspace_id", "ASCENDING"], ["order_key", "ASCENDING"]] },
    { collection = "execution_chains", fields = [["github_repo", "ASCENDING"], ["order_key", "ASCENDING"]] },
    { collection = "chain_stages", fields = [["status", "ASCENDING"], ["pending_key", "ASCENDING"]] },
    { collection = "chain_stages", fields = [["chain_id", "ASCENDING"], ["eval_order", "ASCENDING"]] },
    { collection = "chain_stages", fields = [["eval_model", "ASCENDING"], ["eval_order", "ASCENDING"]] },
    { collection = "chain_stages", fields = [["eval_language", "ASCENDING"], ["eval_order", "ASCENDING"]] },
    { collection = "chain_stages", fields = [["eval_benchmark_id", "ASCENDING"], ["eval_order", "ASCENDING"]] },
    { collection = "chain_stages", fields = [["eval_condition", "ASCENDING"], ["eval_order", "ASCENDING"]] },
    { collection = "chain_stages", fields = [["eval_mode", "ASCENDING"], ["eval_order", "ASCENDING"]] },
    { collection = "chain_stages", fields = [["eval_stdout_ok", "ASCENDING"], ["eval_order", "ASCENDING"]] },
    { collection = "spans", fields = [["stage_id", "ASCENDING"], ["start_ns", "ASCENDING"]] },
    { collection = "spans", fields = [["session_id", "ASCENDING"], ["start_ns", "ASCENDING"]] },
    { collection = "spans", fields = [["name", "ASCENDING"], ["start_ns", "DESCENDING"]] },
    { collection = "tool_calls", fields = [["session_id", "ASCENDING"], ["tool_name", "ASCENDING"], ["time_ns", "ASCENDING"]] },
  ]

  ttl_field       = "expire_at"
  ttl_collections = ["spans", "traces", "llm_calls", "tool_calls", "events", "metric_points", "sessions", "session_links", "redactions", "rejections", "event_log"]
}

resource "google_firestore_database" "this" {
  count = var.create_firestore_database ? 1 : 0

  name        = var.firestore_database
  location_id = local.firestore_location
  type        = "FIRESTORE_NATIVE"
  # Teardown keeps the data: `terraform destroy` abandons the database (delete it by hand, see README).
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.api]
}

resource "google_firestore_index" "composite" {
  for_each = { for ix in local.firestore_indexes : "${ix.collection}/${join(",", [for f in ix.fields : "${f[0]}:${f[1]}"])}" => ix }

  database    = var.firestore_database
  collection  = each.value.collection
  query_scope = "COLLECTION"

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value[0]
      order      = fields.value[1]
    }
  }

  depends_on = [google_firestore_database.this]
}

resource "google_firestore_field" "ttl" {
  for_each = toset(local.ttl_collections)

  database   = var.firestore_database
  collection = each.key
  field      = local.ttl_field

  ttl_config {}

  # No single-field indexes on expire_at: nothing queries it, and each index costs a write per document.
  index_config {}

  depends_on = [google_firestore_database.this]
}
