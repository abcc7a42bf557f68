# The shop's production environment: the mesh-stack module with four services. The cart
# canary sends 10% to v2, the catalog is moving from v3 to v4, checkout speaks HTTP/2 and
# sessions is a TCP service. Only destinations inside the mesh are reachable (DROP_ALL).

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
  description = "Name of the production mesh."
  type        = string
  default     = "shop-production"
}

variable "domain" {
  description = "DNS suffix of the production services."
  type        = string
  default     = "prod.shop.local"
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

  services = {
    cart = {
      port       = 8080
      hostname   = "cart.${var.domain}"
      versions   = { v1 = 90, v2 = 10 }
      timeout_ms = 15000
    }

    catalog = {
      port     = 9090
      protocol = "grpc"
      hostname = "catalog.${var.domain}"
      versions = { v3 = 80, v4 = 20 }
    }

    checkout = {
      port     = 8443
      protocol = "http2"
      hostname = "checkout.${var.domain}"
      versions = { v7 = 100 }
      tags     = { pci = "true" }
    }

    sessions = {
      port       = 6379
      protocol   = "tcp"
      hostname   = "sessions.${var.domain}"
      versions   = { v1 = 100 }
      timeout_ms = 300000
    }
  }

  tags = {
    environment = "production"
    team        = "shop"
  }
}

output "mesh_arn" {
  value = module.mesh.mesh_arn
}

output "services" {
  value = module.mesh.services
}
