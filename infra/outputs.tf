# What a user needs after `terraform apply`: every function URL, the OTLP endpoints and paste-ready agent config.

locals {
  urls = { for name, f in google_cloudfunctions2_function.function : name => f.service_config[0].uri }

  # Each ingest function takes its signal from its own URL; the `/v1/...` path keeps the endpoints readable.
  otlp_endpoints = {
    traces  = "${local.urls["ingest_traces"]}/v1/traces"
    logs    = "${local.urls["ingest_logs"]}/v1/logs"
    metrics = "${local.urls["ingest_metrics"]}/v1/metrics"
    # OTLP/JSON of any signal on one URL (Gemini CLI).
    any = local.urls["ingest_otlp"]
  }
}

output "function_urls" {
  description = "URL of every function (the workers answer only Pub/Sub's authenticated pushes)."
  value       = local.urls
}

output "otlp_endpoints" {
  description = "Per-signal OTLP/HTTP endpoints, and the one URL taking OTLP/JSON of any signal."
  value       = local.otlp_endpoints
}

output "claude_code_env" {
  description = "Shell exports for Claude Code (replace <ingest key> by a key with the ingest scope)."
  value       = <<-EOT
    export CLAUDE_CODE_ENABLE_TELEMETRY=1
    export OTEL_METRICS_EXPORTER=otlp
    export OTEL_LOGS_EXPORTER=otlp
    export OTEL_TRACES_EXPORTER=otlp
    export CLAUDE_CODE_ENHANCED_TELEMETRY_BETA=1
    export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf
    export OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=${local.otlp_endpoints.traces}
    export OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=${local.otlp_endpoints.logs}
    export OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=${local.otlp_endpoints.metrics}
    export OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer <ingest key>"
    export OBSERVATORY_URL=${local.urls["hooks"]}
    export OBSERVATORY_API_KEY="<ingest key>"
  EOT
}

output "gemini_cli_settings" {
  description = "The telemetry block of Gemini CLI's .gemini/settings.json (it posts OTLP/JSON of every signal to one URL)."
  value = jsonencode({
    telemetry = {
      enabled      = true
      target       = "local"
      otlpEndpoint = local.otlp_endpoints.any
      otlpProtocol = "http"
    }
  })
}

output "api_key_secret" {
  description = "Secret Manager secret holding the API keys JSON (add a version to rotate keys)."
  value       = google_secret_manager_secret.api_keys.secret_id
}

output "dead_letter_subscriptions" {
  description = "Pull subscriptions on the dead-letter topics (observatory dlq reads them)."
  value       = [for s in google_pubsub_subscription.dead_letter_inspect : s.name]
}
