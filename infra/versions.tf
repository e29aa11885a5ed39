# Providers and the Terraform version. No backend block: `terraform init && terraform apply` works with local
# state; Cloud Build writes a GCS backend next to this file before `init` (see cloudbuild.yaml).
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4, < 3.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
