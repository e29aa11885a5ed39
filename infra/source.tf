# The functions' source: exactly main.py, core/, functions/ and requirements.txt, uploaded under a content hash
# so any change to the code or the pinned requirements redeploys every function.

locals {
  repo_root = abspath("${path.module}/..")

  # Python modules, package data (core/pricing/prices.json) and the dashboard's static files
  # (functions/ui_static/); never emulator/, tests/ or bytecode.
  source_files = sort(concat(
    ["main.py"],
    [for f in fileset(local.repo_root, "{core,functions}/**") : f if !strcontains(f, "__pycache__") && (can(regex("\\.(py|json)$", f)) || startswith(f, "functions/ui_static/"))],
  ))

  # requirements.txt is generated from pyproject.toml by infra/requirements.py (a test keeps it in step).
  requirements_file = "${path.module}/requirements.txt"

  # Hash of names and contents, not of the zip (whose metadata need not be reproducible).
  source_hash = sha256(join("\n", concat(
    [for f in local.source_files : "${f} ${filesha256("${local.repo_root}/${f}")}"],
    ["requirements.txt ${filesha256(local.requirements_file)}"],
  )))
}

data "archive_file" "source" {
  type        = "zip"
  output_path = "${path.module}/.build/source-${local.source_hash}.zip"

  dynamic "source" {
    for_each = local.source_files
    content {
      content  = file("${local.repo_root}/${source.value}")
      filename = source.value
    }
  }

  source {
    content  = file(local.requirements_file)
    filename = "requirements.txt"
  }
}

resource "google_storage_bucket" "source" {
  name                        = "${var.project_id}-${var.name_prefix}-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # Only build inputs live here: teardown may delete them.
  force_destroy = true
  labels        = var.labels

  depends_on = [google_project_service.api]
}

resource "google_storage_bucket_object" "source" {
  name   = "source-${local.source_hash}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}
