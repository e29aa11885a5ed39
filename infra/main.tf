# Shared values and the Google APIs the deployment needs.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  # Topics are fixed in the code (core/ports/bus.py, core/workers.py); each has a `-dlq` dead-letter topic.
  topics = ["telemetry-ingested", "maintenance"]

  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  firestore_location = var.firestore_location != "" ? var.firestore_location : var.region

  apis = [
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ]
}

resource "google_project_service" "api" {
  for_each = var.enable_apis ? toset(local.apis) : toset([])

  project = var.project_id
  service = each.key
  # Teardown leaves the APIs on: other workloads of the project may use them.
  disable_on_destroy = false
}
