# Inputs of the deployment. Secrets (API keys, the ClickHouse password) are sensitive variables: keep the state
# in a bucket only the deployers can read.

variable "project_id" {
  description = "Google Cloud project to deploy into (one Observatory deployment per project: topic names are fixed)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6-30 lowercase letters, digits or hyphens)."
  }
}

variable "region" {
  description = "Region of the functions, the source bucket, Cloud Scheduler and (by default) Firestore."
  type        = string
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1 or us-central1."
  }
}

variable "name_prefix" {
  description = "Prefix of function, service account, secret and bucket names (lowercase, 2-8 characters)."
  type        = string
  default     = "obs"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,7}$", var.name_prefix))
    error_message = "name_prefix must be 2-8 lowercase letters or digits, starting with a letter."
  }
}

variable "runtime" {
  description = "Cloud Functions Python runtime (the code needs Python 3.11 or newer)."
  type        = string
  default     = "python311"

  validation {
    condition     = contains(["python311", "python312", "python313"], var.runtime)
    error_message = "runtime must be python311, python312 or python313."
  }
}

variable "api_keys_json" {
  description = <<-EOT
    API keys as JSON: {"keys": [{"key": "...", "org": "acme", "scopes": ["ingest", "read", "write"]}]}.
    Stored in Secret Manager and mounted as a file into every HTTP function. At least one key is required:
    the HTTP functions are reachable from the internet and the API keys are their only gate.
  EOT
  type        = string
  sensitive   = true

  validation {
    condition     = try(length(jsondecode(var.api_keys_json).keys), 0) > 0
    error_message = "api_keys_json must be a JSON object with a non-empty \"keys\" list."
  }
}

variable "clickhouse_url" {
  description = <<-EOT
    The analytics store without its password: https://user@host:8443/database (ClickHouse Cloud or a server
    reachable from Cloud Functions). Empty or "off": analytics off (/api/v1 answers 503, insights aggregate in
    Firestore).
  EOT
  type        = string
  default     = ""

  validation {
    condition     = contains(["", "off"], var.clickhouse_url) || can(regex("^https?://[^/@:]+@[^/]+/[A-Za-z0-9_]+$", var.clickhouse_url))
    error_message = "clickhouse_url must be empty, \"off\", or http(s)://user@host:port/database (no password: use clickhouse_password)."
  }
}

variable "clickhouse_password" {
  description = "Password of the ClickHouse user in clickhouse_url; merged into the URL kept in Secret Manager."
  type        = string
  default     = ""
  sensitive   = true
}

variable "analytics_ttl_days" {
  description = "How long analytics rows are kept in ClickHouse (OBSERVATORY_ANALYTICS_TTL_DAYS)."
  type        = number
  default     = 400

  validation {
    condition     = var.analytics_ttl_days >= 1 && floor(var.analytics_ttl_days) == var.analytics_ttl_days
    error_message = "analytics_ttl_days must be a positive whole number."
  }
}

variable "create_firestore_database" {
  description = "Create the Firestore database (false when the project already has it)."
  type        = bool
  default     = true
}

variable "firestore_database" {
  description = "Firestore database id the store uses (OBSERVATORY_FIRESTORE_DATABASE)."
  type        = string
  default     = "(default)"

  validation {
    condition     = var.firestore_database == "(default)" || can(regex("^[a-z][a-z0-9-]{3,61}[a-z0-9]$", var.firestore_database))
    error_message = "firestore_database must be \"(default)\" or 4-63 lowercase letters, digits or hyphens."
  }
}

variable "firestore_location" {
  description = "Firestore location (a region such as europe-west1, or a multi-region: eur3, nam5). Empty: the region."
  type        = string
  default     = ""
}

variable "cors_origins" {
  description = "Origins allowed to call the JSON API from a browser (OBSERVATORY_CORS_ORIGINS); none by default."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.cors_origins : o == "*" || can(regex("^https?://[^/,]+$", o))])
    error_message = "cors_origins entries must be \"*\" or scheme://host[:port] without a path or commas."
  }
}

variable "max_instances" {
  description = "Upper bound of instances per function (caps cost under a flood)."
  type        = number
  default     = 20

  validation {
    condition     = var.max_instances >= 1 && var.max_instances <= 1000
    error_message = "max_instances must be between 1 and 1000."
  }
}

variable "ingest_min_instances" {
  description = "Warm instances of each OTLP ingest function (0: scale to zero, cold starts on the first export)."
  type        = number
  default     = 0

  validation {
    condition     = var.ingest_min_instances >= 0 && var.ingest_min_instances <= 10
    error_message = "ingest_min_instances must be between 0 and 10."
  }
}

variable "max_delivery_attempts" {
  description = "Deliveries of a Pub/Sub message to a worker before it is dead-lettered (Pub/Sub allows 5-100)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100."
  }
}

variable "retention_schedule" {
  description = "Cron schedule of the retention run (Cloud Scheduler -> the maintenance topic)."
  type        = string
  default     = "17 3 * * *"

  validation {
    condition     = length(split(" ", trimspace(var.retention_schedule))) == 5
    error_message = "retention_schedule must be a five-field cron expression."
  }
}

variable "retention_time_zone" {
  description = "Time zone of retention_schedule (IANA name)."
  type        = string
  default     = "Etc/UTC"
}

variable "enable_apis" {
  description = "Enable the Google APIs the deployment uses (needs serviceusage.services.enable)."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels added to functions, buckets, topics and secrets."
  type        = map(string)
  default     = {}
}

variable "trace_archives" {
  description = <<-EOT
    Remote trace archives merged into the trace reads of one org each (OBSERVATORY_TRACE_ARCHIVES), e.g.
    [{ kind = "gcp", org = "acme", project = "my-project" }] or
    [{ kind = "jaeger", org = "acme", url = "https://jaeger.example.com", service = "claude-code" }].
    Cloud Trace archives give the query function's service account roles/cloudtrace.user on their project.
  EOT
  type        = list(map(string))
  default     = []

  validation {
    condition     = alltrue([for a in var.trace_archives : contains(["gcp", "jaeger"], lookup(a, "kind", "")) && lookup(a, "org", "") != ""])
    error_message = "each trace archive needs kind (gcp or jaeger) and org."
  }
}

variable "trace_cache_seconds" {
  description = "How long remote trace answers are cached (OBSERVATORY_TRACE_CACHE_S)."
  type        = number
  default     = 60

  validation {
    condition     = var.trace_cache_seconds > 0
    error_message = "trace_cache_seconds must be positive."
  }
}
