# The shop's staging environment: the mesh-stack module with two services, the cart
# split evenly between its two versions and a gRPC catalog. Traffic may leave the mesh.

terraform {
  required_providers {
    appmesh = {
      source = "appmesh-community/appmesh"
    }
  }
}

variable "endpoint" {
  description = "The App Mesh API endpoint, e.g. the bundled control plane."
  type        = string
  default     = "http://127.0.0.1:9080"
}

variable "mesh_name" {
  description = "Name of the staging mesh."
  type        = string
  default     = "shop-staging"
}

variable "domain" {
  description = "DNS suffix of the staging services."
  type        = string
  default     = "staging.shop.local"
}

provider "appmesh" {
  endpoint   = var.endpoint
  region     = "us-east-1"
  access_key = "local"
  secret_key = "local"
}

module "mesh" {
  source = "../../modules/mesh-stack"

  mesh_name = var.mesh_name
  egress    = "ALLOW_ALL"

  services = {
    cart = {
      port     = 8080
      hostname = "cart.${var.domain}"
      versions = { v1 = 50, v2 = 50 }
    }

    catalog = {
      port       = 9090
      protocol   = "grpc"
      hostname   = "catalog.${var.domain}"
      versions   = { v3 = 100 }
      timeout_ms = 2000
    }
  }

  tags = {
    environment = "staging"
  }
}

output "mesh_arn" {
  value = module.mesh.mesh_arn
}

output "services" {
  value = module.mesh.services
}
