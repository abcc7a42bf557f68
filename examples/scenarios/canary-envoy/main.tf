# The service guide's canary, small enough to run on one machine with real Envoy, in a
# mesh of its own ("canary", beside the guide's "apps"): serviceA's sidecar (Envoy,
# configured by the control plane over xDS) sends requests for serviceb.apps.local
# through a virtual router that splits them between the applications serviceB and
# serviceBv2. Every application listens on 127.0.0.1, on the port given in
# var.app_ports. Shift traffic by changing only the weights:
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

variable "app_ports" {
  description = "The local port each application listens on."
  type        = map(number)
  default     = { serviceA = 8081, serviceB = 8082, serviceBv2 = 8083 }
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

resource "appmesh_mesh" "canary" {
  name = "canary"

  spec {
    egress_filter {
      type = "DROP_ALL"
    }
  }
}

resource "appmesh_virtual_node" "serviceb" {
  for_each  = toset(["serviceB", "serviceBv2"])
  name      = each.key
  mesh_name = appmesh_mesh.canary.id

  spec {
    listener {
      port_mapping {
        port     = var.app_ports[each.key]
        protocol = "http"
      }
    }

    service_discovery {
      dns {
        hostname = "127.0.0.1"
      }
    }
  }
}

resource "appmesh_virtual_router" "serviceb" {
  name      = "serviceB"
  mesh_name = appmesh_mesh.canary.id

  spec {
    listener {
      port_mapping {
        port     = 80
        protocol = "http"
      }
    }
  }
}

resource "appmesh_route" "serviceb" {
  name                = "serviceB-route"
  mesh_name           = appmesh_mesh.canary.id
  virtual_router_name = appmesh_virtual_router.serviceb.name

  spec {
    http_route {
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
  mesh_name = appmesh_mesh.canary.id

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
  mesh_name = appmesh_mesh.canary.id

  spec {
    backend {
      virtual_service {
        virtual_service_name = appmesh_virtual_service.serviceb.name
      }
    }

    listener {
      port_mapping {
        port     = var.app_ports["serviceA"]
        protocol = "http"
      }
    }

    service_discovery {
      dns {
        hostname = "127.0.0.1"
      }
    }
  }
}

output "route_weights" {
  description = "How serviceb.apps.local traffic is split."
  value = {
    for t in one(one(appmesh_route.serviceb.spec).http_route).action[0].weighted_target : t.virtual_node => t.weight
  }
}

output "proxy_node_id" {
  description = "The node.id serviceA's Envoy sends to the control plane."
  value       = appmesh_virtual_node.servicea.arn
}
