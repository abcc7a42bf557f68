terraform {
  required_providers {
    appmesh = {
      source = "appmesh-community/appmesh"
    }
  }
}

variable "endpoint" {
  description = "The control plane's base URL."
  type        = string
}

variable "name" {
  description = "Prefix of every name (random per test run)."
  type        = string
}

provider "appmesh" {
  endpoint   = var.endpoint
  region     = "us-east-1"
  access_key = "test"
  secret_key = "test"

  default_tags {
    tags = {
      ManagedBy = "terraform"
    }
  }
}
