# The pipeline: topics with dead-letter topics, one push subscription per worker (OIDC to the worker function,
# dead-letter policy, retry backoff; an Eventarc trigger could not carry the dead-letter policy), a pull
# subscription per dead-letter topic for `observatory dlq`, and Cloud Scheduler -> `maintenance`.

resource "google_pubsub_topic" "topic" {
  for_each = toset(local.topics)

  name   = each.key
  labels = var.labels

  depends_on = [google_project_service.api]
}

resource "google_pubsub_topic" "dead_letter" {
  for_each = toset(local.topics)

  name   = "${each.key}-dlq"
  labels = var.labels

  depends_on = [google_project_service.api]
}

# Dead letters wait here (7 days) for inspection or replay.
resource "google_pubsub_subscription" "dead_letter_inspect" {
  for_each = toset(local.topics)

  name                       = "${each.key}-dlq-inspect"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  labels                     = var.labels

  expiration_policy {
    ttl = ""
  }
}

# The identity Pub/Sub signs push requests with; it may invoke the workers and nothing else.
resource "google_service_account" "pubsub_push" {
  account_id   = "${var.name_prefix}-pubsub-push"
  display_name = "Observatory Pub/Sub push"
  description  = "OIDC identity of the push subscriptions; may only invoke the worker functions."

  depends_on = [google_project_service.api]
}

resource "google_pubsub_subscription" "worker" {
  for_each = local.worker_functions

  name                 = "${each.value.topic}-${replace(each.key, "_", "-")}"
  topic                = google_pubsub_topic.topic[each.value.topic].id
  ack_deadline_seconds = each.value.ack_deadline
  labels               = var.labels

  push_config {
    # The topic in the path lets functions-framework name it in the CloudEvent source (core/workers.py).
    push_endpoint = "${google_cloudfunctions2_function.function[each.key].service_config[0].uri}/projects/${var.project_id}/topics/${each.value.topic}"

    oidc_token {
      service_account_email = google_service_account.pubsub_push.email
      audience              = google_cloudfunctions2_function.function[each.key].service_config[0].uri
    }
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.value.topic].id
    max_delivery_attempts = var.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.push_invoker,
    google_pubsub_topic_iam_member.dead_letter_agent,
  ]
}

# -- IAM ---------------------------------------------------------------------------------------------------

resource "google_cloud_run_v2_service_iam_member" "push_invoker" {
  for_each = local.worker_functions

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.function[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.pubsub_push.member
}

# Pub/Sub's service agent mints the OIDC tokens of the push identity.
resource "google_service_account_iam_member" "push_token_creator" {
  service_account_id = google_service_account.pubsub_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

# Dead-letter policy: the service agent forwards from the subscription to the dead-letter topic.
resource "google_pubsub_topic_iam_member" "dead_letter_agent" {
  for_each = toset(local.topics)

  topic  = google_pubsub_topic.dead_letter[each.key].id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_agent" {
  for_each = local.worker_functions

  subscription = google_pubsub_subscription.worker[each.key].id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# Ingest's outbox relay publishes each stored batch.
resource "google_pubsub_topic_iam_member" "ingest_publisher" {
  for_each = { for name, f in local.http_functions : name => f if f.publishes }

  topic  = google_pubsub_topic.topic["telemetry-ingested"].id
  role   = "roles/pubsub.publisher"
  member = google_service_account.function[each.key].member
}

# A worker publishes a message that can never succeed to its topic's dead-letter topic itself.
resource "google_pubsub_topic_iam_member" "worker_dead_letter" {
  for_each = local.worker_functions

  topic  = google_pubsub_topic.dead_letter[each.value.topic].id
  role   = "roles/pubsub.publisher"
  member = google_service_account.function[each.key].member
}

# -- Cloud Scheduler -> maintenance (the retention worker) ------------------------------------------------

resource "google_cloud_scheduler_job" "retention" {
  name        = "${var.name_prefix}-retention"
  region      = var.region
  description = "Publishes to the maintenance topic; the retention worker deletes expired rows of every org."
  schedule    = var.retention_schedule
  time_zone   = var.retention_time_zone

  pubsub_target {
    topic_name = google_pubsub_topic.topic["maintenance"].id
    data       = base64encode(jsonencode({ job = "retention" }))
  }

  depends_on = [google_project_service.api]
}
