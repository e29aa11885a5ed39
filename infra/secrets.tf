# Secret Manager: the API keys JSON (mounted as a file into the HTTP functions) and the ClickHouse URL with its
# password (OBSERVATORY_CLICKHOUSE_URL of every function: ingest needs to know analytics is on to carry records).

locals {
  clickhouse_enabled = !contains(["", "off"], var.clickhouse_url)
  # https://user@host:port/db + password -> https://user:password@host:port/db; "off" when analytics is off.
  clickhouse_url = local.clickhouse_enabled ? (
    var.clickhouse_password == "" ? var.clickhouse_url :
    replace(var.clickhouse_url, "/^(https?://[^/@:]+)@/", "$1:${urlencode(var.clickhouse_password)}@")
  ) : "off"
}

resource "google_secret_manager_secret" "api_keys" {
  secret_id = "${var.name_prefix}-api-keys"
  labels    = var.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.api]
}

resource "google_secret_manager_secret_version" "api_keys" {
  secret      = google_secret_manager_secret.api_keys.id
  secret_data = var.api_keys_json
}

resource "google_secret_manager_secret" "clickhouse_url" {
  secret_id = "${var.name_prefix}-clickhouse-url"
  labels    = var.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.api]
}

resource "google_secret_manager_secret_version" "clickhouse_url" {
  secret      = google_secret_manager_secret.clickhouse_url.id
  secret_data = local.clickhouse_url
}

# Only the HTTP functions authenticate callers.
resource "google_secret_manager_secret_iam_member" "api_keys" {
  for_each = local.http_functions

  secret_id = google_secret_manager_secret.api_keys.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.key].member
}

resource "google_secret_manager_secret_iam_member" "clickhouse_url" {
  for_each = local.functions

  secret_id = google_secret_manager_secret.clickhouse_url.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.key].member
}
