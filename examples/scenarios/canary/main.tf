# The service guide's walkthrough as Terraform: mesh "apps" with serviceA calling
# serviceb.apps.local, which a virtual router splits between serviceB and serviceBv2.
# Shift traffic by changing only the weights:
#   terraform apply -var 'weights={"serviceB"=0,"serviceBv2"=100}'

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

variable "weights" {
  description = "Relative weights of the serviceB versions."
  type        = map(number)
  default     = { serviceB = 75, serviceBv2 = 25 }
}

provider "appmesh" {
  endpoint   = var.endpoint
  region     = "us-east-1"
  access_key = "local"
  secret_key = "local"
}

resource "appmesh_mesh" "apps" {
  name = "apps"

  spec {
    egress_filter {
      type = "ALLOW_ALL"
    }
  }

  tags = {
    team = "core"
  }
}

locals {
  backends = {
    serviceB   = "serviceb.apps.local"
    serviceBv2 = "servicebv2.apps.local"
  }
}

resource "appmesh_virtual_node" "serviceb" {
  for_each  = local.backends
  name      = each.key
  mesh_name = appmesh_mesh.apps.id

  spec {
    listener {
      port_mapping {
        port     = 80
        protocol = "http2"
      }
    }

    service_discovery {
      dns {
        hostname = each.value
      }
    }
  }
}

resource "appmesh_virtual_router" "serviceb" {
  name      = "serviceB"
  mesh_name = appmesh_mesh.apps.id

  spec {
    listener {
      port_mapping {
        port     = 80
        protocol = "http2"
      }
    }
  }
}

resource "appmesh_route" "serviceb" {
  name                = "serviceB-route"
  mesh_name           = appmesh_mesh.apps.id
  virtual_router_name = appmesh_virtual_router.serviceb.name

  spec {
    http2_route {
      match {
        prefix = "/"
      }

      action {
        dynamic "weighted_target" {
          for_each = var.weights
          content {
            virtual_node = appmesh_virtual_node.serviceb[weighted_target.key].name
            weight       = weighted_target.value
          }
        }
      }
    }
  }
}

resource "appmesh_virtual_service" "serviceb" {
  name      = "serviceb.apps.local"
  mesh_name = appmesh_mesh.apps.id

  spec {
    provider {
      virtual_router {
        virtual_router_name = appmesh_virtual_router.serviceb.name
      }
    }
  }
}

resource "appmesh_virtual_node" "servicea" {
  name      = "serviceA"
  mesh_name = appmesh_mesh.apps.id

  spec {
    backend {
      virtual_service {
        virtual_service_name = appmesh_virtual_service.serviceb.name
      }
    }

    listener {
      port_mapping {
        port     = 80
        protocol = "http2"
      }
    }

    service_discovery {
      dns {
        hostname = "servicea.apps.local"
      }
    }
  }
}

resource "appmesh_virtual_service" "servicea" {
  name      = "servicea.apps.local"
  mesh_name = appmesh_mesh.apps.id

  spec {
    provider {
      virtual_node {
        virtual_node_name = appmesh_virtual_node.servicea.name
      }
    }
  }
}

resource "appmesh_virtual_gateway" "ingress" {
  name      = "ingress-gw"
  mesh_name = appmesh_mesh.apps.id

  spec {
    listener {
      port_mapping {
        port     = 8080
        protocol = "http"
      }
    }
  }
}

resource "appmesh_gateway_route" "servicea" {
  name                 = "gr-a"
  mesh_name            = appmesh_mesh.apps.id
  virtual_gateway_name = appmesh_virtual_gateway.ingress.name

  spec {
    http_route {
      match {
        prefix = "/"
      }

      action {
        target {
          virtual_service {
            virtual_service_name = appmesh_virtual_service.servicea.name
          }
        }
      }
    }
  }
}

output "route_weights" {
  description = "How serviceb.apps.local traffic is split."
  value = {
    for t in one(one(appmesh_route.serviceb.spec).http2_route).action[0].weighted_target : t.virtual_node => t.weight
  }
}

output "mesh_arn" {
  value = appmesh_mesh.apps.arn
}
