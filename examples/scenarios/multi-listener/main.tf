# One service on three ports: the inventory nodes serve REST (HTTP on 8080), gRPC (9090)
# and a TCP change stream (7000), and so does their virtual router. Because the router
# and the nodes have several listeners, every route names the listener it matches
# (match { port }) and the node port it sends to (weighted_target { port }).

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
  description = "Name of the mesh."
  type        = string
  default     = "warehouse"
}

variable "domain" {
  description = "DNS suffix of the services inside the mesh."
  type        = string
  default     = "warehouse.local"
}

variable "weights" {
  description = "Relative weights of the inventory versions, used on every port."
  type        = map(number)
  default     = { v1 = 90, v2 = 10 }
}

provider "appmesh" {
  endpoint   = var.endpoint
  region     = "us-east-1"
  access_key = "local"
  secret_key = "local"
}

locals {
  # The listeners every inventory node and the router have.
  listeners = {
    rest   = { port = 8080, protocol = "http" }
    grpc   = { port = 9090, protocol = "grpc" }
    stream = { port = 7000, protocol = "tcp" }
  }
}

resource "appmesh_mesh" "warehouse" {
  name = var.mesh_name

  spec {
    egress_filter {
      type = "DROP_ALL"
    }
  }
}

resource "appmesh_virtual_node" "inventory" {
  for_each  = var.weights
  name      = "inventory-${each.key}"
  mesh_name = appmesh_mesh.warehouse.id

  spec {
    listener {
      port_mapping {
        port     = local.listeners.rest.port
        protocol = local.listeners.rest.protocol
      }

      connection_pool {
        http {
          max_connections      = 100
          max_pending_requests = 50
        }
      }
    }

    listener {
      port_mapping {
        port     = local.listeners.grpc.port
        protocol = local.listeners.grpc.protocol
      }

      connection_pool {
        grpc {
          max_requests = 200
        }
      }
    }

    listener {
      port_mapping {
        port     = local.listeners.stream.port
        protocol = local.listeners.stream.protocol
      }

      timeout {
        tcp {
          idle {
            unit  = "s"
            value = 600
          }
        }
      }
    }

    service_discovery {
      dns {
        hostname = "inventory-${each.key}.${var.domain}"
      }
    }
  }
}

resource "appmesh_virtual_router" "inventory" {
  name      = "inventory"
  mesh_name = appmesh_mesh.warehouse.id

  spec {
    dynamic "listener" {
      for_each = local.listeners
      content {
        port_mapping {
          port     = listener.value.port
          protocol = listener.value.protocol
        }
      }
    }
  }
}

resource "appmesh_route" "rest" {
  name                = "inventory-rest"
  mesh_name           = appmesh_mesh.warehouse.id
  virtual_router_name = appmesh_virtual_router.inventory.name

  spec {
    http_route {
      match {
        prefix = "/"
        port   = local.listeners.rest.port
      }

      action {
        dynamic "weighted_target" {
          for_each = var.weights
          content {
            virtual_node = appmesh_virtual_node.inventory[weighted_target.key].name
            weight       = weighted_target.value
            port         = local.listeners.rest.port
          }
        }
      }
    }
  }
}

resource "appmesh_route" "grpc" {
  name                = "inventory-grpc"
  mesh_name           = appmesh_mesh.warehouse.id
  virtual_router_name = appmesh_virtual_router.inventory.name

  spec {
    grpc_route {
      match {
        service_name = "warehouse.inventory.v1.Inventory"
        port         = local.listeners.grpc.port
      }

      action {
        dynamic "weighted_target" {
          for_each = var.weights
          content {
            virtual_node = appmesh_virtual_node.inventory[weighted_target.key].name
            weight       = weighted_target.value
            port         = local.listeners.grpc.port
          }
        }
      }

      retry_policy {
        max_retries       = 2
        grpc_retry_events = ["unavailable", "resource-exhausted"]

        per_retry_timeout {
          unit  = "ms"
          value = 500
        }
      }
    }
  }
}

resource "appmesh_route" "stream" {
  name                = "inventory-stream"
  mesh_name           = appmesh_mesh.warehouse.id
  virtual_router_name = appmesh_virtual_router.inventory.name

  spec {
    tcp_route {
      match {
        port = local.listeners.stream.port
      }

      action {
        dynamic "weighted_target" {
          for_each = var.weights
          content {
            virtual_node = appmesh_virtual_node.inventory[weighted_target.key].name
            weight       = weighted_target.value
            port         = local.listeners.stream.port
          }
        }
      }
    }
  }
}

resource "appmesh_virtual_service" "inventory" {
  name      = "inventory.${var.domain}"
  mesh_name = appmesh_mesh.warehouse.id

  spec {
    provider {
      virtual_router {
        virtual_router_name = appmesh_virtual_router.inventory.name
      }
    }
  }
}

output "router_listeners" {
  description = "The router's listeners: protocol by port."
  value = {
    for l in appmesh_virtual_router.inventory.spec[0].listener :
    tostring(l.port_mapping[0].port) => l.port_mapping[0].protocol
  }
}

output "routes" {
  description = "Per route: the router port it matches and, per target node, the node port and weight."
  value = {
    for r in [appmesh_route.rest, appmesh_route.grpc, appmesh_route.stream] :
    r.name => {
      port = one(concat(r.spec[0].http_route, r.spec[0].grpc_route, r.spec[0].tcp_route)).match[0].port
      targets = {
        for t in one(concat(r.spec[0].http_route, r.spec[0].grpc_route, r.spec[0].tcp_route)).action[0].weighted_target :
        t.virtual_node => { port = t.port, weight = t.weight }
      }
    }
  }
}

output "virtual_service_arn" {
  value = appmesh_virtual_service.inventory.arn
}
